"""``manage.py import-csv`` and ``export-csv`` as an operator runs them: output and exit codes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.data.csv_corpus import big_csv

PROJECT_DIR = Path(__file__).resolve().parents[2]


def manage(
    database: Any, *args: str, stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    env = dict(os.environ, DATABASE_URL=str(database.url.render_as_string(hide_password=False)))
    return subprocess.run(
        [sys.executable, str(PROJECT_DIR / "manage.py"), *args],
        input=stdin,
        capture_output=True,
        env=env,
        timeout=300,
        check=False,
    )


def count(customers_of: Any, tenant: Any) -> int:
    with customers_of(tenant) as repository:
        return repository.count().value


GOOD = "name,email,phone\nAnn,ann@example.com,1\nBob,bob@example.com,2\n"
ONE_BAD = GOOD + "Cid,not-an-email,3\n"


@pytest.fixture
def write(tmp_path: Path):  # type: ignore[no-untyped-def]
    def make(content: str | bytes, name: str = "customers.csv") -> Path:
        path = tmp_path / name
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        return path

    return make


def test_import_prints_the_summary_line_and_exits_0(
    database: Any, tenant: Any, customers_of: Any, write: Any
) -> None:
    result = manage(database, "import-csv", str(write(GOOD)), "--tenant", tenant.name)
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().strip() == "created=2 updated=0 skipped=0 invalid=0"
    assert count(customers_of, tenant) == 2


def test_import_with_an_invalid_row_is_refused_with_exit_1_and_the_line(
    database: Any, tenant: Any, customers_of: Any, write: Any
) -> None:
    result = manage(database, "import-csv", str(write(ONE_BAD)), "--tenant", tenant.id)
    assert result.returncode == 1
    assert result.stdout.decode().strip() == "created=2 updated=0 skipped=0 invalid=1"
    stderr = result.stderr.decode()
    assert "Line 4: Email is not a valid address" in stderr
    assert "Nothing was imported" in stderr
    assert "Traceback" not in stderr
    assert count(customers_of, tenant) == 0


def test_partial_import_writes_the_valid_rows_and_the_error_file(
    database: Any, tenant: Any, customers_of: Any, write: Any, tmp_path: Path
) -> None:
    report = tmp_path / "errors.csv"
    result = manage(
        database,
        "import-csv",
        str(write(ONE_BAD)),
        "--tenant",
        tenant.id,
        "--partial",
        "--errors",
        str(report),
    )
    assert result.returncode == 0, result.stderr
    assert count(customers_of, tenant) == 2
    lines = report.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0] == "name,email,phone,error"
    assert lines[1].startswith("Cid,not-an-email,3,Email is not a valid address")


def test_dry_run_writes_nothing_and_exits_by_what_would_happen(
    database: Any, tenant: Any, customers_of: Any, write: Any
) -> None:
    clean = manage(database, "import-csv", str(write(GOOD)), "--tenant", tenant.id, "--dry-run")
    dirty = manage(database, "import-csv", str(write(ONE_BAD)), "--tenant", tenant.id, "--dry-run")
    assert (clean.returncode, dirty.returncode) == (0, 1)
    assert clean.stdout.decode().strip() == "created=2 updated=0 skipped=0 invalid=0"
    assert "Dry run" in clean.stderr.decode()
    assert count(customers_of, tenant) == 0


@pytest.mark.parametrize(
    ("mode", "line"),
    [
        ("upsert", "created=1 updated=1 skipped=0 invalid=0"),
        ("skip", "created=1 updated=0 skipped=2 invalid=0"),
        ("create", "created=1 updated=0 skipped=0 invalid=2"),
    ],
    ids=["upsert", "skip", "create"],
)
def test_modes_from_the_command_line(
    database: Any, tenant: Any, write: Any, mode: str, line: str
) -> None:
    assert manage(database, "import-csv", str(write(GOOD)), "--tenant", tenant.id).returncode == 0
    again = "name,email,phone\nAnn,ann@example.com,1\nBob,bob@example.com,9\nCid,cid@example.com,\n"
    result = manage(
        database,
        "import-csv",
        str(write(again, "again.csv")),
        "--tenant",
        tenant.id,
        "--mode",
        mode,
    )
    assert result.stdout.decode().strip() == line


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["import-csv", "{missing}", "--tenant", "{tenant}"], ["is not a file"]),
        (["import-csv", "{binary}", "--tenant", "{tenant}"], ["binary"]),
        (["import-csv", "{good}", "--tenant", "{tenant}", "--mode", "merge"], ["invalid choice"]),
    ],
    ids=["missing-file", "binary-file", "bad-mode"],
)
def test_file_and_usage_errors_exit_2_with_one_sentence(
    database: Any, tenant: Any, write: Any, tmp_path: Path, args: list[str], words: list[str]
) -> None:
    names = {
        "missing": str(tmp_path / "nope.csv"),
        "binary": str(write(b"\x00\x01\x02PK\x03\x04" * 50, "junk.csv")),
        "good": str(write(GOOD)),
        "tenant": tenant.id,
    }
    result = manage(database, *(a.format(**names) for a in args))
    assert result.returncode == 2
    stderr = result.stderr.decode()
    assert len(stderr.strip().splitlines()) == 1
    for word in words:
        assert word in stderr


def test_unknown_tenant_is_refused_with_exit_1(database: Any, write: Any) -> None:
    result = manage(database, "import-csv", str(write(GOOD)), "--tenant", "no-such-tenant-x")
    assert result.returncode == 1
    assert "tenant 'no-such-tenant-x' was not found" in result.stderr.decode()


def test_export_writes_csv_to_stdout_or_a_file(
    database: Any, tenant: Any, write: Any, tmp_path: Path
) -> None:
    manage(database, "import-csv", str(write(GOOD)), "--tenant", tenant.id)
    result = manage(database, "export-csv", "--tenant", tenant.name, "--search", "bob")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.decode().splitlines()
    assert lines[0] == "name,email,phone,address,created_at,updated_at,id"
    assert [line.split(",")[1] for line in lines[1:]] == ["bob@example.com"]
    target = tmp_path / "out.csv"
    result = manage(database, "export-csv", "--tenant", tenant.id, "--out", str(target), "--bom")
    assert result.returncode == 0
    assert target.read_bytes().startswith(b"\xef\xbb\xbfname,email")
    assert "Exported 2 customers" in result.stderr.decode()


def test_import_killed_midway_leaves_the_tenant_as_it_was(
    database: Any, tenant: Any, customers_of: Any, write: Any, tmp_path: Path
) -> None:
    """SIGKILL in the middle of the write phase: the one transaction never commits."""
    manage(database, "import-csv", str(write(GOOD)), "--tenant", tenant.id)
    path = write(big_csv(20000, seed=5), "big.csv")
    marker = tmp_path / "midway"
    script = (
        "import sys, time\n"
        f"sys.path.insert(0, {str(PROJECT_DIR)!r})\n"
        "from data.db import get_database\n"
        "from data.models import Role\n"
        "from data.tenancy import Actor\n"
        "from data import csv_import\n"
        "csv_import.PARALLEL_MIN_BYTES = 1 << 40\n"
        "csv_import.BATCH_ROWS = 1000\n"
        "def progress(done, total):\n"
        "    if done > total // 2:\n"
        f"        open({str(marker)!r}, 'w').close()\n"
        "        time.sleep(60)\n"
        "if __name__ == '__main__':\n"
        f"    csv_import.import_csv(get_database(), {tenant.id!r}, Actor('kill', Role.EDITOR),\n"
        f"        {str(path)!r}, filename='big.csv', progress=progress)\n"
    )
    env = dict(os.environ, DATABASE_URL=str(database.url.render_as_string(hide_password=False)))
    process = subprocess.Popen([sys.executable, "-c", script], env=env)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert process.poll() is None, "the import ended before it was killed"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        with customers_of(tenant) as repository:
            assert repository.count().value == 2  # not committed yet: nobody sees it
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert count(customers_of, tenant) == 2
    with customers_of(tenant) as repository:
        assert {c.email for c in repository.iter_all()} == {"ann@example.com", "bob@example.com"}
    # The database takes the next import at once (no lock or half transaction left).
    result = manage(
        database, "import-csv", str(write(big_csv(5, seed=9), "small.csv")), "--tenant", tenant.id
    )
    assert result.returncode == 0, result.stderr
    assert count(customers_of, tenant) == 7
