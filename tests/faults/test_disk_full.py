"""The disk filling up in the middle of an import, on SQLite (SPEC §9).

Two ways to run out of room, both deterministic:

* ``page-limit``: ``PRAGMA max_page_count`` on every connection, a little above the
  database's size: SQLite answers SQLITE_FULL ("database or disk is full"), as on a
  full disk;
* ``file-size-limit``: the process may not write any file past a size
  (``RLIMIT_FSIZE``): the operating system refuses the write, and SQLite reports an I/O
  error (and rolls the transaction back by itself).

Either way the user gets one sentence (the CLI's exit 2 and stderr, the API's JSON 503),
the file is intact (``PRAGMA integrity_check``), the tenant is exactly as before, and the
same import goes through once there is room again.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from api.main import create_app
from data.credentials import issue_token
from data.sample import customers as sample_customers
from tests.faults.helpers import MANAGE, PROJECT_DIR, FreshSqlite, csv_bytes, tenant_state

DISK_FULL = (
    "The disk that holds the database is full; nothing was written. "
    "Free some space, then try again."
)
IO_ERROR = "The database file cannot be used: disk I/O error."
EXISTING = 200  # customers of the tenant before the import (FreshSqlite)
IMPORTED = 3000
SPARE_PAGES = 40  # room for a few hundred rows, far fewer than the import needs
SPARE_BYTES = 64 * 1024

# manage.py with every SQLite connection limited to a number of pages (argv[1]).
PAGE_LIMITED_MANAGE = f"""
import sys
sys.path.insert(0, {str(PROJECT_DIR)!r})
from sqlalchemy import event
import data.db

limit = int(sys.argv.pop(1))
plain = data.db.Database._sqlite_engine

def limited(self):
    engine = plain(self)
    pragma = f"PRAGMA max_page_count = {{limit}}"
    event.listen(engine, "connect", lambda conn, _: conn.execute(pragma))
    return engine

data.db.Database._sqlite_engine = limited
sys.argv[0] = {MANAGE!r}
import manage
sys.exit(manage.main())
"""


def import_rows() -> bytes:
    tag = uuid.uuid4().hex[:6]
    return csv_bytes(
        [
            {**record, "email": f"{tag}.{i}.{record['email']}"}
            for i, record in enumerate(sample_customers(IMPORTED, seed=8))
        ]
    )


def run_cli(
    fresh: FreshSqlite, csv_path: Path, limit: str | None
) -> subprocess.CompletedProcess[str]:
    args = ["import-csv", str(csv_path), "--tenant", fresh.tenant_id]
    command = [sys.executable, MANAGE, *args]
    before_start: Callable[[], None] | None = None
    if limit == "page-limit":
        command = [
            sys.executable,
            "-c",
            PAGE_LIMITED_MANAGE,
            str(fresh.pages() + SPARE_PAGES),
            *args,
        ]
    elif limit == "file-size-limit":
        wal = Path(f"{fresh.path}-wal")
        size = max(fresh.path.stat().st_size, wal.stat().st_size if wal.exists() else 0)

        def before_start() -> None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (size + SPARE_BYTES, resource.RLIM_INFINITY))

    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        env=fresh.env(),
        timeout=300,
        check=False,
        preexec_fn=before_start,  # only sets a resource limit
    )


@pytest.mark.parametrize("limit", ["page-limit", "file-size-limit"])
def test_cli_import_on_a_full_disk_is_one_sentence_and_leaves_the_database_intact(tmp_path, limit):
    fresh = FreshSqlite(tmp_path)
    csv_path = tmp_path / "customers.csv"
    csv_path.write_bytes(import_rows())
    before = tenant_state(fresh.database, fresh.tenant_id)

    result = run_cli(fresh, csv_path, limit)

    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    expected = DISK_FULL if limit == "page-limit" else IO_ERROR
    assert result.stderr == f"manage.py import-csv: {expected}\n"
    fresh.database.dispose()
    assert fresh.intact()
    assert tenant_state(fresh.database, fresh.tenant_id) == before

    # With room again, the same file imports completely.
    again = run_cli(fresh, csv_path, None)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == f"created={IMPORTED} updated=0 skipped=0 invalid=0"
    assert tenant_state(fresh.database, fresh.tenant_id).count == EXISTING + IMPORTED


def test_api_import_on_a_full_disk_is_a_503_sentence_and_the_api_keeps_serving(tmp_path):
    fresh = FreshSqlite(tmp_path)
    token, _ = issue_token(fresh.database, fresh.editor)
    headers = {"Authorization": f"Bearer {token}"}
    limit = {"pages": fresh.pages() + SPARE_PAGES}

    @event.listens_for(fresh.database.engine, "connect")
    def _limit(connection: Any, _record: Any) -> None:
        connection.execute(f"PRAGMA max_page_count = {limit['pages']}")

    fresh.database.dispose()  # every connection from now on is limited
    before = tenant_state(fresh.database, fresh.tenant_id)
    upload = {"file": ("customers.csv", import_rows(), "text/csv")}
    with TestClient(create_app(fresh.database), raise_server_exceptions=False) as client:
        refused = client.post("/api/customers/import", files=upload, headers=headers)
        assert refused.status_code == 503, refused.text
        assert refused.json()["detail"] == DISK_FULL
        assert refused.headers["X-Request-ID"] == refused.json()["requestId"]
        assert fresh.intact()
        assert tenant_state(fresh.database, fresh.tenant_id) == before
        # Reads go on while the disk is full.
        listed = client.get("/api/customers", headers=headers)
        assert listed.status_code == 200
        assert listed.headers["X-Total-Count"] == str(EXISTING)

        limit["pages"] = 1_000_000  # room again (new connections only)
        fresh.database.dispose()
        done = client.post("/api/customers/import", files=upload, headers=headers)
        assert done.status_code == 200, done.text
        assert done.json()["created"] == IMPORTED
    assert tenant_state(fresh.database, fresh.tenant_id).count == EXISTING + IMPORTED
