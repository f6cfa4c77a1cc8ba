#!/usr/bin/env python3
"""The soak of SPEC §9: minutes of mixed load on one tenant, errors and memory recorded.

    python bench/soak.py                          # 600 s on SQLite, then on PostgreSQL
    python bench/soak.py --soak-seconds 60 --only sqlite

For each database, at the same time and on one tenant of ``CUSTOMERS`` customers:

* ``python -m api`` (what ``manage.py api`` execs, a subprocess) serves ``CLIENTS`` API
  clients of this process (``tests.kit.load``, the load generator of bench/api_load.py)
  that loop over list / get / put (unconditional PUTs of a new phone number), with a
  short pause between calls, plus an upsert import (``POST /api/customers/import``) every
  ``API_IMPORT_EVERY`` seconds and a full export (``GET /api/customers/export``) every
  ``API_EXPORT_EVERY`` seconds;
* a dashboard-like reader (a subprocess of this script, ``--reader``) does what the
  dashboard's pages do through the data layer: Customers pages in every sort and at any
  depth, searches, the Overview figures and History pages;
* ``manage.py import-csv --mode upsert`` and ``manage.py export-csv`` run in turn, one
  process each, every ``CLI_EVERY`` seconds.

Recorded per process: operations, errors (any HTTP status of 400 or more, a transport
failure, a non-zero exit, an exception: there must be none), p50 and p99 latency, and
resident memory (RSS) sampled every few seconds: after a warm-up, at the end, the peak,
and the growth between the two.  ``run()`` is what ``make bench`` calls (``bench/run.py
--soak-seconds``); standalone, it appends a section to ``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import platform
import random
import re
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))
sys.path.insert(0, str(PROJECT_DIR / "bench"))

from benchkit import machine, pg_admin_url, pg_drop, pg_scratch, private  # noqa: E402

from tests.kit.load import Ops, Periodic, merged, run_load  # noqa: E402
from tests.kit.seeding import SeededTenant, seed_tenant  # noqa: E402
from tests.kit.servers import ApiProcess, ServedProcess, descendants  # noqa: E402

if TYPE_CHECKING:
    import aiohttp

DATA_DIR = PROJECT_DIR / "bench" / "data"
RESULTS = PROJECT_DIR / "bench" / "RESULTS.md"
MANAGE = str(PROJECT_DIR / "manage.py")
SCRATCH_DB = "inventory_bench_soak"
TIME = "/usr/bin/time"

DEFAULT_SECONDS = 600
CUSTOMERS = 5000
CLIENTS = 8
THINK = 0.02  # seconds each API client waits between calls: steady load, not saturation
API_IMPORT_EVERY = 20.0
API_EXPORT_EVERY = 30.0
CLI_EVERY = 15.0
IMPORT_ROWS = 300
CLI_TIMEOUT = 300.0  # a CLI import or export taking longer is stopped and counted
SAMPLE_EVERY = 5.0
WARM_UP_SHARE = 0.1  # memory growth is measured from the end of the first tenth
PAGE = 50
SEARCHES = ["nakamura", "gmbh", "@example", "+49", "garcía", "ann", "3"]
SORTS = ["name", "-name", "email", "phone", "-created_at", "updated_at", "address"]


# -- figures ----------------------------------------------------------------------------


@dataclass
class Memory:
    """RSS samples (seconds since the start, MB) of one process."""

    samples: list[tuple[float, float]] = field(default_factory=list)

    def after(self, warm_up: float) -> list[float]:
        later = [mb for at, mb in self.samples if at >= warm_up]
        return later or [mb for _, mb in self.samples]

    def start(self, warm_up: float) -> float:
        values = self.after(warm_up)[:3]
        return statistics.mean(values) if values else float("nan")

    def end(self, warm_up: float) -> float:
        values = self.after(warm_up)[-3:]
        return statistics.mean(values) if values else float("nan")

    @property
    def peak(self) -> float:
        return max((mb for _, mb in self.samples), default=float("nan"))

    def timeline(self, seconds: float, points: int = 6) -> list[float]:
        """RSS at evenly spaced moments of the run (the sample nearest each)."""
        if not self.samples:
            return []
        moments = [seconds * (i + 1) / points for i in range(points)]
        return [min(self.samples, key=lambda s: abs(s[0] - at))[1] for at in moments]


@dataclass
class Process:
    name: str
    ops: dict[str, Ops] = field(default_factory=dict)
    memory: Memory = field(default_factory=Memory)
    peaks: dict[str, list[float]] = field(default_factory=dict)  # short-lived: RSS per run


@dataclass
class DatabaseResult:
    database: str
    seconds: float
    processes: list[Process]

    @property
    def errors(self) -> int:
        return sum(op.errors for p in self.processes for op in p.ops.values())


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


# -- the tenant -------------------------------------------------------------------------


def seed(database_url: str) -> SeededTenant:
    """A tenant of CUSTOMERS customers and an editor (``tests.kit.seeding``)."""
    from data.db import get_database

    database = get_database(database_url)
    database.migrate()
    tenant = seed_tenant(database, customers=CUSTOMERS, seed=99, prefix="soak")
    database.dispose()
    return tenant


def upsert_file(tenant: SeededTenant, rng: random.Random) -> bytes:
    """IMPORT_ROWS of the tenant's customers with a new phone each: an upsert updates them."""
    rows = io.StringIO()
    writer = csv.writer(rows)
    writer.writerow(["name", "email", "phone", "address"])
    for customer in rng.sample(tenant.customers, IMPORT_ROWS):
        phone = f"+1 555 {rng.randrange(10**7):07d}"
        writer.writerow([customer.name, customer.email, phone, customer.address or ""])
    return rows.getvalue().encode()


# -- processes --------------------------------------------------------------------------


class Reader(ServedProcess):
    """The dashboard-like reader: this script with ``--reader``, in a process of its own."""

    def __init__(self, env: dict[str, str], database_url: str, tenant_id: str, seconds: float):
        command = [sys.executable, str(Path(__file__).resolve()), "--reader"]
        super().__init__([*command, database_url, tenant_id, str(seconds)], env=env)
        self.result_file = Path(tempfile.mkstemp(prefix="soak-reader-", suffix=".json")[1])
        self.env["SOAK_READER_OUT"] = str(self.result_file)

    def ready(self) -> bool:
        return True

    def figures(self) -> dict[str, Any]:
        try:
            loaded: dict[str, Any] = json.loads(self.result_file.read_text())
        finally:
            self.result_file.unlink(missing_ok=True)
        return loaded


def run_measured(
    command: list[str], env: dict[str, str], timeout: float = CLI_TIMEOUT
) -> tuple[int, float, float, str]:
    """Run a command to its end: (exit code, seconds, peak RSS in MB, stderr).

    The peak comes from ``/usr/bin/time`` (a small parent): a child forked from this
    process would report this process's own size as its peak.  A run that takes longer
    than ``timeout`` is stopped and counted as an error (exit code -1), so that one
    stuck command is reported instead of holding up the soak.
    """
    with tempfile.TemporaryFile() as err, tempfile.NamedTemporaryFile("r") as peak:
        started = time.perf_counter()
        timed = [TIME, "-f", "%M", "-o", peak.name, *command] if Path(TIME).exists() else command
        process = subprocess.Popen(timed, env=env, stdout=subprocess.DEVNULL, stderr=err)
        try:
            code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            for pid in [*descendants(process.pid), process.pid]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            process.wait()
            code = -1
            err.write(f"\nstopped after {timeout:.0f} s".encode())
        elapsed = time.perf_counter() - started
        err.seek(0)
        try:
            kb = float(peak.read().split()[-1])
        except (ValueError, IndexError):
            kb = float("nan")
        return code, elapsed, kb / 1024, err.read().decode()[-500:]


# -- the dashboard-like reader (a process of its own) -------------------------------------


def reader(database_url: str, tenant_id: str, seconds: float) -> dict[str, Any]:
    """What the dashboard's pages read, in a loop, until ``seconds`` have passed: each in
    a read scope of its own, as the pages open them (here as an operator of the tenant)."""
    from data.db import get_database
    from data.identity import Identity
    from data.overview import overview

    database = get_database(database_url)
    identity = Identity.of_operator(tenant_id, "soak-reader")
    rng = random.Random(7)
    ops: dict[str, Ops] = {}
    deadline = time.monotonic() + seconds

    def customers_page(scope: Any) -> None:
        repository = scope.customers
        pages = max(1, repository.count().value // PAGE)
        offset = PAGE * rng.choice([0, 1, rng.randrange(pages), pages - 1])
        repository.list(sort=rng.choice(SORTS), limit=PAGE, offset=offset)

    def search(scope: Any) -> None:
        scope.customers.list(search=rng.choice(SEARCHES), limit=PAGE)

    def overview_page(scope: Any) -> None:
        overview(scope.session, tenant_id)

    def history_page(scope: Any) -> None:
        scope.audit.count()
        scope.audit.events(limit=25, offset=rng.choice([0, 25, 50]))

    kinds: list[tuple[str, Callable[[Any], None]]] = [
        ("customers page", customers_page),
        ("customers page", customers_page),
        ("search", search),
        ("overview", overview_page),
        ("history", history_page),
    ]
    while time.monotonic() < deadline:
        name, work = rng.choice(kinds)
        started = time.perf_counter()
        error = None
        try:
            with database.scope(identity) as scope:
                work(scope)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
        ops.setdefault(name, Ops()).record(time.perf_counter() - started, error)
        time.sleep(THINK)
    return {name: op.__dict__ for name, op in ops.items()}


# -- the API's imports and exports beside the clients (tests.kit.load) ---------------------


def transfers(tenant: SeededTenant) -> list[Periodic]:
    """An upsert import every API_IMPORT_EVERY s and a full export every API_EXPORT_EVERY s."""
    rng = random.Random(11)

    async def api_import(http: aiohttp.ClientSession) -> str | None:
        import aiohttp

        form = aiohttp.FormData()
        form.add_field("file", upsert_file(tenant, rng), filename="soak.csv")
        async with http.post(
            "/api/customers/import", params={"mode": "upsert"}, data=form
        ) as response:
            answer = await response.json(content_type=None)
            if response.status != 200 or not answer.get("written") or answer.get("invalid"):
                return f"import {response.status}: {answer}"
        return None

    async def api_export(http: aiohttp.ClientSession) -> str | None:
        async with http.get("/api/customers/export") as response:
            lines = 0
            async for chunk in response.content.iter_chunked(64 * 1024):
                lines += chunk.count(b"\n")
            if response.status != 200 or lines < len(tenant.customers):
                return f"export {response.status}: {lines} lines"
        return None

    return [
        Periodic("API import", API_IMPORT_EVERY, API_IMPORT_EVERY / 2, api_import),
        Periodic("API export", API_EXPORT_EVERY, API_EXPORT_EVERY / 3, api_export),
    ]


def cli_loop(
    env: dict[str, str], tenant: SeededTenant, seconds: float, cli: Process, folder: Path
) -> None:
    """An import and an export by ``manage.py``, in turn, every CLI_EVERY seconds."""
    rng = random.Random(13)
    deadline = time.monotonic() + seconds
    turn = 0
    time.sleep(CLI_EVERY / 2)
    while time.monotonic() < deadline:
        if turn % 2 == 0:
            path = folder / "soak-import.csv"
            path.write_bytes(upsert_file(tenant, rng))
            command = [sys.executable, MANAGE, "import-csv", str(path)]
            command += ["--tenant", tenant.tenant_id, "--mode", "upsert"]
            name = "CLI import"
        else:
            command = [sys.executable, MANAGE, "export-csv", "--tenant", tenant.tenant_id]
            command += ["--out", str(folder / "soak-export.csv")]
            name = "CLI export"
        code, elapsed, peak, stderr = run_measured(command, env)
        cli.ops.setdefault(name, Ops()).record(
            elapsed, None if code == 0 else f"exit {code}: {stderr}"
        )
        cli.peaks.setdefault(name, []).append(peak)
        turn += 1
        time.sleep(max(0.0, CLI_EVERY - elapsed))


# -- one database --------------------------------------------------------------------------


def soak_database(label: str, database_url: str, seconds: float) -> DatabaseResult:
    from api_load import server_env, token_for

    print(f"[soak {label}] seeding {CUSTOMERS:,} customers ...", flush=True)
    env = server_env(database_url)
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "JWT_SECRET", "COOKIE_KEY")})
    from config import get_settings

    get_settings.cache_clear()
    tenant = seed(database_url)
    api = ApiProcess(env)
    api_process = Process("API server (`python -m api`)")
    reader_process = Process("dashboard-like reader (data layer, own process)")
    client_process = Process("load client (this process: API calls as clients see them)")
    cli_process = Process("`manage.py import-csv` / `export-csv` (a process per run)")
    read = Reader(env, database_url, tenant.tenant_id, seconds)
    try:
        api.start()
        token = token_for(api.url, tenant.username, tenant.password)
        read.start()
        began = time.monotonic()
        stop = threading.Event()

        def sample() -> None:
            pids = [(api_process, api.pid), (reader_process, read.pid)]
            pids.append((client_process, os.getpid()))
            while not stop.wait(SAMPLE_EVERY):
                for process, pid in pids:
                    mb = rss_mb(pid)
                    if mb is not None:
                        process.memory.samples.append((time.monotonic() - began, mb))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        with tempfile.TemporaryDirectory(dir=DATA_DIR) as folder:
            cli = threading.Thread(
                target=cli_loop, args=(env, tenant, seconds, cli_process, Path(folder))
            )
            cli.start()
            print(f"[soak {label}] {seconds:.0f} s of mixed load ...", flush=True)
            figures = run_load(
                api.url,
                token,
                tenant.customers,
                clients=CLIENTS,
                seconds=seconds,
                think=THINK,
                periodic=transfers(tenant),
                timeout=120,
            )
            client_process.ops = figures.ops
            cli.join()
        assert read.process is not None
        read.process.wait(timeout=seconds + 120)
        stop.set()
        sampler.join()
        elapsed = time.monotonic() - began
        try:
            for name, raw in read.figures().items():
                reader_process.ops[name] = Ops(**raw)
        except (OSError, ValueError):
            reader_process.ops["reader"] = Ops([], 1, [f"no result: {read.output()}"])
        # What the server did, as the server logged it: its requests and its 5xx.
        api.stop()
        api_process.ops = server_view(api.output(chars=10**9))
    finally:
        api.close()
        read.close()
    result = DatabaseResult(
        label, elapsed, [api_process, reader_process, client_process, cli_process]
    )
    print(f"[soak {label}] done: {result.errors} errors", flush=True)
    for process in result.processes:
        for name, op in process.ops.items():
            for error in op.first_errors:
                print(f"  {process.name} / {name}: {error}", flush=True)
    return result


ACCESS_LINE = re.compile(r'"(GET|POST|PUT|DELETE|HEAD|PATCH) (\S+)" (\d{3}) ([\d.]+)ms')


def server_view(log: str) -> dict[str, Ops]:
    """The server's own figures, from its access log: time spent in it per request, and
    its errors (any status of 500 or more, or an ERROR line: an unexpected exception)."""
    ops: dict[str, Ops] = {}
    for line in log.splitlines():
        match = ACCESS_LINE.search(line)
        if match is None:
            if " ERROR " in line:
                ops.setdefault("requests", Ops()).record(0.0, line)
            continue
        method, _path, status, ms = match.groups()
        error = f"{method} {status}" if int(status) >= 500 else None
        ops.setdefault("requests", Ops()).record(float(ms) / 1000, error)
    return ops


# -- databases, report ------------------------------------------------------------------------


def ms(seconds: float) -> str:
    return "—" if seconds != seconds else f"{seconds * 1000:.1f} ms"  # NaN: no samples


def mb(value: float) -> str:
    return "—" if value != value else f"{value:.0f} MB"


def report(results: list[DatabaseResult], seconds: float, started: datetime) -> str:
    lines = [
        f"## {started:%Y-%m-%d %H:%M} UTC — soak, {seconds:.0f} s of mixed load per database",
        "",
        f"- Machine: {machine()}; Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}",
        f"- Load, all at once on one tenant of {CUSTOMERS:,} customers: {CLIENTS} API clients "
        f"(list / get / put, {THINK * 1000:.0f} ms between calls), an API upsert import of "
        f"{IMPORT_ROWS} rows every {API_IMPORT_EVERY:.0f} s and a full API export every "
        f"{API_EXPORT_EVERY:.0f} s, `manage.py import-csv --mode upsert` and `export-csv` in "
        f"turn every {CLI_EVERY:.0f} s, and a dashboard-like reader (Customers pages in every "
        "sort and depth, searches, Overview, History) in its own process.",
        "- Errors: any HTTP status ≥ 400 seen by a client, a 5xx or ERROR line in the "
        "server's log, a non-zero exit, an exception in the reader. RSS: sampled every "
        f"{SAMPLE_EVERY:.0f} s; start = mean of the first 3 samples after the first "
        f"{WARM_UP_SHARE:.0%} (warm-up), end = mean of the last 3; CLI processes: peak RSS "
        "of each run (min–max).",
        "",
        "| database | process | operations | errors | p50 | p99 | RSS start → end | growth "
        "| peak RSS |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    notes: list[str] = []
    for result in results:
        warm = result.seconds * WARM_UP_SHARE
        for process in result.processes:
            total = merged(process.ops)
            if process.peaks:
                memory = ", ".join(
                    f"{name.split()[-1]} {mb(min(values))}–{mb(max(values))}"
                    for name, values in sorted(process.peaks.items())
                )
                growth = "— (a new process each run)"
                peak = mb(max(max(values) for values in process.peaks.values()))
            else:
                start, end = process.memory.start(warm), process.memory.end(warm)
                memory = f"{mb(start)} → {mb(end)}"
                growth = "—" if start != start else f"{end - start:+.1f} MB"
                peak = mb(process.memory.peak)
            lines.append(
                f"| {result.database} | {process.name} | {len(total.latencies):,} "
                f"| {total.errors} | {ms(total.percentile(0.5))} | {ms(total.percentile(0.99))} "
                f"| {memory} | {growth} | {peak} |"
            )
            timeline = process.memory.timeline(result.seconds)
            if timeline:
                notes.append(
                    f"- {result.database}, {process.name}: RSS at each sixth of the run: "
                    + " → ".join(f"{value:.0f}" for value in timeline)
                    + " MB."
                )
            if len(process.ops) > 1:
                per = ", ".join(
                    f"{name} {len(op.latencies):,} (p99 {ms(op.percentile(0.99))}, "
                    f"{op.errors} errors)"
                    for name, op in sorted(process.ops.items())
                )
                notes.append(f"- {result.database}, {process.name}: {per}.")
            for name, op in process.ops.items():
                for error in op.first_errors:
                    notes.append(f"- {result.database}, {process.name}, {name}: `{error}`")
    lines += ["", *notes, ""]
    verdict = "no errors" if all(r.errors == 0 for r in results) else "ERRORS (see above)"
    lines += [f"Verdict: {verdict}.", ""]
    return "\n".join(lines)


def run(
    seconds: float = DEFAULT_SECONDS,
    *,
    only: list[str] | None = None,
    results: Path | None = RESULTS,
) -> str:
    """Soak SQLite, and PostgreSQL when one is configured; append the figures to
    ``results`` (unless None) and return them as markdown."""
    started = datetime.now(UTC)
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    measured: list[DatabaseResult] = []
    if not only or "sqlite" in only:
        path = DATA_DIR / "soak.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        try:
            measured.append(soak_database("SQLite", f"sqlite:///{path}", seconds))
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
    admin = pg_admin_url()
    if admin and (not only or "postgresql" in only):
        try:
            measured.append(soak_database("PostgreSQL", pg_scratch(admin, SCRATCH_DB), seconds))
        finally:
            from data.db import reset_databases

            reset_databases()
            pg_drop(admin, SCRATCH_DB)
    text = private(report(measured, seconds, started))
    print(text, flush=True)
    if results is not None:
        if not results.exists():
            results.write_text(
                "# Benchmark results\n\nAppended by `make bench` (bench/run.py); newest last.\n\n"
            )
        with results.open("a", encoding="utf-8") as handle:
            handle.write(text + "\n")
    return text


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--reader"]:
        _, url, tenant_id, seconds = argv
        try:
            figures = json.dumps(reader(url, tenant_id, float(seconds)))
            Path(os.environ["SOAK_READER_OUT"]).write_text(figures)
        except Exception:
            traceback.print_exc()
            return 1
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--soak-seconds", type=float, default=DEFAULT_SECONDS)
    parser.add_argument("--only", nargs="*", choices=["sqlite", "postgresql"])
    parser.add_argument("--no-results", action="store_true", help="do not append RESULTS.md")
    args = parser.parse_args(argv)
    text = run(args.soak_seconds, only=args.only, results=None if args.no_results else RESULTS)
    return 0 if "Verdict: no errors" in text else 1


if __name__ == "__main__":
    sys.exit(main())
