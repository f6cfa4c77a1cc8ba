"""CSV import: what a user sees when importing files of every kind, on both databases."""

from __future__ import annotations

import io
from typing import Any

import pytest
from sqlalchemy import select, text

from data.errors import Conflict, Forbidden, ImportFailed, NotFound
from data.fields import FIELD_NAMES, FIELDS, Field
from data.importing import ImportMode, ImportSummary, import_file, preview, undo_import
from data.importing.columns import TARGETS, guess_field
from data.keys import DERIVED_KEYS, derived_keys
from data.models import ImportChange
from data.schemas import validate_customer
from tests.data.csv_corpus import READABLE, UNREADABLE, Case, big_csv, csv_text


@pytest.fixture
def run(database: Any, identity_of: Any) -> Any:
    """``run(tenant, data, **options)``: import ``data`` as the tenant's editor (or ``user``)."""

    def import_(tenant: Any, data: bytes | str, **options: Any) -> ImportSummary:
        raw = data.encode() if isinstance(data, str) else data
        user = options.pop("user", tenant.editor)
        return import_file(
            database,
            identity_of(user),
            io.BytesIO(raw),
            filename=options.pop("filename", "customers.csv"),
            **options,
        )

    return import_


@pytest.fixture
def undo(scope_of: Any) -> Any:
    """``undo(tenant, import_id)``: undo an import as the tenant's editor."""

    def undo_(tenant: Any, import_id: str | None) -> Any:
        assert import_id is not None
        with scope_of(tenant, write=True) as scope:
            return undo_import(scope, import_id)

    return undo_


def stored(customers_of: Any, tenant: Any) -> list[dict[str, Any]]:
    with customers_of(tenant) as repository:
        return [c.fields() | {"id": c.id, "version": c.version} for c in repository.iter_all()]


def customers_of_all(customers_of: Any, tenant: Any) -> list[Any]:
    with customers_of(tenant) as repository:
        return list(repository.iter_all())


def fields(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    keys = ("name", "email", "phone", "address")
    return sorted(({k: r[k] for k in keys} for r in records), key=lambda r: r["email"])


# -- reading every kind of file ---------------------------------------------------------


@pytest.mark.parametrize("case", READABLE, ids=lambda c: c.id)
def test_file_of_every_common_kind_imports_its_customers(
    run: Any, tenant: Any, customers_of: Any, case: Case
) -> None:
    summary = run(tenant, case.data)
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
    run: Any, tenant: Any, customers_of: Any, data: bytes, words: list[str]
) -> None:
    with pytest.raises(ImportFailed) as failure:
        run(tenant, data, filename="upload.csv", partial=True)
    message = str(failure.value)
    for word in words:
        assert word in message
    assert "\n" not in message
    assert "Traceback" not in message
    assert stored(customers_of, tenant) == []


def test_file_that_is_not_utf8_is_read_as_windows_1252_and_says_so(
    run: Any, tenant: Any, customers_of: Any
) -> None:
    data = "name,email\nRenée Crème,renee@example.fr\n".encode("cp1252")
    summary = run(tenant, data)
    assert summary.encoding == "Windows-1252"
    assert stored(customers_of, tenant)[0]["name"] == "Renée Crème"


def test_row_errors_carry_the_physical_line_after_multiline_fields(run: Any, tenant: Any) -> None:
    data = (
        "name,email,address\n"  # line 1
        'Ann,ann@example.com,"one\ntwo\nthree"\n'  # lines 2-4
        "Bob,not-an-email,\n"  # line 5
        'Cid,cid@example.com,"a\r\nb"\n'  # lines 6-7
        ",dan@example.com,\n"  # line 8
    )
    summary = run(tenant, data)
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
    run: Any, tenant: Any, line: str, field: str | None, words: list[str]
) -> None:
    summary = run(tenant, f"name,email\nOk,ok@example.com\n{line}\n")
    assert summary.invalid == 1
    error = summary.errors[0]
    assert (error.line, error.field) == (3, field)
    for word in words:
        assert word in error.message
    assert not summary.written


def test_huge_field_is_a_row_error_not_a_crash(run: Any, tenant: Any) -> None:
    data = "name,email,address\nAnn,ann@example.com," + "x" * 1_000_000 + "\nBo,bo@example.com,\n"
    summary = run(tenant, data, partial=True)
    assert [(e.line, e.field) for e in summary.errors] == [(2, "address")]
    assert "at most 500" in summary.errors[0].message
    assert summary.created == 1


def test_duplicate_emails_inside_the_file_name_both_lines(run: Any, tenant: Any) -> None:
    data = "name,email\nAnn,ann@example.com\nBob,bob@example.com\nAnn again,ANN@Example.com\n"
    summary = run(tenant, data)
    assert summary.invalid == 1
    error = summary.errors[0]
    assert error.line == 4
    assert "line 2" in error.message
    assert "ANN@Example.com" in error.message
    assert not summary.written


# -- columns --------------------------------------------------------------------------


def test_columns_are_matched_by_synonyms_and_unknown_ones_listed(run: Any, tenant: Any) -> None:
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
    summary = run(tenant, data)
    assert summary.unknown_columns == ["Loyalty Tier"]


@pytest.mark.parametrize("field", FIELDS, ids=lambda f: f.name)
def test_every_field_is_a_target_matched_by_its_label_and_synonyms(field: Field) -> None:
    headers = [f" {field.label.upper()} ", *field.synonyms]
    assert all(guess_field(header) == field.name for header in headers)
    assert field.name in TARGETS


def test_first_and_last_name_make_the_name_when_there_is_no_name_column(
    run: Any, tenant: Any, customers_of: Any
) -> None:
    run(tenant, "Last Name,First Name,Email\nTanaka,Hiro,hiro@example.jp\n")
    assert stored(customers_of, tenant)[0]["name"] == "Hiro Tanaka"


def test_a_chosen_mapping_overrides_the_automatic_one(
    run: Any, tenant: Any, customers_of: Any
) -> None:
    data = "Kontakt,Adresse E,Notiz\nAnn,ann@example.com,hello\n"
    summary = run(
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
    run: Any,
    tenant: Any,
    customers_of: Any,
    mode: ImportMode,
    partial: bool,
    expected: dict[str, int],
    written: bool,
) -> None:
    run(tenant, EXISTING)
    before = {c["email"]: c for c in stored(customers_of, tenant)}
    summary = run(tenant, AGAIN, mode=mode, partial=partial)
    would = {
        "created": summary.would.create,
        "updated": summary.would.update,
        "unchanged": summary.would.unchanged,
        "skipped": summary.would.skip,
        "invalid": summary.invalid,
    }
    assert would == expected
    done = {k: getattr(summary, k) for k in expected}
    assert done == (expected if written else dict.fromkeys(expected, 0) | {"invalid": 2})
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
    run: Any, tenant: Any, customers_of: Any
) -> None:
    run(tenant, EXISTING)
    before = stored(customers_of, tenant)
    summary = run(tenant, EXISTING, mode="upsert")
    assert (summary.unchanged, summary.updated, summary.created) == (2, 0, 0)
    assert stored(customers_of, tenant) == before


SEARCHED_WRITES = (
    "CREATE TRIGGER test_searched_writes AFTER UPDATE OF name, email, phone ON customers "
    "BEGIN INSERT INTO test_searched_writes VALUES (new.id); END"
)


def test_an_upsert_leaves_alone_what_its_rows_do_not_change(
    database: Any, run: Any, tenant: Any, customers_of: Any, owner_sql: Any
) -> None:
    """Each customer ends as its row says when the rows of one batch change different
    fields; and on SQLite an upsert that changes no searched field does not rewrite the
    search index (SQLite rewrites what an UPDATE assigns, changed or not: an upsert of
    changed phones took twice as long).  The test's trigger fires when the search
    index's does."""
    header = "name,email,phone,address\n"
    run(tenant, header + "Ann,ann@example.com,1,Elm 1\nBob,bob@example.com,2,Oak 2\n")
    sqlite = database.dialect == "sqlite"
    if sqlite:
        with owner_sql() as conn:
            conn.execute(text("CREATE TABLE test_searched_writes (id TEXT)"))
            conn.execute(text(SEARCHED_WRITES))
    try:
        moved = run(
            tenant,
            header + "Ann,ann@example.com,1,Elm 9\nBob,bob@example.com,2,Oak 9\n",
            mode="upsert",
        )
        assert moved.updated == 2
        if sqlite:
            with owner_sql() as conn:
                writes = conn.execute(text("SELECT count(*) FROM test_searched_writes")).scalar()
            assert writes == 0
        mixed = run(
            tenant,
            header + "Ann,ann@example.com,1,Elm 10\nBob,bob@example.com,22,Oak 9\n",
            mode="upsert",
        )
        assert (mixed.updated, mixed.unchanged) == (2, 0)
    finally:
        if sqlite:
            with owner_sql() as conn:
                conn.execute(text("DROP TRIGGER test_searched_writes"))
                conn.execute(text("DROP TABLE test_searched_writes"))
    after = {c["email"]: (c["phone"], c["address"]) for c in stored(customers_of, tenant)}
    assert after == {"ann@example.com": ("1", "Elm 10"), "bob@example.com": ("22", "Oak 9")}


def test_all_or_nothing_writes_nothing_when_one_row_is_invalid(
    run: Any, tenant: Any, customers_of: Any
) -> None:
    rows = [["name", "email"]] + [[f"P{i}", f"p{i}@example.com"] for i in range(30)]
    rows.append(["Bad", "bad"])
    summary = run(tenant, csv_text(rows))
    assert not summary.written
    assert summary.import_id is None
    assert summary.created == 0  # what was written
    assert summary.would.create == 30  # what the valid rows would have done
    assert summary.invalid == 1
    assert summary.line() == "created=0 updated=0 skipped=0 invalid=1 refused=1"
    assert stored(customers_of, tenant) == []


def test_partial_writes_the_valid_rows(run: Any, tenant: Any, customers_of: Any) -> None:
    summary = run(tenant, "name,email\nBad,bad\nOk,ok@example.com\n", partial=True)
    assert summary.written
    assert summary.line() == "created=1 updated=0 skipped=0 invalid=1"
    assert [c["email"] for c in stored(customers_of, tenant)] == ["ok@example.com"]


def test_dry_run_counts_and_writes_nothing(run: Any, tenant: Any, customers_of: Any) -> None:
    run(tenant, EXISTING)
    before = stored(customers_of, tenant)
    summary = run(tenant, AGAIN, mode="upsert", dry_run=True, sample_rows=5)
    assert summary.dry_run
    assert not summary.written
    assert (summary.created, summary.updated) == (0, 0)
    assert (summary.would.create, summary.would.update) == (1, 2)
    assert summary.line() == "would_create=1 would_update=2 would_skip=0 invalid=0"
    assert summary.actions == {2: "update", 3: "update", 4: "create"}
    assert stored(customers_of, tenant) == before


def test_unknown_mode_is_refused_with_a_sentence(run: Any, tenant: Any) -> None:
    with pytest.raises(ImportFailed, match="Unknown import mode 'merge'"):
        run(tenant, EXISTING, mode="merge")


# -- error report --------------------------------------------------------------------


def test_error_report_holds_the_original_columns_and_reimports_after_fixing(
    run: Any, tenant: Any, customers_of: Any
) -> None:
    data = (
        "Name;E-Mail;Notes\r\n"
        "Ann;ann@example.com;keep\r\n"
        'Bob;bob(at)example.com;"two\r\nlines"\r\n'
        ";cid@example.com;x\r\n"
    ).encode("cp1252")
    report = io.BytesIO()
    summary = run(tenant, data, partial=True, errors_out=report)
    assert summary.invalid == 2
    text_ = report.getvalue().decode("utf-8-sig")
    lines = text_.splitlines()
    assert lines[0] == "line;Name;E-Mail;Notes;error"
    assert lines[1].startswith("3;Bob;bob(at)example.com;")  # the line where the row starts
    assert lines[3].startswith("5;;cid@example.com;x;Name is required")
    assert "not a valid address" in text_
    fixed = text_.replace("bob(at)example.com", "bob@example.com").replace(";;cid@", ";Cid;cid@")
    again = run(tenant, fixed.encode("utf-8-sig"))
    assert again.line() == "created=2 updated=0 skipped=0 invalid=0"
    assert again.unknown_columns == ["line", "Notes", "error"]
    # A report of a report: its line and error columns are replaced, not repeated.
    bad_again = fixed.replace("Cid;cid@", ";dan@")
    report = io.BytesIO()
    run(tenant, bad_again.encode("utf-8-sig"), errors_out=report)
    assert report.getvalue().decode("utf-8-sig").splitlines()[0] == "line;Name;E-Mail;Notes;error"
    assert len(stored(customers_of, tenant)) == 3


# -- permissions, tenants, audit, undo -------------------------------------------------


def test_viewer_cannot_import(run: Any, tenant: Any, customers_of: Any) -> None:
    with pytest.raises(Forbidden, match="viewer"):
        run(tenant, EXISTING, user=tenant.viewer)
    assert stored(customers_of, tenant) == []


def test_an_editor_demoted_after_signing_in_cannot_import_or_undo(
    database: Any,
    identity_of: Any,
    scope_of: Any,
    owner_sql: Any,
    run: Any,
    tenant: Any,
    customers_of: Any,
) -> None:
    """The right to import is read in the import's own transaction, not at sign-in."""
    summary = run(tenant, EXISTING)
    editor = identity_of(tenant.editor)
    before = stored(customers_of, tenant)
    with owner_sql(tenant.id) as conn:
        conn.execute(
            text("UPDATE users SET role = 'viewer' WHERE tenant_id = :t AND id = :id"),
            {"t": tenant.id, "id": tenant.editor.id},
        )
    with pytest.raises(Forbidden, match="viewer"):
        import_file(database, editor, io.BytesIO(AGAIN.encode()), filename="c.csv", mode="upsert")
    with pytest.raises(Forbidden, match="viewer"), scope_of(tenant, editor, write=True) as scope:
        undo_import(scope, str(summary.import_id))
    assert stored(customers_of, tenant) == before


def test_an_update_keeps_every_stored_column_as_it_was_for_the_undo(
    database: Any, run: Any, tenant: Any, customers_of: Any
) -> None:
    run(tenant, EXISTING)
    was = {c.email: c for c in customers_of_all(customers_of, tenant)}
    summary = run(tenant, AGAIN, mode="upsert")
    with database.transaction(tenant.id) as session:
        changes = session.execute(
            select(
                ImportChange.customer_id, ImportChange.before, ImportChange.before_version
            ).where(
                ImportChange.tenant_id == tenant.id,
                ImportChange.import_id == summary.import_id,
                ImportChange.kind == "updated",
            )
        ).all()
    assert len(changes) == 2
    for customer_id, before, before_version in changes:
        old = next(c for c in was.values() if c.id == customer_id)
        assert before == {**old.fields(), **derived_keys(old.fields())}
        assert set(before) == {*FIELD_NAMES, *DERIVED_KEYS}
        assert before_version == old.version


def test_upsert_by_an_email_of_another_tenant_creates_here_and_touches_nothing_there(
    run: Any, tenant: Any, other_tenant: Any, customers_of: Any
) -> None:
    run(other_tenant, EXISTING)
    theirs = stored(customers_of, other_tenant)
    summary = run(tenant, AGAIN, mode="upsert")
    assert (summary.created, summary.updated) == (3, 0)
    assert stored(customers_of, other_tenant) == theirs
    assert len(stored(customers_of, tenant)) == 3


def test_an_import_is_one_audit_event_with_its_counts(database: Any, run: Any, tenant: Any) -> None:
    from data.audit import AuditLog

    summary = run(tenant, EXISTING, filename="march.csv")
    with database.transaction(tenant.id) as session:
        events = AuditLog(session, tenant.id).events(action="import")
    assert [e.id for e in events] == [summary.import_id]
    assert events[0].actor == tenant.editor.username
    assert events[0].after is not None
    assert events[0].after["file"] == "march.csv"
    assert events[0].after["created"] == 2


def test_undo_removes_what_the_import_created_and_restores_what_it_changed(
    run: Any, undo: Any, tenant: Any, customers_of: Any
) -> None:
    run(tenant, EXISTING)
    before = stored(customers_of, tenant)
    summary = run(tenant, AGAIN, mode="upsert")
    undone = undo(tenant, summary.import_id)
    assert (undone.removed, undone.restored, undone.refused) == (1, 2, [])
    assert fields(stored(customers_of, tenant)) == fields(before)
    with pytest.raises(Conflict):
        undo(tenant, summary.import_id)


def test_undo_leaves_customers_edited_since_and_reports_them(
    run: Any, undo: Any, tenant: Any, customers_of: Any
) -> None:
    summary = run(tenant, EXISTING)
    with customers_of(tenant, write=True) as repository:
        ann = repository.find_by_email("ann@example.com")
        assert ann is not None
        repository.update(ann.id, {"name": "Ann Edited", "email": ann.email})
    undone = undo(tenant, summary.import_id)
    assert undone.removed == 1
    assert undone.refused == [ann.id]
    assert [c["name"] for c in stored(customers_of, tenant)] == ["Ann Edited"]


def test_undo_of_another_tenants_import_is_not_found(
    run: Any, undo: Any, tenant: Any, other_tenant: Any, customers_of: Any
) -> None:
    summary = run(other_tenant, EXISTING)
    with pytest.raises(NotFound):
        undo(tenant, summary.import_id)
    assert len(stored(customers_of, other_tenant)) == 2


def test_a_failed_import_leaves_no_staging_tables_behind(
    database: Any, run: Any, tenant: Any
) -> None:
    run(tenant, "name,email\nBad,bad\n")
    run(tenant, EXISTING)  # the same pooled connection can stage again
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
    run: Any, tenant: Any, customers_of: Any
) -> None:
    data = big_csv(3000) + b"Broken,broken-email,,\n"
    seen: list[tuple[int, int]] = []
    summary = run(
        tenant,
        data,
        partial=True,
        progress=lambda d, t: seen.append((d, t)),
        parallel_min_bytes=0,
        batch_rows=700,
    )
    assert summary.created == 3000
    assert summary.invalid == 1
    assert summary.errors[0].line > 3000
    assert seen[-1][0] == seen[-1][1]
    with customers_of(tenant) as repository:
        assert repository.count().value == 3000


def numbered(count: int, phone: str = "1") -> str:
    rows = [["name", "email", "phone"]]
    rows += [[f"P{i}", f"p{i}@example.com", f"{phone}-{i}"] for i in range(count)]
    return csv_text(rows)


def test_an_import_of_many_batches_writes_every_batch(
    run: Any, tenant: Any, customers_of: Any
) -> None:
    """All-or-nothing, batch after batch: into an empty tenant (PostgreSQL's path that
    lets the unique key find duplicates), then an upsert changing every row."""
    created = run(tenant, numbered(25), batch_rows=10)
    assert created.line() == "created=25 updated=0 skipped=0 invalid=0"
    assert created.written
    assert len(stored(customers_of, tenant)) == 25
    updated = run(tenant, numbered(25, phone="2"), mode="upsert", batch_rows=10)
    assert updated.line() == "created=0 updated=25 skipped=0 invalid=0"
    after = stored(customers_of, tenant)
    assert sorted(c["phone"] for c in after) == sorted(f"2-{i}" for i in range(25))
    assert {c["version"] for c in after} == {2}


@pytest.mark.parametrize("existing", [False, True], ids=["empty-tenant", "tenant-with-customers"])
def test_a_duplicate_email_in_a_later_batch_refuses_the_whole_file(
    run: Any, tenant: Any, customers_of: Any, existing: bool
) -> None:
    if existing:
        run(tenant, "name,email\nOld,old@example.com\n")
    before = stored(customers_of, tenant)
    data = numbered(25) + "Again,P3@Example.com,x\n"  # line 27 repeats line 5
    summary = run(tenant, data, batch_rows=10)
    assert [(e.line, e.field) for e in summary.errors] == [(27, "email")]
    assert "line 5" in summary.errors[0].message
    assert (summary.created, summary.invalid, summary.written) == (0, 1, False)
    assert summary.would.create == 25
    assert stored(customers_of, tenant) == before
    partial = run(tenant, data, batch_rows=10, partial=True)
    assert (partial.created, partial.invalid, partial.written) == (25, 1, True)
    assert len(stored(customers_of, tenant)) == len(before) + 25


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
    database: Any, identity_of: Any, tenant: Any, customers_of: Any
) -> None:
    source = io.BufferedReader(_Pipe(("name,email\n" + "Ann,ann@example.com\n").encode()))
    assert not source.seekable()
    summary = import_file(
        database,
        identity_of(tenant.editor),
        source,
        filename="pipe.csv",
        errors_out=io.BytesIO(),
    )
    assert summary.created == 1
    assert [c["email"] for c in stored(customers_of, tenant)] == ["ann@example.com"]


def test_undo_puts_back_the_email_as_it_was_written(
    run: Any, undo: Any, tenant: Any, customers_of: Any
) -> None:
    run(tenant, "name,email\nAnn,Ann.Lee@Example.com\n")
    summary = run(tenant, "name,email\nAnn Lee,ann.lee@example.com\n", mode="upsert")
    assert summary.updated == 1
    undone = undo(tenant, summary.import_id)
    assert str(undone) == "Undid the import: 0 removed, 1 restored."
    assert fields(stored(customers_of, tenant)) == [
        {"name": "Ann", "email": "Ann.Lee@Example.com", "phone": None, "address": None}
    ]


@pytest.mark.parametrize("workers", [False, True], ids=["in-process", "workers"])
def test_text_the_staging_format_escapes_is_stored_exactly_as_the_form_stores_it(
    run: Any, tenant: Any, customers_of: Any, workers: bool
) -> None:
    """Backslashes, a literal ``\\N``, tabs, carriage returns and line breaks inside
    fields, empty optional fields and other scripts: PostgreSQL stages rows in COPY's
    text format, where each of these means something; what is stored must be what the
    form would store."""
    records = [
        {
            "name": "Back\\slash \\N O'Neil",
            "email": "bs@example.com",
            "phone": "\\N",
            "address": "C:\\temp\\new\tfolder",
        },
        {
            "name": "Line\tTab",
            "email": "tab@example.com",
            "phone": "",
            "address": "First line\r\nSecond line\nThird \\n not a break",
        },
        {
            "name": "Ünïcødé 山田 太郎",
            "email": "u@example.com",
            "phone": "+49 151 1234567",
            "address": "",
        },
    ]
    rows = [["name", "email", "phone", "address"]]
    rows += [[r["name"], r["email"], r["phone"], r["address"]] for r in records]
    summary = run(tenant, csv_text(rows), parallel_min_bytes=0 if workers else 1 << 40)
    assert summary.line() == "created=3 updated=0 skipped=0 invalid=0"
    expected = sorted(
        (validate_customer(record).fields() for record in records), key=lambda r: r["email"]
    )
    assert fields(stored(customers_of, tenant)) == expected
    with customers_of(tenant) as repository:
        keys = {c.email: c for c in repository.iter_all()}
    assert keys["bs@example.com"].values["phone"] == "\\N"
    assert keys["tab@example.com"].values["phone"] is None
