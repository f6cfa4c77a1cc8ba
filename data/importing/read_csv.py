"""Reading a CSV file as people really send them: the first stage of the import pipeline.

* Encoding: UTF-8 with or without BOM, UTF-16 with BOM, and Windows-1252 when the file
  is not valid UTF-8 (the summary says so).  Binary files are refused.
* Delimiter: comma, semicolon or tab, detected from the header line.
* Records: quoted fields with line breaks, CRLF / LF / CR line ends, strict quoting.
  Every record carries its *physical* line number (where it starts in the file), so a
  row error points at the line a text editor shows.

Nothing here holds the file in memory: records are read one at a time from a stream,
and each is bounded (``data.importing.limits``): a field longer than ``max_field_chars``
or a record longer than ``max_row_chars`` refuses the file naming its line, before the
record is split into fields; a header wider than ``max_columns`` refuses it at line 1.
Which column means which field is ``data.importing.columns``' business.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from data.errors import ImportFailed
from data.importing.limits import LIMITS, Limits, size_text

DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab"}
ENCODING_LABELS = {
    "utf-8": "UTF-8",
    "utf-8-sig": "UTF-8 with BOM",
    "utf-16": "UTF-16",
    "cp1252": "Windows-1252",
}
# A field longer than this is a quote left open, not data (the limits are far lower).
FIELD_SIZE_LIMIT = LIMITS.max_field_chars
SNIFF_BYTES = 64 * 1024
CHUNK = 1024 * 1024


@dataclass(frozen=True)
class FileFormat:
    encoding: str  # a Python codec name
    delimiter: str

    @property
    def encoding_label(self) -> str:
        return ENCODING_LABELS.get(self.encoding, self.encoding)

    @property
    def delimiter_label(self) -> str:
        return DELIMITERS.get(self.delimiter, repr(self.delimiter))


def seekable_source(source: IO[bytes]) -> IO[bytes]:
    """The source itself when it can seek; else a spooled copy (reading needs two passes)."""
    try:
        if source.seekable():
            return source
    except (AttributeError, ValueError):
        pass
    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115
    shutil.copyfileobj(source, spool, CHUNK)
    spool.seek(0)
    return spool


def detect_encoding(source: IO[bytes], filename: str) -> str:
    """Pick the codec: a BOM decides; else UTF-8 if the whole file decodes, else cp1252."""
    start = source.tell()
    head = source.read(SNIFF_BYTES)
    source.seek(start)
    if not head.strip():
        raise ImportFailed(f"{filename} is empty; it needs a header line and rows.")
    if head.startswith(codecs.BOM_UTF8):
        encoding = "utf-8-sig"
    elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    else:
        encoding = "utf-8"
    if b"\x00" in head:
        raise ImportFailed(
            f"{filename} is not a CSV text file (it contains binary data); "
            "save it as CSV (UTF-8) and try again."
        )
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    try:
        while chunk := source.read(CHUNK):
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        encoding = "cp1252"
    finally:
        source.seek(start)
    return encoding


def detect_delimiter(header_line: str) -> str:
    """The most frequent of comma, semicolon and tab outside quotes in the header line."""
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    for ch in header_line:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _cp1252_undefined(error: UnicodeError) -> tuple[str, int]:
    """Windows maps the five bytes cp1252 leaves undefined to U+0081 ...; do the same."""
    assert isinstance(error, UnicodeDecodeError)
    return chr(error.object[error.start]), error.start + 1


CP1252_ERRORS = "inventory-cp1252-undefined"
codecs.register_error(CP1252_ERRORS, _cp1252_undefined)

_CSV_ERROR = re.compile(r"field larger than field limit")


@dataclass
class Record:
    line: int  # physical line where the record starts (the header is line 1), or sheet row
    values: list[str]


class _TooLong(Exception):
    """A record went past ``max_row_chars`` before it ended."""


class CsvReader:
    """Records of a CSV byte stream, with physical line numbers; see the module doc."""

    kind = "csv"
    strict_width = True  # a row with fewer fields than the header is an error too
    sheet: str | None = None
    sheets: tuple[str, ...] = ()
    header_line = 1

    def __init__(self, source: IO[bytes], *, filename: str, limits: Limits = LIMITS) -> None:
        # The csv module's limit is per process; every reader sets the same default.
        csv.field_size_limit(limits.max_field_chars)
        self.limits = limits
        self._record_chars = 0
        self.filename = filename
        self.source = seekable_source(source)
        self.start = self.source.tell()
        self.size = self._size()
        encoding = detect_encoding(self.source, filename)
        self.format = FileFormat(encoding, detect_delimiter(self._first_line(encoding)))
        self.text = io.TextIOWrapper(
            self.source,
            encoding=encoding,
            newline="",
            errors=CP1252_ERRORS if encoding == "cp1252" else "strict",
        )
        self.reader = csv.reader(self._lines(), delimiter=self.format.delimiter, strict=True)
        self.header = self._header()

    @property
    def encoding_label(self) -> str:
        return self.format.encoding_label

    @property
    def delimiter_label(self) -> str:
        return self.format.delimiter_label

    def _lines(self) -> Iterator[str]:
        """The physical lines, none longer than a record may be (counted per record)."""
        limit = self.limits.max_row_chars
        readline = self.text.readline
        while True:
            line = readline(limit + 1)
            if not line:
                return
            self._record_chars += len(line)
            if self._record_chars > limit:
                raise _TooLong
            yield line

    def _size(self) -> int:
        here = self.source.tell()
        end = self.source.seek(0, io.SEEK_END)
        self.source.seek(here)
        return max(0, end - here)

    def _first_line(self, encoding: str) -> str:
        head = self.source.read(SNIFF_BYTES)
        self.source.seek(self.start)
        text = head.decode(encoding, errors="replace")
        return text.lstrip("\ufeff").splitlines()[0] if text.strip() else ""

    def _header(self) -> list[str]:
        record = next(self._records(), None)
        if record is None:
            raise ImportFailed(f"{self.filename} is empty; it needs a header line and rows.")
        header = [value.replace("\ufeff", "").strip() for value in record.values]
        if not any(header):
            raise ImportFailed(f"Line {record.line} of {self.filename}: the header is empty.")
        if len(header) > self.limits.max_columns:
            raise ImportFailed(
                f"Line {record.line} of {self.filename} has {len(header):,} columns; at most "
                f"{self.limits.max_columns:,} can be imported, so remove the columns you do "
                "not need and try again."
            )
        return header

    def _decode_error(self, line: int) -> ImportFailed:
        return ImportFailed(
            f"Near line {line} of {self.filename}: the text is not valid "
            f"{self.format.encoding_label}; save the file as CSV UTF-8 and try again."
        )

    def _records(self) -> Iterator[Record]:
        reader = self.reader
        while True:
            line = reader.line_num + 1
            self._record_chars = 0
            try:
                values = next(reader)
            except StopIteration:
                return
            except UnicodeDecodeError:
                raise self._decode_error(reader.line_num + 1) from None
            except csv.Error as exc:
                raise self._csv_error(line, exc) from None
            except _TooLong:
                raise ImportFailed(
                    f"Line {line} of {self.filename} is longer than "
                    f"{size_text(self.limits.max_row_chars)} (a row that long is not customer "
                    "data; is a quote left open?)."
                ) from None
            if values:  # blank lines are not rows
                yield Record(line, values)

    def _csv_error(self, line: int, exc: csv.Error) -> ImportFailed:
        message = str(exc)
        where = f"Line {line} of {self.filename}"
        if message.startswith("unexpected end of data"):
            return ImportFailed(f"{where}: a quoted field starts here and is never closed.")
        if _CSV_ERROR.search(message):
            return ImportFailed(
                f"{where}: a field is longer than {size_text(self.limits.max_field_chars)}; "
                "is a quote left open?"
            )
        if "expected after" in message:
            return ImportFailed(
                f"{where}: a quoted field is followed by text before the next "
                f"{self.format.delimiter_label}; put the whole field in quotes and double "
                "the quotes inside it."
            )
        return ImportFailed(f"{where}: the file is not valid CSV ({message}).")

    def records(self) -> Iterator[Record]:
        """The data records after the header."""
        return self._records()

    def position(self) -> int:
        """Bytes consumed so far (for progress)."""
        try:
            return max(0, self.source.tell() - self.start)
        except (OSError, ValueError):
            return 0

    def detach(self) -> None:
        """Let go of the byte stream without closing it (the caller owns it)."""
        with contextlib.suppress(ValueError):
            self.text.detach()

    def again(self) -> CsvReader:
        """A new reader of the same file from its header (for the error report)."""
        self.detach()
        self.source.seek(self.start)
        return CsvReader(self.source, filename=self.filename, limits=self.limits)

    def close(self) -> None:
        """Nothing of its own to remove (the caller owns the stream)."""
        self.detach()
