"""Import CSV through the whole wizard: upload, columns, check, import, summary, report.

The upload is spooled to a private file under ``var/uploads`` (named after the server's
process) for as long as the wizard needs it, and deleted when the import ends.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from playwright.sync_api import Locator, Page, expect

from tests.conftest import PROJECT_DIR
from tests.e2e.conftest import Grid, Server, Shots, alert, click, go_to, main, settle, sign_in

UPLOADS = PROJECT_DIR / "var" / "uploads"

EXISTING = {"name": "Existing Person", "email": "existing@example.com", "phone": "+1 555 0000"}
# Semicolon-separated, UTF-8 with a BOM, a quoted address with a line break and quotes,
# column names a spreadsheet or CRM would use, and one column ("Rufnummer") that no rule
# knows: the user maps it to Phone by hand.
CONTACTS = (
    "\ufeffCustomer Name;E-mail;Street Address;Notes;Rufnummer\r\n"
    "Ana Lima;ana.lima@example.br;Rua Augusta 1, São Paulo;vip;+55 11 5555 0001\r\n"
    "Ben Okafor;ben.okafor@example.ng;Lagos;;+234 1 555 0002\r\n"
    "Chloé Martin;not-an-email;Paris;;+33 1 55 55 00 03\r\n"
    "Dmitri Ivanov;ANA.LIMA@example.br;Moscow;;\r\n"
    "Existing Again;existing@example.com;;;\r\n"
    'Eve Adams;eve@example.com;"1 Main St, ""Suite 2""\nBoston";;+1 617 555 0004\r\n'
).encode()
VALID = {
    "ana.lima@example.br": ("Ana Lima", "+55 11 5555 0001", "Rua Augusta 1, São Paulo"),
    "ben.okafor@example.ng": ("Ben Okafor", "+234 1 555 0002", "Lagos"),
    "eve@example.com": ("Eve Adams", "+1 617 555 0004", '1 Main St, "Suite 2"\nBoston'),
}
INVALID = {"not-an-email", "ANA.LIMA@example.br", "existing@example.com"}


def open_import_page(page: Page, server: Server, username: str) -> None:
    sign_in(page, server, username)
    go_to(page, "Import CSV", "Import customers")


def upload(page: Page, name: str, content: bytes) -> None:
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(
        files=[{"name": name, "mimeType": "text/csv", "buffer": content}]
    )
    settle(page)
    expect(main(page).get_by_text(name).first).to_be_visible()


def metric(page: Page, label: str) -> Locator:
    return (
        main(page).get_by_test_id("stMetric").filter(has_text=label).get_by_test_id("stMetricValue")
    )


def spools(server: Server) -> list[Path]:
    """The server's spooled uploads (its files are named after its process id)."""
    return sorted(UPLOADS.glob(f"{server.process.pid}-*.upload"))


def test_import_wizard_maps_checks_imports_the_valid_rows_and_reports_the_rest(
    page: Page, server: Server, shot: Shots, tmp_path: Path
) -> None:
    tenant = server.tenant("import-wizard")
    server.add_customers(tenant, [EXISTING])
    open_import_page(page, server, "import-wizard-editor")
    shot(page, "import-page")

    assert spools(server) == []
    upload(page, "contacts.csv", CONTACTS)
    expect(
        main(page).get_by_text("UTF-8 with BOM · semicolon-separated · 5 columns")
    ).to_be_visible()
    [spooled] = spools(server)  # on disk, readable by the server's user only
    assert spooled.read_bytes() == CONTACTS
    assert spooled.stat().st_mode & 0o777 == 0o600
    mapping = Grid(page, 0)
    mapping.expect_column(
        "Column", ["Customer Name", "E-mail", "Street Address", "Notes", "Rufnummer"]
    )
    mapping.expect_column("Field", ["Name", "Email", "Address", "(ignore)", "(ignore)"])
    mapping.pick(4, "Field", "Phone")
    mapping.expect_column("Field", ["Name", "Email", "Address", "(ignore)", "Phone"])
    shot(page, "columns-mapped", full_page=True)

    click(page, main(page).get_by_role("button", name="Check the file"))
    expect(metric(page, "Create")).to_have_text("3")
    expect(metric(page, "Invalid")).to_have_text("3")
    expect(main(page).get_by_text("3 of 6 rows are invalid")).to_be_visible()
    preview = Grid(page, 1)  # the file's rows, each with what will happen and why
    preview.expect_column("Action", ["create", "create", "invalid", "invalid", "invalid", "create"])
    preview.expect_column(
        "Phone",
        ["+55 11 5555 0001", "+234 1 555 0002", "+33 1 55 55 00 03", "", "", "+1 617 555 0004"],
    )
    problems = preview.cells("Problem")
    expect(problems.nth(2)).to_contain_text("Email is not a valid address")
    expect(problems.nth(3)).to_contain_text("also on line 2")
    expect(problems.nth(4)).to_contain_text("already exists")
    for row in (0, 1, 5):
        expect(problems.nth(row)).to_have_text("")
    run = main(page).get_by_role("button", name="Import 6 rows")
    expect(run).to_be_disabled()  # all or nothing by default
    expect(main(page).get_by_text("Nothing can be imported while rows are invalid")).to_be_visible()
    shot(page, "checked-with-errors", full_page=True)
    assert [c.email for c in server.all_customers(tenant)] == [EXISTING["email"]]

    click(page, main(page).get_by_text("Import the valid rows anyway"))
    expect(run).to_be_enabled()
    click(page, run)
    summary = alert(page, "Imported contacts.csv")
    expect(summary).to_have_text(
        "Imported contacts.csv: 3 created, 0 updated, 0 unchanged, 0 skipped, 3 invalid."
    )
    shot(page, "imported", full_page=True)
    assert spools(server) == []  # the upload is read: deleted

    stored = {c.email: c for c in server.all_customers(tenant)}
    assert set(stored) == {EXISTING["email"], *VALID}
    for email, (name, phone, address) in VALID.items():
        assert (stored[email].name, stored[email].phone, stored[email].address) == (
            name,
            phone,
            address,
        )
    assert stored[EXISTING["email"]].name == EXISTING["name"]  # create mode left it alone

    with page.expect_download(timeout=20_000) as started:
        main(page).get_by_role("button", name="Download the error report").click()
    report = started.value
    assert report.suggested_filename == "contacts-errors.csv"
    text = Path(report.path()).read_bytes().decode("utf-8-sig")
    dialect = csv.Sniffer().sniff(text.splitlines()[0], delimiters=",;\t")
    rows = list(csv.DictReader(io.StringIO(text, newline=""), dialect=dialect))
    assert {row["E-mail"] for row in rows} == INVALID
    assert all(row.get("error") for row in rows)
    problems = {row["E-mail"]: row["error"] for row in rows}
    assert "already exists" in problems["existing@example.com"]
    assert "also on line" in problems["ANA.LIMA@example.br"]


def test_import_with_invalid_rows_writes_nothing_by_default(
    page: Page, server: Server, shot: Shots
) -> None:
    tenant = server.tenant("import-strict")
    server.add_customers(tenant, [EXISTING])
    open_import_page(page, server, "import-strict-editor")
    upload(page, "contacts.csv", CONTACTS)

    assert len(spools(server)) == 1
    click(page, main(page).get_by_role("button", name="Import", exact=True))
    refused = alert(page, "Nothing was imported")
    expect(refused).to_contain_text("3 of 6 rows are invalid")
    shot(page, "refused")
    assert [c.email for c in server.all_customers(tenant)] == [EXISTING["email"]]
    expect(main(page).get_by_role("button", name="Download the error report")).to_be_visible()
    assert spools(server) == []  # refused or not, the import has ended: deleted

    reports = set(UPLOADS.glob(f"{server.process.pid}-*.report"))  # this one's, and others'
    click(page, main(page).get_by_role("button", name="Import another file"))
    expect(page.get_by_test_id("stFileUploaderDropzoneInput")).to_be_attached()
    left = set(UPLOADS.glob(f"{server.process.pid}-*.report"))
    assert left < reports
    assert len(reports - left) == 1  # the error report of this import: no longer needed


WORKBOOK = {
    "Cover": [["Customers of the north shop"]],
    "Kunden": [
        ["Stand: Januar 2026"],
        [],
        ["Name", "E-Mail", "Telefon", "Handy"],
        ["Jürgen Weiß", "juergen@example.de", None, 4917155550100],
        ["Ana Lima", "ana@example.br", "0049 89 5555", None],
    ],
}


def test_an_excel_workbook_imports_through_the_wizard(
    page: Page, server: Server, shot: Shots
) -> None:
    from tests.data.spreadsheets import xlsx

    tenant = server.tenant("import-xlsx")
    open_import_page(page, server, "import-xlsx-editor")
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(
        files=[
            {
                "name": "kunden.xlsx",
                "mimeType": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "buffer": xlsx(WORKBOOK),
            }
        ]
    )
    settle(page)
    expect(
        main(page).get_by_text("Excel workbook · sheet 'Kunden' · header on row 3 · 4 columns")
    ).to_be_visible()
    expect(
        main(page).get_by_text(
            "Phone: each row takes the first non-empty one of 'Telefon', then 'Handy'."
        )
    ).to_be_visible()
    preview = Grid(page, 1)
    preview.expect_column("Line", ["4", "5"])  # the sheet's row numbers
    preview.expect_column("Phone", ["4917155550100", "0049 89 5555"])
    shot(page, "workbook-preview", full_page=True)
    click(page, main(page).get_by_role("button", name="Import", exact=True))
    expect(alert(page, "Imported kunden.xlsx")).to_have_text(
        "Imported kunden.xlsx: 2 created, 0 updated, 0 unchanged, 0 skipped, 0 invalid."
    )
    stored = {c.email: (c.name, c.phone) for c in server.all_customers(tenant)}
    assert stored == {
        "juergen@example.de": ("Jürgen Weiß", "4917155550100"),
        "ana@example.br": ("Ana Lima", "0049 89 5555"),
    }
    assert spools(server) == []
