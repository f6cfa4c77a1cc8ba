"""The SQLite database holds password hashes and every tenant's customers: its file (and
the WAL files beside it) are readable by their owner only, and so is the project's
``var/`` folder that holds it (issue 13 found the file created 0644).

Shown for a ``Database`` opened on a fresh path, and for ``manage.py init-db`` run as an
operator runs it, in a subprocess; both under a umask of 000, so that the modes come
from the code and not from a careful operator's umask.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

import config
from data.db import Database

PROJECT_DIR = Path(__file__).resolve().parents[2]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """Everything created during the test would be world-writable if the code let it."""
    before = os.umask(0)
    try:
        yield
    finally:
        os.umask(before)


def write_something(database: Database) -> None:
    with database.engine.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS probe (x INTEGER)"))
        conn.execute(text("INSERT INTO probe VALUES (1)"))


def test_a_new_database_file_and_its_folder_are_private(tmp_path, open_umask):
    folder = tmp_path / "new" / "folder"
    path = folder / "inventory.db"
    database = Database(f"sqlite:///{path}")
    try:
        assert mode(folder) == 0o700
        assert mode(path) == 0o600
        write_something(database)
        wal = [Path(f"{path}-wal"), Path(f"{path}-shm")]
        assert [p for p in wal if p.exists()] == wal  # WAL mode: both are there
        assert [mode(p) for p in wal] == [0o600, 0o600]
    finally:
        database.dispose()


def test_the_projects_var_folder_is_made_private_even_if_it_was_not(
    tmp_path, open_umask, monkeypatch
):
    var = tmp_path / "var"
    var.mkdir(mode=0o755)
    assert mode(var) == 0o755
    monkeypatch.setattr(config, "VAR_DIR", var)
    database = Database(f"sqlite:///{var / 'inventory.db'}")
    try:
        assert mode(var) == 0o700
        assert mode(var / "inventory.db") == 0o600
    finally:
        database.dispose()


def test_an_operators_own_existing_folder_is_left_as_they_set_it(tmp_path, open_umask):
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o750)
    database = Database(f"sqlite:///{shared / 'inventory.db'}")
    try:
        assert mode(shared) == 0o750
        assert mode(shared / "inventory.db") == 0o600  # the file is private all the same
    finally:
        database.dispose()


def test_init_db_creates_a_private_database_file(tmp_path):
    folder = tmp_path / "operator" / "data"
    path = folder / "inventory.db"
    result = subprocess.run(
        [sys.executable, str(PROJECT_DIR / "manage.py"), "init-db"],
        capture_output=True,
        text=True,
        env=os.environ | {"DATABASE_URL": f"sqlite:///{path}"},
        timeout=120,
        check=False,
        preexec_fn=lambda: os.umask(0),  # only sets the child's umask
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Created the schema (revision ")
    assert mode(folder) == 0o700
    assert mode(path) == 0o600
    for extra in (Path(f"{path}-wal"), Path(f"{path}-shm")):
        if extra.exists():
            assert mode(extra) == 0o600
