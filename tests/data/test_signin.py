"""Sign-in and its throttling: it slows guessers and cannot be aimed at a victim.

Time is controlled through the ``clock`` fixture (``data.signin.utcnow``); nothing sleeps.
Every test uses made-up client addresses of its own, so tests do not throttle each other.
"""

from __future__ import annotations

import ipaddress
import uuid

import bcrypt
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text

import data.passwords
from config import parse_proxies
from data.errors import Throttled, Unauthenticated
from data.identity import Role
from data.signin import (
    CLIENT_FAILURES,
    PAIR_FAILURES,
    PAIR_FIRST_LOCK,
    PAIR_MAX_LOCK,
    USER_SLOW_AFTER,
    USER_SLOW_INTERVAL,
    authenticate,
    came_over_https,
    client_address,
    throttle_keys,
)


def client() -> str:
    return f"198.51.100.{uuid.uuid4().int % 250}-{uuid.uuid4().hex[:6]}"


def fail(database, username: str, where: str) -> BaseException:  # type: ignore[no-untyped-def]
    with pytest.raises((Unauthenticated, Throttled)) as caught:
        authenticate(database, username, "definitely wrong", where)
    return caught.value


def test_a_generated_password_signs_in(database, tenant):
    password = tenant.passwords[tenant.admin.username]
    user = authenticate(database, tenant.admin.username, password, client())
    assert (user.id, user.tenant_id, user.role) == (tenant.admin.id, tenant.id, Role.ADMIN)


def test_authenticate_with_the_right_password_returns_the_user(database, tenant):
    password = tenant.passwords[tenant.editor.username]
    user = authenticate(database, f"  {tenant.editor.username.upper()} ", password, client())
    assert user == tenant.editor


@pytest.mark.parametrize(
    ("username", "password"),
    [
        ("{editor}", "wrong password!"),
        ("{editor}", ""),
        ("{editor}", "é" * 40),  # over 72 bytes
        ("no-such-user-anywhere", "whatever12345"),
        ("", "whatever12345"),
        ("\ud800ghost", "whatever12345"),
        ("{editor}", "pass\udcffword123"),
        ("{editor}\x00", "whatever12345"),
    ],
)
def test_authenticate_failures_all_say_the_same(database, tenant, username, password):
    username = username.format(editor=tenant.editor.username)
    with pytest.raises(Unauthenticated) as caught:
        authenticate(database, username, password, client())
    assert str(caught.value) == "Wrong username or password."


def test_an_unknown_username_costs_a_bcrypt_check(database, monkeypatch):
    calls = []
    real = bcrypt.checkpw

    def counting(password: bytes, hashed: bytes) -> bool:
        calls.append(hashed)
        return real(password, hashed)

    monkeypatch.setattr(data.passwords.bcrypt, "checkpw", counting)
    with pytest.raises(Unauthenticated):
        authenticate(database, f"ghost-{uuid.uuid4().hex}", "some password", client())
    assert len(calls) == 1


# -- this username from this client ------------------------------------------------


def test_failures_from_one_client_lock_that_client_for_that_username(database, tenant, clock):
    username = tenant.editor.username
    password = tenant.passwords[username]
    where = client()
    results = [fail(database, username, where) for _ in range(PAIR_FAILURES)]
    assert all(isinstance(r, Unauthenticated) for r in results[:-1])
    assert isinstance(results[-1], Throttled)
    assert results[-1].retry_after == PAIR_FIRST_LOCK.total_seconds() == 30
    assert str(results[-1]) == "Too many failed sign-in attempts; try again in 30 seconds."
    clock.advance(seconds=10)
    with pytest.raises(Throttled) as caught:
        authenticate(database, username, password, where)  # the right one, from there
    assert caught.value.retry_after == 20
    clock.advance(seconds=21)
    assert authenticate(database, username, password, where) == tenant.editor
    # Success clears the pair's failures: four more mistakes are allowed again.
    assert all(isinstance(fail(database, username, where), Unauthenticated) for _ in range(4))


def test_wrong_passwords_from_one_client_never_refuse_the_right_one_from_another(
    database, tenant, clock
):
    """The lockout that anyone could aim at a victim: however long an attacker at one
    address goes on, the user at another address signs in at once, every time."""
    username = tenant.editor.username
    password = tenant.passwords[username]
    attacker, victim = client(), client()
    for _ in range(60):  # an hour of trying, as fast as the locks allow
        refusal = fail(database, username, attacker)
        assert authenticate(database, username, password, victim) == tenant.editor
        clock.advance(seconds=getattr(refusal, "retry_after", 0) + 1)


def test_the_pair_lock_grows_with_every_failure_to_a_ceiling(database, tenant, clock):
    username = tenant.viewer.username
    where = client()
    for _ in range(PAIR_FAILURES - 1):
        fail(database, username, where)
    windows = []
    for _ in range(7):
        refusal = fail(database, username, where)
        assert isinstance(refusal, Throttled)
        windows.append(refusal.retry_after)
        clock.advance(seconds=refusal.retry_after + 1)
    assert windows == [30, 60, 120, 240, 480, 900, 900]
    assert PAIR_MAX_LOCK.total_seconds() == 900


def test_attempts_while_locked_do_not_count_or_extend_the_lock(database, tenant, clock):
    username = tenant.viewer.username
    where = client()
    for _ in range(PAIR_FAILURES):
        fail(database, username, where)
    refusal: BaseException | None = None
    for _ in range(10):
        clock.advance(seconds=2)
        refusal = fail(database, username, where)
        assert isinstance(refusal, Throttled)
    assert isinstance(refusal, Throttled)
    assert refusal.retry_after == 10
    clock.advance(seconds=11)
    assert isinstance(fail(database, username, where), Throttled)  # next window: 60 s
    clock.advance(seconds=61)
    password = tenant.passwords[username]
    assert authenticate(database, username, password, where) == tenant.viewer


def test_failures_are_forgotten_after_a_quiet_while(database, tenant, clock):
    username = tenant.editor.username
    where = client()
    for _ in range(PAIR_FAILURES - 1):
        fail(database, username, where)
    clock.advance(minutes=16)
    assert isinstance(fail(database, username, where), Unauthenticated)


def test_a_long_lock_is_not_forgotten_the_moment_it_ends(database, tenant, clock):
    """Failures are forgotten only after a quiet while *after* the lock ended, else a
    lock longer than that while would reset the count and never grow."""
    username = tenant.editor.username
    where = client()
    for _ in range(PAIR_FAILURES - 1):
        fail(database, username, where)
    refusal: BaseException | None = None
    for _ in range(5):  # 30 s ... 480 s
        refusal = fail(database, username, where)
        assert isinstance(refusal, Throttled)
        clock.advance(seconds=refusal.retry_after + 1)
    assert isinstance(refusal, Throttled)
    assert refusal.retry_after == 480
    follow_up = fail(database, username, where)
    assert isinstance(follow_up, Throttled)
    assert follow_up.retry_after == 900


# -- this client, whatever the username ---------------------------------------------


def test_a_client_spraying_usernames_is_locked_for_all_of_them(database, tenant, clock):
    where = client()
    results = [
        fail(database, f"guess-{n}-{uuid.uuid4().hex[:6]}", where) for n in range(CLIENT_FAILURES)
    ]
    assert [type(r).__name__ for r in results] == ["Unauthenticated"] * (CLIENT_FAILURES - 1) + [
        "Throttled"
    ]
    password = tenant.passwords[tenant.admin.username]
    with pytest.raises(Throttled):  # the right password, from the spraying client
        authenticate(database, tenant.admin.username, password, where)
    # ... while the same user from elsewhere signs in.
    assert authenticate(database, tenant.admin.username, password, client()) == tenant.admin
    clock.advance(seconds=61)
    assert authenticate(database, tenant.admin.username, password, where) == tenant.admin


def test_unknown_usernames_are_throttled_like_real_ones(database, clock):
    ghost = f"ghost-{uuid.uuid4().hex[:8]}"
    where = client()
    results = [fail(database, ghost, where) for _ in range(PAIR_FAILURES)]
    assert [type(r).__name__ for r in results] == ["Unauthenticated"] * 4 + ["Throttled"]


# -- this username, from everywhere ---------------------------------------------------


def test_a_guesser_spread_over_many_clients_is_slowed_for_seconds_not_locked(
    database, tenant, clock
):
    username = tenant.editor.username
    password = tenant.passwords[username]
    for _ in range(USER_SLOW_AFTER):
        fail(database, username, client())
    # Now the username takes one attempt per interval, from anywhere: seconds, not hours.
    with pytest.raises(Throttled) as caught:
        authenticate(database, username, password, client())
    assert 0 < caught.value.retry_after <= USER_SLOW_INTERVAL.total_seconds() == 5
    clock.advance(seconds=caught.value.retry_after)
    assert authenticate(database, username, password, client()) == tenant.editor
    # Still slowed after a thousand more failures: the wait never grows.
    for _ in range(30):
        clock.advance(seconds=6)
        fail(database, username, client())
    clock.advance(seconds=6)
    assert authenticate(database, username, password, client()) == tenant.editor


def test_throttling_is_kept_in_the_database(database, tenant, owner_sql, clock):
    """Another process sees the lock: it lives in auth_throttle, not in memory."""
    username = tenant.editor.username
    where = client()
    for _ in range(PAIR_FAILURES):
        fail(database, username, where)
    keys = throttle_keys(username, where)
    with owner_sql() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(
                text("SELECT set_config('app.throttle_keys', :k, true)"), {"k": keys["pair"]}
            )
        failures, locked_until = conn.execute(
            text("SELECT failures, locked_until FROM auth_throttle WHERE key = :k"),
            {"k": keys["pair"]},
        ).one()
    assert failures == PAIR_FAILURES
    assert locked_until is not None


# -- where an attempt comes from ------------------------------------------------------

PROXIES = parse_proxies("10.0.0.0/8, 192.168.1.5")


def test_forwarded_addresses_are_ignored_unless_the_peer_is_a_trusted_proxy():
    assert client_address("203.0.113.9", "1.2.3.4", PROXIES) == "203.0.113.9"
    assert client_address("203.0.113.9", "1.2.3.4", ()) == "203.0.113.9"
    assert client_address("10.1.2.3", "1.2.3.4", ()) == "10.1.2.3"
    assert client_address("10.1.2.3", "1.2.3.4", PROXIES) == "1.2.3.4"
    # The client may send its own X-Forwarded-For: only what trusted proxies appended counts.
    assert client_address("10.1.2.3", "6.6.6.6, 1.2.3.4, 192.168.1.5", PROXIES) == "1.2.3.4"
    assert client_address("10.1.2.3", None, PROXIES) == "10.1.2.3"
    assert client_address(None, "1.2.3.4", PROXIES) is None


@given(
    peer=st.ip_addresses(v=4).map(str),
    forwarded=st.lists(st.ip_addresses(v=4).map(str), max_size=4).map(", ".join),
)
def test_an_untrusted_peer_is_always_the_client(peer: str, forwarded: str) -> None:
    if ipaddress.ip_address(peer) in ipaddress.ip_network("10.0.0.0/8") or peer == "192.168.1.5":
        return
    assert client_address(peer, forwarded, PROXIES) == peer


def test_https_is_believed_from_the_url_or_a_trusted_proxy_only():
    assert came_over_https("https://app.example/", "203.0.113.9", None, ())
    assert not came_over_https("http://app.example/", "203.0.113.9", "https", PROXIES)
    assert came_over_https("http://app.example/", "10.0.0.7", "https", PROXIES)
    assert not came_over_https("http://app.example/", "10.0.0.7", "http", PROXIES)


def test_bad_proxy_settings_are_one_sentence():
    from config import ConfigError, load_settings

    with pytest.raises(ConfigError, match=r"^TRUSTED_PROXIES: 'not-an-ip' is not an IP"):
        load_settings(
            {
                "TRUSTED_PROXIES": "10.0.0.1, not-an-ip",
                "JWT_SECRET": "k7Hq2xN9pL4vR8sT1wY6zB3mC5dF0gJe",
                "COOKIE_KEY": "Qm4Zr8Tx2Lp6Vn1Ks9Hd3Wf7Jb5Gc0Ay",
            }
        )
