"""Helpers for the data-layer tests: raw rows, audit counts, a controllable clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from tests.data.duplicate_fixtures import (  # noqa: F401 - the duplicate tests' fixtures
    de_tenant,
    import_csv,
    pairs_of,
    set_region,
    stored_keys,
)


@pytest.fixture
def raw_customer(database):  # type: ignore[no-untyped-def]
    """``raw_customer(tenant, id)``: every column of the stored row, as the database has it."""

    def read(tenant: Any, customer_id: str) -> dict[str, Any] | None:
        with database.transaction(tenant.id) as session:
            row = (
                session.execute(
                    text("SELECT * FROM customers WHERE tenant_id = :t AND id = :id"),
                    {"t": tenant.id, "id": customer_id},
                )
                .mappings()
                .first()
            )
        return dict(row) if row is not None else None

    return read


@pytest.fixture
def stored_count(database):  # type: ignore[no-untyped-def]
    """``stored_count(tenant)``: ``SELECT count(*)`` of the tenant's customers."""

    def count(tenant: Any) -> int:
        with database.transaction(tenant.id) as session:
            return int(
                session.execute(
                    text("SELECT count(*) FROM customers WHERE tenant_id = :t"), {"t": tenant.id}
                ).scalar_one()
            )

    return count


@pytest.fixture
def audit_events(database):  # type: ignore[no-untyped-def]
    """``audit_events(tenant, customer_id=None)``: the tenant's events, oldest first."""
    from data.audit import AuditLog

    def events(tenant: Any, customer_id: str | None = None) -> list[Any]:
        with database.transaction(tenant.id) as session:
            found = AuditLog(session, tenant.id).events(customer_id=customer_id, limit=1000)
        return list(reversed(found))

    return events


class Clock:
    """A settable ``utcnow`` for code that reads the time through its module."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """Controls the time seen by sign-in throttling and credentials; no sleeping."""
    import data.credentials
    import data.scope
    import data.signin

    fake = Clock()
    for module in (data.signin, data.credentials, data.scope):
        monkeypatch.setattr(module, "utcnow", fake)
    return fake
