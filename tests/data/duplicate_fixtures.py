"""Fixtures of the duplicate tests (imported by each ``test_duplicate_*`` module).

* ``de_tenant``: a tenant whose phone region is DE (national numbers become E.164);
* ``set_region(tenant, "DE")``: a tenant's phone region, as ``manage.py set-region`` sets it;
* ``pairs_of(tenant)``: the open pairs of its queue (``PairView``), best first;
* ``stored_keys(tenant, id)``: the key columns of the stored row, as the database has them;
* ``expected_keys(values, region)``: what every write path must have stored;
* ``import_csv(tenant, text, **options)``: an import as the tenant's editor.
"""

from __future__ import annotations

import io
from typing import Any

import pytest
from sqlalchemy import text

from data.duplicates.keys import DUPLICATE_KEYS, duplicate_keys
from data.importing import ImportSummary, import_file


@pytest.fixture
def set_region(database: Any) -> Any:
    """``set_region(tenant, "DE")``: as ``manage.py set-region`` does (without a rebuild)."""
    from data.tenancy import set_phone_region

    def change(tenant: Any, region: str) -> None:
        with database.owner_engine().begin() as connection:
            set_phone_region(connection, tenant.id, region)

    return change


@pytest.fixture
def de_tenant(make_tenant: Any, set_region: Any) -> Any:
    made = make_tenant()
    set_region(made, "DE")
    return made


@pytest.fixture
def pairs_of(scope_of: Any) -> Any:
    def pairs(tenant: Any, *, min_score: int = 0) -> list[Any]:
        with scope_of(tenant, tenant.viewer) as reading:
            return list(reading.duplicates.each(min_score=min_score))

    return pairs


@pytest.fixture
def stored_keys(database: Any) -> Any:
    def keys(tenant: Any, customer_id: str) -> dict[str, Any] | None:
        with database.transaction(tenant.id) as session:
            row = (
                session.execute(
                    text(
                        f"SELECT name, email, phone, address, {', '.join(DUPLICATE_KEYS)} "
                        "FROM customers WHERE tenant_id = :t AND id = :id"
                    ),
                    {"t": tenant.id, "id": customer_id},
                )
                .mappings()
                .first()
            )
        return dict(row) if row is not None else None

    return keys


def expected_keys(values: dict[str, Any], region: str | None) -> dict[str, Any]:
    """The stored row as a write must leave it: the values and the keys made from them."""
    fields = {name: values.get(name) for name in ("name", "email", "phone", "address")}
    return fields | duplicate_keys(fields, region)


@pytest.fixture
def import_csv(database: Any, identity_of: Any) -> Any:
    def run(tenant: Any, data: str, **options: Any) -> ImportSummary:
        user = options.pop("user", tenant.editor)
        return import_file(
            database,
            identity_of(user),
            io.BytesIO(data.encode()),
            filename=options.pop("filename", "customers.csv"),
            **options,
        )

    return run


def ids_of(pairs: list[Any]) -> set[frozenset[str]]:
    return {frozenset((pair.first.id, pair.second.id)) for pair in pairs}
