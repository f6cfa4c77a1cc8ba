"""Reading a CSV file as people really send them: the first stage of the import pipeline.

* Encoding: UTF-8 with or without BOM, UTF-16 with BOM, and Windows-1252 when the file
  is not valid UTF-8 (the summary says so).  Binary files are refused.
* Delimiter: comma, semicolon or tab, detected from the header line.
* Records: quoted fields with line breaks, CRLF / LF / CR line ends, strict quoting.
  Every record carries its *physical* line number (where it starts in the file), so a
  row error points at the line a text editor shows.
* Columns: headers are matched to fields by a normalised name and a synonyms table
  (``match_columns``, a pure function); First Name + Last Name make the name when there
  is no name column.

Nothing here holds the file in memory: records are read one at a time from a stream.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import re
import shutil
import tempfile
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO

from data.errors import ImportFailed

# Fields a column can be mapped to.  first_name / last_name are combined into name.
TARGETS = ("name", "email", "phone", "address", "first_name", "last_name")
IGNORE = ""
TARGET_LABELS = {
    "name": "Name",
    "email": "Email",
    "phone": "Phone",
    "address": "Address",
    "first_name": "First name (joined into Name)",
    "last_name": "Last name (joined into Name)",
    IGNORE: "(ignore)",
}

SYNONYMS: dict[str, tuple[str, ...]] = {
    "name": (
        "name",
        "customername",
        "customer",
        "fullname",
        "contactname",
        "contact",
        "clientname",
        "client",
        "displayname",
        "accountname",
        "companyname",
        "nom",
        "nombre",
        "kunde",
        "kundenname",
    ),
    "email": (
        "email",
        "emailaddress",
        "mail",
        "emailid",
        "primaryemail",
        "contactemail",
        "customeremail",
        "workemail",
        "courriel",
        "correo",
        "correoelectronico",
        "emailadresse",
    ),
    "phone": (
        "phone",
        "phonenumber",
        "telephone",
        "telephonenumber",
        "tel",
        "mobile",
        "mobilephone",
        "mobilenumber",
        "cell",
        "cellphone",
        "contactphone",
        "primaryphone",
        "workphone",
        "businessphone",
        "phone1",
        "telefon",
        "telefono",
        "telefonnummer",
    ),
    "address": (
        "address",
        "streetaddress",
        "address1",
        "addressline1",
        "postaladdress",
        "mailingaddress",
        "mailingstreet",
        "billingaddress",
        "billingstreet",
        "shippingaddress",
        "fulladdress",
        "street",
        "adresse",
        "direccion",
        "anschrift",
    ),
    "first_name": ("firstname", "givenname", "forename", "first", "vorname", "prenom"),
    "last_name": ("lastname", "surname", "familyname", "last", "nachname"),
}
# Columns an export carries that the system sets itself: recognised and left alone.
SYSTEM_COLUMNS = frozenset(
    {"id", "createdat", "updatedat", "created", "updated", "tenantid", "version"}
)
_LOOKUP = {synonym: target for target, names in SYNONYMS.items() for synonym in names}

DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab"}
ENCODING_LABELS = {
    "utf-8": "UTF-8",
    "utf-8-sig": "UTF-8 with BOM",
    "utf-16": "UTF-16",
    "cp1252": "Windows-1252",
}
# A field longer than this is a quote left open, not data (the limits are far lower).
FIELD_SIZE_LIMIT = 16 * 1024 * 1024
SNIFF_BYTES = 64 * 1024
CHUNK = 1024 * 1024


def normalise_header(header: str) -> str:
    """``" E-Mail Address "`` → ``"emailaddress"``: case, spaces and punctuation removed."""
    folded = unicodedata.normalize("NFKD", header.replace("\ufeff", "")).casefold()
    return "".join(ch for ch in folded if ch.isalnum() and not unicodedata.combining(ch))


def guess_field(header: str) -> str:
    """The field a header means, or ``""`` when it means none of them."""
    return _LOOKUP.get(normalise_header(header), IGNORE)


def is_system_column(header: str) -> bool:
    return normalise_header(header) in SYSTEM_COLUMNS


def match_columns(headers: Sequence[str]) -> dict[str, str]:
    """Map each header to a field (``""`` = ignored).  Pure; the first column wins a field.

    First and last name columns are used only when no column is the name itself.
    """
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    for header in headers:
        if header in mapping:
            continue
        target = guess_field(header)
        if target and target not in taken:
            mapping[header] = target
            taken.add(target)
        else:
            mapping[header] = IGNORE
    if "name" in taken:
        for header, target in mapping.items():
            if target in ("first_name", "last_name"):
                mapping[header] = IGNORE
    return mapping


@dataclass(frozen=True)
class ColumnPlan:
    """Which column index feeds which field, checked against the header."""

    width: int
    indexes: dict[str, int]  # target -> column index
    mapping: dict[str, str]  # header -> target ("" = ignored)
    unknown: list[str]
    ignored: list[str] = field(default_factory=list)  # system columns (id, created_at ...)

    def record(self, values: Sequence[str]) -> dict[str, str | None]:
        """The customer fields of one record (first + last name joined when mapped)."""
        out: dict[str, str | None] = {}
        for target in ("name", "email", "phone", "address"):
            index = self.indexes.get(target)
            out[target] = unneutralise(values[index]) if index is not None else None
        if "name" not in self.indexes:
            parts = [
                values[self.indexes[part]].strip()
                for part in ("first_name", "last_name")
                if part in self.indexes
            ]
            joined = " ".join(part for part in parts if part)
            out["name"] = unneutralise(joined) if parts else None
        return out


def plan_columns(headers: Sequence[str], mapping: Mapping[str, str] | None) -> ColumnPlan:
    """Turn a header → field mapping into column indexes; refuse what cannot work."""
    auto = match_columns(headers)
    chosen = dict(auto)
    if mapping is not None:
        for header, target in mapping.items():
            if header not in chosen:
                raise ImportFailed(f"The mapping names a column {header!r} that the file lacks.")
            if target not in (*TARGETS, IGNORE):
                raise ImportFailed(
                    f"Column {header!r} cannot be mapped to {target!r}; "
                    "use name, email, phone, address, first_name, last_name or nothing."
                )
            chosen[header] = target
    indexes: dict[str, int] = {}
    for index, header in enumerate(headers):
        # Every column that means a field claims it, so that two candidates are caught.
        explicit = mapping is not None and header in mapping
        target = chosen[header] if explicit else guess_field(header)
        if not target:
            continue
        if target in indexes:
            first = headers[indexes[target]]
            what = TARGET_LABELS[target].split(" (")[0].lower()
            raise ImportFailed(
                f"Line 1: columns {indexes[target] + 1} ({first!r}) and {index + 1} "
                f"({header!r}) both hold the {what}; map only one of them."
            )
        indexes[target] = index
    if "name" in indexes:
        for part in ("first_name", "last_name"):
            if part in indexes:
                chosen[headers[indexes.pop(part)]] = IGNORE
    missing = [
        label
        for label, present in (
            ("email", "email" in indexes),
            ("name", "name" in indexes or "first_name" in indexes or "last_name" in indexes),
        )
        if not present
    ]
    if missing:
        shown = ", ".join(repr(h) for h in headers[:8]) + (" ..." if len(headers) > 8 else "")
        raise ImportFailed(
            f"Line 1: no column holds the customer's {' or '.join(missing)} "
            f"(the header is {shown}); name the columns or map them."
        )
    unknown = [h for h in headers if not chosen.get(h) and not is_system_column(h)]
    ignored = [h for h in headers if not chosen.get(h) and is_system_column(h)]
    return ColumnPlan(len(headers), indexes, chosen, unknown, ignored)


# -- neutralised cells ------------------------------------------------------------------

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def needs_neutralising(value: str) -> bool:
    """True when a spreadsheet would run ``value`` as a formula (after leading quotes)."""
    return value.lstrip("'")[:1] in FORMULA_STARTS


def neutralise_cell(value: str) -> str:
    """Prefix ``'`` so a spreadsheet shows the text instead of running it.

    Reversible (see ``unneutralise``): a value that already starts with quotes before a
    formula character gets one more, so an export re-imports to exactly what was stored.
    """
    return "'" + value if needs_neutralising(value) else value


def unneutralise(value: str) -> str:
    """The inverse of ``neutralise_cell``: drop the one quote it added."""
    if value.startswith("'") and needs_neutralising(value[1:]):
        return value[1:]
    return value


# -- the file ---------------------------------------------------------------------------


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
    line: int  # physical line where the record starts (the header is line 1)
    values: list[str]


class CsvReader:
    """Records of a CSV byte stream, with physical line numbers; see the module doc."""

    def __init__(self, source: IO[bytes], *, filename: str) -> None:
        csv.field_size_limit(max(csv.field_size_limit(), FIELD_SIZE_LIMIT))
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
        self.reader = csv.reader(self.text, delimiter=self.format.delimiter, strict=True)
        self.header = self._header()

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
            try:
                values = next(reader)
            except StopIteration:
                return
            except UnicodeDecodeError:
                raise self._decode_error(reader.line_num + 1) from None
            except csv.Error as exc:
                raise self._csv_error(line, exc) from None
            if values:  # blank lines are not rows
                yield Record(line, values)

    def _csv_error(self, line: int, exc: csv.Error) -> ImportFailed:
        message = str(exc)
        where = f"Line {line} of {self.filename}"
        if message.startswith("unexpected end of data"):
            return ImportFailed(f"{where}: a quoted field starts here and is never closed.")
        if _CSV_ERROR.search(message):
            return ImportFailed(
                f"{where}: a field is longer than {FIELD_SIZE_LIMIT // (1024 * 1024)} MB; "
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
