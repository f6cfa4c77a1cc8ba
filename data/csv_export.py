"""CSV export: the tenant's customers (or a search's matches), streamed, spreadsheet-safe.

Fields are quoted only when needed; rows end with LF on PostgreSQL (COPY's way) and CRLF
on SQLite (so that the csv writer quotes a lone CR inside a field).
The header is SPEC §4's ``name,email,phone,address,created_at,updated_at,id``; times are
ISO 8601 in UTC (``2026-11-25T17:30:45.123456Z``) on both databases.  A cell that a
spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``, tab, carriage return at
its start) gets a leading ``'`` (``neutralise_cell``), reversibly, so that the export
re-imports with no change.

The rows never sit in memory: PostgreSQL streams them with ``COPY (SELECT ...) TO STDOUT``
(the neutralisation and the time format are done in the same SELECT, row-level security
applies), SQLite with a streamed cursor (``yield_per``) into the C ``csv`` writer.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import IO, Any

from sqlalchemy import ColumnElement, String, case, cast, func, literal

from data.csv_read import FORMULA_STARTS, neutralise_cell
from data.customers import CustomerRepository
from data.db import Database
from data.models import Customer
from data.tenancy import Actor, Permission

EXPORT_HEADER = ["name", "email", "phone", "address", "created_at", "updated_at", "id"]
CHUNK_BYTES = 256 * 1024
BATCH = 5000

__all__ = ["EXPORT_HEADER", "export_csv", "export_filename", "iter_export", "neutralise_cell"]


def _neutralised(column: Any) -> ColumnElement[Any]:
    """SQL twin of ``neutralise_cell``: prefix ``'`` when the first non-quote char is a trigger."""
    first = func.substr(func.ltrim(column, literal("'")), 1, 1)
    return case((first.in_(list(FORMULA_STARTS)), literal("'") + column), else_=column)


def _timestamp(column: Any, dialect: str) -> ColumnElement[Any]:
    if dialect == "postgresql":
        return func.to_char(func.timezone("UTC", column), literal('YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
    # SQLite keeps naive UTC text "YYYY-MM-DD HH:MM:SS.ffffff".
    return func.replace(cast(column, String), " ", "T") + literal("Z")


def _query(repository: CustomerRepository, search: str | None, dialect: str) -> Any:
    columns: list[Any] = [
        _neutralised(Customer.name),
        _neutralised(Customer.email),
        _neutralised(Customer.phone),
        _neutralised(Customer.address),
        _timestamp(Customer.created_at, dialect),
        _timestamp(Customer.updated_at, dialect),
        Customer.id,
    ]
    return (
        repository._filtered(search)
        .with_only_columns(*columns)
        .order_by(Customer.name, Customer.id)
    )


class _Counter:
    rows = 0


def iter_export(
    database: Database,
    tenant_id: str,
    actor: Actor,
    *,
    search: str | None = None,
    bom: bool = False,
    counter: _Counter | None = None,
) -> Iterator[bytes]:
    """The CSV as chunks of UTF-8 bytes, read in one transaction of the tenant."""
    actor.require(Permission.EXPORT)
    counter = counter or _Counter()
    return _chunks(database, tenant_id, actor, search, bom, counter)


def _chunks(
    database: Database,
    tenant_id: str,
    actor: Actor,
    search: str | None,
    bom: bool,
    counter: _Counter,
) -> Iterator[bytes]:
    terminator = "\n" if database.dialect == "postgresql" else "\r\n"
    head = io.StringIO()
    csv.writer(head, lineterminator=terminator).writerow(EXPORT_HEADER)
    yield ("\ufeff" if bom else "").encode() + head.getvalue().encode()
    with database.transaction(tenant_id) as session:
        repository = CustomerRepository(session, tenant_id, actor)
        query = _query(repository, search, database.dialect)
        if database.dialect == "postgresql":
            yield from _copy_out(session, query, counter)
            return
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator=terminator)
        result = session.execute(query, execution_options={"yield_per": BATCH})
        for partition in result.partitions():
            writer.writerows(partition)
            counter.rows += len(partition)
            if buffer.tell() >= CHUNK_BYTES:
                yield buffer.getvalue().encode("utf-8")
                buffer.seek(0)
                buffer.truncate()
        if buffer.tell():
            yield buffer.getvalue().encode("utf-8")


def _copy_out(session: Any, query: Any, counter: _Counter) -> Iterator[bytes]:
    compiled = query.compile(
        dialect=session.get_bind().dialect, compile_kwargs={"render_postcompile": True}
    )
    raw = session.connection().connection.dbapi_connection
    statement = f"COPY ({compiled}) TO STDOUT WITH (FORMAT csv)"
    pending = bytearray()
    with raw.cursor() as cursor:
        with cursor.copy(statement, compiled.params) as copy:
            for data in copy:
                pending += data
                if len(pending) >= CHUNK_BYTES:
                    yield bytes(pending)
                    pending.clear()
        counter.rows = max(0, int(cursor.rowcount))
    if pending:
        yield bytes(pending)


def export_csv(
    database: Database,
    tenant_id: str,
    actor: Actor,
    out: IO[bytes],
    *,
    search: str | None = None,
    bom: bool = False,
) -> int:
    """Write the export to ``out``; returns the number of customers written."""
    counter = _Counter()
    for chunk in iter_export(database, tenant_id, actor, search=search, bom=bom, counter=counter):
        out.write(chunk)
    return counter.rows


def export_filename(tenant_name: str, search: str | None = None) -> str:
    """A download name such as ``customers-acme-demo.csv``."""
    slug = "".join(ch if ch.isalnum() else "-" for ch in tenant_name.lower()).strip("-")
    slug = "-".join(part for part in slug.split("-") if part) or "tenant"
    return f"customers-{slug}{'-search' if search else ''}.csv"
