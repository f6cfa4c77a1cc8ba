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
applies); on SQLite the SELECT builds each CSV line (minimal quoting, like the csv
module) and the driver's cursor streams them.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import IO, Any

from sqlalchemy import ColumnElement, String, and_, case, cast, func, literal, or_

from data.csv_read import neutralise_cell
from data.customers import CustomerRepository
from data.db import Database
from data.models import Customer
from data.tenancy import Actor, Permission

EXPORT_HEADER = ["name", "email", "phone", "address", "created_at", "updated_at", "id"]
CHUNK_BYTES = 256 * 1024
BATCH = 5000

__all__ = ["EXPORT_HEADER", "export_csv", "export_filename", "iter_export", "neutralise_cell"]


TRIGGER_CLASS = "[=+@\t\r-]"  # FORMULA_STARTS as a character class ("-" last: literal)


def _neutralised(column: Any, dialect: str) -> ColumnElement[Any]:
    """SQL twin of ``neutralise_cell``: prefix ``'`` when, after leading quotes, a formula
    character comes first.  One pattern match per cell (``GLOB`` / ``~``), no allocation on
    the common path."""
    if dialect == "postgresql":
        starts = column.op("~")(literal("^'*" + TRIGGER_CLASS))
    else:
        starts = or_(
            column.op("GLOB")(literal(TRIGGER_CLASS + "*")),
            and_(
                column.op("GLOB")(literal("'*")),
                func.ltrim(column, literal("'")).op("GLOB")(literal(TRIGGER_CLASS + "*")),
            ),
        )
    return case((starts, literal("'") + column), else_=column)


def _timestamp(column: Any, dialect: str) -> ColumnElement[Any]:
    if dialect == "postgresql":
        return func.to_char(func.timezone("UTC", column), literal('YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
    # SQLite keeps naive UTC text "YYYY-MM-DD HH:MM:SS.ffffff".
    return func.replace(cast(column, String), " ", "T") + literal("Z")


def _query(repository: CustomerRepository, search: str | None, dialect: str) -> Any:
    texts = [
        _neutralised(column, dialect)
        for column in (Customer.name, Customer.email, Customer.phone, Customer.address)
    ]
    # Times and the id never hold a delimiter, a quote or a line break.
    plain = [
        _timestamp(Customer.created_at, dialect),
        _timestamp(Customer.updated_at, dialect),
        Customer.id,
    ]
    columns: list[Any] = texts + plain
    if dialect == "sqlite":
        columns = [_csv_line(texts, plain)]
    return (
        repository._filtered(search)
        .with_only_columns(*columns)
        .order_by(Customer.name, Customer.id)
    )


def _csv_field(value: Any) -> ColumnElement[Any]:
    """SQL twin of the csv module's minimal quoting: quote when , " CR or LF is inside."""
    text = func.coalesce(value, literal(""))
    quoted = literal('"') + func.replace(text, literal('"'), literal('""')) + literal('"')
    return case((text.op("GLOB")(literal('*[,"\n\r]*')), quoted), else_=text)


def _csv_line(texts: list[Any], plain: list[Any]) -> ColumnElement[Any]:
    """The whole CSV line of a row, built by SQLite in C (its CLI's ``-csv`` does the same)."""
    line = _csv_field(texts[0])
    for column in texts[1:]:
        line = line + literal(",") + _csv_field(column)
    for column in plain:
        line = line + literal(",") + column
    return line


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
        yield from _sqlite_rows(session, query, terminator, counter)


def _sqlite_rows(session: Any, query: Any, terminator: str, counter: _Counter) -> Iterator[bytes]:
    """Lines straight from the driver's cursor, which steps lazily through the index."""
    compiled = query.compile(
        dialect=session.get_bind().dialect, compile_kwargs={"render_postcompile": True}
    )
    params = [compiled.params[name] for name in compiled.positiontup or []]
    cursor = session.connection().connection.dbapi_connection.cursor()
    pending: list[str] = []
    size = 0
    try:
        cursor.execute(str(compiled), params)
        while rows := cursor.fetchmany(BATCH):
            text = terminator.join([row[0] for row in rows]) + terminator
            counter.rows += len(rows)
            pending.append(text)
            size += len(text)
            if size >= CHUNK_BYTES:
                yield "".join(pending).encode("utf-8")
                pending, size = [], 0
    finally:
        cursor.close()
    if pending:
        yield "".join(pending).encode("utf-8")


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
