#!/usr/bin/env python3
"""Spreadsheets: import of a 100,000-row .xlsx beside the same rows as CSV, and export of
that tenant to .xlsx beside CSV (issue 14).

    python bench/spreadsheets.py                      # 100,000 rows, a scratch SQLite file
    python bench/spreadsheets.py --rows 100000 --database-url postgresql+psycopg://...

One deterministic data set (``data.sample``, seed 2026): the same customers written as
``customers-N.csv`` and ``customers-N.xlsx`` (xlsxwriter, the columns of an export, every
cell text).  Each measurement is one ``manage.py`` command in its own process, timed,
with the peak memory of its whole process tree (the sheet is unpacked by a child
process, validation may start workers: ``wide_rows.measure``):

* ``import csv`` / ``import xlsx``: into an empty tenant each;
* ``export csv`` / ``export xlsx``: that tenant, to a file.

Prints the figures and a markdown table (time, xlsx/csv ratio, peak MB) for
bench/RESULTS.md.  The lead wires ``run(...)`` into ``make bench``.
"""

from __future__ import annotations

import argparse
import csv
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BENCH_DIR.parent
sys.path.insert(0, str(PROJECT_DIR))
sys.path.insert(0, str(BENCH_DIR))

from wide_rows import measure  # noqa: E402

PYTHON = sys.executable
SEED = 2026
HEADER = ["name", "email", "phone", "address"]


@dataclass
class Figure:
    work: str
    seconds: float
    peak_mb: float
    outcome: str


def write_files(rows: int, folder: Path) -> tuple[Path, Path]:
    """The same ``rows`` customers as CSV and as .xlsx (constant-memory xlsxwriter)."""
    import xlsxwriter  # type: ignore[import-untyped]

    from data.sample import customers

    csv_path, xlsx_path = folder / f"customers-{rows}.csv", folder / f"customers-{rows}.xlsx"
    book = xlsxwriter.Workbook(str(xlsx_path), {"constant_memory": True})
    sheet = book.add_worksheet("Customers")
    sheet.write_row(0, 0, HEADER)
    with csv_path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for index, record in enumerate(customers(rows, seed=SEED), start=1):
            values = [record[name] or "" for name in HEADER]
            writer.writerow(values)
            for column, value in enumerate(values):
                if value:
                    sheet.write_string(index, column, value)
    book.close()
    return csv_path, xlsx_path


def _manage(*args: str) -> list[str]:
    return [PYTHON, str(PROJECT_DIR / "manage.py"), *args]


def _tenant(env: dict[str, str], name: str) -> str:
    return subprocess.run(
        _manage("create-tenant", f"{name}-{secrets.token_hex(3)}"),
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def _step(work: str, command: list[str], env: dict[str, str]) -> Figure:
    seconds, peak, code, out, err = measure(command, env)
    if code != 0:
        raise SystemExit(f"bench: {' '.join(command)} failed ({code}):\n{err[-2000:]}")
    outcome = out.strip().splitlines()[-1] if out.strip() else err.strip().splitlines()[-1]
    print(f"{work:<12} {seconds:7.1f} s  peak {peak:5.0f} MB  {outcome[:80]}", flush=True)
    return Figure(work, seconds, peak, outcome)


def run(*, rows: int = 100_000, database_url: str | None = None) -> list[Figure]:
    work = Path(tempfile.mkdtemp(prefix="bench-sheets-"))
    try:
        url = database_url or f"sqlite:///{work / 'bench.db'}"
        env = dict(os.environ, DATABASE_URL=url)
        env.setdefault("JWT_SECRET", secrets.token_urlsafe(48))
        env.setdefault("COOKIE_KEY", secrets.token_urlsafe(48))
        subprocess.run(_manage("init-db"), env=env, check=True, capture_output=True)
        csv_path, xlsx_path = write_files(rows, work)
        print(
            f"files: {csv_path.stat().st_size / 1e6:.1f} MB CSV, "
            f"{xlsx_path.stat().st_size / 1e6:.1f} MB .xlsx ({rows:,} rows)",
            flush=True,
        )
        figures = []
        csv_tenant, xlsx_tenant = _tenant(env, "sheets-csv"), _tenant(env, "sheets-xlsx")
        figures.append(
            _step("import csv", _manage("import-csv", str(csv_path), "--tenant", csv_tenant), env)
        )
        figures.append(
            _step(
                "import xlsx", _manage("import-csv", str(xlsx_path), "--tenant", xlsx_tenant), env
            )
        )
        for kind in ("csv", "xlsx"):
            target = work / f"export.{kind}"
            command = _manage("export-csv", "--tenant", xlsx_tenant, "--out", str(target))
            figures.append(_step(f"export {kind}", command, env))
        return figures
    finally:
        shutil.rmtree(work, ignore_errors=True)


def markdown(figures: list[Figure], rows: int) -> str:
    by = {f.work: f for f in figures}
    lines = [
        f"| work ({rows:,} rows) | time | .xlsx / CSV | peak RSS, all processes | outcome |",
        "|---|---|---|---|---|",
    ]
    for f in figures:
        kind, fmt = f.work.split(" ", 1)
        anchor = by.get(f"{kind} csv")
        ratio = f"{f.seconds / anchor.seconds:.2f}×" if fmt == "xlsx" and anchor else "—"
        lines.append(
            f"| {f.work} | {f.seconds:.1f} s | {ratio} | {f.peak_mb:.0f} MB | `{f.outcome[:70]}` |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--database-url", default=None, help="default: a scratch SQLite file")
    options = parser.parse_args()
    figures = run(rows=options.rows, database_url=options.database_url)
    print()
    print(markdown(figures, options.rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
