"""Spreadsheet import (.xlsx, .ods, .xls): the same engine as CSV, on both databases."""

from __future__ import annotations

import datetime
import io
from pathlib import Path
from typing import Any

import pytest

from data.errors import ImportFailed
from data.importing import ImportSummary, Limits, import_file, preview
from data.importing.sheet_child import cell_text, column_letters
from tests.data.spreadsheets import ods, sparse_xlsx, xlsx

SAMPLES = Path(__file__).with_name("samples")
MAKERS = {"xlsx": xlsx, "ods": ods}

TITLED = {
    "Notes": [],  # an empty first sheet: not the default
    "Kunden": [
        ["Kundenliste 2026"],  # a title row,
        [],  # a blank row,
        ["Name", "E-Mail", "Handy", "Telefon", "Kunde seit", "Aktiv"],  # then the header
        ["Jürgen Weiß", "juergen@example.de", 4915112345678, None, None, True],
        ["Ana Lima", "ana@example.br", None, "0049 89 5555", datetime.date(2024, 2, 29), False],
        ["Bob", "not-an-email", None, None, None, None],
    ],
    "Other": [["name", "email"], ["Zed", "zed@example.com"]],
}


@pytest.fixture
def run(database: Any, identity_of: Any) -> Any:
    def import_(tenant: Any, data: bytes, **options: Any) -> ImportSummary:
        return import_file(
            database,
            identity_of(options.pop("user", tenant.editor)),
            io.BytesIO(data),
            filename=options.pop("filename", "customers.xlsx"),
            **options,
        )

    return import_


def stored(customers_of: Any, tenant: Any) -> dict[str, dict[str, Any]]:
    with customers_of(tenant) as repository:
        return {c.email: c.fields() for c in repository.iter_all()}


@pytest.mark.parametrize("kind", MAKERS)
def test_a_sheet_below_title_rows_imports_with_cells_as_the_user_sees_them(
    run: Any, tenant: Any, customers_of: Any, kind: str
) -> None:
    data = MAKERS[kind](TITLED)
    summary = run(tenant, data, filename=f"kunden.{kind}", partial=True)
    assert summary.written
    assert (summary.file_format, summary.sheet, summary.header_line) == (kind, "Kunden", 3)
    assert summary.source() == (
        f"{'Excel workbook' if kind == 'xlsx' else 'OpenDocument spreadsheet'}, "
        "sheet 'Kunden', header on row 3"
    )
    assert summary.created == 2
    assert [(e.line, e.field) for e in summary.errors] == [(6, "email")]  # the sheet's row
    customers = stored(customers_of, tenant)
    # A phone stored as a number keeps its digits (no ".0", no exponent), and a text phone
    # its leading "0"; Telefon is tried first, Handy when Telefon is empty.
    assert customers["juergen@example.de"]["phone"] == "4915112345678"
    assert customers["ana@example.br"]["phone"] == "0049 89 5555"
    assert customers["juergen@example.de"]["name"] == "Jürgen Weiß"
    assert summary.feeds["phone"] == ["Telefon", "Handy"]
    assert "'Telefon', then 'Handy'" in " ".join(summary.explained)


@pytest.mark.parametrize("kind", MAKERS)
def test_preview_lists_the_sheets_finds_the_header_and_shows_sheet_rows(kind: str) -> None:
    info = preview(io.BytesIO(MAKERS[kind](TITLED)), filename=f"kunden.{kind}")
    assert info.sheets == ["Notes", "Kunden", "Other"]
    assert (info.sheet, info.header_line) == ("Kunden", 3)
    assert info.header == ["Name", "E-Mail", "Handy", "Telefon", "Kunde seit", "Aktiv"]
    assert [r.line for r in info.rows] == [4, 5, 6]
    assert info.rows[0].values == [
        "Jürgen Weiß",
        "juergen@example.de",
        "4915112345678",
        "",
        "",
        "TRUE",
    ]
    assert info.rows[1].values[4] == "2024-02-29"  # a date is ISO text
    assert info.mapping["Handy"] == info.mapping["Telefon"] == "phone"
    other = preview(io.BytesIO(MAKERS[kind](TITLED)), filename=f"k.{kind}", sheet="Other")
    assert (other.sheet, other.header_line, [r.line for r in other.rows]) == ("Other", 1, [2])


@pytest.mark.parametrize("kind", MAKERS)
def test_the_chosen_sheet_is_imported_and_an_unknown_one_named(
    run: Any, tenant: Any, customers_of: Any, kind: str
) -> None:
    data = MAKERS[kind](TITLED)
    summary = run(tenant, data, sheet="Other", filename=f"k.{kind}")
    assert (summary.sheet, summary.created) == ("Other", 1)
    with pytest.raises(ImportFailed) as failure:
        run(tenant, data, sheet="Kundn", filename=f"k.{kind}")
    assert str(failure.value) == (
        f"k.{kind} has no sheet named 'Kundn'; its sheets are 'Notes', 'Kunden', 'Other'."
    )
    assert set(stored(customers_of, tenant)) == {"zed@example.com"}


def test_the_legacy_xls_sample_imports_below_its_title(
    run: Any, tenant: Any, customers_of: Any
) -> None:
    data = (SAMPLES / "legacy-excel-97.xls").read_bytes()
    report = io.BytesIO()
    summary = run(tenant, data, filename="kunden.xls", partial=True, errors_out=report)
    assert (summary.file_format, summary.header_line, summary.created) == ("xls", 3, 2)
    customers = stored(customers_of, tenant)
    assert customers["info@baeckerei-sommer.example.de"]["phone"] == "4940555010"
    assert customers["jana.novak@example.cz"]["address"] == "Vinohradská 10, Praha"
    lines = report.getvalue().decode("utf-8-sig").splitlines()
    assert lines[0] == "line,Kunde,E-Mail,Telefon,Anschrift,Kunde seit,error"
    assert lines[1].startswith("6,Kein Email,nicht-gueltig,,,,Email is not a valid address")


def test_the_error_report_of_a_workbook_is_csv_with_sheet_rows(run: Any, tenant: Any) -> None:
    report = io.BytesIO()
    summary = run(tenant, xlsx(TITLED), errors_out=report)
    assert summary.line() == "created=0 updated=0 skipped=0 invalid=1 refused=1"
    rows = report.getvalue().decode("utf-8-sig").splitlines()
    assert rows[0] == "line,Name,E-Mail,Handy,Telefon,Kunde seit,Aktiv,error"
    assert rows[1].startswith("6,Bob,not-an-email,,,,,Email is not a valid address")
    assert len(rows) == 2


def test_a_row_with_values_right_of_the_header_is_a_row_error(run: Any, tenant: Any) -> None:
    data = xlsx({"S": [["name", "email"], ["Ann", "ann@example.com", "stray"], ["Bo", "b@x.io"]]})
    summary = run(tenant, data, partial=True)
    assert summary.created == 1
    [error] = summary.errors
    assert (error.line, error.field) == (2, None)
    assert "right of the header's last column" in error.message


def test_a_row_shorter_than_the_header_is_padded_not_refused(run: Any, tenant: Any) -> None:
    data = xlsx({"S": [["name", "email", "phone", "address"], ["Ann", "ann@example.com"]]})
    assert run(tenant, data).created == 1


def test_the_format_is_read_from_the_content_not_the_name(run: Any, tenant: Any) -> None:
    as_csv = run(tenant, xlsx({"S": [["name", "email"], ["Ann", "a@x.io"]]}), filename="a.csv")
    assert (as_csv.file_format, as_csv.created) == ("xlsx", 1)
    named_xls = run(tenant, b"name,email\nBo,b@x.io\n", filename="export.xls")
    assert (named_xls.file_format, named_xls.created) == ("csv", 1)


@pytest.mark.parametrize(
    ("data", "options", "words"),
    [
        pytest.param(
            b"name,email\nAnn,a@x.io\n",
            {"sheet": "Sheet1", "filename": "a.csv"},
            ["a.csv is a CSV file, which has no sheets"],
            id="sheet-of-a-csv",
        ),
        pytest.param(
            b"PK\x03\x04" + b"\x00" * 60,
            {"filename": "a.xlsx"},
            ["a.xlsx is a ZIP archive but not a spreadsheet"],
            id="zip-not-a-workbook",
        ),
        pytest.param(
            xlsx({"Empty": [], "Also": [[None]]}),
            {"filename": "a.xlsx"},
            ["a.xlsx has no sheet with data"],
            id="no-sheet-with-data",
        ),
        pytest.param(
            xlsx({"S": [["name", "email"], ["x" * 2000, "a@x.io"]]}),
            {"filename": "a.xlsx", "limits": Limits(max_field_chars=1000)},
            ["Cell A2 of sheet 'S' in a.xlsx holds more than 1,000 characters"],
            id="cell-too-long",
        ),
        pytest.param(
            xlsx({"S": [[f"c{i}" for i in range(30)], ["Ann"]]}),
            {"filename": "a.xlsx", "limits": Limits(max_columns=20)},
            ["Row 1 of the sheet 'S' of a.xlsx has more than 20 columns"],
            id="header-too-wide",
        ),
        pytest.param(
            xlsx({"S": [["Kontakt", "Adresse"], ["Ann", "a@x.io"]]}),
            {"filename": "a.xlsx"},
            ["Row 1 of sheet 'S': no column holds the customer's name or email"],
            id="no-required-column",
        ),
        pytest.param(
            sparse_xlsx(),
            {"filename": "bomb.xlsx"},
            ["bomb.xlsx is too large to read as a spreadsheet here", "save it as CSV"],
            id="cells-far-apart",
        ),
    ],
)
def test_an_unreadable_workbook_is_refused_with_one_sentence_and_nothing_written(
    run: Any,
    tenant: Any,
    customers_of: Any,
    data: bytes,
    options: dict[str, Any],
    words: list[str],
) -> None:
    with pytest.raises(ImportFailed) as failure:
        run(tenant, data, **options)
    message = str(failure.value)
    for word in words:
        assert word in message
    assert "\n" not in message
    assert message.endswith(".")
    assert stored(customers_of, tenant) == {}


def test_unpacked_rows_are_removed_after_the_import(
    run: Any, tenant: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    run(tenant, xlsx(TITLED), partial=True)
    with pytest.raises(ImportFailed):
        run(tenant, sparse_xlsx())
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        ("0049 151", "0049 151"),
        ("+49 30", "+49 30"),
        (4915112345678.0, "4915112345678"),
        (42, "42"),
        (3.25, "3.25"),
        (0.1 + 0.2, "0.3"),
        (1e20, "1e+20"),
        (True, "TRUE"),
        (False, "FALSE"),
        (datetime.date(2026, 1, 5), "2026-01-05"),
        (datetime.datetime(2026, 1, 5, 14, 30), "2026-01-05T14:30:00"),
        (datetime.time(9, 15), "09:15:00"),
        (datetime.timedelta(hours=26, minutes=3), "26:03:00"),
    ],
)
def test_cell_text_is_what_the_user_sees(value: Any, text: str) -> None:
    assert cell_text(value) == text


def test_column_letters() -> None:
    assert [column_letters(i) for i in (0, 25, 26, 701, 702, 16383)] == [
        "A",
        "Z",
        "AA",
        "ZZ",
        "AAA",
        "XFD",
    ]
