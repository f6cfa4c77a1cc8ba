"""The Import page, step by step, as an editor walks it (Streamlit AppTest, real database).

The page is opened through the dashboard, signed in with a real session.  Uploads are
spooled to ``ui.uploads.UPLOADS`` (a temporary folder here) and dropped from Streamlit's
memory; the spool goes when the import ends or the user starts over.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any, ClassVar

import pytest
from streamlit.testing.v1 import AppTest

from tests.ui.conftest import alerts, texts

GOOD_AND_BAD = (
    "Customer Name;E-Mail;Telephone;Loyalty\n"
    "Ann Lee;ann@example.com;+1 555 0100;gold\n"
    "Bob;not-an-email;;\n"
    'Cid;cid@example.com;;"two\nlines"\n'
).encode("cp1252")


@pytest.fixture(autouse=True)
def spool_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Uploads of these tests are spooled into a folder of their own."""
    import ui.uploads

    folder = tmp_path / "uploads"
    monkeypatch.setattr(ui.uploads, "UPLOADS", folder)
    return folder


def spools(folder: Path, kind: str = "upload") -> list[Path]:
    return sorted(folder.glob(f"*.{kind}")) if folder.exists() else []


@pytest.fixture
def import_page(dashboard: Any) -> Any:
    def open_page(user: Any) -> AppTest:
        return dashboard(user, page="import_csv")

    return open_page


def click(app: AppTest, label: str) -> AppTest:
    matches = [b for b in app.button if b.label.startswith(label)]
    assert matches, [b.label for b in app.button]
    return matches[0].click().run()


def upload(app: AppTest, name: str, data: bytes) -> AppTest:
    app.file_uploader[0].set_value((name, data, "text/csv"))
    return app.run()


def mapping(app: AppTest) -> dict[str, str]:
    """The Columns table: each column of the file and the field it feeds."""
    frame = app.dataframe[0].value
    assert list(frame.columns) == ["Column", "First row", "Field"]
    return dict(zip(frame["Column"], frame["Field"], strict=True))


def remap(app: AppTest, changes: dict[int, str]) -> AppTest:
    """Choose fields in the Columns table, as the browser reports the edits."""
    key = app.dataframe[0].key
    assert key
    app.session_state[key] = {
        "edited_rows": {row: {"Field": field} for row, field in changes.items()},
        "added_rows": [],
        "deleted_rows": [],
    }
    return app.run()


def stored_emails(customers_of: Any, tenant: Any) -> set[str]:
    with customers_of(tenant) as repository:
        return {c.email for c in repository.iter_all()}


def test_a_viewer_is_turned_away_and_sees_no_uploader(import_page: Any, tenant: Any) -> None:
    app = import_page(tenant.viewer)
    assert alerts(app, "error") == ["This page needs the editor role; you are signed in as viewer."]
    assert len(app.file_uploader) == 0


def test_page_says_the_upload_limit_and_points_to_the_cli(import_page: Any, tenant: Any) -> None:
    app = import_page(tenant.editor)
    assert not app.exception
    assert [t.value for t in app.title] == ["Import customers"]
    text = texts(app)
    assert "CSV files up to 200 MB can be uploaded here" in text  # .streamlit/config.toml
    assert "manage.py import-csv" in text
    assert len(app.file_uploader) == 1


def test_upload_shows_format_mapping_and_first_rows(
    import_page: Any, tenant: Any, spool_folder: Path
) -> None:
    app = upload(import_page(tenant.editor), "shop.csv", GOOD_AND_BAD)
    assert not app.exception
    shown = [t.value for t in app.text]
    assert f"File: shop.csv · {len(GOOD_AND_BAD)} bytes" in shown
    assert "UTF-8 · semicolon-separated · 4 columns" in shown  # plain ASCII reads as UTF-8
    assert mapping(app) == {
        "Customer Name": "Name",
        "E-Mail": "Email",
        "Telephone": "Phone",
        "Loyalty": "(ignore)",
    }
    assert list(app.dataframe[0].value["First row"]) == [
        "Ann Lee",
        "ann@example.com",
        "+1 555 0100",
        "gold",
    ]
    frame = app.dataframe[1].value
    assert list(frame["Line"]) == [2, 3, 4]
    assert list(frame["Email"]) == ["ann@example.com", "not-an-email", "cid@example.com"]
    assert len(app.file_uploader) == 0  # the file is chosen; "Choose another file" instead
    [spooled] = spools(spool_folder)
    assert spooled.read_bytes() == GOOD_AND_BAD


def test_check_counts_what_will_happen_and_shows_row_errors(
    import_page: Any, tenant: Any, customers_of: Any
) -> None:
    app = upload(import_page(tenant.editor), "shop.csv", GOOD_AND_BAD)
    app = click(app, "Check the file")
    assert not app.exception
    metrics = {m.label: m.value for m in app.metric}
    assert metrics == {"Create": "2", "Update": "0", "Unchanged": "0", "Skip": "0", "Invalid": "1"}
    frame = app.dataframe[1].value
    assert list(frame["Action"]) == ["create", "invalid", "create"]
    assert "not a valid address" in frame["Problem"][1]
    assert any("1 of 3 rows are invalid" in w for w in alerts(app, "warning"))
    assert next(b for b in app.button if b.label.startswith("Import")).disabled
    assert stored_emails(customers_of, tenant) == set()  # a check writes nothing


def test_partial_import_writes_valid_rows_offers_the_report_and_deletes_the_upload(
    import_page: Any, tenant: Any, customers_of: Any, spool_folder: Path
) -> None:
    app = upload(import_page(tenant.editor), "shop.csv", GOOD_AND_BAD)
    assert len(spools(spool_folder)) == 1
    app.toggle(key="import_partial").set_value(True)
    app = click(app.run(), "Import")
    assert not app.exception
    assert alerts(app, "success") == [
        "Imported shop.csv: 2 created, 0 updated, 0 unchanged, 0 skipped, 1 invalid."
    ]
    assert stored_emails(customers_of, tenant) == {"ann@example.com", "cid@example.com"}
    downloads = app.get("download_button")
    assert len(downloads) == 1
    assert downloads[0].proto.label == "Download the error report"
    assert spools(spool_folder) == []  # the upload is read: gone
    [report] = spools(spool_folder, "report")  # kept for the download button
    assert b"not-an-email" in report.read_bytes()
    click(app, "Import another file")
    assert spools(spool_folder, "report") == []
    assert len(app.file_uploader) == 1


def test_all_or_nothing_import_of_a_file_with_an_invalid_row_writes_nothing(
    import_page: Any, tenant: Any, customers_of: Any, spool_folder: Path
) -> None:
    app = click(upload(import_page(tenant.editor), "shop.csv", GOOD_AND_BAD), "Import")
    [refused] = alerts(app, "error")
    assert refused.startswith("Nothing was imported from shop.csv: 1 of 3 rows are invalid.")
    assert stored_emails(customers_of, tenant) == set()
    assert spools(spool_folder) == []


def test_choosing_another_file_deletes_the_spool_of_the_first(
    import_page: Any, tenant: Any, spool_folder: Path
) -> None:
    app = upload(import_page(tenant.editor), "shop.csv", GOOD_AND_BAD)
    assert len(spools(spool_folder)) == 1
    app = click(app, "Choose another file")
    assert spools(spool_folder) == []
    app = upload(app, "other.csv", b"name,email\nAnn,ann@example.com\n")
    [spooled] = spools(spool_folder)
    assert spooled.read_bytes() == b"name,email\nAnn,ann@example.com\n"


def test_a_column_can_be_remapped_by_hand(import_page: Any, tenant: Any, customers_of: Any) -> None:
    data = b"Kontakt,Adresse E\nAnn,ann@example.com\n"
    app = upload(import_page(tenant.editor), "crm.csv", data)
    assert mapping(app) == {"Kontakt": "(ignore)", "Adresse E": "(ignore)"}
    app = remap(app, {0: "Name", 1: "Email"})
    app = click(app, "Import")
    assert alerts(app, "success") == [
        "Imported crm.csv: 1 created, 0 updated, 0 unchanged, 0 skipped, 0 invalid."
    ]
    assert stored_emails(customers_of, tenant) == {"ann@example.com"}


@pytest.mark.parametrize(
    ("data", "words"),
    [(b"", "is empty"), (b"\x00\x01\x02\x03PK" * 40, "binary data")],
    ids=["empty", "binary"],
)
def test_unreadable_upload_gets_one_sentence(
    import_page: Any, tenant: Any, data: bytes, words: str
) -> None:
    app = upload(import_page(tenant.editor), "bad.csv", data)
    assert not app.exception
    [message] = alerts(app, "error")
    assert words in message


def test_an_editor_demoted_before_clicking_import_writes_nothing(
    import_page: Any, tenant: Any, customers_of: Any, owner_sql: Any
) -> None:
    from sqlalchemy import text

    app = upload(import_page(tenant.editor), "crm.csv", b"name,email\nAnn,ann@example.com\n")
    # Demoted behind the application's back: no session is ended, only the role changes.
    with owner_sql(tenant.id) as conn:
        conn.execute(
            text("UPDATE users SET role = 'viewer' WHERE id = :id"), {"id": tenant.editor.id}
        )
    app = click(app, "Import")
    assert not app.exception
    assert alerts(app, "error") == ["This page needs the editor role; you are signed in as viewer."]
    assert not app.button or [b.label for b in app.button] == ["Sign out"]
    assert stored_emails(customers_of, tenant) == set()


# -- workbooks and contact exports -----------------------------------------------------

WORKBOOK_SHEETS = {
    "Cover": [["Customers of the north shop"]],
    "Kunden": [
        ["Stand: Januar 2026"],
        [],
        ["Name", "E-Mail", "Telefon", "Handy"],
        ["Ann Lee", "ann@example.com", None, 4917155550100],
        ["Bob", "not-an-email", "030 1234", None],
    ],
    "Archiv": [["name", "email"], ["Old Customer", "old@example.com"]],
}


def test_a_workbook_offers_its_sheets_finds_the_header_and_imports(
    import_page: Any, tenant: Any, customers_of: Any
) -> None:
    from tests.data.spreadsheets import xlsx

    app = upload(import_page(tenant.editor), "kunden.xlsx", xlsx(WORKBOOK_SHEETS))
    assert not app.exception
    [sheet] = app.selectbox
    assert (sheet.label, sheet.options, sheet.value) == (
        "Sheet",
        ["Cover", "Kunden", "Archiv"],
        "Kunden",
    )
    shown = [t.value for t in app.text]
    assert "Excel workbook · sheet 'Kunden' · header on row 3 · 4 columns" in shown
    assert "Phone: each row takes the first non-empty one of 'Telefon', then 'Handy'." in shown
    frame = app.dataframe[1].value
    assert list(frame["Line"]) == [4, 5]  # the sheet's rows, as the error report names them
    assert list(frame["Phone"]) == ["4917155550100", "030 1234"]  # Handy when Telefon is empty
    app = click(app, "Check the file")
    assert {m.label: m.value for m in app.metric}["Invalid"] == "1"
    assert list(app.dataframe[1].value["Action"]) == ["create", "invalid"]
    app.toggle(key="import_partial").set_value(True)
    app = click(app.run(), "Import")
    assert alerts(app, "success") == [
        "Imported kunden.xlsx: 1 created, 0 updated, 0 unchanged, 0 skipped, 1 invalid."
    ]
    assert stored_emails(customers_of, tenant) == {"ann@example.com"}


def test_another_sheet_can_be_chosen(import_page: Any, tenant: Any, customers_of: Any) -> None:
    from tests.data.spreadsheets import ods

    app = upload(import_page(tenant.editor), "kunden.ods", ods(WORKBOOK_SHEETS))
    app = app.selectbox[0].select("Archiv").run()
    assert not app.exception
    assert "OpenDocument spreadsheet · sheet 'Archiv' · header on row 1 · 2 columns" in [
        t.value for t in app.text
    ]
    assert list(app.dataframe[1].value["Email"]) == ["old@example.com"]
    app = click(app, "Import")
    assert stored_emails(customers_of, tenant) == {"old@example.com"}


def test_a_contact_export_shows_the_name_made_from_its_parts(import_page: Any, tenant: Any) -> None:
    sample = Path(__file__).parents[1] / "data" / "samples" / "hubspot-contacts.csv"
    app = upload(import_page(tenant.editor), "hubspot.csv", sample.read_bytes())
    assert not app.exception
    frame = app.dataframe[1].value
    assert list(frame["Name"]) == [
        "Priya Raman (Raman Textiles)",
        "Marcus Webb",
        "Blue Peak Outfitters",
    ]
    assert list(frame["Phone"]) == ["+91 80 5555 0101", "+44 7700 900102", "+1 303 555 0103"]
    assert any(t.value.startswith("The name is 'First Name' + 'Last Name'") for t in app.text)


# -- the upload's lifecycle (ui.uploads) ------------------------------------------------


def _spool_and_look() -> None:
    """A script that spools its upload, then asks Streamlit's upload manager for it."""
    from pathlib import Path

    import streamlit as st
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    from ui import uploads

    uploaded = st.file_uploader("File")
    if uploaded is not None:
        kept = uploads.spool(uploaded)
        ctx = get_script_run_ctx()
        assert ctx is not None
        left = ctx.uploaded_file_mgr.get_files(ctx.session_id, [uploaded.file_id])
        st.text(f"in memory: {len(left)}")
        st.text(f"spooled: {Path(kept.path).read_bytes().decode()}")
        st.text(f"where: {Path(kept.path).parent}")


def test_a_spooled_upload_is_on_disk_and_no_longer_in_streamlits_memory(
    spool_folder: Path,
) -> None:
    app = AppTest.from_function(_spool_and_look, default_timeout=30).run()
    app.file_uploader[0].set_value(("a.csv", b"name,email", "text/csv"))
    app.run()
    assert not app.exception
    assert [t.value for t in app.text] == [
        "in memory: 0",
        "spooled: name,email",
        f"where: {spool_folder}",
    ]
    [spooled] = spools(spool_folder)
    assert oct(spooled.stat().st_mode & 0o777) == "0o600"
    assert oct(spool_folder.stat().st_mode & 0o777) == "0o700"


def _dead_pid() -> int:
    """The id of a process that has ended."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


class _FakeRuntime:
    """Just enough of Streamlit's Runtime for ``sweep``: which sessions are connected."""

    active: ClassVar[set[str]] = set()

    @classmethod
    def exists(cls) -> bool:
        return True

    @classmethod
    def instance(cls) -> _FakeRuntime:
        return cls()

    def is_active_session(self, session_id: str) -> bool:
        return session_id in self.active


def test_sweep_deletes_spools_of_dead_processes_and_ended_sessions(
    spool_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ui.uploads

    live, ended = str(uuid.uuid4()), str(uuid.uuid4())
    monkeypatch.setattr(ui.uploads, "Runtime", _FakeRuntime)
    monkeypatch.setattr(_FakeRuntime, "active", {live})
    me, parent, dead = os.getpid(), os.getppid(), _dead_pid()
    spool_folder.mkdir(mode=0o700)
    names = {
        f"{me}-{live}-a1.upload": True,  # this process, a connected session: kept
        f"{me}-{live}-a2.report": True,
        f"{me}-{ended}-b1.upload": False,  # this process, the session ended
        f"{me}-{ended}-b2.report": False,
        f"{parent}-{ended}-c1.upload": True,  # another process that runs: its own business
        f"{dead}-{live}-d1.upload": False,  # a process that no longer runs
        f"{dead}-none-d2.report": False,
        "notes.txt": True,  # not a spool
        f"{dead}-{live}-e1.csv": True,
    }
    for name in names:
        (spool_folder / name).write_bytes(b"x")
    removed = ui.uploads.sweep()
    assert sorted(p.name for p in spool_folder.iterdir()) == sorted(
        name for name, kept in names.items() if kept
    )
    # (The process's own janitor thread may have swept a moment before: never more.)
    assert 0 < removed <= sum(not kept for kept in names.values())
