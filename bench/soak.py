#!/usr/bin/env python3
"""The soak of SPEC §9: minutes of mixed load on one tenant, errors and memory recorded.

    python bench/soak.py                          # 600 s on SQLite, then on PostgreSQL
    python bench/soak.py --soak-seconds 60 --only sqlite

For each database, at the same time and on one tenant of ``CUSTOMERS`` customers:

* ``manage.py api`` (a subprocess) serves ``CLIENTS`` API clients of this process that
  loop over list / get / put (unconditional PUTs of a new phone number), with a short
  pause between calls, plus an upsert import (``POST /api/customers/import``) every
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
--soak-seconds``); it appends a section to ``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import os
import platform
import random
import re
import secrets
import signal
import socket
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
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))
sys.path.insert(0, str(PROJECT_DIR / "bench"))

from benchkit import cpu_name, pg_admin_url, pg_drop, pg_scratch  # noqa: E402

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
SAMPLE_EVERY = 5.0
WARM_UP_SHARE = 0.1  # memory growth is measured from the end of the first tenth
PAGE = 50
SEARCHES = ["nakamura", "gmbh", "@example", "+49", "garcía", "ann", "3"]
SORTS = ["name", "-name", "email", "phone", "-created_at", "updated_at", "address"]


# -- figures ----------------------------------------------------------------------------


@dataclass
class Ops:
    """Latencies (seconds) and errors of one kind of operation."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    first_errors: list[str] = field(default_factory=list)

    def record(self, seconds: float, error: str | None = None) -> None:
        self.latencies.append(seconds)
        if error is not None:
            self.errors += 1
            if len(self.first_errors) < 5:
                self.first_errors.append(error[:300])

    def merge(self, other: Ops) -> None:
        self.latencies += other.latencies
        self.errors += other.errors
        self.first_errors += other.first_errors[: max(0, 5 - len(self.first_errors))]

    def percentile(self, share: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def merged(ops: dict[str, Ops]) -> Ops:
    total = Ops()
    for op in ops.values():
        total.merge(op)
    return total


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


@dataclass
class Tenant:
    id: str
    username: str
    password: str
    customers: list[dict[str, str]]  # id, name, email, address


def seed(database_url: str) -> Tenant:
    from data.csv_import import import_csv
    from data.customers import CustomerRepository
    from data.db import enter_tenant, get_database
    from data.models import Role
    from data.sample import customers as sample
    from data.tenancy import Actor, create_tenant
    from data.users import create_user

    database = get_database(database_url)
    database.migrate()
    username = f"soak-{secrets.token_hex(4)}"
    password = secrets.token_urlsafe(16)
    with database.transaction(None, write=True) as session:
        tenant = create_tenant(session, f"Soak {secrets.token_hex(4)}")
        enter_tenant(session, tenant.id)
        create_user(session, tenant.id, username, Role.EDITOR, password)
    rows = io.StringIO()
    writer = csv.writer(rows)
    writer.writerow(["name", "email", "phone", "address"])
    for i, record in enumerate(sample(CUSTOMERS, seed=99)):
        writer.writerow(
            [record["name"], f"s{i}.{record['email']}", record["phone"], record["address"]]
        )
    actor = Actor("soak", Role.EDITOR)
    source = io.BytesIO(rows.getvalue().encode())
    import_csv(database, tenant.id, actor, source, filename="seed.csv")
    with database.transaction(tenant.id) as session:
        stored = [
            {"id": c.id, "name": c.name, "email": c.email, "address": c.address or ""}
            for c in CustomerRepository(session, tenant.id).iter_all()
        ]
    database.dispose()
    return Tenant(tenant.id, username, password, stored)


def upsert_file(tenant: Tenant, rng: random.Random) -> bytes:
    """IMPORT_ROWS of the tenant's customers with a new phone each: an upsert updates them."""
    rows = io.StringIO()
    writer = csv.writer(rows)
    writer.writerow(["name", "email", "phone", "address"])
    for customer in rng.sample(tenant.customers, IMPORT_ROWS):
        phone = f"+1 555 {rng.randrange(10**7):07d}"
        writer.writerow([customer["name"], customer["email"], phone, customer["address"]])
    return rows.getvalue().encode()


# -- processes --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Child:
    """A long-lived subprocess whose output goes to a temporary file."""

    def __init__(self, command: list[str], env: dict[str, str]) -> None:
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - closed by stop()
        self.out = tempfile.TemporaryFile()  # noqa: SIM115 - closed by stop()
        self.process = subprocess.Popen(
            command, env=env, stdout=self.out, stderr=self.log, cwd=PROJECT_DIR
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        self.out.seek(0)
        return self.out.read().decode(errors="replace")

    def errors(self) -> str:
        return self.log_text()[-3000:]

    def log_text(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def stop(self, timeout: float = 30) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def close(self) -> None:
        self.log.close()
        self.out.close()


def run_measured(command: list[str], env: dict[str, str]) -> tuple[int, float, float, str]:
    """Run a command to its end: (exit code, seconds, peak RSS in MB, stderr).

    The peak comes from ``/usr/bin/time`` (a small parent): a child forked from this
    process would report this process's own size as its peak.
    """
    with tempfile.TemporaryFile() as err, tempfile.NamedTemporaryFile("r") as peak:
        started = time.perf_counter()
        timed = [TIME, "-f", "%M", "-o", peak.name, *command] if Path(TIME).exists() else command
        done = subprocess.run(timed, env=env, stdout=subprocess.DEVNULL, stderr=err, check=False)
        elapsed = time.perf_counter() - started
        err.seek(0)
        try:
            kb = float(peak.read().split()[-1])
        except (ValueError, IndexError):
            kb = float("nan")
        return done.returncode, elapsed, kb / 1024, err.read().decode()[-500:]


# -- the dashboard-like reader (a process of its own) -------------------------------------


def reader(database_url: str, tenant_id: str, seconds: float) -> dict[str, Any]:
    """What the dashboard's pages read, in a loop, until ``seconds`` have passed."""
    from data.audit import AuditLog
    from data.customers import CustomerRepository
    from data.db import get_database
    from data.overview import overview

    database = get_database(database_url)
    rng = random.Random(7)
    ops: dict[str, Ops] = {}
    deadline = time.monotonic() + seconds

    def customers_page(session: Any) -> None:
        repository = CustomerRepository(session, tenant_id)
        pages = max(1, repository.count().value // PAGE)
        offset = PAGE * rng.choice([0, 1, rng.randrange(pages), pages - 1])
        repository.list(sort=rng.choice(SORTS), limit=PAGE, offset=offset)

    def search(session: Any) -> None:
        CustomerRepository(session, tenant_id).list(search=rng.choice(SEARCHES), limit=PAGE)

    def overview_page(session: Any) -> None:
        overview(session, tenant_id)

    def history_page(session: Any) -> None:
        log = AuditLog(session, tenant_id)
        log.count()
        log.events(limit=25, offset=rng.choice([0, 25, 50]))

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
            with database.transaction(tenant_id) as session:
                work(session)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
        ops.setdefault(name, Ops()).record(time.perf_counter() - started, error)
        time.sleep(THINK)
    return {name: op.__dict__ for name, op in ops.items()}


# -- the API clients, imports and exports -------------------------------------------------


async def api_load(
    url: str, token: str, tenant: Tenant, seconds: float, client_ops: dict[str, Ops]
) -> None:
    import aiohttp

    deadline = time.monotonic() + seconds
    headers = {"Authorization": f"Bearer {token}"}

    def record(name: str, started: float, error: str | None) -> None:
        client_ops.setdefault(name, Ops()).record(time.perf_counter() - started, error)

    async def client(http: aiohttp.ClientSession, number: int) -> None:
        rng = random.Random(number)
        last = max(0, len(tenant.customers) - PAGE)
        while time.monotonic() < deadline:
            name = rng.choice(["list", "get", "put"])
            row = rng.choice(tenant.customers)
            started = time.perf_counter()
            error = None
            try:
                if name == "list":
                    call = http.get(
                        "/api/customers",
                        params={"limit": PAGE, "offset": rng.randint(0, last)},
                    )
                elif name == "get":
                    call = http.get(f"/api/customers/{row['id']}")
                else:
                    body = {
                        "name": row["name"],
                        "email": row["email"],
                        "phone": f"+1 555 {rng.randrange(10**7):07d}",
                        "address": row["address"],
                    }
                    call = http.put(f"/api/customers/{row['id']}", json=body)
                async with call as response:
                    text = await response.text()
                    if response.status >= 400:
                        error = f"{name} {response.status}: {text}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                error = f"{name}: {type(exc).__name__} {exc}"
            record(name, started, error)
            await asyncio.sleep(THINK)

    async def every(period: float, offset: float, work: Callable[[], Any]) -> None:
        await asyncio.sleep(offset)
        while time.monotonic() < deadline:
            await work()
            await asyncio.sleep(period)

    rng = random.Random(11)

    async def api_import(http: aiohttp.ClientSession) -> None:
        started = time.perf_counter()
        error = None
        form = aiohttp.FormData()
        form.add_field("file", upsert_file(tenant, rng), filename="soak.csv")
        try:
            async with http.post(
                "/api/customers/import", params={"mode": "upsert"}, data=form
            ) as response:
                answer = await response.json(content_type=None)
                if response.status != 200 or not answer.get("written") or answer.get("invalid"):
                    error = f"import {response.status}: {answer}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            error = f"import: {type(exc).__name__} {exc}"
        record("API import", started, error)

    async def api_export(http: aiohttp.ClientSession) -> None:
        started = time.perf_counter()
        error = None
        try:
            async with http.get("/api/customers/export") as response:
                lines = 0
                async for chunk in response.content.iter_chunked(64 * 1024):
                    lines += chunk.count(b"\n")
                if response.status != 200 or lines < len(tenant.customers):
                    error = f"export {response.status}: {lines} lines"
        except (aiohttp.ClientError, TimeoutError) as exc:
            error = f"export: {type(exc).__name__} {exc}"
        record("API export", started, error)

    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(base_url=url, headers=headers, timeout=timeout) as http:
        await asyncio.gather(
            *(client(http, n) for n in range(CLIENTS)),
            every(API_IMPORT_EVERY, API_IMPORT_EVERY / 2, lambda: api_import(http)),
            every(API_EXPORT_EVERY, API_EXPORT_EVERY / 3, lambda: api_export(http)),
        )


def cli_loop(
    env: dict[str, str], tenant: Tenant, seconds: float, cli: Process, folder: Path
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
            command = [sys.executable, MANAGE, "import-csv", str(path), "--tenant", tenant.id]
            command += ["--mode", "upsert"]
            name = "CLI import"
        else:
            command = [sys.executable, MANAGE, "export-csv", "--tenant", tenant.id]
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
    print(f"[soak {label}] seeding {CUSTOMERS:,} customers ...", flush=True)
    env = dict(
        os.environ,
        DATABASE_URL=database_url,
        JWT_SECRET=os.environ.get("JWT_SECRET") or secrets.token_urlsafe(48),
        COOKIE_KEY=os.environ.get("COOKIE_KEY") or secrets.token_urlsafe(48),
        PYTHONDONTWRITEBYTECODE="1",
    )
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "JWT_SECRET", "COOKIE_KEY")})
    from config import get_settings

    get_settings.cache_clear()
    tenant = seed(database_url)
    port = free_port()
    api = Child([sys.executable, MANAGE, "api", "--port", str(port)], env)
    url = f"http://127.0.0.1:{port}"
    api_process = Process("API server (`manage.py api`)")
    reader_process = Process("dashboard-like reader (data layer, own process)")
    client_process = Process("load client (this process: API calls as clients see them)")
    cli_process = Process("`manage.py import-csv` / `export-csv` (a process per run)")
    read: Child | None = None
    try:
        token = wait_for_token(url, tenant, api)
        read = Child(
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "--reader",
                database_url,
                tenant.id,
                str(seconds),
            ],
            env,
        )
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
            asyncio.run(api_load(url, token, tenant, seconds, client_process.ops))
            cli.join()
        read.process.wait(timeout=seconds + 120)
        stop.set()
        sampler.join()
        elapsed = time.monotonic() - began
        try:
            for name, raw in json.loads(read.output()).items():
                reader_process.ops[name] = Ops(**raw)
        except ValueError:
            reader_process.ops["reader"] = Ops([], 1, [f"no result: {read.errors()}"])
        # What the server did, as the server logged it: its requests and its 5xx.
        api.stop()
        api_process.ops = server_view(api.log_text())
    finally:
        api.stop()
        api.close()
        if read is not None:
            read.stop()
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


def wait_for_token(url: str, tenant: Tenant, api: Child, timeout: float = 90) -> str:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if api.process.poll() is not None:
            raise SystemExit(f"soak: the API server stopped:\n{api.errors()}")
        try:
            answer = httpx.post(
                f"{url}/api/auth/token",
                json={"username": tenant.username, "password": tenant.password},
                timeout=5,
            )
        except httpx.TransportError:
            time.sleep(0.2)
            continue
        answer.raise_for_status()
        return str(answer.json()["access_token"])
    raise SystemExit("soak: the API server did not start in time.")


# -- databases, report ------------------------------------------------------------------------


def machine() -> str:
    return f"{platform.node()}: {cpu_name()}, {os.cpu_count()} CPUs, {platform.platform()}"


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
    text = report(measured, seconds, started)
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
            print(json.dumps(reader(url, tenant_id, float(seconds))))
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
