"""Helpers for the fault tests: a tenant's whole state, the CLI, a live API server.

``tenant_state`` reads everything a tenant owns that an import or a writer can change:
every customer column, the exact count kept by triggers, the audit events (with their
before and after images) and the before-images of imports.  Two states compare equal
only when nothing at all changed.
"""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import text

from data.credentials import open_session
from data.db import Database
from data.identity import Identity, Role
from data.keys import DERIVED_KEYS
from data.sample import customers as sample_customers
from data.tenancy import create_tenant
from data.users import create_user

PROJECT_DIR = Path(__file__).resolve().parents[2]
MANAGE = str(PROJECT_DIR / "manage.py")
# The derived keys besides email_key (data.keys): part of every customer's state too.
OTHER_KEYS = tuple(key for key in DERIVED_KEYS if key != "email_key")


@dataclass(frozen=True)
class TenantState:
    customers: tuple[tuple[str, ...], ...]
    count: int | None
    audit: tuple[tuple[str, ...], ...]
    import_changes: tuple[tuple[str, ...], ...]

    def by_email(self) -> dict[str, dict[str, str]]:
        """Customers keyed by email key: id, name, email, phone, address, version."""
        keys = ("id", "name", "email", "email_key", "phone", "address", "created", "updated")
        result = {}
        for row in self.customers:
            record = dict(zip((*keys, "version", *OTHER_KEYS), row, strict=True))
            result[record["email_key"]] = record
        return result


def _rows(session: Any, sql: str, tenant_id: str) -> tuple[tuple[str, ...], ...]:
    rows = session.execute(text(sql), {"t": tenant_id})
    return tuple(sorted(tuple("" if v is None else str(v) for v in row) for row in rows))


def tenant_state(database: Any, tenant_id: str) -> TenantState:
    """Everything of the tenant an import or a writer can change, in one transaction."""
    with database.transaction(tenant_id) as session:
        customers = _rows(
            session,
            "SELECT id, name, email, email_key, phone, address, created_at, updated_at, version, "
            f"{', '.join(OTHER_KEYS)} FROM customers WHERE tenant_id = :t",
            tenant_id,
        )
        count = session.execute(
            text("SELECT n FROM customer_counts WHERE tenant_id = :t"), {"t": tenant_id}
        ).scalar()
        audit = _rows(
            session,
            "SELECT id, action, actor, customer_id, at, before, after FROM audit_events "
            "WHERE tenant_id = :t",
            tenant_id,
        )
        changes = _rows(
            session,
            # The before-image as JSON text on both databases (psycopg decodes jsonb).
            "SELECT import_id, customer_id, kind, version_after, CAST(before AS TEXT), "
            "before_version, before_updated_at FROM import_changes WHERE tenant_id = :t",
            tenant_id,
        )
    return TenantState(customers, None if count is None else int(count), audit, changes)


def csv_bytes(
    rows: list[dict[str, Any]], columns: tuple[str, ...] | None = None, delimiter: str = ","
) -> bytes:
    columns = columns or ("name", "email", "phone", "address")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n", delimiter=delimiter)
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row.get(c) is None else row[c] for c in columns])
    return buffer.getvalue().encode("utf-8")


def database_url(database: Any) -> str:
    return str(database.url.render_as_string(hide_password=False))


def manage_env(database: Any, **extra: str) -> dict[str, str]:
    return dict(os.environ, DATABASE_URL=database_url(database), **extra)


def manage(
    database: Any, *args: str, timeout: float = 300, **extra: str
) -> subprocess.CompletedProcess[str]:
    """``python manage.py ...`` against the test database; text output."""
    return subprocess.run(
        [sys.executable, MANAGE, *args],
        capture_output=True,
        text=True,
        env=manage_env(database, **extra),
        timeout=timeout,
        check=False,
    )


class FreshSqlite:
    """A new SQLite database file with one tenant, its editor and ``customers`` customers.

    ``identity`` is the editor signed in (a session row), as the dashboard holds it.
    """

    def __init__(self, folder: Path, customers: int = 200) -> None:
        self.path = folder / "fresh.db"
        self.url = f"sqlite:///{self.path}"
        self.database = Database(self.url)
        self.database.migrate()
        with self.database.transaction(None, write=True) as session:
            tenant = create_tenant(session, f"disk-{uuid.uuid4().hex[:8]}")
            self.editor, _ = create_user(
                session, tenant.id, f"ed-{uuid.uuid4().hex[:8]}", Role.EDITOR
            )
        self.tenant_id = tenant.id
        _, self.identity = open_session(self.database, self.editor)
        with self.database.scope(self.identity, write=True) as scope:
            for record in sample_customers(customers, seed=7):
                scope.customers.create(record)
        self.checkpoint()

    def operator(self) -> Identity:
        """The command line's identity in this tenant."""
        return Identity.of_operator(self.tenant_id, "cli:test")

    def checkpoint(self) -> None:
        with self.database.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")

    def pages(self) -> int:
        with self.database.engine.connect() as conn:
            return int(conn.execute(text("PRAGMA page_count")).scalar_one())

    def intact(self) -> bool:
        with self.database.engine.connect() as conn:
            return conn.execute(text("PRAGMA integrity_check")).scalar() == "ok"

    def env(self) -> dict[str, str]:
        return dict(os.environ, DATABASE_URL=self.url)
