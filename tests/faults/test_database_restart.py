"""PostgreSQL stopped and started again in the middle of API traffic (SPEC §9).

A private cluster (``tests.faults.pg_cluster``) serves a real uvicorn server while
clients sign in, list, read and replace customers.  The server is stopped with
``pg_ctl stop -m fast`` (sessions are terminated mid-request), left down, and started
again.  Meanwhile every request gets either its answer or a 503 with a sentence and
``Retry-After`` (never a 500, never a dropped connection), and once PostgreSQL is back
the same API process serves again by itself (pool pre-ping), with no write that was
acknowledged lost.
"""

from __future__ import annotations

import random
import secrets
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest

from api.main import create_app
from data.credentials import issue_token, open_session
from data.db import Database
from data.identity import Role
from data.tenancy import create_tenant
from data.users import create_user
from tests.api.conftest import LiveServer
from tests.conftest import IN_CI
from tests.faults.pg_cluster import PrivateCluster, find_binaries

CLIENTS = 4
UNREACHABLE = "cannot be reached; check that it is running."
BUSY = "The database is busy with another write; please try again in a moment."
WARM_UP = 1.5  # seconds of traffic before the stop
DOWN = 2.5  # seconds the server stays down
AFTER = 2.0  # seconds of traffic once it answers again


@pytest.fixture
def private_cluster() -> Iterator[PrivateCluster]:
    binaries = find_binaries()
    if binaries is None:
        if IN_CI:
            pytest.fail("CI requires PostgreSQL's server binaries (initdb, pg_ctl).")
        pytest.skip("PostgreSQL's server binaries (initdb, pg_ctl) are not installed")
    cluster = PrivateCluster(binaries).init()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()


@dataclass
class Answer:
    at: float
    phase: str
    what: str
    status: int | None  # None: no HTTP answer at all
    detail: str = ""
    retry_after: str | None = None


@dataclass
class Traffic:
    answers: list[Answer] = field(default_factory=list)
    acked: dict[str, list[tuple[float, str]]] = field(default_factory=dict)  # id -> (t, phone)
    unsure: dict[str, list[tuple[float, str]]] = field(default_factory=dict)  # failed PUTs
    phase: str = "up"
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, answer: Answer) -> None:
        with self.lock:
            self.answers.append(answer)


def test_api_answers_503_while_postgresql_is_down_and_recovers_by_itself(private_cluster):
    # The runtime logs in as the role init-db makes (its password generated here).
    database = Database(private_cluster.url, app_password=secrets.token_urlsafe(24))
    database.migrate()
    database.check()
    username = f"restart-{uuid.uuid4().hex[:8]}"
    with database.transaction(None, write=True) as session:
        tenant = create_tenant(session, f"restart-{uuid.uuid4().hex[:8]}")
        editor, password = create_user(session, tenant.id, username, Role.EDITOR)
    _, signed_in = open_session(database, editor)
    with database.scope(signed_in, write=True) as scope:
        customers = [
            scope.customers.create(
                {"name": f"Restart {i}", "email": f"r{i}@example.com", "phone": "0"}
            )
            for i in range(CLIENTS * 2)
        ]
    token, _ = issue_token(database, editor)
    traffic = Traffic()
    began = time.monotonic()

    def client(number: int) -> None:
        rng = random.Random(number)
        mine = customers[number]  # one writer per customer: its last acknowledged PUT wins
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=server.url, headers=headers, timeout=60) as http:
            n = 0
            while not traffic.stop.is_set():
                n += 1
                what = rng.choice(["sign-in", "list", "get", "get", "put", "put"])
                phone = f"{number}-{n}"
                phase = traffic.phase
                try:
                    if what == "sign-in":
                        response = http.post(
                            "/api/auth/token", json={"username": username, "password": password}
                        )
                    elif what == "list":
                        response = http.get("/api/customers", params={"limit": 5})
                    elif what == "get":
                        response = http.get(f"/api/customers/{rng.choice(customers).id}")
                    else:
                        body = {"name": mine.name, "email": mine.email, "phone": phone}
                        response = http.put(f"/api/customers/{mine.id}", json=body)
                except httpx.TransportError as exc:
                    traffic.record(Answer(time.monotonic() - began, phase, what, None, repr(exc)))
                    continue
                ok = response.status_code < 400
                detail = "" if ok else response.json().get("detail", response.text)
                retry = response.headers.get("Retry-After")
                now = time.monotonic() - began
                traffic.record(Answer(now, phase, what, response.status_code, detail, retry))
                if what == "put":
                    with traffic.lock:
                        book = traffic.acked if ok else traffic.unsure
                        book.setdefault(mine.id, []).append((now, phone))
                time.sleep(0.01)

    with LiveServer(create_app(database)) as server:
        threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
        for thread in threads:
            thread.start()
        try:
            time.sleep(WARM_UP)
            traffic.phase = "stopping"
            private_cluster.stop("fast")
            traffic.phase = "down"
            time.sleep(DOWN)
            traffic.phase = "starting"
            private_cluster.start()
            traffic.phase = "back"
            back_at = time.monotonic() - began
            time.sleep(AFTER)
        finally:
            traffic.stop.set()
            for thread in threads:
                thread.join(timeout=120)
        # The same server process, asked afterwards, answers normally.
        with httpx.Client(base_url=server.url, timeout=30) as http:
            signed = http.post("/api/auth/token", json={"username": username, "password": password})
            assert signed.status_code == 200, signed.text
            listed = http.get(
                "/api/customers",
                headers={"Authorization": f"Bearer {signed.json()['access_token']}"},
            )
            assert listed.status_code == 200
            assert listed.headers["X-Total-Count"] == str(len(customers))

    statuses = Counter(f"{a.phase} {a.status}" for a in traffic.answers)
    print(f"\n[postgresql, private cluster] answers by phase: {dict(sorted(statuses.items()))}")
    assert [a for a in traffic.answers if a.status is None] == []  # no dropped connection
    failed = [a for a in traffic.answers if a.status is not None and a.status >= 400]
    assert failed, "no request met the stopped server"
    for answer in failed:
        assert answer.status == 503, answer
        assert answer.detail.endswith(UNREACHABLE) or answer.detail == BUSY, answer
        assert answer.retry_after is not None
        assert private_cluster.password not in answer.detail
    assert any(a.phase == "down" and a.status == 503 for a in traffic.answers)
    # Recovered by itself: after the first success once the server was back, all succeed.
    back = [a for a in traffic.answers if a.at >= back_at]
    first_ok = next(i for i, a in enumerate(back) if a.status == 200)
    assert [a for a in back[first_ok + CLIENTS :] if a.status != 200] == []
    assert len(back) - first_ok > 5 * CLIENTS, "too little traffic after the restart"

    # No acknowledged write is lost: each customer holds its last acknowledged phone, or
    # the phone of a later PUT whose answer was lost with the connection (it may have
    # committed just before the server went away).
    with database.scope(signed_in) as scope:
        stored = {c.id: c for c in scope.customers.iter_all()}
    for customer_id, acked in traffic.acked.items():
        last_at, last_phone = max(acked)
        later = [phone for at, phone in traffic.unsure.get(customer_id, []) if at > last_at]
        assert stored[customer_id].phone in [last_phone, *later]
    database.dispose()
