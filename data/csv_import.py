"""Bulk CSV import: read → match columns → validate → plan → write, one pipeline for all.

The dashboard, the CLI and the API all call ``import_csv``.  It streams: records are read
one at a time (``data.csv_read``), validated with the same rules as everywhere
(``data.schemas.validate_customer``) and staged in a temporary table of the import's own
transaction, in batches.  Everything after that is set-based SQL on the staging table:

* duplicate emails inside the file (case-insensitive), with both line numbers;
* the plan per mode — create (an existing email is an error), upsert by email (a row equal
  to the stored one is *unchanged*, not updated), skip existing;
* the write — PostgreSQL stages with ``COPY`` and SQLite with batched ``executemany``;
  then one ``INSERT ... SELECT`` for new customers and one ``UPDATE ... FROM`` for changed
  ones; ``import_changes`` gets the before-images of what changed so that History can undo
  the whole import (``undo_import``); one audit event describes the import.

So memory stays flat in the file's size: neither the file nor a set of its emails is ever
held in Python.  Validation (email-validator dominates it) runs in worker processes for
large files, overlapping with the staging writes.

Default is all-or-nothing: any invalid row and nothing is written.  ``partial=True``
writes the valid rows.  Either way it is one transaction: killed at any moment, the
tenant is as it was before or as it is after.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import queue
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import IO, Any, BinaryIO, TypeVar

from sqlalchemy import bindparam, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from data import audit
from data.csv_read import ColumnPlan, CsvReader, Record, match_columns, plan_columns
from data.csv_workers import parallel_map
from data.db import Database
from data.errors import Conflict, ImportFailed, Invalid, NotFound
from data.models import Action, UTCDateTime, new_id, utcnow
from data.schemas import validate_customer
from data.tenancy import Actor, Permission

MAX_ERRORS = 1000  # errors kept in the summary; all of them go to the error report
BATCH_ROWS = 5000
PARALLEL_MIN_BYTES = 4 * 1024 * 1024  # below this, validating in-process is faster
SQLITE_CACHE_MB = 32  # page cache of the database file while importing (SQLite)
SQLITE_TEMP_CACHE_MB = 8  # and of the staging tables
# PostgreSQL: an import that wrote at least this many rows vacuums and refreshes the planner's
# statistics when it commits (see Database.refresh_statistics).
ANALYZE_AFTER_ROWS = 10_000
ERROR_COLUMN = "error"
T = TypeVar("T")


class ImportMode(StrEnum):
    CREATE = "create"
    UPSERT = "upsert"
    SKIP = "skip"


MODE_HELP = {
    ImportMode.CREATE: "Create only: a row whose email already exists is an error.",
    ImportMode.UPSERT: "Upsert by email: update the customer with that email, or create it.",
    ImportMode.SKIP: "Skip existing: leave customers whose email exists as they are.",
}


@dataclass(frozen=True)
class RowError:
    line: int
    field: str | None
    message: str

    def __str__(self) -> str:
        return f"Line {self.line}: {self.message}"


@dataclass
class ImportSummary:
    created: int
    updated: int
    unchanged: int
    skipped: int
    invalid: int
    rows: int  # data rows read
    errors: list[RowError]  # the first MAX_ERRORS, by line; all go to the error report
    encoding: str
    delimiter: str
    mapping: dict[str, str]  # csv header -> field ("" = ignored)
    unknown_columns: list[str]
    dry_run: bool
    written: bool  # False when refused (all-or-nothing) or a dry run
    import_id: str | None  # the audit event id of the import, when written
    filename: str = ""
    mode: ImportMode = ImportMode.CREATE
    partial: bool = False
    ignored_columns: list[str] = field(default_factory=list)  # id, created_at ... of exports
    actions: dict[int, str] = field(default_factory=dict)  # line -> action, first rows only

    def line(self) -> str:
        return (
            f"created={self.created} updated={self.updated} "
            f"skipped={self.skipped} invalid={self.invalid}"
        )

    @property
    def refused(self) -> bool:
        """Invalid rows stopped an all-or-nothing import."""
        return self.invalid > 0 and not self.partial

    def sentence(self) -> str:
        """What happened, in one sentence for a person."""
        counts = (
            f"{self.created:,} created, {self.updated:,} updated, "
            f"{self.unchanged:,} unchanged, {self.skipped:,} skipped, {self.invalid:,} invalid"
        )
        if self.dry_run:
            verdict = (
                "would be refused (fix the invalid rows or import the valid ones only)"
                if self.refused
                else "would be imported"
            )
            return f"Checked {self.rows:,} rows of {self.filename}: {counts}; the file {verdict}."
        if not self.written:
            return (
                f"Nothing was imported from {self.filename}: {self.invalid:,} of {self.rows:,} "
                "rows are invalid. Fix them (see the error report) or import the valid rows only."
            )
        return f"Imported {self.filename}: {counts}."


@dataclass(frozen=True)
class Preview:
    """What the first look at a file shows: format, header, automatic mapping, rows."""

    filename: str
    encoding: str
    delimiter: str
    header: list[str]
    mapping: dict[str, str]
    rows: list[Record]  # the first data records, raw, with their line numbers


@dataclass(frozen=True)
class UndoSummary:
    import_id: str
    removed: int  # created customers deleted again
    restored: int  # updated customers put back as they were
    refused: list[str]  # ids of customers edited since the import: left alone
    gone: int  # customers of the import deleted since: nothing to do

    def sentence(self) -> str:
        text_ = f"Undid the import: {self.removed:,} removed, {self.restored:,} restored"
        if self.refused:
            text_ += (
                f"; {len(self.refused):,} customers were changed since the import "
                "and were left as they are"
            )
        return text_ + "."

    def __str__(self) -> str:
        return self.sentence()


# -- validation, in this process or in workers -----------------------------------------

# (line, customer id, name, email, email_key, phone, address)
StagedRow = tuple[int, str, str, str, str, str | None, str | None]
ErrorRow = tuple[int, str | None, str]
Batch = list[tuple[int, list[str]]]


def check_batch(plan: ColumnPlan, batch: Batch) -> tuple[list[StagedRow], list[ErrorRow]]:
    """Validate raw records; a pure function of its input, run in worker processes."""
    valid: list[StagedRow] = []
    errors: list[ErrorRow] = []
    for line, values in batch:
        if len(values) != plan.width:
            errors.append(
                (
                    line,
                    None,
                    f"This row has {len(values)} fields but the header has {plan.width}; "
                    "check its quotes and delimiters.",
                )
            )
            continue
        try:
            clean = validate_customer(plan.record(values))
        except Invalid as exc:
            errors.extend((line, name, message) for name, message in exc.errors.items())
            continue
        valid.append(
            (
                line,
                str(uuid.uuid4()),
                clean.name,
                clean.email,
                clean.email_key,
                clean.phone,
                clean.address,
            )
        )
    return valid, errors


def _batches(records: Iterator[Record], size: int) -> Iterator[Batch]:
    batch: Batch = []
    for record in records:
        batch.append((record.line, record.values))
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _workers(size: int) -> int:
    if size < PARALLEL_MIN_BYTES:
        return 0
    return min(4, os.cpu_count() or 1)


def checked_batches(
    reader: CsvReader, plan: ColumnPlan
) -> Iterator[tuple[list[StagedRow], list[ErrorRow], int, Batch]]:
    """Validated batches in file order, with the bytes read so far and the raw batch."""
    workers = _workers(reader.size)
    batches = _batches(reader.records(), BATCH_ROWS)
    if workers < 2:
        for batch in batches:
            valid, errors = check_batch(plan, batch)
            yield valid, errors, reader.position(), batch
        return
    positions: deque[int] = deque()

    def tracked() -> Iterator[Batch]:
        for batch in batches:
            positions.append(reader.position())
            yield batch

    def validated() -> Iterator[tuple[list[StagedRow], list[ErrorRow], int, Batch]]:
        results: Iterator[tuple[Batch, tuple[list[StagedRow], list[ErrorRow]]]] = parallel_map(
            "data.csv_import:check_batch", plan, tracked(), workers
        )
        for batch, (valid, errors) in results:
            yield valid, errors, positions.popleft(), batch

    # Reading, parsing and talking to the workers go on in a thread while this one
    # waits for the database (both drivers release the GIL while the database works).
    yield from prefetch(validated(), 2)


_DONE = object()


def prefetch(items: Iterator[T], size: int) -> Iterator[T]:
    """``items``, produced ahead by a thread into a queue of ``size``; errors re-raised here."""
    buffer: queue.Queue[Any] = queue.Queue(maxsize=size)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        buffer.put((True, item), timeout=0.2)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            buffer.put((True, _DONE))
        except BaseException as exc:  # handed over to the consumer, which raises it
            buffer.put((False, exc))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=produce, name="csv-import-reader", daemon=True)
    worker.start()
    try:
        while True:
            ok, item = buffer.get()
            if not ok:
                raise item
            if item is _DONE:
                return
            yield item
    finally:
        stop.set()
        while worker.is_alive():
            with contextlib.suppress(queue.Empty):
                buffer.get(timeout=0.1)
        worker.join()


# -- staging and set-based SQL ---------------------------------------------------------

ROW_COLUMNS = "line, customer_id, name, email, email_key, phone, address"


class Stage:
    """The import's temporary tables and the SQL that plans and writes from them."""

    def __init__(self, session: Session, tenant_id: str) -> None:
        self.session = session
        self.tenant_id = tenant_id
        self.dialect = session.get_bind().dialect.name
        self.raw: Any = session.connection().connection.dbapi_connection

    def create(self) -> None:
        if self.dialect == "postgresql":
            suffix = "ON COMMIT DROP"
            # Every statement below works on one batch and seeks customers by index.  The
            # planner's statistics lag behind a bulk import (the staging table has none),
            # and a hash or merge join there would read every customer once per batch.
            self.exec("SET LOCAL enable_hashjoin = off")
            self.exec("SET LOCAL enable_mergejoin = off")
        else:
            self.drop()
            suffix = ""
        self.exec(
            "CREATE TEMPORARY TABLE import_rows (line integer PRIMARY KEY, "
            "customer_id varchar(36), name text, email text, email_key text, phone text, "
            f"address text, action varchar(10), existing_id varchar(36)) {suffix}"
        )
        self.exec("CREATE INDEX ix_import_rows_email ON import_rows (email_key, line)")
        self.exec(
            f"CREATE TEMPORARY TABLE import_errors (line integer, field text, message text) "
            f"{suffix}"
        )

    def drop(self) -> None:
        if self.dialect == "sqlite":
            self.exec("DROP TABLE IF EXISTS temp.import_rows")
            self.exec("DROP TABLE IF EXISTS temp.import_errors")

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

    def exec(self, sql: str, **params: Any) -> Any:
        return self.session.execute(text(sql), params)

    def add(self, valid: Sequence[StagedRow], errors: Sequence[ErrorRow]) -> None:
        if self.dialect == "postgresql":
            with self.raw.cursor() as cursor:
                if valid:
                    with cursor.copy(f"COPY import_rows ({ROW_COLUMNS}) FROM STDIN") as copy:
                        for row in valid:
                            copy.write_row(row)
                if errors:
                    with cursor.copy("COPY import_errors (line, field, message) FROM STDIN") as c:
                        for error in errors:
                            c.write_row(error)
            return
        cursor = self.raw.cursor()
        try:
            if valid:
                cursor.executemany(
                    f"INSERT INTO temp.import_rows ({ROW_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    valid,
                )
            if errors:
                cursor.executemany(
                    "INSERT INTO temp.import_errors (line, field, message) VALUES (?, ?, ?)",
                    errors,
                )
        finally:
            cursor.close()

    def tenant_is_empty(self) -> bool:
        """True when the tenant has no customer yet (its exact counter says 0)."""
        n = self.exec(
            "SELECT n FROM customer_counts WHERE tenant_id = :tenant", tenant=self.tenant_id
        ).scalar()
        return not n

    def plan(
        self,
        lo: int,
        hi: int,
        mode: ImportMode,
        *,
        match_existing: bool = True,
        check_duplicates: bool = True,
    ) -> int:
        """Plan the staged rows of lines lo..hi; returns how many became errors.

        A row repeating an earlier row's email is an error naming both lines.  A row whose
        email exists in the tenant is, by mode, an error (create), an update or unchanged
        (upsert), or skipped (skip).  Rows left unmarked (action NULL) are created.
        """
        span = {"lo": lo, "hi": hi, "tenant": self.tenant_id}
        # A correlated MIN per row: an index seek each, never a scan of all staged rows.
        # (Skipped when the write that follows finds them through the unique key.)
        duplicates = (
            0
            if not check_duplicates
            else self.exec(
                "INSERT INTO import_errors (line, field, message) "
                "SELECT line, 'email', 'Email ' || email || ' is also on line ' "
                "|| CAST(first AS varchar) || ' of this file; each email can appear only once.' "
                "FROM (SELECT r.line, r.email, (SELECT MIN(e.line) FROM import_rows e "
                "WHERE e.email_key = r.email_key) AS first FROM import_rows r "
                "WHERE r.line BETWEEN :lo AND :hi) AS d WHERE first < line",
                **span,
            ).rowcount
        )
        if duplicates:
            self.exec(
                "DELETE FROM import_rows WHERE line IN (SELECT line FROM import_errors "
                "WHERE line BETWEEN :lo AND :hi)",
                **span,
            )
        if not match_existing:
            # An empty tenant has no emails to match; rows repeating an email of this
            # file were caught above.  (A writer racing us into this tenant makes the
            # insert fail on the unique key: the import then stops with Conflict.)
            return int(duplicates or 0)
        if mode is ImportMode.UPSERT:
            action = (
                "CASE WHEN c.name = import_rows.name AND c.email = import_rows.email "
                "AND c.phone IS NOT DISTINCT FROM import_rows.phone "
                "AND c.address IS NOT DISTINCT FROM import_rows.address "
                "THEN 'unchanged' ELSE 'update' END"
            )
        elif mode is ImportMode.SKIP:
            action = "'skip'"
        else:
            action = "'exists'"
        # Scalar subqueries, one index seek per row: a join here may be planned as a hash
        # join over every customer of the tenant (statistics lag behind a bulk import),
        # once per batch.
        self.exec(
            "UPDATE import_rows SET existing_id = (SELECT c.id FROM customers c "
            "WHERE c.tenant_id = :tenant AND c.email_key = import_rows.email_key) "
            "WHERE line BETWEEN :lo AND :hi",
            **span,
        )
        self.exec(
            f"UPDATE import_rows SET customer_id = existing_id, action = (SELECT {action} "
            "FROM customers c WHERE c.tenant_id = :tenant AND c.id = import_rows.existing_id) "
            "WHERE line BETWEEN :lo AND :hi AND existing_id IS NOT NULL",
            **span,
        )
        conflicts = 0
        if mode is ImportMode.CREATE:
            conflicts = self.exec(
                "INSERT INTO import_errors (line, field, message) "
                "SELECT line, 'email', 'A customer with the email ' || email || "
                "' already exists; import in upsert or skip mode to update or keep it.' "
                "FROM import_rows WHERE line BETWEEN :lo AND :hi AND action = 'exists'",
                **span,
            ).rowcount
            if conflicts:
                self.exec(
                    "DELETE FROM import_rows WHERE line BETWEEN :lo AND :hi AND action = 'exists'",
                    **span,
                )
        return int(duplicates or 0) + int(conflicts or 0)

    def counts(self) -> dict[str, int]:
        rows = self.exec("SELECT coalesce(action, 'create'), COUNT(*) FROM import_rows GROUP BY 1")
        counts = {str(action): int(n) for action, n in rows}
        counts["invalid"] = int(
            self.exec("SELECT COUNT(DISTINCT line) FROM import_errors").scalar_one()
        )
        return counts

    def first_errors(self, limit: int = MAX_ERRORS) -> list[RowError]:
        rows = self.exec(
            "SELECT line, field, message FROM import_errors ORDER BY line, field LIMIT :n", n=limit
        )
        return [RowError(int(line), field_, message) for line, field_, message in rows]

    def actions(self, last_line: int) -> dict[int, str]:
        rows = self.exec(
            "SELECT line, coalesce(action, 'create') FROM import_rows WHERE line <= :last "
            "UNION ALL SELECT DISTINCT line, 'invalid' FROM import_errors WHERE line <= :last",
            last=last_line,
        )
        return {int(line): str(action) for line, action in rows}

    def write(self, lo: int, hi: int, import_id: str, now: datetime, *, unchecked: int = 0) -> int:
        """Write the planned rows of lines lo..hi: creates, updates, and their undo data.

        ``unchecked`` is the number of rows to create whose duplicates inside the file were
        not looked for (PostgreSQL, empty tenant): the unique key finds them instead, and
        they become errors here.  Returns how many rows became errors.
        """
        at = bindparam("now", value=now, type_=UTCDateTime())
        span = {"lo": lo, "hi": hi, "tenant": self.tenant_id, "import_id": import_id}
        rows = "FROM import_rows WHERE line BETWEEN :lo AND :hi"
        insert = (
            "INSERT INTO customers (tenant_id, id, name, email, email_key, phone, address, "
            "created_at, updated_at, version) SELECT :tenant, customer_id, name, email, "
            f"email_key, phone, address, :now, :now, 1 {rows} AND action IS NULL "
            "ORDER BY line"
        )
        duplicates = 0
        if unchecked:
            # One statement: the new customers, and their undo rows from its RETURNING.
            created = self.session.execute(
                text(
                    f"WITH created AS ({insert} ON CONFLICT (tenant_id, email_key) DO NOTHING "
                    "RETURNING id) INSERT INTO import_changes (tenant_id, import_id, "
                    "customer_id, kind, version_after) "
                    "SELECT :tenant, :import_id, id, 'created', 1 FROM created"
                ).bindparams(at),
                span,
            ).rowcount  # type: ignore[attr-defined]
            if created < unchecked:
                duplicates = self._refused_creates(lo, hi)
        else:
            self.exec(
                "INSERT INTO import_changes (tenant_id, import_id, customer_id, kind, "
                f"version_after) SELECT :tenant, :import_id, customer_id, 'created', 1 {rows} "
                "AND action IS NULL",
                **span,
            )
            self.session.execute(text(insert).bindparams(at), span)
        self.exec(
            "INSERT INTO import_changes (tenant_id, import_id, customer_id, kind, "
            "version_after, before_name, before_email, before_phone, before_address, "
            "before_version, before_updated_at) "
            "SELECT :tenant, :import_id, c.id, 'updated', c.version + 1, c.name, c.email, "
            "c.phone, c.address, c.version, c.updated_at "
            "FROM import_rows r JOIN customers c ON c.tenant_id = :tenant "
            "AND c.id = r.customer_id WHERE r.line BETWEEN :lo AND :hi AND r.action = 'update'",
            **span,
        )
        self.session.execute(
            text(
                "UPDATE customers SET name = r.name, email = r.email, email_key = r.email_key, "
                "phone = r.phone, address = r.address, updated_at = :now, "
                "version = customers.version + 1 FROM import_rows r "
                "WHERE r.line BETWEEN :lo AND :hi AND r.action = 'update' "
                "AND customers.tenant_id = :tenant AND customers.id = r.customer_id"
            ).bindparams(at),
            span,
        )
        return duplicates

    def _refused_creates(self, lo: int, hi: int) -> int:
        """Rows of lines lo..hi the unique key kept out: errors naming the earlier line."""
        span = {"lo": lo, "hi": hi, "tenant": self.tenant_id}
        found = self.exec(
            "INSERT INTO import_errors (line, field, message) "
            "SELECT line, 'email', CASE WHEN first < line THEN 'Email ' || email || "
            "' is also on line ' || CAST(first AS varchar) || "
            "' of this file; each email can appear only once.' "
            "ELSE 'A customer with the email ' || email || ' was added while this file was "
            "being imported.' END "
            "FROM (SELECT r.line, r.email, (SELECT MIN(e.line) FROM import_rows e "
            "WHERE e.email_key = r.email_key) AS first FROM import_rows r "
            "WHERE r.line BETWEEN :lo AND :hi AND r.action IS NULL AND NOT EXISTS ("
            "SELECT 1 FROM customers c WHERE c.tenant_id = :tenant "
            "AND c.id = r.customer_id)) AS d",
            **span,
        ).rowcount
        self.exec(
            "DELETE FROM import_rows WHERE line IN (SELECT line FROM import_errors "
            "WHERE line BETWEEN :lo AND :hi)",
            **span,
        )
        return int(found or 0)

    def error_lines(self) -> Iterator[tuple[int, str]]:
        """Each invalid line with its messages joined, in line order (streamed)."""
        result = self.session.execute(
            text("SELECT line, message FROM import_errors ORDER BY line, field"),
            execution_options={"yield_per": 5000},
        )
        current: int | None = None
        messages: list[str] = []
        for line, message in result:
            if line != current:
                if current is not None:
                    yield current, " ".join(messages)
                current, messages = int(line), []
            messages.append(str(message))
        if current is not None:
            yield current, " ".join(messages)


# -- the pipeline -----------------------------------------------------------------------


def _open(source: BinaryIO | IO[bytes] | str | Path) -> tuple[IO[bytes], bool]:
    if isinstance(source, str | Path):
        try:
            return Path(source).open("rb"), True
        except OSError as exc:
            raise ImportFailed(f"Cannot open {source}: {exc.strerror or exc}.") from None
    return source, False


def preview(
    source: BinaryIO | IO[bytes] | str | Path, *, rows: int = 20, filename: str | None = None
) -> Preview:
    """The file's format, header, automatic mapping and first rows (raises ImportFailed)."""
    stream, owned = _open(source)
    name = filename or (Path(source).name if isinstance(source, str | Path) else "the file")
    try:
        start = stream.tell()
        reader = CsvReader(stream, filename=name)
        first: list[Record] = []
        for record in reader.records():
            first.append(record)
            if len(first) >= rows:
                break
        result = Preview(
            filename=name,
            encoding=reader.format.encoding_label,
            delimiter=reader.format.delimiter_label,
            header=reader.header,
            mapping=match_columns(reader.header),
            rows=first,
        )
        reader.detach()
        with contextlib.suppress(OSError, ValueError):
            stream.seek(start)
        return result
    finally:
        if owned:
            stream.close()


def import_csv(
    database: Database,
    tenant_id: str,
    actor: Actor,
    source: BinaryIO | IO[bytes] | str | Path,
    *,
    filename: str,
    mode: ImportMode | str = ImportMode.CREATE,
    partial: bool = False,
    dry_run: bool = False,
    mapping: dict[str, str] | None = None,
    errors_out: BinaryIO | IO[bytes] | None = None,
    progress: Callable[[int, int], None] | None = None,
    sample_rows: int = 0,
) -> ImportSummary:
    """Import a CSV file into the tenant; see the module doc.  Invalid rows are in the summary.

    Raises ``ImportFailed`` when the file cannot be read at all, ``Forbidden`` for a role
    that may not import.  ``progress(done, total)`` is called as work advances.
    """
    actor.require(Permission.IMPORT)
    try:
        mode = ImportMode(mode)
    except ValueError:
        raise ImportFailed(f"Unknown import mode {mode!r}; use create, upsert or skip.") from None
    stream, owned = _open(source)
    try:
        return _import(
            database,
            tenant_id,
            actor,
            stream,
            filename=filename,
            mode=mode,
            partial=partial,
            dry_run=dry_run,
            mapping=mapping,
            errors_out=errors_out,
            progress=progress or (lambda done, total: None),
            sample_rows=sample_rows,
        )
    finally:
        if owned:
            stream.close()


def _import(
    database: Database,
    tenant_id: str,
    actor: Actor,
    stream: IO[bytes],
    *,
    filename: str,
    mode: ImportMode,
    partial: bool,
    dry_run: bool,
    mapping: dict[str, str] | None,
    errors_out: IO[bytes] | None,
    progress: Callable[[int, int], None],
    sample_rows: int,
) -> ImportSummary:
    reader = CsvReader(stream, filename=filename)
    source = reader.source  # seekable: the error report reads it a second time
    plan = plan_columns(reader.header, mapping)
    total = max(1, reader.size)
    rows = invalid_seen = sample_last = 0
    import_id = new_id()
    now = utcnow()
    with (
        database.transaction(tenant_id, write=not dry_run) as session,
        contextlib.ExitStack() as stack,
    ):
        stage = Stage(session, tenant_id)
        stack.enter_context(stage.page_cache())
        stage.create()
        match_existing = not stage.tenant_is_empty()
        # The writes go in a savepoint: an all-or-nothing import that meets an invalid
        # row stops writing and rolls them back, but keeps its staged rows and errors.
        writes = None if dry_run else session.begin_nested()
        for valid, errors, position, raw in checked_batches(reader, plan):
            lo, hi = raw[0][0], raw[-1][0]
            stage.add(valid, errors)
            invalid_seen += len({error[0] for error in errors})
            writing = writes is not None and (partial or invalid_seen == 0)
            # PostgreSQL, empty tenant: the unique key finds duplicates while inserting.
            fast = writing and not match_existing and stage.dialect == "postgresql"
            invalid_seen += stage.plan(
                lo, hi, mode, match_existing=match_existing, check_duplicates=not fast
            )
            if writing:
                try:
                    invalid_seen += stage.write(
                        lo, hi, import_id, now, unchecked=len(valid) if fast else 0
                    )
                except IntegrityError:
                    raise Conflict(
                        "Another change to the same customers happened during the import; "
                        "nothing was imported. Please try again."
                    ) from None
            if sample_rows and rows < sample_rows:
                sample_last = raw[min(len(raw), sample_rows - rows) - 1][0]
            rows += len(raw)
            progress(min(position, total - 1), total)
        reader.detach()
        counts = stage.counts()
        invalid = counts["invalid"]
        written = writes is not None and (invalid == 0 or partial)
        summary = ImportSummary(
            created=counts.get("create", 0),
            updated=counts.get("update", 0),
            unchanged=counts.get("unchanged", 0),
            skipped=counts.get("skip", 0),
            invalid=invalid,
            rows=rows,
            errors=stage.first_errors(),
            encoding=reader.format.encoding_label,
            delimiter=reader.format.delimiter_label,
            mapping=plan.mapping,
            unknown_columns=plan.unknown,
            dry_run=dry_run,
            written=written,
            import_id=import_id if written else None,
            filename=filename,
            mode=mode,
            partial=partial,
            ignored_columns=plan.ignored,
            actions=stage.actions(sample_last) if sample_last else {},
        )
        if errors_out is not None and invalid:
            source.seek(reader.start)
            write_error_report(source, filename, stage.error_lines(), errors_out)
        stage.drop()
        if writes is not None and not written:
            writes.rollback()
        if written:
            audit.record(
                session,
                tenant_id,
                actor=actor.username,
                action=Action.IMPORT,
                customer_id=None,
                before=None,
                after={
                    "file": filename,
                    "mode": mode.value,
                    "partial": partial,
                    "rows": rows,
                    "created": summary.created,
                    "updated": summary.updated,
                    "unchanged": summary.unchanged,
                    "skipped": summary.skipped,
                    "invalid": invalid,
                    "encoding": summary.encoding,
                },
                event_id=import_id,
            )
    if summary.written and summary.created + summary.updated >= ANALYZE_AFTER_ROWS:
        database.refresh_statistics("customers")
    progress(total, total)
    return summary


def write_error_report(
    source: IO[bytes],
    filename: str,
    errors: Iterator[tuple[int, str]],
    out: IO[bytes],
) -> int:
    """The invalid rows as they were in the file, plus an ``error`` column; re-importable.

    Reads the file a second time and merges it with the errors (both in line order), so
    memory stays flat however many rows are invalid.  UTF-8 with BOM, the file's delimiter.
    """
    reader = CsvReader(source, filename=filename)
    header = list(reader.header)
    replace = bool(header) and header[-1].strip().lower() == ERROR_COLUMN
    width = len(header) - 1 if replace else len(header)
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=reader.format.delimiter, lineterminator="\r\n")
    out.write("\ufeff".encode())
    writer.writerow([*header[:width], ERROR_COLUMN])
    written = 0
    pending = next(errors, None)
    for record in reader.records():
        if pending is None:
            break
        if record.line < pending[0]:
            continue
        values = record.values[:width] if replace else list(record.values)
        values = values + [""] * (width - len(values))
        writer.writerow([*values[:width], pending[1], *values[width:]])
        written += 1
        pending = next(errors, None)
        if buffer.tell() > 256 * 1024:
            out.write(buffer.getvalue().encode("utf-8"))
            buffer.seek(0)
            buffer.truncate()
    out.write(buffer.getvalue().encode("utf-8"))
    reader.detach()
    return written


# -- undo ------------------------------------------------------------------------------


def undo_import(session: Session, tenant_id: str, actor: Actor, import_id: str) -> UndoSummary:
    """Remove what the import created and put back what it changed, set-based.

    Customers edited since the import (their version moved on) are left alone and
    reported; customers deleted since are counted as gone.  One audit event records it.
    """
    actor.require(Permission.IMPORT)
    event = audit.AuditLog(session, tenant_id).get(import_id)
    if event is None or event.action != Action.IMPORT.value:
        raise NotFound("import")
    params = {"tenant": tenant_id, "import_id": import_id}

    def scalar(sql: str) -> int:
        return int(session.execute(text(sql), params).scalar_one())

    pending = scalar(
        "SELECT COUNT(*) FROM import_changes WHERE tenant_id = :tenant AND import_id = :import_id"
    )
    if pending == 0:
        raise Conflict("This import was already undone, or it changed nothing.")
    refused = [
        str(customer_id)
        for (customer_id,) in session.execute(
            text(
                "SELECT ic.customer_id FROM import_changes ic JOIN customers c "
                "ON c.tenant_id = ic.tenant_id AND c.id = ic.customer_id "
                "WHERE ic.tenant_id = :tenant AND ic.import_id = :import_id "
                "AND c.version <> ic.version_after ORDER BY ic.customer_id"
            ),
            params,
        )
    ]
    gone = scalar(
        "SELECT COUNT(*) FROM import_changes ic WHERE ic.tenant_id = :tenant "
        "AND ic.import_id = :import_id AND NOT EXISTS (SELECT 1 FROM customers c "
        "WHERE c.tenant_id = ic.tenant_id AND c.id = ic.customer_id)"
    )
    now = bindparam("now", value=utcnow(), type_=UTCDateTime())
    # An update by email never changes the email's key, so email_key stays as it is.
    try:
        with session.begin_nested():
            restored = session.execute(
                text(
                    "UPDATE customers SET name = ic.before_name, email = ic.before_email, "
                    "phone = ic.before_phone, address = ic.before_address, updated_at = :now, "
                    "version = customers.version + 1 FROM import_changes ic "
                    "WHERE ic.tenant_id = :tenant AND ic.import_id = :import_id "
                    "AND ic.kind = 'updated' AND customers.tenant_id = ic.tenant_id "
                    "AND customers.id = ic.customer_id "
                    "AND customers.version = ic.version_after"
                ).bindparams(now),
                params,
            ).rowcount  # type: ignore[attr-defined]
    except IntegrityError:
        raise Conflict(
            "The import cannot be undone: another customer now uses an email it would put back."
        ) from None
    removed = session.execute(
        text(
            "DELETE FROM customers WHERE tenant_id = :tenant AND id IN ("
            "SELECT ic.customer_id FROM import_changes ic WHERE ic.tenant_id = :tenant "
            "AND ic.import_id = :import_id AND ic.kind = 'created' "
            "AND ic.version_after = customers.version)"
        ),
        params,
    ).rowcount  # type: ignore[attr-defined]
    # Done with what was undone or is gone; refused rows stay, for a later try.
    session.execute(
        text(
            "DELETE FROM import_changes WHERE tenant_id = :tenant AND import_id = :import_id "
            "AND NOT EXISTS (SELECT 1 FROM customers c WHERE c.tenant_id = :tenant "
            "AND c.id = import_changes.customer_id AND ("
            "(import_changes.kind = 'created') OR "
            "(import_changes.kind = 'updated' AND c.updated_at <> :now)))"
        ).bindparams(now),
        params,
    )
    summary = UndoSummary(import_id, int(removed or 0), int(restored or 0), refused, gone)
    audit.record(
        session,
        tenant_id,
        actor=actor.username,
        action=Action.UNDO_IMPORT,
        customer_id=None,
        before=None,
        after={
            "import_id": import_id,
            "removed": summary.removed,
            "restored": summary.restored,
            "refused": len(refused),
            "gone": gone,
        },
    )
    return summary
