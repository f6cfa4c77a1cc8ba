"""The ``duplicate_pairs`` table: writing found pairs, forgetting stale ones.

* ``upsert``: a found pair is inserted ``open``; one stored already keeps its status
  (a dismissed pair stays dismissed) and its ``found_at``, and takes the new score and
  reasons;
* ``replace_for``: after one write, the customer's pairs become exactly those found now
  (open pairs no longer found are deleted; dismissed ones stay);
* ``forget_open``: the open pairs of customers that are gone (a delete, a merge, an
  import's undo), by id or by a subquery of ids;
* ``clear_open``: every open pair of the tenant, before a rebuild.

Every statement names the tenant; on PostgreSQL row-level security holds it too.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import datetime
from itertools import islice
from typing import Any

from sqlalchemy import Select, and_, bindparam, delete, or_, select, union_all
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from data.duplicates.records import Pair, Reason
from data.errors import NotFound
from data.models import DUPLICATE_PAIRS

P = DUPLICATE_PAIRS.c
OPEN, DISMISSED = "open", "dismissed"
SEPARATOR = "~"  # between the two customer ids of a pair's id (never in a UUID)
BATCH = 1000


def pair_id(first: str, second: str) -> str:
    """The public id of the pair of two customers (in either order)."""
    low, high = sorted((first, second))
    return f"{low}{SEPARATOR}{high}"


def parse_pair_id(text: str) -> tuple[str, str]:
    """The two customer ids of a pair id, ordered; ``NotFound`` when it cannot be one."""
    first, separator, second = (text or "").partition(SEPARATOR)
    if not separator or not first or not second or first >= second or len(text) > 100:
        raise NotFound("duplicate pair")
    return first, second


def reasons_text(reasons: Iterable[Reason]) -> str:
    return ",".join(reason.value for reason in reasons)


def parse_reasons(text: str) -> tuple[Reason, ...]:
    known = {reason.value: reason for reason in Reason}
    return tuple(known[part] for part in text.split(",") if part in known)


# The pairs of one customer (ids bound when run), as two conditions that each seek an
# index: the customer is ``customer_a`` (the primary key) or ``customer_b``
# (``ix_duplicate_pairs_tenant_b``).  One ``a = :id OR b = :id`` would have SQLite read
# every pair of the tenant.  The statements built on them run in every write or delete
# of a customer, so they are built once: composed per call, they cost more CPU than the
# database's work.
SIDES = (
    and_(P.tenant_id == bindparam("tenant"), P.customer_a == bindparam("customer")),
    and_(P.tenant_id == bindparam("tenant"), P.customer_b == bindparam("customer")),
)
STORED_PAIRS = union_all(
    *(select(P.customer_a, P.customer_b, P.status).where(side) for side in SIDES)
)
FORGET_OPEN = tuple(delete(DUPLICATE_PAIRS).where(side, P.status == OPEN) for side in SIDES)
DELETE_PAIR = delete(DUPLICATE_PAIRS).where(
    P.tenant_id == bindparam("tenant"),
    P.customer_a == bindparam("a"),
    P.customer_b == bindparam("b"),
)


@functools.cache
def _upsert_statement(dialect: str) -> Any:
    insert_ = pg_insert if dialect == "postgresql" else sqlite_insert
    statement: Any = insert_(DUPLICATE_PAIRS)
    return statement.on_conflict_do_update(
        index_elements=[P.tenant_id, P.customer_a, P.customer_b],
        set_={"score": statement.excluded.score, "reasons": statement.excluded.reasons},
    )


def upsert(session: Session, tenant_id: str, pairs: Iterable[Pair], now: datetime) -> int:
    """Insert found pairs as open, or refresh their score and reasons; returns how many."""
    statement = _upsert_statement(session.get_bind().dialect.name)
    written = 0
    pending = iter(pairs)
    while chunk := list(islice(pending, BATCH)):
        session.execute(
            statement,
            [
                {
                    "tenant_id": tenant_id,
                    "customer_a": pair.id_a,
                    "customer_b": pair.id_b,
                    "score": pair.score,
                    "reasons": reasons_text(pair.reasons),
                    "status": OPEN,
                    "found_at": now,
                }
                for pair in chunk
            ],
        )
        written += len(chunk)
    return written


def replace_for(
    session: Session, tenant_id: str, customer_id: str, pairs: list[Pair], now: datetime
) -> None:
    """The customer's pairs are now ``pairs``: stale open ones go, found ones are upserted."""
    stored = session.execute(STORED_PAIRS, {"tenant": tenant_id, "customer": customer_id}).all()
    found = {pair.ids for pair in pairs}
    stale = [
        {"tenant": tenant_id, "a": first, "b": second}
        for first, second, status in stored
        if status == OPEN and (first, second) not in found
    ]
    if stale:
        session.execute(DELETE_PAIR, stale)
    if pairs:
        upsert(session, tenant_id, pairs, now)


def forget_open(session: Session, tenant_id: str, customer_ids: Iterable[str]) -> None:
    """Delete the open pairs of these customers (they are gone)."""
    gone = [{"tenant": tenant_id, "customer": customer_id} for customer_id in customer_ids]
    if gone:
        for statement in FORGET_OPEN:
            session.execute(statement, gone)


def forget_open_of(session: Session, tenant_id: str, ids: Select[Any]) -> None:
    """Delete the open pairs of the customers a one-column query names (set-based)."""
    session.execute(
        delete(DUPLICATE_PAIRS).where(
            P.tenant_id == tenant_id,
            P.status == OPEN,
            or_(P.customer_a.in_(ids), P.customer_b.in_(ids)),
        )
    )


def clear_open(session: Session, tenant_id: str) -> None:
    """Delete every open pair of the tenant (a rebuild finds them again)."""
    session.execute(delete(DUPLICATE_PAIRS).where(P.tenant_id == tenant_id, P.status == OPEN))
