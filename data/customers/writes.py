"""The few rules every write of a customer obeys, for every path that writes one.

* ``stamp(now)``: what every update sets besides the fields, a new ``version`` and
  ``updated_at`` (the form, the grid, the API, an import's updates, an undo, a merge);
* ``new_row(...)``: the stored columns of a new customer: its fields, the keys derived
  from them (``data.keys``), its times and version;
* on SQLite, each tenant's customers take rowids from the tenant's own range
  (``seq_range``; migration 0003), so that search reads the FTS index of that tenant
  only.  ``next_seq`` hands out the next ones; the database refuses any other.
* ``insert_new(...)``: many new customers in set-based inserts, without an audit event
  each: the one bulk seeding of the tests and the benchmarks (operator paths).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from itertools import islice
from typing import Any

from sqlalchemy import Column, ColumnElement, Integer, MetaData, Table, func, insert, select, text
from sqlalchemy.orm import Session

from data.models import CUSTOMERS, new_id, utcnow
from data.schemas import CustomerIn

C = CUSTOMERS.c
SEQ_BITS = 40  # a tenant's range: seq << 40 … (seq + 1) << 40 (a trillion customers)

# SQLite only: the customers table with its rowid column ``seq``, which the shared model
# leaves out (PostgreSQL has no such column).
SQLITE_CUSTOMERS = Table(
    "customers",
    MetaData(),
    Column("seq", Integer, primary_key=True),
    *(Column(column.name, column.type, nullable=column.nullable) for column in CUSTOMERS.columns),
)


def stamp(now: datetime | ColumnElement[Any]) -> dict[str, Any]:
    """What every update of a customer sets besides its fields (``now``: a time, or a
    bound parameter of a statement built once)."""
    return {"version": C.version + 1, "updated_at": now}


def new_row(
    tenant_id: str,
    customer_id: str,
    clean: CustomerIn,
    *,
    now: datetime,
    created_at: datetime | None = None,
    version: int = 1,
    region: str | None = None,
) -> dict[str, Any]:
    """Every stored column of a new customer (``region``: the tenant's phone region)."""
    return {
        "tenant_id": tenant_id,
        "id": customer_id,
        **clean.stored(region),
        "created_at": created_at or now,
        "updated_at": now,
        "version": version,
    }


def seq_range(session: Session, tenant_id: str) -> tuple[int, int]:
    """SQLite: the rowids of the tenant's customers lie in [low, high)."""
    number = session.execute(
        text("SELECT seq FROM tenants WHERE id = :tenant"), {"tenant": tenant_id}
    ).scalar()
    if number is None:
        raise LookupError(f"tenant {tenant_id} has no number")
    return int(number) << SEQ_BITS, (int(number) + 1) << SEQ_BITS


def next_seq(session: Session, tenant_id: str) -> int:
    """SQLite: the first free rowid of the tenant's range (one seek in the rowid tree).

    Writers of one SQLite database take turns (``BEGIN IMMEDIATE``), so the number stays
    free until the caller's transaction ends.
    """
    low, high = seq_range(session, tenant_id)
    seq = SQLITE_CUSTOMERS.c.seq
    last = session.execute(select(func.max(seq)).where(seq >= low, seq < high)).scalar()
    return int(last) + 1 if last is not None else low + 1


def insert_new(
    session: Session,
    tenant_id: str,
    customers: Iterable[CustomerIn],
    *,
    now: datetime | None = None,
    batch: int = 5000,
) -> list[str]:
    """Insert validated new customers of ``tenant_id``; returns their new ids, in order.

    Set-based (one executemany per ``batch``), so seeding a million customers keeps a
    batch in memory at a time; on SQLite the rowids come from the tenant's range.  No
    audit event is written, nor are duplicate pairs looked for (``manage.py duplicates
    --rebuild`` does): this is for seeding (tests, benchmarks), not for users.  The keys
    are computed with the tenant's phone region.
    """
    from data.tenancy import phone_region

    moment = now or utcnow()
    region = phone_region(session, tenant_id)
    ids: list[str] = []
    pending = iter(customers)
    sqlite = session.get_bind().dialect.name == "sqlite"
    while chunk := list(islice(pending, batch)):
        rows = [new_row(tenant_id, new_id(), clean, now=moment, region=region) for clean in chunk]
        if sqlite:
            first = next_seq(session, tenant_id)
            for offset, row in enumerate(rows):
                row["seq"] = first + offset
            session.execute(insert(SQLITE_CUSTOMERS), rows)
        else:
            session.execute(insert(CUSTOMERS), rows)
        ids += [str(row["id"]) for row in rows]
    return ids
