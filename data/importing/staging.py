"""The import's temporary tables: staged rows and row errors, loaded fast, read back.

``import_rows`` holds every valid row of the file with its line, a customer id and every
stored column of a customer (``validation.STORED``: the fields of ``data.fields`` and the
keys of ``data.keys``), then the plan's ``action`` (a row that matched an existing
customer then carries that customer's id).
``import_errors`` holds one row per (line, field) error.  Both live in the import's own
transaction: PostgreSQL drops them at commit (``ON COMMIT DROP``); SQLite drops them when
the import ends (a pooled connection outlives the transaction).

Loading is each database's fast path: ``COPY`` on PostgreSQL, a batched ``executemany``
on SQLite, straight on the driver's connection.  Planning and writing are set-based SQL
on these tables (``plan``, ``write``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import (
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    distinct,
    func,
    select,
    text,
)
from sqlalchemy.orm import Session
from sqlalchemy.schema import CreateIndex, CreateTable
from sqlalchemy.sql import Executable

from data.importing.results import MAX_ERRORS, RowError
from data.importing.validation import STAGED_COLUMNS, STORED, CopyText, ErrorRow, Valid
from data.models import COUNTS

SQLITE_CACHE_MB = 32  # page cache of the database file while importing (SQLite)
SQLITE_TEMP_CACHE_MB = 8  # and of the staging tables

_metadata = MetaData()
IMPORT_ROWS = Table(
    "import_rows",
    _metadata,
    Column("line", Integer, primary_key=True, autoincrement=False),
    Column("customer_id", String(36)),
    *(Column(name, Text) for name in STORED),
    Column("action", String(10)),  # NULL: create; else exists, update, unchanged, skip
    prefixes=["TEMPORARY"],
    postgresql_on_commit="DROP",
)
# Duplicates inside the file and matches of existing customers go by email key.
ROWS_BY_EMAIL = Index("ix_import_rows_email", IMPORT_ROWS.c.email_key, IMPORT_ROWS.c.line)
IMPORT_ERRORS = Table(
    "import_errors",
    _metadata,
    Column("line", Integer),
    Column("field", Text),
    Column("message", Text),
    prefixes=["TEMPORARY"],
    postgresql_on_commit="DROP",
)
ERROR_COLUMNS = ("line", "field", "message")


def affected(session: Session, statement: Executable) -> int:
    """Execute ``statement``; the number of rows it inserted, updated or deleted.

    SQLAlchemy reads the driver's row count eagerly only for UPDATE and DELETE; for an
    ``INSERT ... SELECT`` psycopg's count is gone by the time it is asked (-1) unless
    ``preserve_rowcount`` keeps it.
    """
    result = session.execute(statement, execution_options={"preserve_rowcount": True})
    count = int(result.rowcount)  # type: ignore[attr-defined]
    if count < 0:
        raise RuntimeError("the database driver did not report how many rows changed")
    return count


class Stage:
    """The staging tables of one import, in its session."""

    def __init__(self, session: Session, tenant_id: str) -> None:
        self.session = session
        self.tenant_id = tenant_id
        self.dialect = session.get_bind().dialect.name
        self.raw: Any = session.connection().connection.dbapi_connection

    def create(self) -> None:
        if self.dialect == "postgresql":
            # Every statement of the plan and the write works on one batch and seeks
            # customers by index.  The planner's statistics lag behind a bulk import (the
            # staging table has none), and a hash or merge join there would read every
            # customer once per batch.  Statements prepared on this pooled connection
            # are planned anew under these settings, and no generic plan made under them
            # outlives the import (``data.db``: prepared statements).
            self.session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
            self.session.execute(text("SET LOCAL enable_hashjoin = off"))
            self.session.execute(text("SET LOCAL enable_mergejoin = off"))
        else:
            self.drop()  # left by an import that failed on this pooled connection
        self.session.execute(CreateTable(IMPORT_ROWS))
        self.session.execute(CreateIndex(ROWS_BY_EMAIL))
        self.session.execute(CreateTable(IMPORT_ERRORS))

    def drop(self) -> None:
        if self.dialect == "sqlite":
            for table in (IMPORT_ROWS, IMPORT_ERRORS):
                self.session.execute(text(f"DROP TABLE IF EXISTS temp.{table.name}"))

    @contextlib.contextmanager
    def page_cache(self) -> Iterator[None]:
        """SQLite: a larger page cache while importing, the usual one after.

        A million rows go into six indexes, the trigram index and the undo table; with
        SQLite's default 2 MB cache most index pages are evicted and read again.
        SQLITE_CACHE_MB is kept well inside the 200 MB memory budget of an import.
        """
        if self.dialect != "sqlite":
            yield
            return
        before = self.raw.execute("PRAGMA main.cache_size").fetchone()[0]
        before_temp = self.raw.execute("PRAGMA temp.cache_size").fetchone()[0]
        self.raw.execute(f"PRAGMA main.cache_size = {-1024 * SQLITE_CACHE_MB}")
        self.raw.execute(f"PRAGMA temp.cache_size = {-1024 * SQLITE_TEMP_CACHE_MB}")
        try:
            yield
        finally:
            self.raw.execute(f"PRAGMA main.cache_size = {int(before)}")
            self.raw.execute(f"PRAGMA temp.cache_size = {int(before_temp)}")

    # -- loading ---------------------------------------------------------------------

    def add(self, valid: Valid, errors: Sequence[ErrorRow]) -> None:
        """Stage a batch: its valid rows (PostgreSQL: ``CopyText`` or rows) and its errors."""
        if self.dialect == "postgresql":
            self._copy(IMPORT_ROWS.name, STAGED_COLUMNS, valid)
            self._copy(IMPORT_ERRORS.name, ERROR_COLUMNS, errors)
        elif isinstance(valid, CopyText):
            raise TypeError("SQLite stages rows, not COPY text")
        else:
            self._insert_many(IMPORT_ROWS.name, STAGED_COLUMNS, valid)
            self._insert_many(IMPORT_ERRORS.name, ERROR_COLUMNS, errors)

    def _copy(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]] | CopyText
    ) -> None:
        if not rows:
            return
        with (
            self.raw.cursor() as cursor,
            cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
        ):
            if isinstance(rows, CopyText):
                copy.write(rows.text)
                return
            for row in rows:
                copy.write_row(row)

    def _insert_many(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        if not rows:
            return
        marks = ", ".join("?" for _ in columns)
        cursor = self.raw.cursor()
        try:
            cursor.executemany(
                f"INSERT INTO temp.{table} ({', '.join(columns)}) VALUES ({marks})", rows
            )
        finally:
            cursor.close()

    # -- reading back ----------------------------------------------------------------

    def tenant_is_empty(self) -> bool:
        """True when the tenant has no customer yet (its exact counter says 0)."""
        n = self.session.execute(
            select(COUNTS.c.n).where(COUNTS.c.tenant_id == self.tenant_id)
        ).scalar()
        return not n

    def counts(self) -> dict[str, int]:
        """Staged rows per action (``create`` for rows left unmarked), and ``invalid``."""
        rows = self.session.execute(
            select(IMPORT_ROWS.c.action, func.count()).group_by(IMPORT_ROWS.c.action)
        )
        counts = {str(action or "create"): int(n) for action, n in rows}
        counts["invalid"] = int(
            self.session.execute(select(func.count(distinct(IMPORT_ERRORS.c.line)))).scalar_one()
        )
        return counts

    def _errors_in_order(self) -> Any:
        return select(
            IMPORT_ERRORS.c.line, IMPORT_ERRORS.c.field, IMPORT_ERRORS.c.message
        ).order_by(IMPORT_ERRORS.c.line, IMPORT_ERRORS.c.field)

    def first_errors(self, limit: int = MAX_ERRORS) -> list[RowError]:
        rows = self.session.execute(self._errors_in_order().limit(limit))
        return [RowError(int(line), field, message) for line, field, message in rows]

    def actions(self, last_line: int) -> dict[int, str]:
        """What happens to each row up to ``last_line`` (the first rows of a preview)."""
        staged = self.session.execute(
            select(IMPORT_ROWS.c.line, IMPORT_ROWS.c.action).where(IMPORT_ROWS.c.line <= last_line)
        )
        actions = {int(line): str(action or "create") for line, action in staged}
        invalid = self.session.execute(
            select(IMPORT_ERRORS.c.line).where(IMPORT_ERRORS.c.line <= last_line).distinct()
        )
        actions.update((int(line), "invalid") for (line,) in invalid)
        return actions

    def error_lines(self) -> Iterator[tuple[int, str]]:
        """Each invalid line with its messages joined, in line order (streamed)."""
        result = self.session.execute(
            self._errors_in_order(), execution_options={"yield_per": 5000}
        )
        current: int | None = None
        messages: list[str] = []
        for line, _field, message in result:
            if line != current:
                if current is not None:
                    yield current, " ".join(messages)
                current, messages = int(line), []
            messages.append(str(message))
        if current is not None:
            yield current, " ".join(messages)
