"""SQLite's write lock held longer than any writer waits (SPEC §9).

Another process keeps ``BEGIN IMMEDIATE`` open on the database file.  Writers wait for
the busy timeout, retry ``BEGIN IMMEDIATE`` a few times with backoff, and then give up
with a sentence, never SQLite's own "database is locked": the API answers 503 with
``Retry-After``, the dashboard's Save raises ``Unavailable`` (the page shows its
sentence), ``manage.py import-csv`` exits 2.  Nothing is written, reads go on meanwhile,
and once the lock is released the same writes go through.

Only SQLite has a file lock to hold; PostgreSQL writers of other rows do not wait at all
(``test_concurrent_writers`` covers both databases under contention).
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys

from fastapi.testclient import TestClient

import ui.db
from api.main import create_app
from data.credentials import issue_token
from data.db import Database
from data.errors import Unavailable
from tests.faults.helpers import MANAGE, FreshSqlite, csv_bytes, tenant_state
from ui.grid import Change, save_changes

BUSY = "The database is busy with another write; please try again in a moment."
SHORT_WAIT_MS = 100  # the busy timeout of the writers here (5 s by default)


def test_a_write_lock_held_too_long_gives_every_front_door_a_sentence(tmp_path, monkeypatch):
    fresh = FreshSqlite(tmp_path, customers=5)
    database = Database(fresh.url, busy_timeout_ms=SHORT_WAIT_MS)
    monkeypatch.setattr(ui.db, "database", lambda: database)  # the dashboard's database
    with database.scope(fresh.identity) as scope:
        customer = next(iter(scope.customers.iter_all()))
    changed = customer.fields() | {"phone": "+1 555 0199"}
    csv_path = tmp_path / "one.csv"
    csv_path.write_bytes(csv_bytes([{"name": "Locked Out", "email": "locked@example.com"}]))
    token, _ = issue_token(database, fresh.editor)
    headers = {"Authorization": f"Bearer {token}"}
    before = tenant_state(database, fresh.tenant_id)

    holder = sqlite3.connect(fresh.path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with TestClient(create_app(database), raise_server_exceptions=False) as client:
            put = client.put(f"/api/customers/{customer.id}", json=changed, headers=headers)
            assert put.status_code == 503, put.text
            assert put.json()["detail"] == BUSY
            assert put.headers["Retry-After"]
            read = client.get(f"/api/customers/{customer.id}", headers=headers)
            assert read.status_code == 200  # readers are not blocked (WAL)

        edit = Change(customer.id, customer.id, customer.version, changed)
        try:
            save_changes(fresh.identity, [edit])
        except Unavailable as exc:
            refused = str(exc)
        else:
            raise AssertionError("the dashboard's Save went through a held lock")
        assert refused == BUSY

        cli = subprocess.run(
            [sys.executable, MANAGE, "import-csv", str(csv_path), "--tenant", fresh.tenant_id],
            capture_output=True,
            text=True,
            env=fresh.env() | {"SQLITE_BUSY_TIMEOUT_MS": str(SHORT_WAIT_MS)},
            timeout=120,
            check=False,
        )
        assert cli.returncode == 2
        assert cli.stderr == f"manage.py import-csv: {BUSY}\n"
        assert "locked" not in (put.text + refused + cli.stderr).lower()
    finally:
        holder.execute("ROLLBACK")
        holder.close()

    assert tenant_state(database, fresh.tenant_id) == before
    # The lock is gone: the same three writes go through.
    with TestClient(create_app(database)) as client:
        assert client.put(f"/api/customers/{customer.id}", json=changed, headers=headers).is_success
    again = save_changes(
        fresh.identity, [Change(customer.id, customer.id, customer.version + 1, changed)]
    )
    assert again.drafts == {}  # nothing left to do: the API already wrote these values
    cli = subprocess.run(
        [sys.executable, MANAGE, "import-csv", str(csv_path), "--tenant", fresh.tenant_id],
        capture_output=True,
        text=True,
        env=fresh.env(),
        timeout=120,
        check=False,
    )
    assert cli.returncode == 0, cli.stderr
    assert tenant_state(database, fresh.tenant_id).count == 6
