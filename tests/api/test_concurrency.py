"""Concurrent writers against a real uvicorn server on loopback (SPEC §9: no lost update)."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.api.conftest import customer_body

CLIENTS = 8
INCREMENTS_EACH = 4
MAX_ATTEMPTS = 400


def test_read_modify_write_with_if_match_loses_no_update(
    live_server, tenant, as_user, create_customer
):
    customer = create_customer(tenant, phone="0")
    url = f"{live_server.url}/api/customers/{customer['id']}"
    start = threading.Barrier(CLIENTS)

    def writer(number: int) -> Counter[int]:
        statuses: Counter[int] = Counter()
        headers = as_user(tenant.editor)
        with httpx.Client(headers=headers, timeout=30) as http:
            start.wait()
            for _ in range(MAX_ATTEMPTS):
                if statuses[200] == INCREMENTS_EACH:
                    break
                read = http.get(url)
                assert read.status_code == 200
                current = read.json()
                body = {
                    "name": f"Writer {number}",
                    "email": current["email"],
                    "phone": str(int(current["phone"]) + 1),
                    "address": current["address"],
                }
                answer = http.put(url, json=body, headers={"If-Match": read.headers["ETag"]})
                statuses[answer.status_code] += 1
        return statuses

    with ThreadPoolExecutor(CLIENTS) as pool:
        results = list(pool.map(writer, range(CLIENTS)))

    total: Counter[int] = sum(results, Counter())
    assert set(total) <= {200, 412}, total  # conflicts are refused, never errors
    assert total[200] == CLIENTS * INCREMENTS_EACH
    final = httpx.get(url, headers=as_user(tenant.viewer)).json()
    # Every successful PUT is in the final state: none overwrote another.
    assert int(final["phone"]) == CLIENTS * INCREMENTS_EACH
    assert final["version"] == 1 + CLIENTS * INCREMENTS_EACH


def test_parallel_creates_of_one_email_give_exactly_one_201(live_server, tenant, as_user):
    start = threading.Barrier(CLIENTS)
    url = f"{live_server.url}/api/customers"

    def create(number: int) -> int:
        body = customer_body(number, email="Same.Person@example.com")
        with httpx.Client(headers=as_user(tenant.editor), timeout=30) as http:
            start.wait()
            return http.post(url, json=body).status_code

    with ThreadPoolExecutor(CLIENTS) as pool:
        statuses = Counter(pool.map(create, range(CLIENTS)))

    assert statuses == Counter({201: 1, 409: CLIENTS - 1})
    listed = httpx.get(url, params={"search": "same.person"}, headers=as_user(tenant.viewer))
    assert listed.headers["X-Total-Count"] == "1"
