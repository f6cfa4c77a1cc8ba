"""What an import, its preview and its undo return: one result per file, errors per row."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from data.errors import ImportFailed
from data.importing.read_csv import Record

MAX_ERRORS = 1000  # errors kept in the summary; all of them go to the error report


class ImportMode(StrEnum):
    CREATE = "create"
    UPSERT = "upsert"
    SKIP = "skip"


MODE_HELP = {
    ImportMode.CREATE: "Create only: a row whose email already exists is an error.",
    ImportMode.UPSERT: "Upsert by email: update the customer with that email, or create it.",
    ImportMode.SKIP: "Skip existing: leave customers whose email exists as they are.",
}


def parse_mode(mode: ImportMode | str) -> ImportMode:
    try:
        return ImportMode(mode)
    except ValueError:
        raise ImportFailed(f"Unknown import mode {mode!r}; use create, upsert or skip.") from None


@dataclass(frozen=True)
class RowError:
    line: int
    field: str | None
    message: str

    def __str__(self) -> str:
        return f"Line {self.line}: {self.message}"


@dataclass(frozen=True)
class Planned:
    """What the file's valid rows would do (or did): known for a dry run and a refusal too."""

    create: int = 0
    update: int = 0
    unchanged: int = 0
    skip: int = 0


SUMMARY_LINE_HELP = (
    "The summary line on stdout says what was written, so a script cannot misread it: "
    "'created=N updated=N skipped=N invalid=N' when the import was written (with "
    "--partial, invalid rows were left out); 'created=0 updated=0 skipped=0 invalid=N "
    "refused=1' when invalid rows refused an all-or-nothing import (nothing was written; "
    "what the valid rows would have done goes to stderr); 'would_create=N would_update=N "
    "would_skip=N invalid=N' for --dry-run, plus 'would_refuse=1' when the real import "
    "would be refused."
)


@dataclass
class ImportSummary:
    """What an import did.  ``created``, ``updated``, ``unchanged`` and ``skipped`` count
    what was *written*: all zero when nothing was (a dry run, a refusal); ``would`` holds
    what the valid rows would do either way."""

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
    # line -> which existing customer the row looks like (by its keys, not by its email
    # alone): first rows only, as ``actions`` (data.importing.likely)
    likely_duplicates: dict[int, str] = field(default_factory=dict)
    would: Planned = field(default_factory=Planned)
    file_format: str = "csv"  # csv, xlsx, xlsb, xls, ods
    sheet: str | None = None  # the sheet read, for a spreadsheet
    header_line: int = 1  # the header's line (CSV) or sheet row
    feeds: dict[str, list[str]] = field(default_factory=dict)  # target -> columns, in order
    explained: list[str] = field(default_factory=list)  # how several columns make a field

    def line(self) -> str:
        """The one-line summary a script reads (see ``SUMMARY_LINE_HELP``)."""
        if self.dry_run:
            would = self.would
            text = (
                f"would_create={would.create} would_update={would.update} "
                f"would_skip={would.skip} invalid={self.invalid}"
            )
            return text + (" would_refuse=1" if self.refused else "")
        text = (
            f"created={self.created} updated={self.updated} "
            f"skipped={self.skipped} invalid={self.invalid}"
        )
        return text if self.written else text + " refused=1"

    @property
    def refused(self) -> bool:
        """Invalid rows stopped (or, in a dry run, would stop) an all-or-nothing import."""
        return self.invalid > 0 and not self.partial

    def would_have(self) -> str:
        """What the valid rows would have done: ``2 to create, 0 to update ...``."""
        would = self.would
        return (
            f"{would.create:,} to create, {would.update:,} to update, "
            f"{would.unchanged:,} unchanged, {would.skip:,} to skip"
        )

    def source(self) -> str:
        """``UTF-8, comma`` or ``Excel workbook, sheet 'Customers', header on row 3``."""
        if self.file_format == "csv":
            return f"{self.encoding}, {self.delimiter}"
        return f"{self.encoding}, sheet {self.sheet!r}, header on row {self.header_line}"

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
            return (
                f"Checked {self.rows:,} rows of {self.filename}: {self.would_have()}, "
                f"{self.invalid:,} invalid; the file {verdict}."
            )
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
    encoding: str  # for a spreadsheet: its kind ("Excel workbook")
    delimiter: str  # "" for a spreadsheet
    header: list[str]
    mapping: dict[str, str]
    rows: list[Record]  # the first data records, raw, with their line numbers
    file_format: str = "csv"
    sheet: str | None = None
    sheets: list[str] = field(default_factory=list)
    header_line: int = 1
    explained: list[str] = field(default_factory=list)  # how several columns make a field

    def source(self) -> str:
        """``UTF-8 · semicolon-separated`` or ``Excel workbook · sheet 'X' · header on row 3``."""
        if self.file_format == "csv":
            return f"{self.encoding} · {self.delimiter}-separated"
        return f"{self.encoding} · sheet {self.sheet!r} · header on row {self.header_line}"


@dataclass(frozen=True)
class UndoSummary:
    import_id: str
    removed: int  # created customers deleted again
    restored: int  # updated customers put back as they were
    refused: list[str]  # ids of customers edited since the import: left alone
    gone: int  # customers of the import deleted since: nothing to do

    def sentence(self) -> str:
        text = f"Undid the import: {self.removed:,} removed, {self.restored:,} restored"
        if self.refused:
            text += (
                f"; {len(self.refused):,} customers were changed since the import "
                "and were left as they are"
            )
        return text + "."

    def __str__(self) -> str:
        return self.sentence()
