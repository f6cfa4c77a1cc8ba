"""CSV export: the header, spreadsheet safety, search, tenants, and export → import."""

from __future__ import annotations

import csv
import io
import string
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from data.csv_export import EXPORT_HEADER, export_csv, iter_export
from data.csv_import import import_csv
from data.csv_read import neutralise_cell, unneutralise
from data.errors import Invalid
from data.schemas import validate_customer


def exported(database: Any, tenant: Any, **options: Any) -> tuple[int, str]:
    out = io.BytesIO()
    user = options.pop("user", tenant.viewer)
    count = export_csv(database, tenant.id, user.actor, out, **options)
    return count, out.getvalue().decode("utf-8")


def parsed(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"), newline="")))


def test_export_header_is_exactly_the_specified_one(database: Any, tenant: Any) -> None:
    count, text = exported(database, tenant)
    assert count == 0
    assert text.rstrip("\r\n") == ",".join(EXPORT_HEADER)
    assert EXPORT_HEADER == ["name", "email", "phone", "address", "created_at", "updated_at", "id"]


def test_export_holds_every_customer_of_the_tenant_and_nobody_else(
    database: Any, tenant: Any, other_tenant: Any, add_customers: Any
) -> None:
    mine = add_customers(tenant, 7)
    add_customers(other_tenant, 5)
    count, text = exported(database, tenant)
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


def test_export_can_start_with_a_bom_for_excel(database: Any, tenant: Any) -> None:
    _, text = exported(database, tenant, bom=True)
    assert text.startswith("\ufeffname,email,")


@pytest.mark.parametrize(
    "value",
    ["=SUM(A1:A9)", "+49 30 1234", "-2+3", "@cmd", "'=already quoted"],
    ids=["equals", "plus", "minus", "at", "quoted-formula"],
)
def test_cells_a_spreadsheet_would_run_are_neutralised(
    database: Any, tenant: Any, customers_of: Any, value: str
) -> None:
    with customers_of(tenant, write=True) as repository:
        repository.create({"name": value, "email": "f@example.com", "phone": value})
    _, text = exported(database, tenant)
    row = parsed(text)[0]
    assert row["name"] == row["phone"] == "'" + value
    assert row["email"] == "f@example.com"


def test_export_respects_the_search(database: Any, tenant: Any, customers_of: Any) -> None:
    with customers_of(tenant, write=True) as repository:
        repository.create({"name": "Kenji Nakamura", "email": "kenji@example.jp"})
        repository.create({"name": "Ann Lee", "email": "ann@example.com"})
    count, text = exported(database, tenant, search="NAKAMURA")
    assert count == 1
    assert [r["email"] for r in parsed(text)] == ["kenji@example.jp"]


def test_export_is_streamed_in_chunks(database: Any, tenant: Any, add_customers: Any) -> None:
    add_customers(tenant, 3)
    chunks = iter_export(database, tenant.id, tenant.viewer.actor)
    first = next(chunks)
    assert first.rstrip(b"\r\n") == b"name,email,phone,address,created_at,updated_at,id"
    assert b"".join(chunks).count(b"@") >= 3


def test_export_reimports_with_zero_changes(database: Any, tenant: Any, add_customers: Any) -> None:
    add_customers(tenant, 40)
    _, text = exported(database, tenant, bom=True)
    summary = import_csv(
        database,
        tenant.id,
        tenant.editor.actor,
        io.BytesIO(text.encode()),
        filename="export.csv",
        mode="upsert",
    )
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
    database: Any, make_tenant: Any, customers_of: Any, records: list[dict[str, Any]]
) -> None:
    tenant = make_tenant()
    with customers_of(tenant, write=True) as repository:
        created = [repository.create(record) for record in records]
    _, text = exported(database, tenant)
    rows = parsed(text)
    assert sorted(unneutralise(r["name"]) for r in rows) == sorted(c.name for c in created)
    summary = import_csv(
        database,
        tenant.id,
        tenant.editor.actor,
        io.BytesIO(text.encode()),
        filename="roundtrip.csv",
        mode="upsert",
    )
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
