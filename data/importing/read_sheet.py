"""Reading spreadsheets (.xlsx, .xlsm, .xlsb, .xls, .ods): the same records as a CSV file.

``open_reader`` looks at the file's first bytes, not its name: a ZIP holding
``xl/workbook.xml`` is an Excel workbook, one whose ``mimetype`` says so an OpenDocument
spreadsheet, an OLE2 compound file an Excel 97-2003 workbook; anything else is read as
CSV (``read_csv``).  So a CSV file named ``.xls`` (as some web shops send them) still
imports, and a workbook renamed ``.csv`` too.

A sheet is unpacked by python-calamine in a child process under a memory limit
(``sheet_child``), into a temporary file of text rows that ``SheetReader`` reads back as
``Record(line, values)``, where ``line`` is the sheet's row number (as the spreadsheet
shows it).  Cells become the text a user sees (``sheet_child.cell_text``).

* Sheet: the one named (``sheet=``), else the first visible worksheet with data (a row
  of at least two filled cells: a cover sheet holding only a title is passed over).
* Header row: title rows above the header are skipped.  Among the first
  ``HEADER_SCAN_ROWS`` rows with data, the header is the first whose column names hold
  every required field (by the same matching and mapping as the import); if none does,
  the first row with at least two non-empty cells.
* Rows: empty rows are skipped; a row shorter than the header has empty cells at its end
  (a spreadsheet does not store them); a row with values beyond the header's last
  column is a row error.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from data.errors import ImportFailed
from data.importing.limits import LIMITS, Limits
from data.importing.read_csv import CHUNK, CsvReader, Record, seekable_source
from data.importing.sheet_child import HANDLED, column_letters

CHILD = Path(__file__).with_name("sheet_child.py")
HEADER_SCAN_ROWS = 30
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"
ODS_MIMETYPE = b"application/vnd.oasis.opendocument.spreadsheet"
KIND_LABELS = {
    "csv": "CSV",
    "xlsx": "Excel workbook",
    "xlsb": "Excel binary workbook",
    "xls": "Excel 97-2003 workbook",
    "ods": "OpenDocument spreadsheet",
}
SHEET_KINDS = ("xlsx", "xlsb", "xls", "ods")
# What the upload widgets accept (the content decides the format in the end).
EXTENSIONS = ("csv", "txt", "tsv", "xlsx", "xlsm", "xlsb", "xls", "ods")

HeaderTest = Callable[[Sequence[str]], bool]


def sniff_kind(source: IO[bytes], filename: str) -> str:
    """``csv``, ``xlsx``, ``xlsb``, ``xls`` or ``ods``, from the first bytes of ``source``."""
    start = source.tell()
    head = source.read(8)
    source.seek(start)
    if head.startswith(OLE2_MAGIC):
        return "xls"
    if not head.startswith(ZIP_MAGIC):
        return "csv"
    try:
        with zipfile.ZipFile(source) as archive:
            names = set(archive.namelist())
            if "xl/workbook.xml" in names:
                return "xlsx"
            if "xl/workbook.bin" in names:
                return "xlsb"
            if "mimetype" in names and archive.read("mimetype").strip() == ODS_MIMETYPE:
                return "ods"
    except (zipfile.BadZipFile, OSError, ValueError, KeyError):
        pass
    finally:
        source.seek(start)
    raise ImportFailed(
        f"{filename} is a ZIP archive but not a spreadsheet; import a CSV, .xlsx or .ods file."
    )


def _header_row(
    candidates: Sequence[Record], is_header: HeaderTest | None
) -> tuple[int, Record] | None:
    if is_header is not None:
        for index, record in enumerate(candidates):
            if is_header(record.values):
                return index, record
    for index, record in enumerate(candidates):
        if sum(1 for value in record.values if value.strip()) >= 2:
            return index, record
    return (0, candidates[0]) if candidates else None


class _Unpacked:
    """The files the child wrote: rows (pickled batches) and what it read; removed on close."""

    def __init__(self, folder: Path, meta: dict[str, Any]) -> None:
        self.folder = folder
        self.rows_path = folder / "rows"
        self.sheets: tuple[str, ...] = tuple(meta["sheets"])
        self.sheet: str = meta["sheet"]
        self.first_column: int = int(meta["first_column"])
        self.total = max(1, int(meta["rows"]))

    def records(self) -> Iterator[Record]:
        with self.rows_path.open("rb") as handle:
            while True:
                try:
                    batch = pickle.load(handle)  # noqa: S301 - written by our own child
                except EOFError:
                    return
                for line, values in batch:
                    yield Record(line, values)

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def _run_child(
    folder: Path,
    source: IO[bytes],
    *,
    filename: str,
    kind: str,
    sheet: str | None,
    limits: Limits,
    max_rows: int,
) -> tuple[int, dict[str, Any]]:
    """Copy the workbook into ``folder`` and unpack it there; (exit status, meta)."""
    workbook = folder / f"workbook.{kind}"
    with workbook.open("wb") as copy:
        shutil.copyfileobj(source, copy, CHUNK)
    meta_path = folder / "meta.json"
    command = [
        sys.executable,
        "-I",
        str(CHILD),
        str(workbook),
        str(folder / "rows"),
        str(meta_path),
        kind,
        filename,
        sheet or "",
        str(max_rows),
        str(limits.max_columns),
        str(limits.max_field_chars),
        str(limits.sheet_memory_mb),
    ]
    done = subprocess.run(  # noqa: S603 - our own script, fixed arguments
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )
    workbook.unlink(missing_ok=True)
    meta: dict[str, Any] = {}
    with contextlib.suppress(OSError, ValueError):
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    return done.returncode, meta


def _unpack(
    source: IO[bytes],
    *,
    filename: str,
    kind: str,
    sheet: str | None,
    limits: Limits,
    max_rows: int,
) -> _Unpacked:
    folder = Path(tempfile.mkdtemp(prefix="inventory-sheet-"))
    try:
        status, meta = _run_child(
            folder,
            source,
            filename=filename,
            kind=kind,
            sheet=sheet,
            limits=limits,
            max_rows=max_rows,
        )
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    if status == 0 and "sheet" in meta:
        return _Unpacked(folder, meta)
    shutil.rmtree(folder, ignore_errors=True)
    if status == HANDLED and "error" in meta:
        raise ImportFailed(str(meta["error"]))
    which = f"sheet {sheet!r}" if sheet else "its sheet"
    raise ImportFailed(
        f"{filename} is too large to read as a spreadsheet here (unpacked, {which} needs "
        f"more than {limits.sheet_memory_mb:,} MB); save it as CSV (UTF-8) and import "
        "that, which has no such limit."
    )


class SheetReader:
    """Records of one sheet of a spreadsheet, after its header row; see the module doc.

    The same interface as ``CsvReader``: ``header``, ``header_line``, ``records()``,
    ``position()``, ``size``, ``again()`` and ``close()`` (which removes the unpacked
    rows: call it when done).
    """

    strict_width = False
    encoding_label = ""
    delimiter_label = ""

    def __init__(
        self,
        source: IO[bytes],
        *,
        filename: str,
        kind: str,
        sheet: str | None = None,
        is_header: HeaderTest | None = None,
        limits: Limits = LIMITS,
        max_rows: int = 0,
        unpacked: _Unpacked | None = None,
        header_line: int | None = None,
    ) -> None:
        self.filename = filename
        self.kind = kind
        self.limits = limits
        self.source = source
        self.size = self._size(source)
        self.unpacked = unpacked or _unpack(
            source, filename=filename, kind=kind, sheet=sheet, limits=limits, max_rows=max_rows
        )
        self.sheet = self.unpacked.sheet
        self.sheets = self.unpacked.sheets
        self._read = 0
        self._rest = self.unpacked.records()
        self._ahead: list[Record] = []
        if header_line is None:
            self._find_header(is_header)
        else:
            self._skip_to(header_line)

    @staticmethod
    def _size(source: IO[bytes]) -> int:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            here = source.tell()
            end = source.seek(0, io.SEEK_END)
            source.seek(here)
            return max(0, end - here)
        return 0

    @property
    def where(self) -> str:
        return f"sheet {self.sheet!r} of {self.filename}"

    def _find_header(self, is_header: HeaderTest | None) -> None:
        scanned: list[Record] = []
        for record in self._rest:
            scanned.append(record)
            if len(scanned) >= HEADER_SCAN_ROWS:
                break
        found = _header_row(scanned, is_header)
        if found is None:
            raise ImportFailed(f"The {self.where} is empty; it needs a header row and rows.")
        index, record = found
        self._set_header(record)
        self._ahead = scanned[index + 1 :]

    def _skip_to(self, header_line: int) -> None:
        for record in self._rest:
            if record.line == header_line:
                self._set_header(record)
                return
        raise ImportFailed(f"The {self.where} changed while it was being read.")

    def _set_header(self, record: Record) -> None:
        if len(record.values) > self.limits.max_columns:
            raise ImportFailed(
                f"Row {record.line} of the {self.where} has more than "
                f"{self.limits.max_columns:,} columns; at most that many can be imported, so "
                "remove the columns you do not need and try again."
            )
        self.header_line = record.line
        self.header = [value.strip() for value in record.values]

    def records(self) -> Iterator[Record]:
        """The rows after the header (empty rows skipped)."""
        while self._ahead:
            self._read += 1
            yield self._ahead.pop(0)
        for record in self._rest:
            self._read += 1
            yield record

    def position(self) -> int:
        """Progress in bytes of the file, from the rows read so far."""
        return min(self.size, self.size * self._read // self.unpacked.total)

    def column(self, index: int) -> str:
        """The sheet's letter of the header's ``index``-th column (``C``)."""
        return column_letters(self.unpacked.first_column + index)

    def again(self) -> SheetReader:
        """A reader of the same unpacked rows from after the header (for the report)."""
        return SheetReader(
            self.source,
            filename=self.filename,
            kind=self.kind,
            limits=self.limits,
            unpacked=self.unpacked,
            header_line=self.header_line,
        )

    def detach(self) -> None:
        """Nothing to let go of: the rows are in files of our own."""

    def close(self) -> None:
        self.unpacked.remove()


Reader = CsvReader | SheetReader


def open_reader(
    source: IO[bytes],
    *,
    filename: str,
    sheet: str | None = None,
    is_header: HeaderTest | None = None,
    limits: Limits = LIMITS,
    max_rows: int = 0,
) -> Reader:
    """A reader of ``source`` by its content: a spreadsheet's sheet, or CSV."""
    source = seekable_source(source)
    kind = sniff_kind(source, filename)
    if kind == "csv":
        if sheet:
            raise ImportFailed(
                f"{filename} is a CSV file, which has no sheets; choose a sheet only for "
                ".xlsx or .ods files."
            )
        return CsvReader(source, filename=filename, limits=limits)
    return SheetReader(
        source,
        filename=filename,
        kind=kind,
        sheet=sheet,
        is_header=is_header,
        limits=limits,
        max_rows=max_rows,
    )


def kind_label(kind: str) -> str:
    return KIND_LABELS.get(kind, kind)


def is_spreadsheet_name(name: str) -> bool:
    return os.path.splitext(name)[1].lower().lstrip(".") in {"xlsx", "xlsm", "xlsb", "xls", "ods"}
