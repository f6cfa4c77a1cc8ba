"""Sign-in throttling through ``POST /api/auth/token``: it slows guessers and cannot be
aimed at a victim (SPEC §9, issue 13).

Failures count per (username, client), per client and per username (``data.signin``).
Here each rule is shown at the API's door, with clients at addresses of their own (a
``TestClient`` per address) and the throttle's clock under the test's control
(``data.signin.utcnow``): nothing sleeps.  Which address counts when a request carries
``X-Forwarded-For`` is proved here for the application itself (it never reads the
header) and as pure functions; ``test_serve_command`` proves it for the server that
``python -m api`` runs.
"""

from __future__ import annotations

import asyncio
import ipaddress
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

import data.signin
from config import parse_proxies
from data.signin import (
    CLIENT_FAILURES,
    PAIR_FAILURES,
    PAIR_MAX_LOCK,
    USER_SLOW_AFTER,
    USER_SLOW_INTERVAL,
    client_address,
)
from tests.api.conftest import fake_client_address


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The time the throttle sees (tokens keep the real time)."""
    fake = Clock()
    monkeypatch.setattr(data.signin, "utcnow", fake)
    return fake


@pytest.fixture
def client_at(app) -> Iterator[Callable[[], TestClient]]:  # type: ignore[no-untyped-def]
    """``client_at()``: a client at a new address of its own."""
    made: list[TestClient] = []

    def make() -> TestClient:
        made.append(TestClient(app, client=fake_client_address()))
        return made[-1]

    yield make
    for client in made:
        client.close()


def sign_in(client: TestClient, username: str, password: str, **headers: str) -> Any:
    return client.post(
        "/api/auth/token", json={"username": username, "password": password}, headers=headers
    )


def retry_after(response: Any) -> int:
    return int(response.headers["Retry-After"]) if response.status_code == 429 else 0


def signs_in(client: TestClient, username: str, password: str) -> bool:
    """The right password gets a token, and the token works."""
    response = sign_in(client, username, password)
    if response.status_code != 200:
        return False
    token = response.json()["access_token"]
    listed = client.get("/api/customers", headers={"Authorization": f"Bearer {token}"})
    return listed.status_code == 200


WRONG = "definitely not the password"


def test_wrong_passwords_from_one_client_never_refuse_the_right_one_from_another(
    tenant, client_at, clock
):
    """Past every lock of the attacker's client and past the per-username threshold:
    the real user, at another address, signs in at once every time."""
    username = tenant.editor.username
    password = tenant.passwords[username]
    attacker, victim = client_at(), client_at()
    statuses = []
    for _ in range(USER_SLOW_AFTER + 5):
        refused = sign_in(attacker, username, WRONG)
        statuses.append(refused.status_code)
        assert signs_in(victim, username, password)
        clock.advance(retry_after(refused) + 1)
    assert set(statuses) == {401, 429}
    assert max(statuses) == 429


def test_the_pair_lock_refuses_only_that_client_and_grows_to_a_ceiling(tenant, client_at, clock):
    username = tenant.viewer.username
    password = tenant.passwords[username]
    here, elsewhere = client_at(), client_at()
    answers = [sign_in(here, username, WRONG) for _ in range(PAIR_FAILURES)]
    assert [a.status_code for a in answers] == [401] * (PAIR_FAILURES - 1) + [429]
    assert answers[-1].headers["Retry-After"] == "30"
    clock.advance(10)
    locked = sign_in(here, username, password)  # the right password, from there
    assert (locked.status_code, locked.headers["Retry-After"]) == (429, "20")
    assert signs_in(elsewhere, username, password)
    windows = []
    for _ in range(6):
        clock.advance(int(windows[-1] if windows else 30) + 1)
        windows.append(retry_after(sign_in(here, username, WRONG)))
    assert windows == [60, 120, 240, 480, 900, 900]
    assert PAIR_MAX_LOCK.total_seconds() == 900
    clock.advance(901)
    assert signs_in(here, username, password)


def test_a_client_spraying_usernames_is_locked_for_every_username(tenant, client_at, clock):
    sprayer = client_at()
    statuses = [
        sign_in(sprayer, f"guess-{n}-{uuid.uuid4().hex[:6]}", WRONG).status_code
        for n in range(CLIENT_FAILURES)
    ]
    assert statuses == [401] * (CLIENT_FAILURES - 1) + [429]
    username = tenant.admin.username
    password = tenant.passwords[username]
    right = sign_in(sprayer, username, password)
    assert (right.status_code, right.headers["Retry-After"]) == (429, "60")
    assert signs_in(client_at(), username, password)  # the same user, from elsewhere
    clock.advance(61)
    assert signs_in(sprayer, username, password)


def test_a_guesser_on_many_clients_slows_the_username_by_seconds_never_hours(
    tenant, client_at, clock
):
    username = tenant.editor.username
    password = tenant.passwords[username]
    for _ in range(USER_SLOW_AFTER):
        assert sign_in(client_at(), username, WRONG).status_code == 401
    slowed = sign_in(client_at(), username, password)
    assert slowed.status_code == 429
    assert 0 < int(slowed.headers["Retry-After"]) <= USER_SLOW_INTERVAL.total_seconds() == 5
    clock.advance(int(slowed.headers["Retry-After"]))
    assert signs_in(client_at(), username, password)
    # A guesser that keeps going is held to one try per interval; the wait never grows.
    waits = []
    for _ in range(30):
        clock.advance(6)
        waits.append(retry_after(sign_in(client_at(), username, WRONG)))
        waits.append(retry_after(sign_in(client_at(), username, WRONG)))
    assert max(waits) <= 5
    clock.advance(6)
    assert signs_in(client_at(), username, password)


def test_forwarded_for_sent_to_the_application_is_not_believed(tenant, client_at, clock):
    """The app counts the connection's peer (uvicorn decides whether a proxy's header
    replaces it); a header a client made up changes nothing."""
    username = tenant.viewer.username
    client = client_at()
    statuses = [
        sign_in(client, username, WRONG, **{"X-Forwarded-For": f"203.0.113.{n}"}).status_code
        for n in range(PAIR_FAILURES)
    ]
    assert statuses == [401] * (PAIR_FAILURES - 1) + [429]
    right = sign_in(
        client, username, tenant.passwords[username], **{"X-Forwarded-For": "198.51.100.1"}
    )
    assert right.status_code == 429


# -- which address is the client ------------------------------------------------------

PROXIES = parse_proxies("10.0.0.0/8, 192.168.1.5, 2001:db8::/32")
addresses = st.ip_addresses().map(str)
trusted = st.one_of(
    st.ip_addresses(network="10.0.0.0/8"),
    st.just(ipaddress.ip_address("192.168.1.5")),
    st.ip_addresses(network="2001:db8::/32"),
).map(str)
untrusted = addresses.filter(lambda a: not any(ipaddress.ip_address(a) in n for n in PROXIES))
# Anything a client may put in the header itself: addresses, trusted ones included, junk.
made_up = st.lists(st.one_of(addresses, trusted, st.text(max_size=20)), max_size=4)


@given(peer=st.one_of(addresses, st.none()), header=st.one_of(st.text(), st.none()))
def test_without_trusted_proxies_the_peer_is_the_client_whatever_the_header(peer, header):
    assert client_address(peer, header, ()) == peer


@given(peer=untrusted, header=st.one_of(st.text(), st.none()))
def test_an_untrusted_peer_is_the_client_whatever_the_header(peer, header):
    assert client_address(peer, header, PROXIES) == peer


@given(junk=made_up, real=untrusted, hops=st.lists(trusted, max_size=3), peer=trusted)
def test_behind_trusted_proxies_the_address_the_first_proxy_saw_is_the_client(
    junk, real, hops, peer
):
    """What a client sends in the header before its own address cannot change who it is."""
    header = ", ".join([*(j.replace(",", " ") for j in junk), real, *hops])
    assert client_address(peer, header, PROXIES) == real


def uvicorn_client(peer: str, header: str, proxies: str) -> str:
    """The client address uvicorn's proxy middleware gives the application."""
    seen: dict[str, str] = {}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen["client"] = scope["client"][0]

    headers = [(b"x-forwarded-for", header.encode("latin-1"))]
    scope = {"type": "http", "client": (peer, 5000), "headers": headers}
    asyncio.run(ProxyHeadersMiddleware(app, trusted_hosts=proxies)(scope, None, None))  # type: ignore[arg-type]
    return seen["client"]


@given(
    peer=st.one_of(trusted, untrusted),
    chain=st.lists(st.one_of(trusted, untrusted), min_size=1, max_size=5).filter(
        lambda chain: any(not any(ipaddress.ip_address(a) in n for n in PROXIES) for a in chain)
    ),
)
def test_the_api_server_and_the_dashboard_agree_on_the_client(peer, chain):
    """uvicorn (the API, given TRUSTED_PROXIES by ``python -m api``) and
    ``client_address`` (the dashboard) pick the same address from the same request."""
    header = ", ".join(chain)
    proxies = ",".join(str(network) for network in PROXIES)
    assert uvicorn_client(peer, header, proxies) == client_address(peer, header, PROXIES)
