"""Sign-in with a username and password, throttled in a way that cannot be aimed at a victim.

Failures are counted in the ``auth_throttle`` table, so the limits hold across the
dashboard's and the API's processes.  Three counters, each forgotten after
``FAILURE_MEMORY`` without failures (counted from the end of its last lock):

* **this username from this client** (``pair:``): after ``PAIR_FAILURES`` wrong
  passwords that pair is locked for ``PAIR_FIRST_LOCK``, doubling with every further
  failure up to ``PAIR_MAX_LOCK``.  Only that client is refused: the real user signing
  in from anywhere else is not affected.
* **this client** (``client:``): a client spraying many usernames is locked after
  ``CLIENT_FAILURES``, doubling up to ``CLIENT_MAX_LOCK``.
* **this username from anywhere** (``user:``): a guesser spread over many clients is
  *slowed*, never locked out: past ``USER_SLOW_AFTER`` failures, the username takes one
  attempt per ``USER_SLOW_INTERVAL`` at most (a wait of seconds, never hours).  One
  client cannot get there alone: its pair lock stops it first (about ten failures in
  ``FAILURE_MEMORY``), so wrong passwords from one client never refuse the right
  password from another.

The client is the socket's peer address; a forwarded address (``X-Forwarded-For``) is
believed only from proxies named in ``TRUSTED_PROXIES`` (``client_address``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from config import Network
from data.db import THROTTLE_KEYS_SETTING, Database, set_local
from data.errors import Throttled, Unauthenticated
from data.models import AuthThrottle, utcnow
from data.passwords import dummy_check, verify_password
from data.schemas import storable
from data.users import UserInfo, find_in_session, normalise_username

PAIR_FAILURES = 5
PAIR_FIRST_LOCK = timedelta(seconds=30)
PAIR_MAX_LOCK = timedelta(minutes=15)
CLIENT_FAILURES = 20
CLIENT_FIRST_LOCK = timedelta(seconds=60)
CLIENT_MAX_LOCK = timedelta(hours=1)
USER_SLOW_AFTER = 20
USER_SLOW_INTERVAL = timedelta(seconds=5)
FAILURE_MEMORY = timedelta(minutes=15)
NO_CLIENT = "unknown"


def _key_text(text: str) -> str:
    """``text`` as a storable key: escaped when it holds NUL or a lone surrogate."""
    return text if storable(text) else ascii(text)[1:-1]


def throttle_keys(username: str, client: str | None) -> dict[str, str]:
    """The three counters an attempt touches, by kind."""
    name = _key_text(normalise_username(username))[:140]
    where = _key_text(client or NO_CLIENT)[:140]
    return {"pair": f"pair:{name}|{where}", "client": f"client:{where}", "user": f"user:{name}"}


def _lock_for(kind: str, failures: int) -> timedelta | None:
    if kind == "pair" and failures >= PAIR_FAILURES:
        doublings = min(failures - PAIR_FAILURES, 20)
        return min(PAIR_MAX_LOCK, PAIR_FIRST_LOCK * (1 << doublings))
    if kind == "client" and failures >= CLIENT_FAILURES:
        doublings = min(failures - CLIENT_FAILURES, 20)
        return min(CLIENT_MAX_LOCK, CLIENT_FIRST_LOCK * (1 << doublings))
    if kind == "user" and failures >= USER_SLOW_AFTER:
        return USER_SLOW_INTERVAL
    return None


def _locked_for(session: Session, keys: Iterable[str]) -> int:
    """Seconds until every key is unlocked (0 when none is locked)."""
    now = utcnow()
    rows = session.execute(
        select(AuthThrottle.locked_until).where(AuthThrottle.key.in_(list(keys)))
    ).scalars()
    waits = [(until - now).total_seconds() for until in rows if until is not None and until > now]
    return int(max(waits) + 0.999) if waits else 0


def _record_failure(session: Session, keys: dict[str, str]) -> int:
    """Count a failure against every key; return the longest lock (seconds) it caused."""
    dialect = session.get_bind().dialect.name
    ins = postgresql.insert if dialect == "postgresql" else sqlite.insert
    now = utcnow()
    longest = 0
    for kind, key in keys.items():
        session.execute(
            ins(AuthThrottle)
            .values(key=key, failures=0)
            .on_conflict_do_nothing(index_elements=["key"])
        )
        row = session.execute(
            select(AuthThrottle.failures, AuthThrottle.last_failure_at, AuthThrottle.locked_until)
            .where(AuthThrottle.key == key)
            .with_for_update()
        ).one()
        # Forget the failures after a quiet while counted from the end of the last lock,
        # not from the last failure: otherwise a lock longer than FAILURE_MEMORY would
        # reset the count the moment it ends, and the lock could never grow.
        marks = [moment for moment in (row.last_failure_at, row.locked_until) if moment]
        failures = 0 if marks and now - max(marks) > FAILURE_MEMORY else row.failures
        failures += 1
        lock = _lock_for(kind, failures)
        locked_until = now + lock if lock else None
        if lock and kind != "user":
            longest = max(longest, int(lock.total_seconds()))
        session.execute(
            update(AuthThrottle)
            .where(AuthThrottle.key == key)
            .values(failures=failures, last_failure_at=now, locked_until=locked_until)
        )
    return longest


def authenticate(database: Database, username: str, password: str, client: str | None) -> UserInfo:
    """Check a username and password; raise ``Throttled`` or ``Unauthenticated``.

    ``client`` identifies where the attempt comes from (an IP address, from
    ``client_address``); see the module doc for how failures are counted.
    """
    name = normalise_username(username if isinstance(username, str) else "")
    keys = throttle_keys(name, client)
    with database.transaction(None) as session:
        set_local(session, THROTTLE_KEYS_SETTING, "\n".join(keys.values()))
        wait = _locked_for(session, keys.values())
        found = find_in_session(session, name, with_hash=True) if name and storable(name) else None
    if wait:
        raise Throttled(wait)
    if found is not None and verify_password(password, found[1]):
        with database.transaction(None, write=True) as session:
            set_local(session, THROTTLE_KEYS_SETTING, keys["pair"])
            session.execute(delete(AuthThrottle).where(AuthThrottle.key == keys["pair"]))
        return found[0]
    if found is None:
        dummy_check()
    with database.transaction(None, write=True) as session:
        set_local(session, THROTTLE_KEYS_SETTING, "\n".join(keys.values()))
        lock = _record_failure(session, keys)
    if lock:
        raise Throttled(lock)
    raise Unauthenticated()


# -- where an attempt comes from ---------------------------------------------------------


def _trusted(address: str | None, proxies: Sequence[Network]) -> bool:
    if not address or not proxies:
        return False
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(ip in network for network in proxies)


def client_address(
    peer: str | None,
    forwarded_for: str | None,
    proxies: Sequence[Network],
) -> str | None:
    """The client of a request: the peer, unless the peer is a trusted proxy.

    Then the right-most address of ``X-Forwarded-For`` that is not itself a trusted proxy
    (each proxy appends the address it saw, so only those entries are vouched for).
    """
    if not _trusted(peer, proxies) or not forwarded_for:
        return peer
    for entry in reversed([part.strip() for part in forwarded_for.split(",")]):
        if entry and not _trusted(entry, proxies):
            return entry
    return peer


def came_over_https(
    url: str | None,
    peer: str | None,
    forwarded_proto: str | None,
    proxies: Sequence[Network],
) -> bool:
    """Was the browser's request https (directly, or at a trusted TLS-terminating proxy)?"""
    if (url or "").lower().startswith("https:"):
        return True
    if _trusted(peer, proxies) and forwarded_proto:
        return forwarded_proto.split(",")[0].strip().lower() == "https"
    return False
