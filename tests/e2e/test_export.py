"""Export CSV from the Customers page, compared field by field with the database."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from data.sample import customers
from tests.e2e.conftest import Server, Shots, click, main, settle, sign_in

HEADER = ["name", "email", "phone", "address", "created_at", "updated_at", "id"]
TRICKY: list[dict[str, str | None]] = [
    {
        "name": '=HYPERLINK("http://evil.example")',
        "email": "formula@example.com",
        "phone": "+1 555 0100",
    },
    {
        "name": "@SUM(A1:A9)",
        "email": "at@example.com",
        "phone": "-12",
        "address": 'Line 1\nLine 2, "quoted"',
    },
    {"name": "Nadia Kowalczyk", "email": "nadia@kowalczyk.example", "address": "Piękna 1, Kraków"},
]


@pytest.fixture(scope="module")
def tenant(server: Server) -> str:
    tenant = server.tenant("export")
    server.add_customers(tenant, TRICKY + list(customers(60, seed=41)))
    other = server.tenant("export-other", roles=("viewer",))
    server.add_customers(other, list(customers(5, seed=42, start=900)))
    return tenant


def spreadsheet_safe(value: str | None) -> str:
    """SPEC §4: a cell a spreadsheet would run as a formula gets a leading apostrophe."""
    text = value or ""
    return "'" + text if text.lstrip("'")[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def download(page: Page, shot: Shots, *, excel: bool = False) -> tuple[str, bytes]:
    click(page, main(page).get_by_role("button", name="Export CSV"))
    popover = page.get_by_test_id("stPopoverBody")
    expect(popover.get_by_role("button", name="Download CSV")).to_be_visible()
    if excel:
        click(page, popover.get_by_text("For Excel (UTF-8 with a byte order mark)"))
    shot(page, "export-popover")
    with page.expect_download(timeout=10_000) as started:
        popover.get_by_role("button", name="Download CSV").click()
    done = started.value
    assert done.failure() is None
    return done.suggested_filename, Path(done.path()).read_bytes()


def test_export_downloads_every_customer_of_the_tenant_exactly_as_stored(
    page: Page, server: Server, tenant: str, shot: Shots
) -> None:
    sign_in(page, server, "export-viewer")  # viewers may export
    name, body = download(page, shot)
    assert name == "customers-export.csv"
    assert not body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8"), newline="")))
    assert rows[0] == HEADER
    exported = {row[6]: dict(zip(HEADER, row, strict=True)) for row in rows[1:]}
    assert len(exported) == len(rows) - 1

    stored = {c.id: c for c in server.all_customers(tenant)}
    assert set(exported) == set(stored)  # no customer of the other tenant, none missing
    for customer_id, customer in stored.items():
        row = exported[customer_id]
        for field in ("name", "email", "phone", "address"):
            assert row[field] == spreadsheet_safe(getattr(customer, field)), (field, row)
        assert datetime.fromisoformat(row["created_at"]) == as_utc(customer.created_at)
        assert datetime.fromisoformat(row["updated_at"]) == as_utc(customer.updated_at)
    formula = next(r for r in exported.values() if r["email"] == "formula@example.com")
    assert formula["name"] == '\'=HYPERLINK("http://evil.example")'
    assert formula["phone"] == "'+1 555 0100"


def test_export_of_a_search_holds_only_its_matches_and_can_carry_a_bom(
    page: Page, server: Server, tenant: str, shot: Shots
) -> None:
    sign_in(page, server, "export-editor")
    box = main(page).get_by_placeholder("Search name, email or phone")
    box.fill("kowalczyk")
    box.press("Enter")
    settle(page)
    expect(main(page).get_by_text("Showing 1–1 of 1 customers")).to_be_visible()

    name, body = download(page, shot, excel=True)
    assert name == "customers-export-search.csv"
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))
    assert rows[0] == HEADER
    assert [row[:4] for row in rows[1:]] == [
        ["Nadia Kowalczyk", "nadia@kowalczyk.example", "", "Piękna 1, Kraków"]
    ]


def test_export_as_excel_downloads_a_workbook_that_reads_back_as_stored(
    page: Page, server: Server, tenant: str, shot: Shots
) -> None:
    from python_calamine import CalamineWorkbook

    sign_in(page, server, "export-viewer")
    click(page, main(page).get_by_role("button", name="Export CSV"))
    popover = page.get_by_test_id("stPopoverBody")
    expect(popover.get_by_role("button", name="Download Excel")).to_be_visible()
    shot(page, "export-popover-excel")
    with page.expect_download(timeout=20_000) as started:
        popover.get_by_role("button", name="Download Excel").click()
    done = started.value
    assert done.failure() is None
    assert done.suggested_filename == "customers-export.xlsx"
    book = CalamineWorkbook.from_path(done.path())
    assert book.sheet_names == ["Customers"]
    rows = book.get_sheet_by_name("Customers").to_python()
    assert rows[0] == HEADER
    exported = {row[6]: dict(zip(HEADER, row, strict=True)) for row in rows[1:]}
    stored = {c.id: c for c in server.all_customers(tenant)}
    assert set(exported) == set(stored)
    for customer_id, customer in stored.items():
        for field in ("name", "email", "phone", "address"):
            # A workbook's cells are text: stored values as they are, no apostrophe.
            assert exported[customer_id][field] == (getattr(customer, field) or ""), field
    formula = next(r for r in exported.values() if r["email"] == "formula@example.com")
    assert formula["name"] == '=HYPERLINK("http://evil.example")'
