"""CSV export: the header, spreadsheet safety, search, tenants, and export → import."""

from __future__ import annotations

import csv
import io
import string
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from data.cells import neutralise_cell, unneutralise
from data.csv_export import EXPORT_HEADER, export_csv, iter_export
from data.errors import Invalid, Unauthenticated
from data.importing import import_file
from data.schemas import validate_customer
from tests.kit.servers import PROJECT_DIR


@pytest.fixture
def exported(database: Any, identity_of: Any) -> Any:
    """``exported(tenant, **options)``: (count, text) of an export by the tenant's viewer."""

    def export(tenant: Any, **options: Any) -> tuple[int, str]:
        out = io.BytesIO()
        user = options.pop("user", tenant.viewer)
        count = export_csv(database, identity_of(user), out, **options)
        return count, out.getvalue().decode("utf-8")

    return export


@pytest.fixture
def reimport(database: Any, identity_of: Any) -> Any:
    """``reimport(tenant, text)``: upsert an export's text again, as the tenant's editor."""

    def upsert(tenant: Any, data: str) -> Any:
        return import_file(
            database,
            identity_of(tenant.editor),
            io.BytesIO(data.encode()),
            filename="export.csv",
            mode="upsert",
        )

    return upsert


def parsed(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"), newline="")))


def test_export_header_is_exactly_the_specified_one(exported: Any, tenant: Any) -> None:
    count, text = exported(tenant)
    assert count == 0
    assert text.rstrip("\r\n") == ",".join(EXPORT_HEADER)
    assert list(EXPORT_HEADER) == [
        "name",
        "email",
        "phone",
        "address",
        "created_at",
        "updated_at",
        "id",
    ]


def test_export_holds_every_customer_of_the_tenant_and_nobody_else(
    exported: Any, tenant: Any, other_tenant: Any, add_customers: Any
) -> None:
    mine = add_customers(tenant, 7)
    add_customers(other_tenant, 5)
    count, text = exported(tenant)
    rows = parsed(text)
    assert count == 7
    assert sorted(r["id"] for r in rows) == sorted(c.id for c in mine)
    by_id = {c.id: c for c in mine}
    for r in rows:
        customer = by_id[r["id"]]
        assert unneutralise(r["name"]) == customer.name
        assert unneutralise(r["address"]) == (customer.address or "")
        assert r["created_at"].endswith("Z")
        assert "T" in r["created_at"]
        assert r["created_at"][:19] == customer.created_at.strftime("%Y-%m-%dT%H:%M:%S")


def test_export_can_start_with_a_bom_for_excel(exported: Any, tenant: Any) -> None:
    _, text = exported(tenant, bom=True)
    assert text.startswith("\ufeffname,email,")


FORMULA_CELLS = {  # a spreadsheet would run these
    "equals": "=SUM(A1:A9)",
    "plus": "+49 30 1234",
    "minus": "-2+3",
    "at": "@cmd",
    "quoted-formula": "'=already quoted",
    "quoted-tab": "'\tx",
    "quoted-cr": "'\r=1",
}
PLAIN_CELLS = {  # exported as stored
    "quoted": "'quoted",
    "quoted-twice": "''twice",
    "inner-quote": "O'Brien",
    "inner-equals": "1 = 1",
    "inner-minus": "a-b",
    "umlaut": "Ünal =",
    "quote": "'",
}


@pytest.mark.parametrize(
    ("value", "cell"),
    [pytest.param(value, "'" + value, id=name) for name, value in FORMULA_CELLS.items()]
    + [pytest.param(value, value, id=name) for name, value in PLAIN_CELLS.items()],
)
def test_cells_are_neutralised_exactly_when_a_spreadsheet_would_run_them(
    exported: Any, tenant: Any, customers_of: Any, value: str, cell: str
) -> None:
    """A cell a spreadsheet would run gets one leading quote; any other, a leading quote
    before a letter included, is exported as stored."""
    with customers_of(tenant, write=True) as repository:
        repository.create(
            {"name": value, "email": "f@example.com", "phone": value, "address": value}
        )
    _, text = exported(tenant)
    row = parsed(text)[0]
    assert row["name"] == row["phone"] == row["address"] == cell
    assert row["email"] == "f@example.com"


@pytest.mark.parametrize("start", ["\t", "\r"], ids=["tab", "carriage-return"])
def test_stored_cells_starting_with_tab_or_carriage_return_are_neutralised(
    database: Any, exported: Any, tenant: Any, customers_of: Any, start: str
) -> None:
    """Validation trims them away, but data written before it (or by another tool) may
    still start so: the export neutralises what is stored, whatever wrote it."""
    with customers_of(tenant, write=True) as repository:
        created = repository.create({"name": "Tab", "email": "t@example.com"})
    value = start + "=HYPERLINK(1)"
    with database.transaction(tenant.id, write=True) as session:
        session.execute(
            text(
                "UPDATE customers SET name = :v, phone = :v, address = :v "
                "WHERE tenant_id = :t AND id = :id"
            ),
            {"v": value, "t": tenant.id, "id": created.id},
        )
    _, exported_text = exported(tenant)
    row = parsed(exported_text)[0]
    assert row["name"] == row["phone"] == row["address"] == "'" + value
    assert unneutralise(row["name"]) == value


def test_an_export_by_an_ended_session_is_refused_before_any_row(
    database: Any, identity_of: Any, tenant: Any, add_customers: Any
) -> None:
    from data.credentials import end_session

    add_customers(tenant, 2)
    identity = identity_of(tenant.viewer)
    end_session(database, identity)
    chunks = iter_export(database, identity)
    with pytest.raises(Unauthenticated):
        next(chunks)


def test_export_respects_the_search(exported: Any, tenant: Any, customers_of: Any) -> None:
    with customers_of(tenant, write=True) as repository:
        repository.create({"name": "Kenji Nakamura", "email": "kenji@example.jp"})
        repository.create({"name": "Ann Lee", "email": "ann@example.com"})
    count, text = exported(tenant, search="NAKAMURA")
    assert count == 1
    assert [r["email"] for r in parsed(text)] == ["kenji@example.jp"]


def test_export_is_streamed_in_chunks(
    database: Any, identity_of: Any, tenant: Any, add_customers: Any
) -> None:
    add_customers(tenant, 3)
    chunks = iter_export(database, identity_of(tenant.viewer))
    first = next(chunks)
    assert first.rstrip(b"\r\n") == b"name,email,phone,address,created_at,updated_at,id"
    assert b"".join(chunks).count(b"@") >= 3


def test_export_reimports_with_zero_changes(
    exported: Any, reimport: Any, tenant: Any, add_customers: Any
) -> None:
    add_customers(tenant, 40)
    _, text = exported(tenant, bom=True)
    summary = reimport(tenant, text)
    assert summary.line() == "created=0 updated=0 skipped=0 invalid=0"
    assert summary.unchanged == 40
    assert summary.unknown_columns == []


TRICKY = st.text(
    alphabet=st.sampled_from(
        [
            *list(string.ascii_letters + string.digits + " ,;\"'\t\n\r=+-@."),
            "é",
            "ß",
            "中",
            "ё",
            "\u2028",
            "😀",
        ]
    ),
    min_size=1,
    max_size=60,
)
LOCAL = st.text(alphabet=string.ascii_lowercase + string.digits + "._+-", min_size=1, max_size=20)


def _valid(record: dict[str, Any]) -> bool:
    try:
        validate_customer(record)
    except Invalid:
        return False
    return True


customers_strategy = st.lists(
    st.fixed_dictionaries(
        {
            "name": TRICKY,
            "email": st.builds(
                lambda local, n: f"{local}{n}@example.com", LOCAL, st.integers(0, 10**6)
            ),
            "phone": st.one_of(st.none(), TRICKY),
            "address": st.one_of(st.none(), TRICKY),
        }
    ).filter(_valid),
    min_size=1,
    max_size=8,
    unique_by=lambda r: r["email"].lower(),
)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much],
)
@given(records=customers_strategy)
def test_any_valid_customers_survive_export_and_reimport_unchanged(
    exported: Any,
    reimport: Any,
    make_tenant: Any,
    customers_of: Any,
    records: list[dict[str, Any]],
) -> None:
    tenant = make_tenant()
    with customers_of(tenant, write=True) as repository:
        created = [repository.create(record) for record in records]
    _, text = exported(tenant)
    rows = parsed(text)
    assert sorted(unneutralise(r["name"]) for r in rows) == sorted(c.name for c in created)
    summary = reimport(tenant, text)
    assert summary.invalid == 0, summary.errors
    assert (summary.created, summary.updated, summary.unchanged) == (0, 0, len(records))
    with customers_of(tenant) as repository:
        after = {c.id: c for c in repository.iter_all()}
    assert {c.id: c for c in created} == after


@given(st.text(max_size=20))
def test_neutralising_is_undone_exactly_by_the_importer(value: str) -> None:
    cell = neutralise_cell(value)
    assert unneutralise(cell) == value
    assert cell[:1] not in ("=", "+", "-", "@", "\t", "\r")


def test_an_export_loads_no_validation_or_workbook_library() -> None:
    """An export never validates a customer nor reads a phone: pydantic, email-validator,
    xlsxwriter and phonenumbers (0.15 s of an export's start-up) stay unloaded until a
    validation, a workbook or a phone number needs them."""
    probe = (
        "import sys, manage, config, data.csv_export; config.get_settings(); "
        "print(sorted(m for m in ('pydantic', 'email_validator', 'xlsxwriter', 'phonenumbers') "
        "if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], cwd=PROJECT_DIR, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == "[]"
