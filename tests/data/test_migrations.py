"""Migrations: a database with customers goes down and up again and keeps counting right.

An operator who upgrades (or rolls back a release) runs ``alembic`` against a database
full of customers: the counters of ``customer_counts`` must stay exact through it, and
the triggers of each revision must be the ones that revision expects.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import text

from data.db import PROJECT_DIR, Database
from data.identity import Identity
from data.models import new_id
from data.tenancy import create_tenant
from tests.conftest import BACKENDS, _postgres_database


@pytest.fixture(params=BACKENDS)
def fresh(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A database of its own (downgrading the shared one would disturb other tests)."""
    if request.param == "sqlite":
        url, drop = f"sqlite:///{tmp_path / 'migrations.db'}", lambda: None
    else:
        url, drop = _postgres_database(f"inventory_migrations_{uuid.uuid4().hex[:8]}")
    database = Database(url)
    database.migrate()
    try:
        yield database
    finally:
        database.dispose()
        drop()


def alembic(database: Database, action: str, revision: str) -> None:
    config = Config(str(PROJECT_DIR / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_DIR / "migrations"))
    with database.owner_engine().begin() as conn:
        config.attributes["connection"] = conn
        getattr(command, action)(config, revision)


def counts(database: Database, tenant_id: str) -> tuple[int, int]:
    with database.owner_engine().connect() as conn:
        row = conn.execute(
            text("SELECT n, changes FROM customer_counts WHERE tenant_id = :t"), {"t": tenant_id}
        ).one()
    return int(row.n), int(row.changes)


def add(database: Database, tenant_id: str, names: list[str]) -> None:
    """Customers through the application (the schema of the newest revision)."""
    with database.scope(Identity.of_operator(tenant_id, "migration-test"), write=True) as scope:
        for name in names:
            scope.customers.create({"name": name, "email": f"{name.lower()}@example.com"})


def add_raw(database: Database, tenant_id: str, names: list[str]) -> None:
    """Customers as an older release wrote them (a revision's own columns only)."""
    with database.owner_engine().begin() as conn:
        for name in names:
            conn.execute(
                text(
                    "INSERT INTO customers (tenant_id, id, name, email, email_key, created_at, "
                    "updated_at, version) VALUES (:t, :id, :name, :email, :email, "
                    "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 1)"
                ),
                {"t": tenant_id, "id": new_id(), "name": name, "email": f"{name.lower()}@x.org"},
            )


def test_down_to_the_first_revision_and_up_again_keeps_the_counts_exact(fresh: Database) -> None:
    with fresh.transaction(None, write=True) as session:
        tenant_id = create_tenant(session, f"migrations-{uuid.uuid4().hex[:6]}").id
    add(fresh, tenant_id, ["Ada", "Bo"])
    assert counts(fresh, tenant_id) == (2, 2)

    alembic(fresh, "downgrade", "0001")
    fresh.dispose()
    add_raw(fresh, tenant_id, ["Cy"])  # the triggers of 0001 work on the columns of 0001
    assert counts(fresh, tenant_id) == (3, 3)

    alembic(fresh, "upgrade", "0002")
    fresh.dispose()
    add_raw(fresh, tenant_id, ["Di"])
    assert counts(fresh, tenant_id) == (4, 4)
    alembic(fresh, "downgrade", "0001")
    alembic(fresh, "upgrade", "0002")  # the counters start again from this upgrade
    assert fresh.migrate() == ("0002", "0005")
    fresh.dispose()
    add(fresh, tenant_id, ["Ed"])
    operator = Identity.of_operator(tenant_id, "migration-test")
    with fresh.scope(operator, write=True) as scope:
        # Rows written before 0003 are found by search (SQLite's index was rebuilt for
        # the tenant's new rowid range) and can be changed.
        ada = scope.customers.list(search="ada").items[0]
        di = scope.customers.list(search="di@x").items[0]
        scope.customers.update(
            ada.id, ada.fields() | {"phone": "+44 20 7946 0000"}, expected_version=ada.version
        )
        assert di.name == "Di"
    # On SQLite, 0003 moves the four existing rows into the tenant's rowid range: four
    # updates, which the counter of changes (of any kind) counts.
    renumbered = 4 if fresh.dialect == "sqlite" else 0
    keyed = 4  # 0004 computes the duplicate keys of the four rows: four updates
    assert counts(fresh, tenant_id) == (5, 6 + renumbered + keyed)
    with fresh.owner_engine().connect() as conn:
        moves, phones, names = conn.execute(
            text(
                "SELECT moves, phone_changes, name_changes FROM customer_counts "
                "WHERE tenant_id = :t"
            ),
            {"t": tenant_id},
        ).one()
    # counted from the last upgrade to 0002 on: one insert moved rows, one update a phone
    assert (moves, phones, names) == (1, 1, 0)


def test_0003_keeps_an_imports_before_images_with_keys_computed_as_every_write_does(
    fresh: Database,
) -> None:
    """Undo puts the before-image back; its email key must be the one data.keys makes,
    not the database's lower() (ASCII-only on SQLite, by locale on PostgreSQL)."""
    import json

    from data.duplicates.keys import duplicate_keys
    from data.keys import normalise_email

    with fresh.transaction(None, write=True) as session:
        tenant_id = create_tenant(session, f"images-{uuid.uuid4().hex[:6]}").id
    alembic(fresh, "downgrade", "0002")
    customer_id = new_id()
    with fresh.owner_engine().begin() as conn:
        conn.execute(
            text(
                "INSERT INTO import_changes (tenant_id, import_id, customer_id, kind, "
                "version_after, before_name, before_email, before_phone, before_address, "
                "before_version) VALUES (:t, :i, :c, 'updated', 2, 'Ärger GmbH', "
                "' ÄRGER@Beispiel.de ', NULL, 'Hof 1', 1)"
            ),
            {"t": tenant_id, "i": new_id(), "c": customer_id},
        )
    alembic(fresh, "upgrade", "head")
    with fresh.owner_engine().connect() as conn:
        stored = conn.execute(
            text("SELECT before FROM import_changes WHERE customer_id = :c"), {"c": customer_id}
        ).scalar_one()
    image = stored if isinstance(stored, dict) else json.loads(stored)
    fields = {
        "name": "Ärger GmbH",
        "email": " ÄRGER@Beispiel.de ",
        "phone": None,
        "address": "Hof 1",
    }
    # 0003 adds the email key, 0004 the duplicate keys (with the tenant's phone region).
    assert image == {
        **fields,
        "email_key": normalise_email(" ÄRGER@Beispiel.de "),
        **duplicate_keys(fields, None),
    }
    assert image["email_key"] == "ärger@beispiel.de"
    assert image["name_key"] == "arger"  # the legal form is dropped, the umlaut folded
