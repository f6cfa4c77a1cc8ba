"""The import pipeline: read → match columns → validate → stage → plan → write → report.

The dashboard, the CLI and the API all call ``import_file``.  It streams: records are
read one at a time (``read_csv``, or ``read_sheet`` for a spreadsheet), validated
with the same rules as everywhere
(``validation``, in worker processes for large files) and staged in temporary tables of
the import's own transaction, in batches (``staging``).  Everything after that is
set-based SQL per batch: duplicate emails inside the file and the plan per mode
(``plan``), then the write with its undo data (``write``).  One audit event describes
the import; ``undo`` takes it back.

So memory stays flat in the file's size: neither the file nor a set of its emails is ever
held in Python.  Default is all-or-nothing: any invalid row and nothing is written;
``partial=True`` writes the valid rows.  Either way it is one transaction: killed at any
moment, the tenant is as it was before or as it is after.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, BinaryIO

from sqlalchemy.exc import IntegrityError

from data import audit
from data.db import Database
from data.duplicates.bulk import pairs_after_import
from data.errors import Conflict, ImportFailed
from data.identity import Identity, Permission
from data.importing.columns import ColumnPlan, holds_required, match_columns, plan_columns
from data.importing.likely import likely_duplicates
from data.importing.limits import LIMITS, Limits
from data.importing.plan import plan_batch
from data.importing.read_csv import CsvReader, Record
from data.importing.read_sheet import HEADER_SCAN_ROWS, Reader, kind_label, open_reader
from data.importing.report import write_error_report
from data.importing.results import ImportMode, ImportSummary, Planned, Preview, parse_mode
from data.importing.staging import Stage
from data.importing.validation import BATCH_ROWS, PARALLEL_MIN_BYTES, checked_batches
from data.importing.write import write_batch
from data.models import Action, new_id, utcnow
from data.scope import Scope

# Validated batches are staged as they come, and planned and written together once this
# many batches' worth of rows (``batch_rows`` each) wait in the staging table: small
# batches keep few rows in this process (the one being staged), and fewer, larger
# statements write them (SQLite's upsert took about a fifth longer in statements of
# 2,500 rows than of 5,000).
WRITE_BATCHES = 2

# PostgreSQL: an import that wrote at least this many rows vacuums and refreshes the
# planner's statistics when it commits (see Database.refresh_statistics).
ANALYZE_AFTER_ROWS = 10_000

Source = BinaryIO | IO[bytes] | str | Path
Progress = Callable[[int, int], None]


def _open(source: Source) -> tuple[IO[bytes], bool]:
    """The byte stream of ``source``, and whether this module opened (and closes) it."""
    if isinstance(source, str | Path):
        try:
            return Path(source).open("rb"), True
        except OSError as exc:
            raise ImportFailed(f"Cannot open {source}: {exc.strerror or exc}.") from None
    return source, False


def _reader(
    stream: IO[bytes],
    filename: str,
    *,
    sheet: str | None,
    mapping: Mapping[str, str] | None,
    limits: Limits,
    max_rows: int = 0,
) -> Reader:
    def is_header(values: Sequence[str]) -> bool:
        return holds_required(values, mapping)

    return open_reader(
        stream,
        filename=filename,
        sheet=sheet,
        is_header=is_header,
        limits=limits,
        max_rows=max_rows,
    )


def _where(reader: Reader) -> str:
    """Where the header is, for sentences: ``Line 1`` or ``Row 3 of sheet 'Kunden'``."""
    if isinstance(reader, CsvReader):
        return f"Line {reader.header_line}"
    return f"Row {reader.header_line} of sheet {reader.sheet!r}"


def _explained(reader: Reader, mapping: Mapping[str, str] | None) -> list[str]:
    try:
        return plan_columns(reader.header, mapping).explained()
    except ImportFailed:
        return []


def preview(
    source: Source,
    *,
    rows: int = 20,
    filename: str | None = None,
    sheet: str | None = None,
    mapping: Mapping[str, str] | None = None,
    limits: Limits = LIMITS,
) -> Preview:
    """The file's format, header, automatic mapping and first rows (raises ImportFailed).

    For a spreadsheet: the sheet read (``sheet``, else the first with data), the workbook's
    sheets, and the row of the header (found as the import finds it, with ``mapping``).
    """
    stream, owned = _open(source)
    name = filename or (Path(source).name if isinstance(source, str | Path) else "the file")
    reader: Reader | None = None
    try:
        start = stream.tell()
        reader = _reader(
            stream,
            name,
            sheet=sheet,
            mapping=mapping,
            limits=limits,
            max_rows=HEADER_SCAN_ROWS + rows,
        )
        first: list[Record] = list(itertools.islice(reader.records(), rows))
        return Preview(
            filename=name,
            encoding=reader.encoding_label or kind_label(reader.kind),
            delimiter=reader.delimiter_label,
            header=reader.header,
            mapping=match_columns(reader.header),
            rows=first,
            file_format=reader.kind,
            sheet=reader.sheet,
            sheets=list(reader.sheets),
            header_line=reader.header_line,
            explained=_explained(reader, mapping),
        )
    finally:
        if reader is not None:
            reader.close()
        with contextlib.suppress(OSError, ValueError):
            stream.seek(start)
        if owned:
            stream.close()


def import_file(
    database: Database,
    identity: Identity,
    source: Source,
    *,
    filename: str,
    mode: ImportMode | str = ImportMode.CREATE,
    partial: bool = False,
    dry_run: bool = False,
    mapping: Mapping[str, str] | None = None,
    sheet: str | None = None,
    errors_out: BinaryIO | IO[bytes] | None = None,
    progress: Progress | None = None,
    sample_rows: int = 0,
    batch_rows: int = BATCH_ROWS,
    parallel_min_bytes: int = PARALLEL_MIN_BYTES,
    analyze_after_rows: int = ANALYZE_AFTER_ROWS,
    limits: Limits = LIMITS,
    find_duplicates: bool = True,
) -> ImportSummary:
    """Import a file into the identity's tenant; see the module doc.

    Once the import has committed, its customers' duplicate pairs are found in a
    transaction of their own (``find_duplicates``; ``data.duplicates.bulk``).

    The import's one transaction is a scope of ``identity``: the actor's right to import
    is read from the database inside it, at the moment of the write.  Invalid rows are in
    the summary (``errors_out`` receives the error report when there are any);
    ``sample_rows`` asks for the action of that many first rows (``summary.actions``).
    Raises ``ImportFailed`` when the file cannot be read at all (or the mapping or sheet
    names what it lacks), ``Forbidden`` for a role that may not import.
    ``progress(done, total)`` is called as work advances.  ``sheet`` names the sheet of a
    spreadsheet (default: the first with data).  ``batch_rows``, ``parallel_min_bytes``,
    ``analyze_after_rows`` and ``limits`` tune the work and bound its memory.
    """
    chosen = parse_mode(mode)
    report = progress or (lambda done, total: None)
    with database.scope(identity) as checking:  # refuse a viewer before reading the file
        checking.require(Permission.IMPORT)
    stream, owned = _open(source)
    reader: Reader | None = None
    try:
        # Read (a spreadsheet: unpack) before the write transaction begins.
        reader = _reader(stream, filename, sheet=sheet, mapping=mapping, limits=limits)
        with database.scope(identity, write=not dry_run) as scope:
            scope.require(Permission.IMPORT)
            importer = _Import(
                scope,
                filename=filename,
                mode=chosen,
                partial=partial,
                dry_run=dry_run,
                batch_rows=batch_rows,
                batch_bytes=limits.batch_bytes,
                parallel_min_bytes=parallel_min_bytes,
            )
            summary = importer.run(reader, mapping, errors_out, report, sample_rows)
    finally:
        if reader is not None:
            reader.close()
        if owned:
            stream.close()
    if summary.written and summary.created + summary.updated >= analyze_after_rows:
        database.refresh_statistics("customers")
    if summary.written and summary.import_id and find_duplicates:
        pairs_after_import(database, identity, summary.import_id)
    report(importer.total, importer.total)
    return summary


import_csv = import_file  # the name the first release had


class _Import:
    """One run of the pipeline inside a scope."""

    def __init__(
        self,
        scope: Scope,
        *,
        filename: str,
        mode: ImportMode,
        partial: bool,
        dry_run: bool,
        batch_rows: int,
        batch_bytes: int,
        parallel_min_bytes: int,
    ) -> None:
        self.scope = scope
        self.batch_bytes = batch_bytes
        self.filename = filename
        self.mode = mode
        self.partial = partial
        self.dry_run = dry_run
        self.batch_rows = batch_rows
        self.parallel_min_bytes = parallel_min_bytes
        self.import_id = new_id()
        self.now = utcnow()
        self.total = 1  # the work to do, in bytes of the file (for progress)

    def run(
        self,
        reader: Reader,
        mapping: Mapping[str, str] | None,
        errors_out: IO[bytes] | None,
        progress: Progress,
        sample_rows: int,
    ) -> ImportSummary:
        self.total = max(1, reader.size)
        columns = plan_columns(reader.header, mapping, where=_where(reader), filename=self.filename)
        session = self.scope.session
        with contextlib.ExitStack() as stack:
            stage = Stage(session, self.scope.tenant_id)
            stack.enter_context(stage.page_cache())
            stage.create()
            # The writes go in a savepoint: an all-or-nothing import that meets an invalid
            # row stops writing and rolls them back, but keeps its staged rows and errors.
            writes = None if self.dry_run else session.begin_nested()
            rows, sample_last = self._batches(
                stage,
                reader,
                columns,
                writing=writes is not None,
                progress=progress,
                sample_rows=sample_rows,
            )
            reader.detach()
            counts = stage.counts()
            written = writes is not None and (counts["invalid"] == 0 or self.partial)
            summary = self._summary(stage, reader, columns, counts, rows, written, sample_last)
            if errors_out is not None and summary.invalid:
                write_error_report(reader.again(), stage.error_lines(), errors_out)
            stage.drop()
            if writes is not None and not written:
                writes.rollback()
            if written:
                self._audit(summary)
        return summary

    def _batches(
        self,
        stage: Stage,
        reader: Reader,
        columns: ColumnPlan,
        *,
        writing: bool,
        progress: Progress,
        sample_rows: int,
    ) -> tuple[int, int]:
        """Stage, plan and (unless refused or a dry run) write every batch.

        Returns the number of rows read and the line of the last sampled row.
        """
        rows = invalid_seen = sample_last = 0
        match_existing = not stage.tenant_is_empty()
        first: int | None = None  # the first line staged and not yet planned and written
        last = position = pending_rows = pending_valid = 0

        def plan_and_write(lo: int, hi: int, read: int) -> None:
            nonlocal invalid_seen
            writing_now = writing and (self.partial or invalid_seen == 0)
            # PostgreSQL, empty tenant: the unique key finds duplicates while inserting.
            fast = writing_now and not match_existing and stage.dialect == "postgresql"
            invalid_seen += plan_batch(
                stage, lo, hi, self.mode, match_existing=match_existing, check_duplicates=not fast
            )
            if writing_now:
                unchecked = pending_valid if fast else 0
                try:
                    invalid_seen += write_batch(
                        stage, lo, hi, self.import_id, self.now, unchecked=unchecked
                    )
                except IntegrityError:
                    raise Conflict(
                        "Another change to the same customers happened during the import; "
                        "nothing was imported. Please try again."
                    ) from None
            progress(min(read, self.total - 1), self.total)

        for valid, errors, position, lines in checked_batches(
            reader,
            columns,
            batch_rows=self.batch_rows,
            batch_bytes=self.batch_bytes,
            parallel_min_bytes=self.parallel_min_bytes,
            region=self.scope.phone_region,
            copy=stage.dialect == "postgresql",
        ):
            stage.add(valid, errors)
            invalid_seen += len({error[0] for error in errors})
            if first is None:
                first = lines[0]
            last = lines[-1]
            pending_rows += len(lines)
            pending_valid += len(valid)
            if sample_rows and rows < sample_rows:
                sample_last = lines[min(len(lines), sample_rows - rows) - 1]
            rows += len(lines)
            del valid, errors  # staged: from here on only the database holds the rows
            if pending_rows >= WRITE_BATCHES * self.batch_rows:
                plan_and_write(first, last, position)
                first, pending_rows, pending_valid = None, 0, 0
        if first is not None:
            plan_and_write(first, last, position)
        return rows, sample_last

    def _summary(
        self,
        stage: Stage,
        reader: Reader,
        columns: ColumnPlan,
        counts: dict[str, int],
        rows: int,
        written: bool,
        sample_last: int,
    ) -> ImportSummary:
        would = Planned(
            create=counts.get("create", 0),
            update=counts.get("update", 0),
            unchanged=counts.get("unchanged", 0),
            skip=counts.get("skip", 0),
        )
        done = would if written else Planned()
        return ImportSummary(
            created=done.create,
            updated=done.update,
            unchanged=done.unchanged,
            skipped=done.skip,
            invalid=counts["invalid"],
            rows=rows,
            errors=stage.first_errors(),
            encoding=reader.encoding_label or kind_label(reader.kind),
            delimiter=reader.delimiter_label,
            mapping=columns.mapping,
            unknown_columns=columns.unknown,
            dry_run=self.dry_run,
            written=written,
            import_id=self.import_id if written else None,
            filename=self.filename,
            mode=self.mode,
            partial=self.partial,
            ignored_columns=columns.ignored,
            actions=stage.actions(sample_last) if sample_last else {},
            likely_duplicates=likely_duplicates(stage, sample_last) if sample_last else {},
            would=would,
            file_format=reader.kind,
            sheet=reader.sheet,
            header_line=reader.header_line,
            feeds=columns.feeds(),
            explained=columns.explained(),
        )

    def _audit(self, summary: ImportSummary) -> None:
        audit.record(
            self.scope.session,
            self.scope.tenant_id,
            actor=self.scope.actor.username,
            action=Action.IMPORT,
            customer_id=None,
            before=None,
            after={
                "file": self.filename,
                "mode": self.mode.value,
                "partial": self.partial,
                "rows": summary.rows,
                "created": summary.created,
                "updated": summary.updated,
                "unchanged": summary.unchanged,
                "skipped": summary.skipped,
                "invalid": summary.invalid,
                "encoding": summary.encoding,
                "format": summary.file_format,
                "sheet": summary.sheet,
            },
            event_id=self.import_id,
        )
