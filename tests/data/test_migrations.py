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

from data.customers import CustomerRepository
from data.db import PROJECT_DIR, Database
from data.models import Role
from data.tenancy import Actor, create_tenant
from tests.conftest import BACKENDS, _postgres_database

ACTOR = Actor("migration-test", Role.ADMIN)


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
    with database.transaction(tenant_id, write=True) as session:
        repository = CustomerRepository(session, tenant_id, ACTOR)
        for name in names:
            repository.create({"name": name, "email": f"{name.lower()}@example.com"})


def test_down_to_the_first_revision_and_up_again_keeps_the_counts_exact(fresh: Database) -> None:
    with fresh.transaction(None, write=True) as session:
        tenant_id = create_tenant(session, f"migrations-{uuid.uuid4().hex[:6]}").id
    add(fresh, tenant_id, ["Ada", "Bo"])
    assert counts(fresh, tenant_id) == (2, 2)

    alembic(fresh, "downgrade", "0001")
    fresh.dispose()
    add(fresh, tenant_id, ["Cy"])  # the triggers of 0001 work on the columns of 0001
    assert counts(fresh, tenant_id) == (3, 3)

    assert fresh.migrate() == ("0001", "0002")
    fresh.dispose()
    add(fresh, tenant_id, ["Di"])
    with fresh.transaction(tenant_id, write=True) as session:
        repository = CustomerRepository(session, tenant_id, ACTOR)
        ada = repository.list(search="ada").items[0]
        repository.update(
            ada.id, ada.fields() | {"phone": "+44 20 7946 0000"}, expected_version=ada.version
        )
    assert counts(fresh, tenant_id) == (4, 5)
    with fresh.owner_engine().connect() as conn:
        moves, phones, names = conn.execute(
            text(
                "SELECT moves, phone_changes, name_changes FROM customer_counts "
                "WHERE tenant_id = :t"
            ),
            {"t": tenant_id},
        ).one()
    # counted from the upgrade on: one insert moved rows, one update changed a phone
    assert (moves, phones, names) == (1, 1, 0)
