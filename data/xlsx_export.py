"""Excel export: the tenant's customers (or a search's matches) as an .xlsx workbook.

The same rows and columns as the CSV export (``data.fields.EXPORT_HEADER``, name order,
times in ISO 8601 UTC), streamed from the database into xlsxwriter in
``constant_memory`` mode: each row goes to a temporary file as it is written, so memory
stays flat however many customers there are.  The workbook is assembled (zipped) into
``out`` when the last row is in; a front door that streams it to a client writes it to
a temporary file first (``ui.export``, ``api.routes.transfer``).

Every cell is written with ``write_string``: a text cell is never run as a formula, so
values are written as they are stored (no leading apostrophe, unlike the CSV export, and
the workbook re-imports to exactly what was stored).  The header is bold and frozen,
the columns have widths fit for their content, and the sheet is named ``Customers``.

A sheet holds at most 1,048,576 rows: an export of more than 1,048,575 customers is
refused with one sentence (``ExportTooLarge``) before anything is written, or, when the
count was not known in advance (a search), as soon as the row past the limit arrives
(``out`` then holds nothing usable: the caller discards it).
"""

from __future__ import annotations

from typing import IO, Any

import xlsxwriter  # type: ignore[import-untyped]
from sqlalchemy.orm import Session

from data.csv_export import export_filename, timestamp_text
from data.customers.columns import C
from data.db import Database
from data.errors import DataError
from data.fields import EXPORT_HEADER, FIELD_NAMES
from data.identity import Identity, Permission

XLSX_MAX_ROWS = 1_048_575  # data rows: the sheet's 1,048,576 rows less the header
SHEET_NAME = "Customers"
COLUMN_WIDTHS = {
    "name": 30,
    "email": 34,
    "phone": 18,
    "address": 48,
    "created_at": 28,
    "updated_at": 28,
    "id": 38,
}
YIELD_PER = 2000
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class ExportTooLarge(DataError):
    """More customers than one sheet holds; nothing usable was written."""

    def __init__(self, count: str) -> None:
        super().__init__(
            f"{count} customers do not fit in one Excel sheet, which holds at most "
            f"{XLSX_MAX_ROWS:,} rows of data; export them as CSV, or narrow the export "
            "with a search."
        )


def _columns(dialect: str) -> list[Any]:
    return [
        C[name] if name in FIELD_NAMES or name == "id" else timestamp_text(C[name], dialect)
        for name in EXPORT_HEADER
    ]


def _rows(session: Session, query: Any) -> Any:
    return session.execute(query, execution_options={"yield_per": YIELD_PER})


def export_xlsx(
    database: Database,
    identity: Identity,
    out: IO[bytes],
    *,
    search: str | None = None,
    max_rows: int | None = None,
    tmpdir: str | None = None,
) -> int:
    """Write the workbook to ``out`` (a seekable binary file); returns the customers written.

    Reads in one scope of the identity's tenant, which checks the right to export.
    Raises ``ExportTooLarge`` past ``max_rows`` customers (default ``XLSX_MAX_ROWS``;
    see the module doc).
    """
    max_rows = XLSX_MAX_ROWS if max_rows is None else max_rows
    with database.scope(identity) as scope:
        scope.require(Permission.EXPORT)
        total = scope.customers.count(search)
        if total.exact and total.value > max_rows:
            raise ExportTooLarge(f"{total.value:,}")
        query = scope.customers.matching(search).with_only_columns(*_columns(scope.dialect))
        book = xlsxwriter.Workbook(
            out,
            {
                "constant_memory": True,
                "tmpdir": tmpdir,
                "strings_to_numbers": False,
                "strings_to_formulas": False,
                "strings_to_urls": False,
            },
        )
        sheet = book.add_worksheet(SHEET_NAME)
        bold = book.add_format({"bold": True})
        for index, name in enumerate(EXPORT_HEADER):
            sheet.set_column(index, index, COLUMN_WIDTHS.get(name, 20))
        sheet.freeze_panes(1, 0)
        for index, name in enumerate(EXPORT_HEADER):
            sheet.write_string(0, index, name, bold)
        written = 0
        for row in _rows(scope.session, query):
            written += 1
            if written > max_rows:
                raise ExportTooLarge(f"More than {max_rows:,}")
            for index, value in enumerate(row):
                if value is not None:
                    sheet.write_string(written, index, str(value))
        book.close()
    return written


def xlsx_filename(tenant_name: str, search: str | None = None) -> str:
    """``customers-acme-demo.xlsx``: the CSV export's name with the Excel extension."""
    return export_filename(tenant_name, search).removesuffix(".csv") + ".xlsx"
