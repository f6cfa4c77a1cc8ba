"""Excel export: the CSV export's rows and columns in one sheet, every cell text."""

from __future__ import annotations

import csv
import io
import zipfile
from typing import Any

import pytest
from python_calamine import CalamineWorkbook

from data.cells import unneutralise
from data.csv_export import export_csv
from data.errors import Unauthenticated
from data.fields import EXPORT_HEADER
from data.importing import import_file
from data.xlsx_export import SHEET_NAME, ExportTooLarge, export_xlsx, xlsx_filename

HOSTILE = [
    {"name": '=HYPERLINK("http://evil.example","x")', "email": "f@example.com", "phone": "+1 5"},
    {"name": "@SUM(A1:A9)", "email": "at@example.com", "phone": "-12", "address": 'a\nb, "c"'},
    {"name": "Tab\tcell", "email": "tab@example.com", "phone": "0049 30 1"},
    {"name": "_x0041_ literal", "email": "x@example.com", "address": "Piękna 1, Kraków"},
]


@pytest.fixture
def workbook(database: Any, identity_of: Any) -> Any:
    def export(tenant: Any, user: Any = None, **options: Any) -> tuple[int, bytes]:
        out = io.BytesIO()
        count = export_xlsx(database, identity_of(user or tenant.viewer), out, **options)
        return count, out.getvalue()

    return export


def rows_of(data: bytes) -> list[list[str]]:
    sheet = CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_name(SHEET_NAME)
    return [[str(cell) for cell in row] for row in sheet.to_python()]


def csv_rows(database: Any, identity: Any) -> list[list[str]]:
    out = io.BytesIO()
    export_csv(database, identity, out)
    reader = csv.reader(io.StringIO(out.getvalue().decode(), newline=""))
    return [[unneutralise(value) for value in row] for row in reader]


def test_the_workbook_holds_the_csv_exports_rows_as_stored(
    database: Any, identity_of: Any, tenant: Any, seed_customers: Any, workbook: Any
) -> None:
    seed_customers(tenant.id, HOSTILE)
    count, data = workbook(tenant)
    assert count == len(HOSTILE)
    rows = rows_of(data)
    assert rows[0] == list(EXPORT_HEADER)
    # Values as stored (no apostrophe: a text cell never runs as a formula).
    assert rows == csv_rows(database, identity_of(tenant.viewer))
    names = {row[0] for row in rows[1:]}
    assert '=HYPERLINK("http://evil.example","x")' in names
    assert "_x0041_ literal" in names


def test_every_cell_is_text_the_header_frozen_and_columns_sized(
    tenant: Any, seed_customers: Any, workbook: Any
) -> None:
    seed_customers(tenant.id, HOSTILE)
    _, data = workbook(tenant)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        sheet = archive.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet  # no formula anywhere
    cells = sheet.count("<c ")
    filled = sum(1 for c in HOSTILE for value in c.values() if value) + 4 * 3  # + times, id
    assert cells == sheet.count('t="inlineStr"') == len(EXPORT_HEADER) + filled
    assert '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>' in sheet
    assert '<col min="4" max="4" width="48.7109375" customWidth="1"/>' in sheet  # address


def test_only_the_tenants_customers_or_the_searchs_are_exported(
    tenant: Any, other_tenant: Any, seed_customers: Any, workbook: Any
) -> None:
    seed_customers(tenant.id, HOSTILE)
    seed_customers(other_tenant.id, [{"name": "Theirs", "email": "t@example.com"}])
    _, data = workbook(tenant, search="LITERAL")
    assert [row[1] for row in rows_of(data)[1:]] == ["x@example.com"]
    _, theirs = workbook(other_tenant)
    assert [row[1] for row in rows_of(theirs)[1:]] == ["t@example.com"]


def test_more_rows_than_a_sheet_holds_is_refused_with_one_sentence(
    tenant: Any, seed_customers: Any, workbook: Any
) -> None:
    seed_customers(tenant.id, HOSTILE)
    with pytest.raises(ExportTooLarge) as counted:
        workbook(tenant, max_rows=3)
    assert str(counted.value) == (
        "4 customers do not fit in one Excel sheet, which holds at most 1,048,575 rows of "
        "data; export them as CSV, or narrow the export with a search."
    )
    with pytest.raises(ExportTooLarge, match=r"^4 customers do not fit"):
        workbook(tenant, max_rows=2, search="example.com")


def test_the_workbook_reimports_with_no_changes(
    database: Any, identity_of: Any, tenant: Any, seed_customers: Any, workbook: Any
) -> None:
    seed_customers(tenant.id, HOSTILE)
    _, data = workbook(tenant)
    summary = import_file(
        database,
        identity_of(tenant.editor),
        io.BytesIO(data),
        filename="customers.xlsx",
        mode="upsert",
    )
    assert (summary.invalid, summary.would.unchanged, summary.updated) == (0, len(HOSTILE), 0)
    assert summary.ignored_columns == ["created_at", "updated_at", "id"]


def test_a_user_removed_after_signing_in_exports_nothing(
    database: Any, identity_of: Any, tenant: Any, seed_customers: Any, owner_sql: Any
) -> None:
    from sqlalchemy import text

    seed_customers(tenant.id, HOSTILE)
    signed_in = identity_of(tenant.viewer)
    with owner_sql(tenant.id) as conn:
        conn.execute(text("DELETE FROM users WHERE id = :id"), {"id": tenant.viewer.id})
    out = io.BytesIO()
    with pytest.raises(Unauthenticated):
        export_xlsx(database, signed_in, out)
    assert out.getvalue() == b""


def test_the_download_name_has_the_excel_extension() -> None:
    assert xlsx_filename("Acme Demo") == "customers-acme-demo.xlsx"
    assert xlsx_filename("Acme Demo", "x") == "customers-acme-demo-search.xlsx"
