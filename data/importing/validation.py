"""Validation of a file's records, in batches, in this process or in worker processes.

Each record goes through the same rules as every other write
(``data.schemas.validate_customer``) and comes out as a staged row — its line, a new
customer id, and every stored column (the fields and the keys derived from them) — or as
errors naming its line and field.  email-validator dominates the cost, so large files
are validated by worker processes (``data.importing.workers``) while this process
stages and writes, and a thread reads ahead (``prefetch``) while this one waits for the
database.  Memory stays bounded: a few batches are in flight at any moment, and a batch
keeps of each row only the values of the columns the import reads (``ColumnPlan.project``);
it is closed at ``BATCH_ROWS`` rows or ``Limits.batch_bytes`` of kept text, whichever
comes first.  A row of the wrong width keeps nothing but its width.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
import uuid
from array import array
from collections import deque
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from data.errors import Invalid
from data.fields import FIELD_NAMES
from data.importing.columns import ColumnPlan
from data.importing.limits import LIMITS
from data.importing.read_csv import Record
from data.importing.workers import Answer, parallel_answers
from data.keys import DERIVED_KEYS
from data.schemas import validate_customer

BATCH_ROWS = 2500
PARALLEL_MIN_BYTES = 4 * 1024 * 1024  # below this, validating in-process is faster
MAX_WORKERS = 4
READ_AHEAD = 4  # validated batches waiting for the importing thread (as frames)

# The stored columns of a customer that an import writes: its fields and derived keys.
STORED: tuple[str, ...] = (*FIELD_NAMES, *DERIVED_KEYS)
# A staged row: these columns, in this order (the staging table's, see ``staging``).
STAGED_COLUMNS: tuple[str, ...] = ("line", "customer_id", *STORED)
StagedRow = tuple[int | str | None, ...]
ErrorRow = tuple[int, str | None, str]  # (line, field or None, sentence)


@dataclass(frozen=True, slots=True)
class CopyText:
    """The valid rows of a batch in PostgreSQL's ``COPY`` text format, in ``STAGED_COLUMNS``
    order: one string crosses from a worker instead of a tuple of strings per row, and the
    importing process hands it to ``COPY`` as it is (on a million rows, the unpickling and
    per-row formatting it saves were seconds of the one process that writes)."""

    rows: int
    text: str

    def __len__(self) -> int:
        return self.rows


# COPY's text format: a tab between columns, a newline after each row, \N for NULL, and
# a backslash before the backslash, tab, newline and carriage return inside a value.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_text(rows: list[StagedRow]) -> CopyText:
    """``rows`` in ``COPY ... FROM STDIN`` text format.

    A row is first joined as it is: when it holds no newline or carriage return, one tab
    per gap and one backslash per ``\\N``, none of its values needed escaping, and the
    join is the answer (most rows; not one with a multi-line address); otherwise each
    value is escaped.  Per row of the bench's file: 34 µs escaping every value, 15 µs so.
    """
    lines = []
    for row in rows:
        line = "\t".join(["\\N" if value is None else str(value) for value in row])
        if (
            "\n" in line
            or "\r" in line
            or line.count("\\") != row.count(None)
            or line.count("\t") != len(row) - 1
        ):
            line = "\t".join(
                "\\N" if value is None else str(value).translate(_COPY_ESCAPES) for value in row
            )
        lines.append(line)
    return CopyText(len(rows), "\n".join(lines) + "\n" if lines else "")


Valid = list[StagedRow] | CopyText
# (line, the kept values) per record, or (line, its width) for a row of the wrong width.
Batch = list[tuple[int, tuple[str, ...] | int]]
# A batch's valid rows, its errors, the bytes of the file read so far, and the line of each
# of its records (all the importing process needs of the records once they are checked).
Checks = tuple[Valid, list[ErrorRow]]  # a batch's valid rows and its errors
Checked = tuple[Valid, list[ErrorRow], int, "array[int]"]
T = TypeVar("T")


@dataclass(frozen=True)
class Checking:
    """What validating a batch needs to know (sent once to each worker)."""

    plan: ColumnPlan
    strict_width: bool = True  # CSV: a short row is an error too; a sheet pads it
    region: str | None = None  # the tenant's phone region, for the phone key
    copy: bool = False  # valid rows as ``CopyText`` (PostgreSQL stages with COPY)


class Source(Protocol):
    """What validation reads: a ``CsvReader`` or a ``SheetReader``."""

    size: int
    strict_width: bool

    def records(self) -> Iterator[Record]: ...

    def position(self) -> int: ...


def width_error(width: int, checking: Checking) -> str:
    header = checking.plan.width
    if checking.strict_width:
        return (
            f"This row has {width} fields but the header has {header}; "
            "check its quotes and delimiters."
        )
    return (
        f"This row has values to the right of the header's last column (the header has "
        f"{header} columns); delete them, or name their column."
    )


def check_batch(checking: Checking, batch: Batch) -> Checks:
    """Validate kept records; a pure function of its input, run in worker processes."""
    valid: list[StagedRow] = []
    errors: list[ErrorRow] = []
    plan = checking.plan
    for line, values in batch:
        if isinstance(values, int):
            errors.append((line, None, width_error(values, checking)))
            continue
        try:
            clean = validate_customer(plan.record(values))
        except Invalid as exc:
            errors.extend((line, name, message) for name, message in exc.errors.items())
            continue
        stored = clean.stored(checking.region)
        valid.append((line, str(uuid.uuid4()), *(stored[name] for name in STORED)))
    return (copy_text(valid) if checking.copy else valid), errors


def batches(
    records: Iterator[Record],
    checking: Checking,
    size: int,
    max_bytes: int = LIMITS.batch_bytes,
) -> Iterator[Batch]:
    """Records in batches of at most ``size`` rows or about ``max_bytes`` of kept text,
    each row reduced to the values the plan reads (or to its width when it is wrong)."""
    plan, strict = checking.plan, checking.strict_width
    width = plan.width
    batch: Batch = []
    kept = 0
    for record in records:
        values = record.values
        count = len(values)
        if count > width or (strict and count != width):
            batch.append((record.line, count))
            kept += 16
        else:
            projected = plan.project(values)
            batch.append((record.line, projected))
            kept += 64 + sum(len(value) for value in projected)
        del values, record  # the full row goes now, before the next is read
        if len(batch) >= size or kept >= max_bytes:
            yield batch
            batch, kept = [], 0
    if batch:
        yield batch


def lines_of(batch: Batch) -> array[int]:
    """The line of each record of ``batch``, compactly (8 bytes a line)."""
    return array("q", [line for line, _ in batch])


def worker_count(size: int, parallel_min_bytes: int) -> int:
    """How many worker processes a file of ``size`` bytes is worth (0: none).

    One CPU is left to the importing process and the database: the workers only need to
    keep ahead of the writes, and a worker more than that costs its memory for nothing.
    On two CPUs one worker imported about as fast as two in 33–60 MB less (the process
    tree's PSS; medians of interleaved runs): at 100,000 rows SQLite 14.8 s against 14.5,
    183 MB against 216, PostgreSQL 16.0 s against 16.3, 135 MB against 195; at 300,000
    SQLite 60.8 s against 62.4, PostgreSQL 55.1 s against 52.4, 156 MB against 197.
    """
    if size < parallel_min_bytes:
        return 0
    return min(MAX_WORKERS, (os.cpu_count() or 1) - 1)


def checked_batches(
    reader: Source,
    plan: ColumnPlan,
    *,
    batch_rows: int = BATCH_ROWS,
    batch_bytes: int = LIMITS.batch_bytes,
    parallel_min_bytes: int = PARALLEL_MIN_BYTES,
    region: str | None = None,
    copy: bool = False,
) -> Iterator[Checked]:
    """Validated batches in file order, with the bytes read so far and the kept batch.

    ``region``: the tenant's phone region, with which the keys are computed; ``copy``:
    the valid rows as ``CopyText``.
    """
    checking = Checking(plan, reader.strict_width, region, copy)
    workers = worker_count(reader.size, parallel_min_bytes)
    raw = batches(reader.records(), checking, batch_rows, batch_bytes)
    if not workers:
        for batch in raw:
            valid, errors = check_batch(checking, batch)
            yield valid, errors, reader.position(), lines_of(batch)
        return
    sent: deque[tuple[int, array[int]]] = deque()  # position and lines of each batch sent

    def tracked() -> Iterator[Batch]:
        for batch in raw:
            sent.append((reader.position(), lines_of(batch)))
            yield batch

    def answered() -> Iterator[tuple[Answer[Checks], int, array[int]]]:
        answers: Generator[Answer[Checks], None, None] = parallel_answers(
            f"{__name__}:check_batch", checking, tracked(), workers
        )
        try:
            for answer in answers:
                position, lines = sent.popleft()
                yield answer, position, lines
        finally:
            answers.close()

    # Reading, parsing and talking to the workers go on in a thread while this one
    # waits for the database (both drivers release the GIL while the database works).
    # The batches read ahead wait as the frames the worker sent and are unpickled only
    # when their turn comes (as tuples, the two waiting and the one being handed over
    # were 15 MB of the importing process at 100,000 rows on SQLite).  Batches are
    # small (``BATCH_ROWS``: the one being staged is what the importing process holds
    # as rows) and ``READ_AHEAD`` are read ahead, 10,000 rows, as two of 5,000 were.
    for answer, position, lines in prefetch(answered(), READ_AHEAD):
        valid, errors = answer.value()
        del answer
        yield valid, errors, position, lines


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
