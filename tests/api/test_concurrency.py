"""Concurrent writers against a real uvicorn server on loopback (SPEC §9: no lost update)."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

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


# Another server process of ``--workers N`` in the middle of its write: it holds the turn
# (the lock file beside the SQLite database) until its standard input closes.
HOLD_THE_WRITE_TURN = """
import fcntl, os, sys
fcntl.flock(os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600), fcntl.LOCK_EX)
print("holding", flush=True)
sys.stdin.read()
"""


def test_a_sqlite_write_waits_for_another_server_process_and_then_goes_through(
    backend, database, live_server, tenant, as_user, create_customer
):
    """The API's processes take turns to write to SQLite (none sleeps in SQLite's busy
    handler): a PUT waits while another process has the turn, reads go on meanwhile, and
    the PUT is saved as soon as the turn is given back."""
    if backend != "sqlite":
        pytest.skip("SQLite's writers take turns; PostgreSQL's writers lock rows")
    customer = create_customer(tenant, phone="+1 555 0100")
    url = f"{live_server.url}/api/customers/{customer['id']}"
    body = customer_body(email=customer["email"], phone="+1 555 0199")
    other = subprocess.Popen(
        [sys.executable, "-c", HOLD_THE_WRITE_TURN, f"{database.sqlite_file}-api-writer.lock"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    answers: list[int] = []
    try:
        assert other.stdout is not None
        assert other.stdout.readline() == "holding\n"
        put = threading.Thread(
            target=lambda: answers.append(
                httpx.put(url, json=body, headers=as_user(tenant.editor), timeout=30).status_code
            )
        )
        put.start()
        put.join(1.0)
        assert put.is_alive(), f"the PUT did not wait for the other process: {answers}"
        read = httpx.get(url, headers=as_user(tenant.viewer), timeout=10)
        assert read.status_code == 200
        assert read.json()["phone"] == "+1 555 0100"
    finally:
        other.communicate(timeout=10)  # closes its standard input: the turn is given back
    put.join(10)
    assert answers == [200]
    saved = httpx.get(url, headers=as_user(tenant.viewer), timeout=10).json()
    assert (saved["phone"], saved["version"]) == ("+1 555 0199", 2)
