"""An import's memory is bounded whatever the file's shape (issue 13, SPEC §9).

Limits on columns, field and row length refuse a file with one sentence naming the line;
rows wider than the header become row errors without their values; a batch keeps only
the mapped columns' values and closes by bytes as well as rows.  The memory test imports
generated files of two sizes in a child process and compares the peaks (``VmHWM``).
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from data.errors import ImportFailed
from data.importing import ImportSummary, Limits, import_file
from data.importing.columns import plan_columns
from data.importing.read_csv import Record
from data.importing.validation import Checking, batches

PROJECT_DIR = Path(__file__).resolve().parents[2]


@pytest.fixture
def run(database: Any, identity_of: Any) -> Any:
    def import_(tenant: Any, data: bytes, **options: Any) -> ImportSummary:
        return import_file(
            database,
            identity_of(tenant.editor),
            io.BytesIO(data),
            filename="wide.csv",
            **options,
        )

    return import_


@pytest.mark.parametrize(
    ("data", "limits", "sentence"),
    [
        pytest.param(
            b"name,email\nAnn,a@x.io\n" + b'Bo,b@x.io,"' + b"z" * 3000 + b'"\n',
            Limits(max_field_chars=2000),
            "Line 3 of wide.csv: a field is longer than 2,000 characters; is a quote left open?",
            id="field-too-long",
        ),
        pytest.param(
            b"name,email\nAnn,a@x.io\n" + b",".join([b"v"] * 3000) + b"\n",
            Limits(max_row_chars=4096),
            "Line 3 of wide.csv is longer than 4 KB (a row that long is not customer data; "
            "is a quote left open?).",
            id="row-too-long",
        ),
        pytest.param(
            b"name,email,a,b,c\nAnn,a@x.io,1,2,3\n",
            Limits(max_columns=4),
            "Line 1 of wide.csv has 5 columns; at most 4 can be imported, so remove the "
            "columns you do not need and try again.",
            id="header-too-wide",
        ),
    ],
)
def test_a_file_past_a_limit_is_refused_naming_its_line(
    run: Any, tenant: Any, data: bytes, limits: Limits, sentence: str
) -> None:
    with pytest.raises(ImportFailed) as failure:
        run(tenant, data, limits=limits, partial=True)
    assert str(failure.value) == sentence


def test_rows_wider_than_the_header_are_row_errors_and_reported_as_read(
    run: Any, tenant: Any
) -> None:
    wide = b"Bo,b@x.io," + b",".join([b"v"] * 5000)
    data = b"name,email\nAnn,a@x.io\n" + wide + b"\nCid,c@x.io\n"
    report = io.BytesIO()
    summary = run(tenant, data, partial=True, errors_out=report)
    assert summary.created == 2
    [error] = summary.errors
    assert error.line == 3
    assert error.message.startswith("This row has 5002 fields but the header has 2")
    lines = report.getvalue().decode("utf-8-sig").splitlines()
    assert lines[1].startswith("3,Bo,b@x.io,This row has 5002 fields")  # then the rest


def test_a_batch_keeps_only_mapped_values_and_closes_by_bytes() -> None:
    header = ["name", "notes", "email", "more"]
    plan = plan_columns(header, None)
    records = [Record(i, [f"N{i}", "x" * 1000, f"n{i}@x.io", "y" * 1000]) for i in range(2, 50)]
    records.insert(3, Record(99, ["too", "wide", "row", "here", "!"]))
    made = list(batches(iter(records), Checking(plan), size=1000, max_bytes=300))
    assert all(len(batch) <= 5 for batch in made)  # ~75 bytes kept per row: closed by bytes
    assert len(made) >= 10
    kept = [item for batch in made for item in batch]
    assert kept[0] == (2, ("N2", "n2@x.io"))  # only name and email, not the 2 KB of notes
    assert (99, 5) in kept  # the wide row: its width only


CHILD = """
import io, os, sys
sys.path.insert(0, {project!r})
from data.db import get_database
from data.identity import Identity
from data.importing import import_file
path, tenant = sys.argv[1], sys.argv[2]
summary = import_file(get_database(), Identity.of_operator(tenant, "cli:test"), path,
    filename=os.path.basename(path), partial=True, parallel_min_bytes=1 << 40)
print(summary.line())
# VmHWM, this process's own peak: getrusage's ru_maxrss would also carry the peak of the
# pytest worker it was forked from (Linux keeps it across exec).
status = open("/proc/self/status").read()
print(int(status.split("VmHWM:")[1].split()[0]) // 1024)
"""


def _peak_mb(database: Any, tenant: Any, path: Path) -> tuple[str, int]:
    env = dict(os.environ, DATABASE_URL=database.url.render_as_string(hide_password=False))
    done = subprocess.run(
        [sys.executable, "-c", CHILD.format(project=str(PROJECT_DIR)), str(path), tenant.id],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    line, peak = done.stdout.strip().splitlines()[-2:]
    return line, int(peak)


def _wide_rows(path: Path, rows: int, fields: int) -> Path:
    filler = ",".join(["v"] * fields)
    with path.open("w") as out:
        out.write("name,email,phone\n")
        for i in range(rows):
            out.write(f"N{i},n{i}@example.com,1,{filler}\n")
    return path


def _many_columns(path: Path, rows: int) -> Path:
    extra = [f"extra {i}" for i in range(1997)]
    filler = ",".join(f"{i}" * 3 for i in range(1997))
    with path.open("w") as out:
        out.write(",".join(["name", "email", *extra, "phone"]) + "\n")
        for i in range(rows):
            out.write(f"N{i},n{i}@example.com,{filler},+1 555 {i:07d}\n")
    return path


@pytest.mark.parametrize(
    ("shape", "small", "large"),
    [
        pytest.param(
            lambda p, n: _wide_rows(p, 150, n), 25_000, 250_000, id="150-rows-of-25k-vs-250k-fields"
        ),
        pytest.param(_many_columns, 1_000, 8_000, id="2000-columns-1k-vs-8k-rows"),
    ],
)
def test_peak_memory_of_an_import_stays_flat_whatever_the_shape(
    database: Any, make_tenant: Any, tmp_path: Path, shape: Any, small: int, large: int
) -> None:
    line_small, peak_small = _peak_mb(database, make_tenant(), shape(tmp_path / "a.csv", small))
    big = shape(tmp_path / "b.csv", large)
    line_large, peak_large = _peak_mb(database, make_tenant(), big)
    assert "refused" not in line_small + line_large
    grown = peak_large - peak_small
    assert grown < 30, (peak_small, peak_large, big.stat().st_size // 1_000_000)
    assert peak_large < 200
