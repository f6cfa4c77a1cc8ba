#!/usr/bin/env python3
"""Wide rows: an import's time and peak memory whatever the file's shape (issue 13).

    python bench/wide_rows.py                       # 150 rows x 250,000 fields, SQLite
    python bench/wide_rows.py --rows 150 --fields 250000 --database-url postgresql+psycopg://...

Each shape is one ``manage.py import-csv`` of a generated file into a fresh tenant, its
whole process tree's memory sampled every 0.2 s (``benchkit.TreeMemory``: summed RSS of the
command and every process it starts, e.g. validation workers):

* ``wide-header``: the issue's file, 150 rows of 250,000 fields, header as wide: refused
  at line 1 (more columns than ``Limits.max_columns``), at once.
* ``wide-rows``: a header of three columns, then rows of 250,000 fields: each row is a
  row error (wider than the header), its values dropped as soon as they are counted.
* ``many-columns``: a header at the column limit (2,000), rows filling every column, of
  which three are mapped: only those three values are kept per row.
* ``long-fields``: 20,000 rows whose address is 100 KB of text (a row error each: over
  500 characters): batches close by bytes, not only by rows.

Prints one line per shape (seconds, peak MB of the process tree, the summary line) and a
markdown table for bench/RESULTS.md; exits 1 when a peak exceeds ``--budget-mb`` (200).
The lead wires ``run(...)`` into ``make bench``; it is standalone here.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BENCH_DIR.parent
sys.path.insert(0, str(PROJECT_DIR))
sys.path.insert(0, str(BENCH_DIR))

from benchkit import TreeMemory  # noqa: E402 - the sampler of make bench

PYTHON = sys.executable
BUDGET_MB = 200.0


@dataclass
class Measured:
    shape: str
    seconds: float
    peak_mb: float  # the whole process tree, summed RSS (sampled)
    file_mb: float
    summary: str
    exit_code: int


def measure(command: list[str], env: dict[str, str]) -> tuple[float, float, int, str, str]:
    """Run ``command``; (seconds, peak RSS in MB, exit code, stdout, stderr).

    The peak is the larger of the whole tree's summed RSS (sampled every 0.2 s) and the
    command's own peak as the kernel counted it, read by ``/usr/bin/time`` (exact, even
    for a short run).  Not this process's ``wait4``: a child's ``ru_maxrss`` keeps the
    peak of the process it was forked from across ``exec``, so it would report the
    bench's own memory.
    """
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.NamedTemporaryFile("r", suffix=".maxrss") as maxrss,
    ):
        start = time.perf_counter()
        timed = ["/usr/bin/time", "-f", "%M", "-o", maxrss.name, *command]
        process = subprocess.Popen(timed, env=env, stdout=out, stderr=err)
        sampler = TreeMemory(process.pid)
        sampler.start()
        process.wait()
        elapsed = time.perf_counter() - start
        sampler.done.set()
        sampler.join()
        out.seek(0)
        err.seek(0)
        lines = [line for line in maxrss.read().splitlines() if line.strip().isdigit()]
        own_kb = int(lines[-1]) if lines else 0
        peak = max(sampler.peak_rss / 1024, own_kb / 1024)
        return elapsed, peak, process.returncode, out.read().decode(), err.read().decode()


def _wide_header(path: Path, rows: int, fields: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write(",".join(["name", "email", *(f"c{i}" for i in range(fields - 2))]) + "\n")
        filler = ",".join(["v"] * (fields - 2))
        for i in range(rows):
            out.write(f"N{i},n{i}@example.com,{filler}\n")


def _wide_rows(path: Path, rows: int, fields: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write("name,email,phone\n")
        filler = ",".join(["v"] * (fields - 3))
        for i in range(rows):
            out.write(f"N{i},n{i}@example.com,1,{filler}\n")


def _many_columns(path: Path, rows: int, columns: int = 2000) -> None:
    with path.open("w", encoding="utf-8") as out:
        names = [f"extra {i}" for i in range(columns - 3)]
        out.write(",".join(["name", *names[: columns // 2], "email", *names[columns // 2 :]]))
        out.write(",phone\n")
        filler_a = ",".join(f"x{i}" for i in range(columns // 2))
        filler_b = ",".join(f"y{i}" for i in range(columns - 3 - columns // 2))
        for i in range(rows):
            out.write(f"N{i},{filler_a},n{i}@example.com,{filler_b},+1 555 {i:07d}\n")


def _long_fields(path: Path, rows: int, chars: int = 100_000) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write("name,email,address\n")
        text = "a" * chars
        for i in range(rows):
            out.write(f"N{i},n{i}@example.com,{text}\n")


def shapes(rows: int, fields: int) -> dict[str, Callable[[Path], None]]:
    return {
        "wide-header": lambda p: _wide_header(p, rows, fields),
        "wide-rows": lambda p: _wide_rows(p, rows, fields),
        "many-columns": lambda p: _many_columns(p, 20_000),
        "long-fields": lambda p: _long_fields(p, 2_000),
    }


def _manage(*args: str) -> list[str]:
    return [PYTHON, str(PROJECT_DIR / "manage.py"), *args]


def run(
    *, rows: int = 150, fields: int = 250_000, database_url: str | None = None
) -> list[Measured]:
    """Measure every shape; a fresh SQLite database unless ``database_url`` is given."""
    work = Path(tempfile.mkdtemp(prefix="bench-wide-"))
    try:
        url = database_url or f"sqlite:///{work / 'bench.db'}"
        env = dict(os.environ, DATABASE_URL=url)
        env.setdefault("JWT_SECRET", secrets.token_urlsafe(48))
        env.setdefault("COOKIE_KEY", secrets.token_urlsafe(48))
        subprocess.run(_manage("init-db"), env=env, check=True, capture_output=True)
        results = []
        for shape, make in shapes(rows, fields).items():
            path = work / f"{shape}.csv"
            make(path)
            tenant = subprocess.run(
                _manage("create-tenant", f"wide-{shape}-{secrets.token_hex(3)}"),
                env=env,
                check=True,
                capture_output=True,
                text=True,
            ).stdout.strip()
            command = _manage("import-csv", str(path), "--tenant", tenant, "--partial")
            seconds, peak, code, out, err = measure(command, env)
            summary = out.strip() or err.strip().splitlines()[-1]
            results.append(Measured(shape, seconds, peak, path.stat().st_size / 1e6, summary, code))
            print(
                f"{shape:<13} {path.stat().st_size / 1e6:6.1f} MB file  {seconds:6.1f} s  "
                f"peak {peak:5.0f} MB  exit {code}  {summary[:110]}",
                flush=True,
            )
            path.unlink()
        return results
    finally:
        shutil.rmtree(work, ignore_errors=True)


def markdown(results: list[Measured], budget: float = BUDGET_MB) -> str:
    lines = [
        "| shape | file | time | peak RSS, all processes | budget | verdict | outcome |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        verdict = "met" if r.peak_mb <= budget else "MISSED"
        lines.append(
            f"| {r.shape} | {r.file_mb:.1f} MB | {r.seconds:.1f} s | {r.peak_mb:.0f} MB | "
            f"≤ {budget:.0f} MB | {verdict} | `{r.summary[:90]}` |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=150)
    parser.add_argument("--fields", type=int, default=250_000)
    parser.add_argument("--database-url", default=None, help="default: a scratch SQLite file")
    parser.add_argument("--budget-mb", type=float, default=BUDGET_MB)
    options = parser.parse_args()
    results = run(rows=options.rows, fields=options.fields, database_url=options.database_url)
    print()
    print(markdown(results, options.budget_mb))
    return 0 if all(r.peak_mb <= options.budget_mb for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
