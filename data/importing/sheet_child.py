"""Unpacking one sheet of a spreadsheet into text rows, in a child process of its own.

``data.importing.read_sheet`` runs this file as a script (``python -I sheet_child.py``)
with the workbook's path; it opens the workbook with python-calamine, picks the sheet,
turns every cell into the text a user sees (``cell_text``) and writes the non-empty rows,
with their sheet row numbers, to a file of pickled batches, then a small JSON file that
says which sheet it read.  It imports nothing of the project (only the standard library
and python_calamine), so that it starts fast and small.

Why a child: calamine holds the whole sheet in memory (a dense grid from its first to
its last cell), so a sheet of a million rows, or a file of a few kilobytes whose two
cells sit at A1 and XFD1048576, unpacks into gigabytes.  The child runs under an
address-space limit (``RLIMIT_AS``); past it the child ends, and the importing process,
which never held the sheet, refuses the file with one sentence.  The rows it wrote are
read back as a stream: the importing process's memory stays flat.
"""

from __future__ import annotations

import datetime
import json
import pickle
import resource
import sys
from collections.abc import Iterator, Sequence
from typing import IO, Any

HANDLED = 3  # exit status: the error sentence is in the meta file
BATCH_ROWS = 1000
BATCH_CHARS = 1024 * 1024
HEADER = {"ods": "OpenDocument spreadsheet", "xls": "Excel 97-2003 workbook"}


class Refused(Exception):
    """A sentence for the user: the file cannot be read as asked."""


def column_letters(index: int) -> str:
    """0 → ``A``, 25 → ``Z``, 26 → ``AA``: a column as a spreadsheet names it."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _number(value: float) -> str:
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))  # a phone or an id stored as a number: its digits, no ".0"
    return format(value, ".15g")  # what a spreadsheet shows: 15 significant digits


def cell_text(value: Any) -> str:
    """A cell's value as the text a user sees in the sheet (pure).

    Text stays as it is (a leading ``+`` or ``0`` kept as text survives); a number keeps
    its digits (``4915112345678``, ``3.25``; no ``.0``, no exponent below 10^15); a
    boolean is ``TRUE``/``FALSE``; dates and times are ISO 8601 (``2026-01-05``,
    ``2026-01-05T14:30:00``, ``09:15:00``); an empty cell or an error value is empty.
    Number formats (currency, percent, thousands separators) are not applied.
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _number(value) if value == value and abs(value) != float("inf") else ""
    if isinstance(value, datetime.datetime):
        return value.isoformat(timespec="seconds" if not value.microsecond else "auto")
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        seconds = int(value.total_seconds())
        sign, seconds = ("-", -seconds) if seconds < 0 else ("", seconds)
        return f"{sign}{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
    return str(value)


def _trimmed(values: Sequence[str]) -> list[str]:
    end = len(values)
    while end and not values[end - 1].strip():
        end -= 1
    return list(values[:end])


class Sheet:
    """The rows of one sheet as text, with their sheet row numbers (1 = the first row)."""

    def __init__(self, sheet: Any, *, filename: str, max_columns: int, max_field: int) -> None:
        self.sheet = sheet
        self.name = str(sheet.name)
        self.filename = filename
        self.max_columns = max_columns
        self.max_field = max_field
        start = sheet.start
        self.first_row, self.first_column = (int(start[0]), int(start[1])) if start else (0, 0)

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """Non-empty rows, trailing empty cells dropped, at most ``max_columns + 1`` cells
        (one more than allowed marks the row as wider than any header can be)."""
        keep = self.max_columns + 1
        for offset, cells in enumerate(self.sheet.iter_rows()):
            values = _trimmed([cell_text(cell) for cell in cells[:keep]])
            if not values:
                continue
            row = self.first_row + offset + 1
            for index, value in enumerate(values):
                if len(value) > self.max_field:
                    where = column_letters(self.first_column + index)
                    raise Refused(
                        f"Cell {where}{row} of sheet {self.name!r} in {self.filename} holds "
                        f"more than {self.max_field:,} characters; shorten it and try again."
                    )
            yield row, values

    def has_data(self) -> bool:
        """A row of at least two filled cells, as a header needs (a cover sheet with a
        title alone is not data)."""
        return any(sum(1 for v in values if v.strip()) >= 2 for _, values in self.rows())


def _open(path: str, filename: str, kind: str) -> Any:
    import python_calamine as calamine

    try:
        return calamine.CalamineWorkbook.from_path(path)
    except calamine.PasswordError:
        raise Refused(
            f"{filename} is protected with a password; save it without one and try again."
        ) from None
    except (calamine.CalamineError, OSError, ValueError) as exc:
        reason = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else "damaged"
        what = HEADER.get(kind, "Excel workbook")
        raise Refused(
            f"{filename} cannot be read as an {what} ({reason.rstrip('.')}); "
            "open it in your spreadsheet program, save it again and retry."
        ) from None


def _worksheets(book: Any) -> list[tuple[str, bool]]:
    """(name, visible) of each worksheet, in workbook order (chart sheets left out)."""
    found = []
    for meta in book.sheets_metadata:
        if str(meta.typ).endswith("WorkSheet"):
            found.append((str(meta.name), str(meta.visible).endswith(".Visible")))
    return found


def _choose(book: Any, wanted: str, filename: str, **limits: int) -> Sheet:
    sheets = _worksheets(book)
    names = [name for name, _ in sheets]
    if wanted:
        if wanted not in names:
            listed = ", ".join(repr(n) for n in names[:10]) or "none"
            raise Refused(f"{filename} has no sheet named {wanted!r}; its sheets are {listed}.")
        return Sheet(book.get_sheet_by_name(wanted), filename=filename, **limits)
    for name, visible in sheets:
        if not visible:
            continue
        sheet = Sheet(book.get_sheet_by_name(name), filename=filename, **limits)
        if sheet.has_data():
            return sheet
        del sheet
    raise Refused(f"{filename} has no sheet with data; it needs a header row and rows.")


def _write(out: IO[bytes], sheet: Sheet, max_rows: int) -> int:
    batch: list[tuple[int, list[str]]] = []
    chars = rows = 0
    for row in sheet.rows():
        batch.append(row)
        chars += sum(len(value) for value in row[1]) + 8
        rows += 1
        if len(batch) >= BATCH_ROWS or chars >= BATCH_CHARS:
            pickle.dump(batch, out, protocol=pickle.HIGHEST_PROTOCOL)
            batch, chars = [], 0
        if max_rows and rows >= max_rows:
            break
    if batch:
        pickle.dump(batch, out, protocol=pickle.HIGHEST_PROTOCOL)
    return rows


def main(argv: Sequence[str]) -> int:
    """``sheet_child.py IN OUT META KIND FILENAME SHEET MAX_ROWS MAX_COLUMNS MAX_FIELD MB``."""
    source, rows_path, meta_path, kind, filename, wanted = argv[:6]
    max_rows, max_columns, max_field, memory_mb = (int(v) for v in argv[6:10])
    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    meta: dict[str, Any]
    status = 0
    try:
        book = _open(source, filename, kind)
        limits = {"max_columns": max_columns, "max_field": max_field}
        sheet = _choose(book, wanted, filename, **limits)
        with open(rows_path, "wb") as out:
            rows = _write(out, sheet, max_rows)
        meta = {
            "sheets": [name for name, _ in _worksheets(book)],
            "sheet": sheet.name,
            "first_column": sheet.first_column,
            "rows": rows,
        }
    except Refused as exc:
        meta, status = {"error": str(exc)}, HANDLED
    except MemoryError:
        meta, status = {"memory": True}, HANDLED
    with open(meta_path, "w", encoding="utf-8") as handle:
        json.dump(meta, handle)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
