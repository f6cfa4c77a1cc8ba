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
    # Nothing was written, and the line says so: a script cannot read "created=2".
    assert result.stdout.decode().strip() == "created=0 updated=0 skipped=0 invalid=1 refused=1"
    stderr = result.stderr.decode()
    assert "Line 4: Email is not a valid address" in stderr
    assert "Nothing was imported" in stderr
    assert "the valid rows would have given 2 to create, 0 to update" in stderr
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
    assert lines[0] == "line,name,email,phone,error"
    assert lines[1].startswith("4,Cid,not-an-email,3,Email is not a valid address")


def test_dry_run_writes_nothing_and_exits_by_what_would_happen(
    database: Any, tenant: Any, customers_of: Any, write: Any
) -> None:
    clean = manage(database, "import-csv", str(write(GOOD)), "--tenant", tenant.id, "--dry-run")
    dirty = manage(database, "import-csv", str(write(ONE_BAD)), "--tenant", tenant.id, "--dry-run")
    assert (clean.returncode, dirty.returncode) == (0, 1)
    assert clean.stdout.decode().strip() == "would_create=2 would_update=0 would_skip=0 invalid=0"
    assert dirty.stdout.decode().strip() == (
        "would_create=2 would_update=0 would_skip=0 invalid=1 would_refuse=1"
    )
    assert "Dry run" in clean.stderr.decode()
    assert count(customers_of, tenant) == 0


@pytest.mark.parametrize(
    ("mode", "line"),
    [
        ("upsert", "created=1 updated=1 skipped=0 invalid=0"),
        ("skip", "created=1 updated=0 skipped=2 invalid=0"),
        ("create", "created=0 updated=0 skipped=0 invalid=2 refused=1"),
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
    database: Any, tenant: Any, customers_of: Any, identity_of: Any, write: Any, tmp_path: Path
) -> None:
    """SIGKILL in the middle of the write phase: the one transaction never commits."""
    manage(database, "import-csv", str(write(GOOD)), "--tenant", tenant.id)
    # Signed in before the import takes SQLite's write lock (signing in writes a session).
    reader = identity_of(tenant.viewer)
    path = write(big_csv(20000, seed=5), "big.csv")
    marker = tmp_path / "midway"
    script = (
        "import sys, time\n"
        f"sys.path.insert(0, {str(PROJECT_DIR)!r})\n"
        "from data.db import get_database\n"
        "from data.identity import Identity\n"
        "from data.importing import import_file\n"
        "def progress(done, total):\n"
        "    if done > total // 2:\n"
        f"        open({str(marker)!r}, 'w').close()\n"
        "        time.sleep(60)\n"
        "if __name__ == '__main__':\n"
        f"    import_file(get_database(), Identity.of_operator({tenant.id!r}, 'kill'),\n"
        f"        {str(path)!r}, filename='big.csv', progress=progress,\n"
        "        batch_rows=1000, parallel_min_bytes=1 << 40)\n"
    )
    env = dict(os.environ, DATABASE_URL=str(database.url.render_as_string(hide_password=False)))
    process = subprocess.Popen([sys.executable, "-c", script], env=env)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert process.poll() is None, "the import ended before it was killed"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        with customers_of(tenant, reader) as repository:
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


# -- spreadsheets, --sheet, --map, Excel export ----------------------------------------


def test_a_workbook_imports_by_its_content_with_sheet_and_map(
    database: Any, tenant: Any, customers_of: Any, write: Any
) -> None:
    from tests.data.spreadsheets import xlsx

    book = xlsx(
        {
            "Cover": [["Customers of the north shop"]],
            "Kunden": [
                ["Stand: Januar"],
                ["Kontakt", "E-Mail", "Handy", "Notiz"],
                ["Ann Lee", "ann@example.com", 4917155550100, "vip"],
            ],
        }
    )
    path = write(book, "kunden.xlsx")
    args = ["--tenant", tenant.id, "--sheet", "Kunden", "--map", "Kontakt=name", "--map", "Notiz="]
    result = manage(database, "import", str(path), *args)  # "import" is import-csv's alias
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().strip() == "created=1 updated=0 skipped=0 invalid=0"
    assert "(Excel workbook, sheet 'Kunden', header on row 2)" in result.stderr.decode()
    with customers_of(tenant) as repository:
        [ann] = list(repository.iter_all())
    assert (ann.name, ann.phone) == ("Ann Lee", "4917155550100")


def test_a_contact_export_reports_which_columns_feed_a_field(
    database: Any, tenant: Any, customers_of: Any
) -> None:
    sample = PROJECT_DIR / "tests" / "data" / "samples" / "outlook-contacts.csv"
    result = manage(database, "import-csv", str(sample), "--tenant", tenant.id)
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().strip() == "created=4 updated=0 skipped=0 invalid=0"
    assert (
        "Email: each row takes the first non-empty one of 'E-mail Address', then "
        "'E-mail 2 Address', then 'E-mail 3 Address'." in result.stderr.decode().splitlines()
    )
    assert count(customers_of, tenant) == 4


@pytest.mark.parametrize(
    ("extra", "sentence"),
    [
        (["--map", "Handy"], "--map 'Handy' is not COLUMN=FIELD"),
        (["--map", "=phone"], "--map '=phone' is not COLUMN=FIELD"),
        (["--map", "phone=mobile"], "Column 'phone' cannot be mapped to 'mobile'"),
        (["--map", "Handy=phone"], "The mapping names a column 'Handy' that customers.csv"),
        (["--map", "phone=phone", "--map", "phone="], "--map names the column 'phone' twice."),
        (["--sheet", "Sheet1"], "customers.csv is a CSV file, which has no sheets"),
    ],
    ids=["no-equals", "no-column", "unknown-field", "unknown-column", "twice", "sheet-of-csv"],
)
def test_a_bad_map_or_sheet_is_a_usage_error(
    database: Any, tenant: Any, customers_of: Any, write: Any, extra: list[str], sentence: str
) -> None:
    result = manage(database, "import-csv", str(write(GOOD)), "--tenant", tenant.id, *extra)
    assert result.returncode == 2
    [line] = result.stderr.decode().splitlines()
    assert sentence in line
    assert line.endswith(".")
    assert count(customers_of, tenant) == 0


def test_export_to_an_xlsx_name_writes_a_workbook(
    database: Any, tenant: Any, write: Any, tmp_path: Path
) -> None:
    from python_calamine import CalamineWorkbook

    manage(database, "import-csv", str(write(GOOD)), "--tenant", tenant.id)
    target = tmp_path / "customers.xlsx"
    result = manage(database, "export", "--tenant", tenant.id, "--out", str(target))
    assert result.returncode == 0, result.stderr
    assert "Exported 2 customers" in result.stderr.decode()
    rows = CalamineWorkbook.from_path(str(target)).get_sheet_by_name("Customers").to_python()
    assert rows[0] == ["name", "email", "phone", "address", "created_at", "updated_at", "id"]
    assert [row[:3] for row in rows[1:]] == [
        ["Ann", "ann@example.com", "1"],
        ["Bob", "bob@example.com", "2"],
    ]
    piped = manage(database, "export-csv", "--tenant", tenant.id, "--format", "xlsx")
    assert piped.returncode == 0
    assert piped.stdout.startswith(b"PK\x03\x04")
    bom = manage(database, "export-csv", "--tenant", tenant.id, "--out", str(target), "--bom")
    assert bom.returncode == 2
    assert bom.stderr.decode().strip().endswith("an .xlsx workbook needs none.")


def test_an_export_too_large_for_a_sheet_exits_2_with_no_file(
    database: Any, tenant: Any, add_customers: Any, tmp_path: Path, monkeypatch: Any, capsys: Any
) -> None:
    import data.xlsx_export
    import manage as cli

    add_customers(tenant, 3)
    monkeypatch.setattr(data.xlsx_export, "XLSX_MAX_ROWS", 2)
    target = tmp_path / "big.xlsx"
    assert cli.main(["export-csv", "--tenant", tenant.id, "--out", str(target)]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("manage.py export-csv: 3 customers do not fit in one Excel sheet")
    assert list(tmp_path.iterdir()) == []
