#!/usr/bin/env python3
"""``make bench``: the performance budget of SPEC §8, measured against anchors in one run.

    python bench/run.py --rows 1000000            # everything that is registered
    python bench/run.py --rows 100000 --only import-sqlite export-sqlite

Each measurement is one function registered with ``@measurement(name)``; it runs our
code and its anchor side by side and returns ``Result`` rows (seconds, ratio, budget,
peak memory).  The run ends by appending a section to ``bench/RESULTS.md`` with the date,
the machine, the versions and the commands.  Our side always runs through the product's
own front door (``manage.py import-csv`` / ``export-csv``) under ``/usr/bin/time -v``,
which gives the peak resident memory.

PostgreSQL runs in a scratch database (``inventory_bench``, created and dropped here) on
the server of ``BENCH_DATABASE_URL`` or else ``TEST_DATABASE_URL``; SQLite in files under
``bench/data/`` (git-ignored), next to the generated CSV files.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import re
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))
DATA_DIR = PROJECT_DIR / "bench" / "data"
RESULTS = PROJECT_DIR / "bench" / "RESULTS.md"
PYTHON = sys.executable
TIME = "/usr/bin/time"
SCRATCH_DB = "inventory_bench"
EXPORT_COLUMNS = "name, email, phone, address, created_at, updated_at, id"


@dataclass
class Result:
    work: str
    ours: float | None  # seconds (or the measured value)
    anchor: float | None
    budget: str  # e.g. "≤ 1.5×"
    limit: float | None = None  # the ratio (or MB) the budget allows
    rss_mb: float | None = None
    note: str = ""
    unit: str = "s"

    @property
    def ratio(self) -> float | None:
        if self.ours is None or not self.anchor:
            return None
        return self.ours / self.anchor

    @property
    def verdict(self) -> str:
        value = self.ratio if self.anchor else self.ours
        if value is None or self.limit is None:
            return "—"
        return "met" if value <= self.limit else "MISSED"


@dataclass
class Context:
    rows: int
    pg_url: str | None  # the scratch database (psycopg URL), when PostgreSQL is available
    commands: list[str] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)
    state: dict[str, str] = field(default_factory=dict)

    def log(self, command: str) -> None:
        self.commands.append(command)
        print(f"  $ {command}", flush=True)


Measurement = Callable[[Context], list[Result]]
MEASUREMENTS: dict[str, Measurement] = {}


def measurement(name: str) -> Callable[[Measurement], Measurement]:
    """Register a measurement; run order is registration order."""

    def register(function: Measurement) -> Measurement:
        MEASUREMENTS[name] = function
        return function

    return register


# -- helpers ----------------------------------------------------------------------------


def run(
    command: list[str],
    *,
    env: dict[str, str] | None = None,
    stdout: Path | None = None,
    log: Context | None = None,
) -> tuple[float, str, str]:
    """Run a command; return (wall seconds, stdout, stderr).  Fails loudly on error."""
    if log is not None:
        shown = " ".join(command)
        log.log(shown + (f" > {stdout.name}" if stdout else ""))
    start = time.perf_counter()
    if stdout is not None:
        with stdout.open("wb") as handle:
            done = subprocess.run(
                command, env=env, stdout=handle, stderr=subprocess.PIPE, check=False
            )
        out = ""
    else:
        done = subprocess.run(command, env=env, capture_output=True, check=False)
        out = done.stdout.decode(errors="replace")
    elapsed = time.perf_counter() - start
    if log is not None:
        print(f"    ({elapsed:.1f} s)", flush=True)
    err = done.stderr.decode(errors="replace")
    if done.returncode != 0:
        raise SystemExit(f"bench: {' '.join(command)} failed ({done.returncode}):\n{err[-2000:]}")
    return elapsed, out, err


def timed(command: list[str], **kwargs: object) -> tuple[float, float, str]:
    """Run under /usr/bin/time -v: (wall seconds, peak RSS in MB, stdout)."""
    elapsed, out, err = run([TIME, "-v", *command], **kwargs)  # type: ignore[arg-type]
    match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", err)
    rss = int(match.group(1)) / 1024 if match else float("nan")
    return elapsed, rss, out


def app_env(url: str) -> dict[str, str]:
    return dict(os.environ, DATABASE_URL=url)


def manage(*args: str) -> list[str]:
    return [PYTHON, str(PROJECT_DIR / "manage.py"), *args]


def new_tenant(ctx: Context, url: str, name: str) -> str:
    _, out, _ = run(
        manage("create-tenant", f"{name}-{uuid.uuid4().hex[:6]}"), env=app_env(url), log=ctx
    )
    return out.strip()


def psql_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


# -- data -------------------------------------------------------------------------------


def generate(rows: int, path: Path, *, changed: bool = False) -> Path:
    """The deterministic CSV of ``rows`` customers, as an export of this product looks.

    ``changed`` gives the same customers (same emails) with another phone number each, so
    that an upsert of it updates every row.
    """
    if path.exists():
        return path
    from data.sample import customers

    DATA_DIR.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    rng = random.Random(2026)
    base = datetime(2025, 1, 1, tzinfo=UTC)
    with tmp.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["name", "email", "phone", "address", "created_at", "updated_at", "id"])
        for index, record in enumerate(customers(rows, seed=2026)):
            moment = (base + timedelta(seconds=17 * index)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            phone = record["phone"] or ""
            if changed:
                phone = f"+1 555 {index:07d}"
            writer.writerow(
                [
                    record["name"],
                    record["email"],
                    phone,
                    record["address"] or "",
                    moment,
                    moment,
                    str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                ]
            )
    tmp.replace(path)
    return path


# -- PostgreSQL ---------------------------------------------------------------------------


def pg_admin_url() -> str | None:
    url = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")
    return url.strip() if url else None


def pg_scratch(admin: str) -> str:
    """Create the scratch database afresh; return its URL."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from data.db import normalise_url

    base = normalise_url(admin)
    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{SCRATCH_DB}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{SCRATCH_DB}"'))
    engine.dispose()
    return make_url(base).set(database=SCRATCH_DB).render_as_string(hide_password=False)


def pg_drop(admin: str) -> None:
    from sqlalchemy import create_engine, text

    from data.db import normalise_url

    engine = create_engine(normalise_url(admin), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{SCRATCH_DB}" WITH (FORCE)'))
    engine.dispose()


def psql(ctx: Context, sql: str, *, stdout: Path | None = None) -> float:
    assert ctx.pg_url
    elapsed, _, _ = run(
        ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", psql_url(ctx.pg_url), "-c", sql],
        stdout=stdout,
        log=ctx,
    )
    return elapsed


ANCHOR_TABLE = """
DROP TABLE IF EXISTS anchor;
CREATE TABLE anchor (LIKE customers INCLUDING ALL);
ALTER TABLE anchor ALTER COLUMN tenant_id SET DEFAULT 'anchor-tenant';
ALTER TABLE anchor DROP COLUMN email_key;
ALTER TABLE anchor ADD COLUMN email_key varchar(254) GENERATED ALWAYS AS (lower(email)) STORED;
CREATE UNIQUE INDEX anchor_tenant_email ON anchor (tenant_id, email_key);
"""


@measurement("import-postgresql")
def import_postgresql(ctx: Context) -> list[Result]:
    """Import into an empty tenant vs psql \\copy into a copy of the table and its indexes."""
    if not ctx.pg_url:
        return [Result("import, PostgreSQL", None, None, "≤ 1.5×", note="no PostgreSQL")]
    path = ctx.files["csv"]
    run(manage("init-db"), env=app_env(ctx.pg_url), log=ctx)
    # The anchor: the same table (columns, every index incl. the trigram GIN), with the
    # columns the file lacks filled by the server (tenant default, email_key generated).
    psql(ctx, ANCHOR_TABLE)
    anchor = psql(ctx, f"\\copy anchor ({EXPORT_COLUMNS}) FROM '{path}' WITH (FORMAT csv, HEADER)")
    tenant = new_tenant(ctx, ctx.pg_url, "bench")
    ctx.state["pg_tenant"] = tenant
    ours, rss, out = timed(
        manage("import-csv", str(path), "--tenant", tenant), env=app_env(ctx.pg_url), log=ctx
    )
    ctx.state["pg_copy_seconds"] = str(anchor)
    results = [
        Result(
            f"import {ctx.rows:,} rows into an empty tenant, PostgreSQL",
            ours,
            anchor,
            "≤ 1.5×",
            1.5,
            rss,
            note=f"`{out.strip()}`; anchor `psql \\copy`",
        ),
        Result("import, PostgreSQL: peak memory", rss, None, "≤ 200 MB", 200, unit="MB"),
    ]
    changed = ctx.files["changed"]
    upsert, rss2, out2 = timed(
        manage("import-csv", str(changed), "--tenant", tenant, "--mode", "upsert"),
        env=app_env(ctx.pg_url),
        log=ctx,
    )
    results.append(
        Result(
            "upsert the same rows again (all updates), PostgreSQL",
            upsert,
            anchor,
            "≤ 3×",
            3.0,
            rss2,
            note=f"`{out2.strip()}`",
        )
    )
    return results


@measurement("export-postgresql")
def export_postgresql(ctx: Context) -> list[Result]:
    if not ctx.pg_url or "pg_tenant" not in ctx.state:
        return [Result("export, PostgreSQL", None, None, "≤ 2×", note="no PostgreSQL")]
    tenant = ctx.state["pg_tenant"]
    target = DATA_DIR / "export-postgresql.csv"
    anchor_out = DATA_DIR / "anchor-postgresql.csv"
    anchor = psql(
        ctx,
        f"COPY (SELECT {EXPORT_COLUMNS} FROM customers WHERE tenant_id = '{tenant}' "
        "ORDER BY name, id) TO STDOUT WITH (FORMAT csv, HEADER)",
        stdout=anchor_out,
    )
    ours, rss, _ = timed(
        manage("export-csv", "--tenant", tenant, "--out", str(target)),
        env=app_env(ctx.pg_url),
        log=ctx,
    )
    lines = _count_rows(target)
    target.unlink(missing_ok=True)
    anchor_out.unlink(missing_ok=True)
    return [
        Result(
            f"export {ctx.rows:,} rows, PostgreSQL",
            ours,
            anchor,
            "≤ 2×",
            2.0,
            rss,
            note=f"{lines:,} rows; anchor `COPY ... TO STDOUT CSV`",
        )
    ]


def _count_rows(path: Path) -> int:
    with path.open(encoding="utf-8", newline="") as handle:
        return sum(1 for _ in csv.reader(handle)) - 1


# -- SQLite -------------------------------------------------------------------------------


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def fresh_sqlite(ctx: Context, name: str) -> Path:
    path = DATA_DIR / name
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    run(manage("init-db"), env=app_env(sqlite_url(path)), log=ctx)
    return path


def sqlite_anchor(db: Path, csv_path: Path) -> float:
    """Plain Python: csv.reader → sqlite3 executemany, one transaction, same table+indexes."""
    start = time.perf_counter()
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("PRAGMA journal_mode = WAL")
    con.execute("PRAGMA synchronous = NORMAL")
    con.execute(
        "INSERT INTO tenants (id, name, created_at) VALUES ('anchor', 'anchor', "
        "'2025-01-01 00:00:00.000000')"
    )
    con.execute("BEGIN IMMEDIATE")

    def rows():  # type: ignore[no-untyped-def]
        with csv_path.open(encoding="utf-8", newline="") as handle:
            reader = csv.reader(handle)
            next(reader)
            for name, email, phone, address, created, updated, ident in reader:
                yield (
                    "anchor",
                    ident,
                    name,
                    email,
                    email.lower(),
                    phone or None,
                    address or None,
                    created,
                    updated,
                )

    con.executemany(
        "INSERT INTO customers (tenant_id, id, name, email, email_key, phone, address, "
        "created_at, updated_at, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1)",
        rows(),
    )
    con.execute("COMMIT")
    con.close()
    return time.perf_counter() - start


@measurement("import-sqlite")
def import_sqlite(ctx: Context) -> list[Result]:
    path = ctx.files["csv"]
    anchor_db = fresh_sqlite(ctx, "anchor.db")
    ctx.log(f"python: csv.reader -> sqlite3.executemany into {anchor_db.name}, one transaction")
    anchor = sqlite_anchor(anchor_db, path)
    print(f"    ({anchor:.1f} s)", flush=True)
    ours_db = fresh_sqlite(ctx, "ours.db")
    url = sqlite_url(ours_db)
    tenant = new_tenant(ctx, url, "bench")
    ctx.state["sqlite_tenant"] = tenant
    ctx.state["sqlite_db"] = str(ours_db)
    ctx.state["sqlite_anchor_db"] = str(anchor_db)
    ours, rss, out = timed(
        manage("import-csv", str(path), "--tenant", tenant), env=app_env(url), log=ctx
    )
    results = [
        Result(
            f"import {ctx.rows:,} rows into an empty tenant, SQLite",
            ours,
            anchor,
            "≤ 1.5×",
            1.5,
            rss,
            note=f"`{out.strip()}`; anchor Python sqlite3 executemany",
        ),
        Result("import, SQLite: peak memory", rss, None, "≤ 200 MB", 200, unit="MB"),
    ]
    changed = ctx.files["changed"]
    upsert, rss2, out2 = timed(
        manage("import-csv", str(changed), "--tenant", tenant, "--mode", "upsert"),
        env=app_env(url),
        log=ctx,
    )
    results.append(
        Result(
            "upsert the same rows again (all updates), SQLite",
            upsert,
            anchor,
            "≤ 3×",
            3.0,
            rss2,
            note=f"`{out2.strip()}`",
        )
    )
    return results


@measurement("export-sqlite")
def export_sqlite(ctx: Context) -> list[Result]:
    if "sqlite_tenant" not in ctx.state:
        return []
    tenant = ctx.state["sqlite_tenant"]
    db = Path(ctx.state["sqlite_db"])
    target = DATA_DIR / "export-sqlite.csv"
    anchor_out = DATA_DIR / "anchor-sqlite.csv"
    anchor, _, _ = run(
        [
            "sqlite3",
            "-csv",
            "-header",
            str(db),
            f"SELECT {EXPORT_COLUMNS} FROM customers WHERE tenant_id = '{tenant}' "
            "ORDER BY name, id",
        ],
        stdout=anchor_out,
        log=ctx,
    )
    ours, rss, _ = timed(
        manage("export-csv", "--tenant", tenant, "--out", str(target)),
        env=app_env(sqlite_url(db)),
        log=ctx,
    )
    lines = _count_rows(target)
    target.unlink(missing_ok=True)
    anchor_out.unlink(missing_ok=True)
    return [
        Result(
            f"export {ctx.rows:,} rows, SQLite",
            ours,
            anchor,
            "≤ 2×",
            2.0,
            rss,
            note=f"{lines:,} rows; anchor `sqlite3 -csv`",
        )
    ]


@measurement("import-memory-flat")
def import_memory_flat(ctx: Context) -> list[Result]:
    """Peak memory of an import of a quarter of the file: flat means about the same."""
    quarter = max(1000, ctx.rows // 4)
    path = generate(quarter, DATA_DIR / f"customers-{quarter}.csv")
    db = fresh_sqlite(ctx, "flat.db")
    url = sqlite_url(db)
    tenant = new_tenant(ctx, url, "flat")
    _, rss, _ = timed(
        manage("import-csv", str(path), "--tenant", tenant), env=app_env(url), log=ctx
    )
    return [
        Result(
            f"import, SQLite: peak memory at {quarter:,} rows (flatness)",
            rss,
            None,
            "≤ 200 MB",
            200,
            unit="MB",
            note=f"{path.stat().st_size / 1e6:.0f} MB file",
        )
    ]


# -- report -------------------------------------------------------------------------------


def versions(ctx: Context) -> dict[str, str]:
    import psycopg
    import sqlalchemy

    found = {
        "Python": platform.python_version(),
        "SQLite": sqlite3.sqlite_version,
        "SQLAlchemy": sqlalchemy.__version__,
        "psycopg": psycopg.__version__,
    }
    if ctx.pg_url:
        _, out, _ = run(["psql", "-X", "-At", psql_url(ctx.pg_url), "-c", "SHOW server_version"])
        found["PostgreSQL"] = out.strip()
    return found


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kb / 1024 / 1024:.0f} GB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return f"{platform.node()}: {cpu}, {os.cpu_count()} CPUs{memory}, {platform.platform()}"


def fmt(value: float | None, unit: str = "s") -> str:
    if value is None:
        return "—"
    return f"{value:.1f} {unit}" if unit == "s" else f"{value:.0f} {unit}"


def report(ctx: Context, results: list[Result], started: datetime) -> str:
    lines = [
        f"## {started:%Y-%m-%d %H:%M} UTC — {ctx.rows:,} rows",
        "",
        f"- Machine: {machine()}",
        "- Versions: "
        + ", ".join(f"{k} {v}" for k, v in json.loads(ctx.state["versions"]).items()),
        f"- File: {ctx.files['csv'].name}, {ctx.files['csv'].stat().st_size / 1e6:.0f} MB "
        "(data/sample.py, seed 2026; the columns of an export)",
        "",
        "The machine is shared: `load` in the notes is the 1-minute load average before and "
        "after the measurement (2 CPUs).",
        "",
        "| work | ours | anchor | ratio | budget | verdict | peak RSS | notes |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        ratio = f"{r.ratio:.2f}×" if r.ratio is not None else "—"
        rss = fmt(r.rss_mb, "MB") if r.rss_mb is not None else "—"
        lines.append(
            f"| {r.work} | {fmt(r.ours, r.unit)} | {fmt(r.anchor)} | {ratio} | {r.budget} "
            f"| {r.verdict} | {rss} | {r.note} |"
        )
    lines += ["", "Commands, in order:", "", "```"]
    lines += ctx.commands
    lines += ["```", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--only", nargs="*", choices=list(MEASUREMENTS), help="run only these")
    parser.add_argument("--no-results", action="store_true", help="do not append RESULTS.md")
    parser.add_argument("--keep", action="store_true", help="keep the scratch databases")
    parser.add_argument(
        "--soak-seconds",
        type=float,
        default=600,
        help="then the mixed-load soak (bench/soak.py) for this long per database; 0 skips it",
    )
    args = parser.parse_args(argv)
    if not Path(TIME).exists():
        raise SystemExit("bench: /usr/bin/time is missing; install Debian's 'time' package.")
    started = datetime.now(UTC)
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    admin = pg_admin_url()
    ctx = Context(rows=args.rows, pg_url=pg_scratch(admin) if admin else None)
    print(f"Generating {args.rows:,} customers into {DATA_DIR} ...", flush=True)
    ctx.files["csv"] = generate(args.rows, DATA_DIR / f"customers-{args.rows}.csv")
    ctx.files["changed"] = generate(
        args.rows, DATA_DIR / f"customers-{args.rows}-changed.csv", changed=True
    )
    results: list[Result] = []
    ctx.state["versions"] = json.dumps(versions(ctx))
    try:
        for name, function in MEASUREMENTS.items():
            if args.only and name not in args.only:
                continue
            print(f"[{name}]", flush=True)
            before = os.getloadavg()[0]
            measured = function(ctx)
            load = f"load {before:.1f}→{os.getloadavg()[0]:.1f}"
            for result in measured:
                result.note = f"{result.note}; {load}" if result.note else load
                results.append(result)
                print(
                    f"  {result.work}: ours {fmt(result.ours, result.unit)}, anchor "
                    f"{fmt(result.anchor)}, {result.verdict}",
                    flush=True,
                )
    finally:
        if admin and not args.keep:
            pg_drop(admin)
        if not args.keep:
            for name in ("anchor.db", "ours.db", "flat.db"):
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{DATA_DIR / name}{suffix}").unlink(missing_ok=True)
    text = report(ctx, results, started)
    print(text)
    if not args.no_results:
        if not RESULTS.exists():
            RESULTS.write_text(
                "# Benchmark results\n\nAppended by `make bench` (bench/run.py); newest last. "
                "Ratios are ours ÷ the anchor measured in the same run (SPEC §8).\n\n"
            )
        with RESULTS.open("a", encoding="utf-8") as handle:
            handle.write(text + "\n")
    print(json.dumps({r.work: r.verdict for r in results}, ensure_ascii=False))
    if args.soak_seconds > 0:
        import soak  # bench/soak.py, next to this file

        soak.run(args.soak_seconds, results=None if args.no_results else RESULTS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
