"""The error report: each invalid row as it was read, with where it came from and why.

The report is a CSV file (UTF-8 with a BOM, for spreadsheets), also for a spreadsheet
source: ``line`` first — the physical line where the row starts in a CSV file, or its
row number in the sheet — then the row's values under the file's own header, then
``error``.  Values to the right of the header (a row too wide) follow the error.  A fixed
report imports again as it is: ``line`` is not a field, and a file that already starts
with ``line`` and ends with ``error`` (a report) gets both replaced.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import IO

from data.importing.read_csv import CsvReader
from data.importing.read_sheet import Reader

LINE_COLUMN = "line"
ERROR_COLUMN = "error"
FLUSH_BYTES = 256 * 1024


def _is_report(header: list[str]) -> bool:
    return (
        len(header) >= 2
        and header[0].strip().lower() == LINE_COLUMN
        and header[-1].strip().lower() == ERROR_COLUMN
    )


def write_error_report(reader: Reader, errors: Iterator[tuple[int, str]], out: IO[bytes]) -> int:
    """Write the report of ``errors`` (line, sentence; in line order) to ``out``.

    ``reader`` is a fresh reader of the file (``reader.again()``): the file is read a
    second time and merged with the errors, so memory stays flat however many rows are
    invalid.  Returns the number of rows written.
    """
    header = list(reader.header)
    again = _is_report(header)
    first, width = (1, len(header) - 2) if again else (0, len(header))
    delimiter = reader.format.delimiter if isinstance(reader, CsvReader) else ","
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    out.write("\ufeff".encode())
    writer.writerow([LINE_COLUMN, *header[first : first + width], ERROR_COLUMN])
    written = 0
    pending = next(errors, None)
    for record in reader.records():
        if pending is None:
            break
        if record.line < pending[0]:
            continue
        values = list(record.values)
        if again:
            values = values[first : first + width]
        values += [""] * (width - len(values))
        writer.writerow([record.line, *values[:width], pending[1], *values[width:]])
        written += 1
        pending = next(errors, None)
        if buffer.tell() > FLUSH_BYTES:
            out.write(buffer.getvalue().encode("utf-8"))
            buffer.seek(0)
            buffer.truncate()
    out.write(buffer.getvalue().encode("utf-8"))
    reader.detach()
    return written
