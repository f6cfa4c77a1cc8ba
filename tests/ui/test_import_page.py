"""The Import page, step by step, as an editor walks it (Streamlit AppTest, real database)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "import_csv.py")
GOOD_AND_BAD = (
    "Customer Name;E-Mail;Telephone;Loyalty\n"
    "Ann Lee;ann@example.com;+1 555 0100;gold\n"
    "Bob;not-an-email;;\n"
    'Cid;cid@example.com;;"two\nlines"\n'
).encode("cp1252")


def open_page(user: Any) -> AppTest:
    app = AppTest.from_file(PAGE, default_timeout=60)
    app.session_state["_auth_user_this_run"] = user
    return app.run()


def said(app: AppTest) -> str:
    parts = []
    for kind in (
        "title",
        "subheader",
        "markdown",
        "caption",
        "info",
        "error",
        "warning",
        "success",
    ):
        parts += [str(element.value) for element in getattr(app, kind)]
    return "\n".join(parts)


def click(app: AppTest, label: str) -> AppTest:
    matches = [b for b in app.button if b.label.startswith(label)]
    assert matches, [b.label for b in app.button]
    return matches[0].click().run()


def upload(app: AppTest, name: str, data: bytes) -> AppTest:
    app.file_uploader[0].set_value((name, data, "text/csv"))
    return app.run()


def stored_emails(customers_of: Any, tenant: Any) -> set[str]:
    with customers_of(tenant) as repository:
        return {c.email for c in repository.iter_all()}


def test_viewer_is_turned_away_and_sees_no_uploader(database: Any, tenant: Any) -> None:
    app = open_page(tenant.viewer)
    assert "needs the editor role" in said(app)
    assert len(app.file_uploader) == 0


def test_page_says_the_upload_limit_and_points_to_the_cli(database: Any, tenant: Any) -> None:
    app = open_page(tenant.editor)
    assert not app.exception
    text = said(app)
    assert "1,024 MB" in text
    assert "manage.py import-csv" in text


def test_upload_shows_format_mapping_and_first_rows(database: Any, tenant: Any) -> None:
    app = upload(open_page(tenant.editor), "shop.csv", GOOD_AND_BAD)
    assert not app.exception
    text = said(app)
    assert "Windows-1252" in text or "UTF-8" in text
    assert "semicolon-separated" in text
    chosen = {box.label: box.value for box in app.selectbox}
    assert chosen == {
        "Customer Name": "name",
        "E-Mail": "email",
        "Telephone": "phone",
        "Loyalty": "",
    }
    frame = app.dataframe[0].value
    assert list(frame["Line"]) == [2, 3, 4]
    assert list(frame["Email"]) == ["ann@example.com", "not-an-email", "cid@example.com"]


def test_check_counts_what_will_happen_and_shows_row_errors(
    database: Any, tenant: Any, customers_of: Any
) -> None:
    app = upload(open_page(tenant.editor), "shop.csv", GOOD_AND_BAD)
    app = click(app, "Check the file")
    assert not app.exception
    metrics = {m.label: m.value for m in app.metric}
    assert metrics == {"Create": "2", "Update": "0", "Unchanged": "0", "Skip": "0", "Invalid": "1"}
    frame = app.dataframe[0].value
    assert list(frame["Action"]) == ["create", "invalid", "create"]
    assert "not a valid address" in frame["Problem"][1]
    assert "1 of 3 rows are invalid" in said(app)
    assert next(b for b in app.button if b.label.startswith("Import")).disabled
    assert stored_emails(customers_of, tenant) == set()  # a check writes nothing


def test_partial_import_writes_valid_rows_and_offers_the_error_report(
    database: Any, tenant: Any, customers_of: Any
) -> None:
    app = upload(open_page(tenant.editor), "shop.csv", GOOD_AND_BAD)
    app.toggle(key="import_partial").set_value(True)
    app = click(app.run(), "Import")
    assert not app.exception
    assert "Imported shop.csv: 2 created" in said(app)
    assert stored_emails(customers_of, tenant) == {"ann@example.com", "cid@example.com"}
    downloads = app.get("download_button")
    assert len(downloads) == 1
    assert downloads[0].proto.label == "Download the error report"


def test_all_or_nothing_import_of_a_file_with_an_invalid_row_writes_nothing(
    database: Any, tenant: Any, customers_of: Any
) -> None:
    app = click(upload(open_page(tenant.editor), "shop.csv", GOOD_AND_BAD), "Import")
    assert "Nothing was imported from shop.csv" in said(app)
    assert stored_emails(customers_of, tenant) == set()


def test_a_column_can_be_remapped_by_hand(database: Any, tenant: Any, customers_of: Any) -> None:
    data = b"Kontakt,Adresse E\nAnn,ann@example.com\n"
    app = upload(open_page(tenant.editor), "crm.csv", data)
    assert {box.label: box.value for box in app.selectbox} == {"Kontakt": "", "Adresse E": ""}
    for box in app.selectbox:
        box.set_value("name" if box.label == "Kontakt" else "email")
    app = click(app.run(), "Import")
    assert "1 created" in said(app)
    assert stored_emails(customers_of, tenant) == {"ann@example.com"}


@pytest.mark.parametrize(
    ("data", "words"),
    [(b"", "is empty"), (b"\x00\x01\x02\x03PK" * 40, "binary data")],
    ids=["empty", "binary"],
)
def test_unreadable_upload_gets_one_sentence(
    database: Any, tenant: Any, data: bytes, words: str
) -> None:
    app = upload(open_page(tenant.editor), "bad.csv", data)
    assert not app.exception
    assert [e.value for e in app.error]
    assert words in app.error[0].value
