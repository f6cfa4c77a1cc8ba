"""CSV import: what a user sees when importing files of every kind, on both databases."""

from __future__ import annotations

import io
from typing import Any

import pytest
from sqlalchemy import text

from data import csv_import
from data.csv_import import ImportMode, import_csv, preview, undo_import
from data.errors import Conflict, Forbidden, ImportFailed, NotFound
from tests.data.csv_corpus import READABLE, UNREADABLE, Case, big_csv, csv_text


def run(database: Any, tenant: Any, data: bytes | str, **options: Any) -> csv_import.ImportSummary:
    raw = data.encode() if isinstance(data, str) else data
    user = options.pop("user", tenant.editor)
    return import_csv(
        database,
        tenant.id,
        user.actor,
        io.BytesIO(raw),
        filename=options.pop("filename", "customers.csv"),
        **options,
    )


def stored(customers_of: Any, tenant: Any) -> list[dict[str, Any]]:
    with customers_of(tenant) as repository:
        return [c.fields() | {"id": c.id, "version": c.version} for c in repository.iter_all()]


def fields(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    keys = ("name", "email", "phone", "address")
    return sorted(({k: r[k] for k in keys} for r in records), key=lambda r: r["email"])


# -- reading every kind of file ---------------------------------------------------------


@pytest.mark.parametrize("case", READABLE, ids=lambda c: c.id)
def test_file_of_every_common_kind_imports_its_customers(
    database: Any, tenant: Any, customers_of: Any, case: Case
) -> None:
    summary = run(database, tenant, case.data)
    assert summary.written
    assert summary.invalid == 0, summary.errors
    assert summary.created == len(case.customers)
    assert summary.encoding == case.encoding
    assert summary.delimiter == case.delimiter
    assert fields(stored(customers_of, tenant)) == fields(case.customers)


@pytest.mark.parametrize(
    ("data", "words"), [(d, w) for _, d, w in UNREADABLE], ids=[i for i, _, _ in UNREADABLE]
)
def test_unreadable_file_fails_with_one_sentence_and_writes_nothing(
    database: Any, tenant: Any, customers_of: Any, data: bytes, words: list[str]
) -> None:
    with pytest.raises(ImportFailed) as failure:
        run(database, tenant, data, filename="upload.csv", partial=True)
    message = str(failure.value)
    for word in words:
        assert word in message
    assert "\n" not in message
    assert "Traceback" not in message
    assert stored(customers_of, tenant) == []


def test_file_that_is_not_utf8_is_read_as_windows_1252_and_says_so(
    database: Any, tenant: Any, customers_of: Any
) -> None:
    data = "name,email\nRenée Crème,renee@example.fr\n".encode("cp1252")
    summary = run(database, tenant, data)
    assert summary.encoding == "Windows-1252"
    assert stored(customers_of, tenant)[0]["name"] == "Renée Crème"


def test_row_errors_carry_the_physical_line_after_multiline_fields(
    database: Any, tenant: Any
) -> None:
    data = (
        "name,email,address\n"  # line 1
        'Ann,ann@example.com,"one\ntwo\nthree"\n'  # lines 2-4
        "Bob,not-an-email,\n"  # line 5
        'Cid,cid@example.com,"a\r\nb"\n'  # lines 6-7
        ",dan@example.com,\n"  # line 8
    )
    summary = run(database, tenant, data)
    assert [(e.line, e.field) for e in summary.errors] == [(5, "email"), (8, "name")]
    assert summary.errors[0].message.startswith("Email is not a valid address")
    assert summary.rows == 4


@pytest.mark.parametrize(
    ("line", "field", "words"),
    [
        ("Ann,ann@example.com,extra", None, ["3 fields", "header has 2"]),
        ("Ann", None, ["1 fields", "header has 2"]),
        ("A" * 201 + ",long@example.com", "name", ["at most 200", "201"]),
        ("Ann," + "a" * 250 + "@example.com", "email", ["Email"]),
        (",nobody@example.com", "name", ["Name is required"]),
        ("Ann,", "email", ["Email is required"]),
        ("Ann,ann@@example.com", "email", ["not a valid address"]),
    ],
    ids=[
        "too-many-fields",
        "too-few-fields",
        "name-too-long",
        "email-too-long",
        "name-missing",
        "email-missing",
        "email-invalid",
    ],
)
def test_bad_row_is_reported_with_line_field_and_sentence(
    database: Any, tenant: Any, line: str, field: str | None, words: list[str]
) -> None:
    summary = run(database, tenant, f"name,email\nOk,ok@example.com\n{line}\n")
    assert summary.invalid == 1
    error = summary.errors[0]
    assert (error.line, error.field) == (3, field)
    for word in words:
        assert word in error.message
    assert not summary.written


def test_huge_field_is_a_row_error_not_a_crash(database: Any, tenant: Any) -> None:
    data = "name,email,address\nAnn,ann@example.com," + "x" * 1_000_000 + "\nBo,bo@example.com,\n"
    summary = run(database, tenant, data, partial=True)
    assert [(e.line, e.field) for e in summary.errors] == [(2, "address")]
    assert "at most 500" in summary.errors[0].message
    assert summary.created == 1


def test_duplicate_emails_inside_the_file_name_both_lines(database: Any, tenant: Any) -> None:
    data = "name,email\nAnn,ann@example.com\nBob,bob@example.com\nAnn again,ANN@Example.com\n"
    summary = run(database, tenant, data)
    assert summary.invalid == 1
    error = summary.errors[0]
    assert error.line == 4
    assert "line 2" in error.message
    assert "ANN@Example.com" in error.message
    assert not summary.written


# -- columns --------------------------------------------------------------------------


def test_columns_are_matched_by_synonyms_and_unknown_ones_listed(
    database: Any, tenant: Any
) -> None:
    data = (
        "Customer Name; E-Mail ;Telephone;Street Address;Loyalty Tier\nAnn;a@example.com;1;X;gold\n"
    )
    info = preview(io.BytesIO(data.encode()))
    assert info.mapping == {
        "Customer Name": "name",
        "E-Mail": "email",
        "Telephone": "phone",
        "Street Address": "address",
        "Loyalty Tier": "",
    }
    assert info.delimiter == "semicolon"
    assert [r.line for r in info.rows] == [2]
    summary = run(database, tenant, data)
    assert summary.unknown_columns == ["Loyalty Tier"]


def test_first_and_last_name_make_the_name_when_there_is_no_name_column(
    database: Any, tenant: Any, customers_of: Any
) -> None:
    run(database, tenant, "Last Name,First Name,Email\nTanaka,Hiro,hiro@example.jp\n")
    assert stored(customers_of, tenant)[0]["name"] == "Hiro Tanaka"


def test_a_chosen_mapping_overrides_the_automatic_one(
    database: Any, tenant: Any, customers_of: Any
) -> None:
    data = "Kontakt,Adresse E,Notiz\nAnn,ann@example.com,hello\n"
    summary = run(
        database,
        tenant,
        data,
        mapping={"Kontakt": "name", "Adresse E": "email", "Notiz": "address"},
    )
    assert summary.created == 1
    assert fields(stored(customers_of, tenant)) == [
        {"name": "Ann", "email": "ann@example.com", "phone": None, "address": "hello"}
    ]


# -- modes, all-or-nothing, dry run ---------------------------------------------------

EXISTING = "name,email,phone\nAnn,ann@example.com,1\nBob,bob@example.com,2\n"
AGAIN = "name,email,phone\nAnn,ANN@example.com,1\nBob,bob@example.com,22\nCid,cid@example.com,3\n"


@pytest.mark.parametrize(
    ("mode", "partial", "expected", "written"),
    [
        (
            ImportMode.CREATE,
            False,
            {"created": 1, "updated": 0, "unchanged": 0, "skipped": 0, "invalid": 2},
            False,
        ),
        (
            ImportMode.CREATE,
            True,
            {"created": 1, "updated": 0, "unchanged": 0, "skipped": 0, "invalid": 2},
            True,
        ),
        (
            ImportMode.UPSERT,
            False,
            {"created": 1, "updated": 2, "unchanged": 0, "skipped": 0, "invalid": 0},
            True,
        ),
        (
            ImportMode.SKIP,
            False,
            {"created": 1, "updated": 0, "unchanged": 0, "skipped": 2, "invalid": 0},
            True,
        ),
    ],
    ids=["create-all-or-nothing", "create-partial", "upsert", "skip"],
)
def test_each_mode_plans_existing_emails_its_own_way(
    database: Any,
    tenant: Any,
    customers_of: Any,
    mode: ImportMode,
    partial: bool,
    expected: dict[str, int],
    written: bool,
) -> None:
    run(database, tenant, EXISTING)
    before = {c["email"]: c for c in stored(customers_of, tenant)}
    summary = run(database, tenant, AGAIN, mode=mode, partial=partial)
    counts = {k: getattr(summary, k) for k in expected}
    assert counts == expected
    assert summary.written is written
    after = {c["email"].lower(): c for c in stored(customers_of, tenant)}
    assert ("cid@example.com" in after) is written
    if mode is ImportMode.UPSERT:
        assert after["bob@example.com"]["phone"] == "22"
        assert after["ann@example.com"]["email"] == "ANN@example.com"
        assert after["bob@example.com"]["version"] == before["bob@example.com"]["version"] + 1
    else:
        assert after["bob@example.com"]["phone"] == "2"
    if mode is ImportMode.CREATE:
        assert {e.line for e in summary.errors} == {2, 3}
        assert all("already exists" in e.message for e in summary.errors)


def test_upsert_of_identical_rows_counts_them_unchanged(
    database: Any, tenant: Any, customers_of: Any
) -> None:
    run(database, tenant, EXISTING)
    before = stored(customers_of, tenant)
    summary = run(database, tenant, EXISTING, mode="upsert")
    assert (summary.unchanged, summary.updated, summary.created) == (2, 0, 0)
    assert stored(customers_of, tenant) == before


def test_all_or_nothing_writes_nothing_when_one_row_is_invalid(
    database: Any, tenant: Any, customers_of: Any
) -> None:
    rows = [["name", "email"]] + [[f"P{i}", f"p{i}@example.com"] for i in range(30)]
    rows.append(["Bad", "bad"])
    summary = run(database, tenant, csv_text(rows))
    assert not summary.written
    assert summary.import_id is None
    assert summary.created == 30
    assert summary.invalid == 1
    assert stored(customers_of, tenant) == []


def test_partial_writes_the_valid_rows(database: Any, tenant: Any, customers_of: Any) -> None:
    summary = run(database, tenant, "name,email\nBad,bad\nOk,ok@example.com\n", partial=True)
    assert summary.written
    assert summary.line() == "created=1 updated=0 skipped=0 invalid=1"
    assert [c["email"] for c in stored(customers_of, tenant)] == ["ok@example.com"]


def test_dry_run_counts_and_writes_nothing(database: Any, tenant: Any, customers_of: Any) -> None:
    run(database, tenant, EXISTING)
    before = stored(customers_of, tenant)
    summary = run(database, tenant, AGAIN, mode="upsert", dry_run=True, sample_rows=5)
    assert summary.dry_run
    assert not summary.written
    assert (summary.created, summary.updated) == (1, 2)
    assert summary.actions == {2: "update", 3: "update", 4: "create"}
    assert stored(customers_of, tenant) == before


def test_unknown_mode_is_refused_with_a_sentence(database: Any, tenant: Any) -> None:
    with pytest.raises(ImportFailed, match="Unknown import mode 'merge'"):
        run(database, tenant, EXISTING, mode="merge")


# -- error report --------------------------------------------------------------------


def test_error_report_holds_the_original_columns_and_reimports_after_fixing(
    database: Any, tenant: Any, customers_of: Any
) -> None:
    data = (
        "Name;E-Mail;Notes\r\n"
        "Ann;ann@example.com;keep\r\n"
        'Bob;bob(at)example.com;"two\r\nlines"\r\n'
        ";cid@example.com;x\r\n"
    ).encode("cp1252")
    report = io.BytesIO()
    summary = run(database, tenant, data, partial=True, errors_out=report)
    assert summary.invalid == 2
    text_ = report.getvalue().decode("utf-8-sig")
    lines = text_.splitlines()
    assert lines[0] == "Name;E-Mail;Notes;error"
    assert lines[1].startswith("Bob;bob(at)example.com;")
    assert "not a valid address" in text_
    assert "Name is required" in text_
    fixed = text_.replace("bob(at)example.com", "bob@example.com").replace(";cid@", "Cid;cid@")
    again = run(database, tenant, fixed.encode("utf-8-sig"))
    assert again.line() == "created=2 updated=0 skipped=0 invalid=0"
    assert again.unknown_columns == ["Notes", "error"]
    assert len(stored(customers_of, tenant)) == 3


# -- permissions, tenants, audit, undo -------------------------------------------------


def test_viewer_cannot_import(database: Any, tenant: Any, customers_of: Any) -> None:
    with pytest.raises(Forbidden, match="viewer"):
        run(database, tenant, EXISTING, user=tenant.viewer)
    assert stored(customers_of, tenant) == []


def test_upsert_by_an_email_of_another_tenant_creates_here_and_touches_nothing_there(
    database: Any, tenant: Any, other_tenant: Any, customers_of: Any
) -> None:
    run(database, other_tenant, EXISTING)
    theirs = stored(customers_of, other_tenant)
    summary = run(database, tenant, AGAIN, mode="upsert")
    assert (summary.created, summary.updated) == (3, 0)
    assert stored(customers_of, other_tenant) == theirs
    assert len(stored(customers_of, tenant)) == 3


def test_an_import_is_one_audit_event_with_its_counts(database: Any, tenant: Any) -> None:
    from data.audit import AuditLog

    summary = run(database, tenant, EXISTING, filename="march.csv")
    with database.transaction(tenant.id) as session:
        events = AuditLog(session, tenant.id).events(action="import")
    assert [e.id for e in events] == [summary.import_id]
    assert events[0].actor == tenant.editor.username
    assert events[0].after is not None
    assert events[0].after["file"] == "march.csv"
    assert events[0].after["created"] == 2


def test_undo_removes_what_the_import_created_and_restores_what_it_changed(
    database: Any, tenant: Any, customers_of: Any
) -> None:
    run(database, tenant, EXISTING)
    before = stored(customers_of, tenant)
    summary = run(database, tenant, AGAIN, mode="upsert")
    with database.transaction(tenant.id, write=True) as session:
        undone = undo_import(session, tenant.id, tenant.editor.actor, summary.import_id)
    assert (undone.removed, undone.restored, undone.refused) == (1, 2, [])
    assert fields(stored(customers_of, tenant)) == fields(before)
    with database.transaction(tenant.id, write=True) as session, pytest.raises(Conflict):
        undo_import(session, tenant.id, tenant.editor.actor, summary.import_id)


def test_undo_leaves_customers_edited_since_and_reports_them(
    database: Any, tenant: Any, customers_of: Any
) -> None:
    summary = run(database, tenant, EXISTING)
    with customers_of(tenant, write=True) as repository:
        ann = repository.find_by_email("ann@example.com")
        assert ann is not None
        repository.update(ann.id, {"name": "Ann Edited", "email": ann.email})
    with database.transaction(tenant.id, write=True) as session:
        undone = undo_import(session, tenant.id, tenant.editor.actor, summary.import_id)
    assert undone.removed == 1
    assert undone.refused == [ann.id]
    assert [c["name"] for c in stored(customers_of, tenant)] == ["Ann Edited"]


def test_undo_of_another_tenants_import_is_not_found(
    database: Any, tenant: Any, other_tenant: Any, customers_of: Any
) -> None:
    summary = run(database, other_tenant, EXISTING)
    with database.transaction(tenant.id, write=True) as session, pytest.raises(NotFound):
        undo_import(session, tenant.id, tenant.editor.actor, summary.import_id)
    assert len(stored(customers_of, other_tenant)) == 2


def test_a_failed_import_leaves_no_staging_tables_behind(database: Any, tenant: Any) -> None:
    run(database, tenant, "name,email\nBad,bad\n")
    run(database, tenant, EXISTING)  # the same pooled connection can stage again
    with database.transaction(tenant.id) as session:
        if database.dialect == "sqlite":
            left = session.execute(
                text("SELECT name FROM sqlite_temp_master WHERE name LIKE 'import_%'")
            ).all()
        else:
            left = session.execute(
                text(
                    "SELECT relname FROM pg_class WHERE relname LIKE 'import_rows%' "
                    "AND relpersistence = 't' AND pg_table_is_visible(oid)"
                )
            ).all()
    assert left == []


# -- the parallel path -----------------------------------------------------------------


def test_large_file_validated_in_worker_processes_gives_the_same_result(
    database: Any, tenant: Any, customers_of: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(csv_import, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(csv_import, "BATCH_ROWS", 700)
    data = big_csv(3000) + b"Broken,broken-email,,\n"
    seen: list[tuple[int, int]] = []
    summary = run(database, tenant, data, partial=True, progress=lambda d, t: seen.append((d, t)))
    assert summary.created == 3000
    assert summary.invalid == 1
    assert summary.errors[0].line > 3000
    assert seen[-1][0] == seen[-1][1]
    with customers_of(tenant) as repository:
        assert repository.count().value == 3000


class _Pipe(io.RawIOBase):
    """A stream that cannot seek, like a socket or a pipe."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        chunk = self._data.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def test_a_stream_that_cannot_seek_is_imported_too(
    database: Any, tenant: Any, customers_of: Any
) -> None:
    source = io.BufferedReader(_Pipe(("name,email\n" + "Ann,ann@example.com\n").encode()))
    assert not source.seekable()
    summary = import_csv(
        database,
        tenant.id,
        tenant.editor.actor,
        source,
        filename="pipe.csv",
        errors_out=io.BytesIO(),
    )
    assert summary.created == 1
    assert [c["email"] for c in stored(customers_of, tenant)] == ["ann@example.com"]


def test_undo_puts_back_the_email_as_it_was_written(
    database: Any, tenant: Any, customers_of: Any
) -> None:
    run(database, tenant, "name,email\nAnn,Ann.Lee@Example.com\n")
    summary = run(database, tenant, "name,email\nAnn Lee,ann.lee@example.com\n", mode="upsert")
    assert summary.updated == 1
    with database.transaction(tenant.id, write=True) as session:
        undone = undo_import(session, tenant.id, tenant.editor.actor, summary.import_id)
    assert str(undone) == "Undid the import: 0 removed, 1 restored."
    assert fields(stored(customers_of, tenant)) == [
        {"name": "Ann", "email": "Ann.Lee@Example.com", "phone": None, "address": None}
    ]
