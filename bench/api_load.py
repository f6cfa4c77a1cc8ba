#!/usr/bin/env python3
"""API load test (SPEC §8, last row): 50 concurrent clients for 60 s on loopback.

    python bench/api_load.py                       # SQLite, and PostgreSQL when configured
    python bench/api_load.py --duration 10 --only sqlite

Each client loops over the three calls an integration makes most (chosen at random in
equal shares): a page of the list (``GET /api/customers?limit=50&offset=...``), one
customer (``GET /api/customers/{id}``) and a full replace (``PUT /api/customers/{id}``,
a new phone number).  The server is the product's own front door,
``python manage.py api``, in a subprocess on a free loopback port, over a scratch
database with one tenant of ``--customers`` customers.  Recorded: requests per second,
p50 and p99 latency (overall and per call) and errors (any status ≥ 400, or a
transport failure).

``run(database_url, ...)`` is the function ``make bench`` calls; ``main`` writes the
figures to ``bench/RESULTS-api.md``.  PostgreSQL runs in a scratch database
(``inventory_bench_api``) on the server of ``BENCH_DATABASE_URL`` or else
``TEST_DATABASE_URL``, created and dropped here.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import random
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import httpx

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))
sys.path.insert(0, str(PROJECT_DIR / "bench"))

from benchkit import cpu_name, pg_admin_url, pg_drop, pg_scratch  # noqa: E402

RESULTS = PROJECT_DIR / "bench" / "RESULTS-api.md"
SCRATCH_DB = "inventory_bench_api"
OPERATIONS = ("list", "get", "put")
PAGE = 50


@dataclass
class OpStats:
    latencies: list[float] = field(default_factory=list)  # seconds
    errors: int = 0

    def percentile(self, share: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


@dataclass
class LoadResult:
    database: str
    clients: int
    seconds: float
    workers: int
    customers: int
    ops: dict[str, OpStats]
    statuses: Counter[str]
    server_cpu: float  # CPU seconds the server processes used during the load
    client_cpu: float  # CPU seconds this (client) process used

    @property
    def server_cpu_ms(self) -> float:
        """Server CPU per request: the figure a busy shared machine cannot distort much."""
        return self.server_cpu / max(1, self.requests) * 1000

    @property
    def client_cpu_ms(self) -> float:
        return self.client_cpu / max(1, self.requests) * 1000

    @property
    def requests(self) -> int:
        return sum(len(op.latencies) for op in self.ops.values())

    @property
    def errors(self) -> int:
        return sum(op.errors for op in self.ops.values())

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds

    def percentile(self, share: float) -> float:
        merged = OpStats([x for op in self.ops.values() for x in op.latencies])
        return merged.percentile(share)

    def row(self) -> str:
        per_op = ", ".join(
            f"{name} p50 {op.percentile(0.5) * 1000:.1f} / p99 {op.percentile(0.99) * 1000:.1f} ms"
            for name, op in self.ops.items()
        )
        return (
            f"| {self.database} | {self.clients} | {self.seconds:.0f} s | {self.workers} "
            f"| {self.requests:,} | {self.per_second:,.0f} | {self.percentile(0.5) * 1000:.1f} ms "
            f"| {self.percentile(0.99) * 1000:.1f} ms | {self.errors} "
            f"| {self.server_cpu_ms:.2f} ms | {1000 / max(self.server_cpu_ms, 1e-9):,.0f} "
            f"| {self.client_cpu_ms:.2f} ms "
            f"| {per_op} |"
        )


# -- the server and its data ------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _seed(database_url: str, customers: int) -> tuple[str, str, list[dict[str, Any]]]:
    """A tenant with an editor and ``customers`` customers; returns username, password, rows."""
    from data.customers import CustomerRepository
    from data.db import enter_tenant, get_database
    from data.models import Role
    from data.sample import customers as sample
    from data.tenancy import create_tenant
    from data.users import create_user

    database = get_database(database_url)
    database.migrate()
    username = f"load-{secrets.token_hex(4)}"
    password = secrets.token_urlsafe(16)
    rows = []
    with database.transaction(None, write=True) as session:
        tenant = create_tenant(session, f"Load test {username}")
        enter_tenant(session, tenant.id)
        user, _ = create_user(session, tenant.id, username, Role.EDITOR, password)
        repository = CustomerRepository(session, tenant.id, user.actor)
        for record in sample(customers, seed=2026):
            created = repository.create(record)
            rows.append(
                {
                    "id": created.id,
                    "name": created.name,
                    "email": created.email,
                    "address": created.address,
                }
            )
    database.dispose()
    return username, password, rows


def _children(parent: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent:
            found.append(int(stat.parent.name))
    return found


class Server:
    """``python manage.py api`` in a subprocess on a free loopback port."""

    def __init__(self, env: dict[str, str], workers: int) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - closed by stop()
        command = [sys.executable, str(PROJECT_DIR / "manage.py"), "api"]
        command += ["--port", str(self.port), "--workers", str(workers)]
        self.command = " ".join(["python", "manage.py", *command[2:]])
        self.process = subprocess.Popen(
            command, env=env, stdout=self.log, stderr=subprocess.STDOUT, cwd=PROJECT_DIR
        )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"bench: the API server stopped:\n{self.output()}")
            try:
                httpx.get(f"{self.url}/openapi.json", timeout=2).raise_for_status()
            except httpx.HTTPError:
                time.sleep(0.2)
            else:
                return
        raise SystemExit("bench: the API server did not start in time.")

    def cpu_seconds(self) -> float:
        """CPU time (user + system) of the server and its worker processes so far."""
        tick = os.sysconf("SC_CLK_TCK")
        total = 0.0
        for pid in [self.process.pid, *_children(self.process.pid)]:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / tick
        return total

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-3000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


# -- the clients ------------------------------------------------------------------------


async def _client(
    http: aiohttp.ClientSession,
    rows: list[dict[str, Any]],
    deadline: float,
    ops: dict[str, OpStats],
    statuses: Counter[str],
    rng: random.Random,
) -> None:
    last_offset = max(0, len(rows) - PAGE)
    while time.monotonic() < deadline:
        name = rng.choice(OPERATIONS)
        row = rng.choice(rows)
        started = time.perf_counter()
        try:
            if name == "list":
                offset = rng.randint(0, last_offset)
                call = http.get(f"/api/customers?limit={PAGE}&offset={offset}")
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
                await response.read()
                status = str(response.status)
                failed = response.status >= 400
        except (aiohttp.ClientError, TimeoutError) as exc:
            status, failed = type(exc).__name__, True
        ops[name].latencies.append(time.perf_counter() - started)
        ops[name].errors += failed
        statuses[status] += 1


async def _load(
    url: str, token: str, rows: list[dict[str, Any]], clients: int, duration: float
) -> tuple[dict[str, OpStats], Counter[str], float]:
    """``clients`` coroutines, each with its own keep-alive connection, until the deadline.

    aiohttp rather than httpx: on a machine the server shares, the client's own CPU per
    request matters, and aiohttp's is several times lower.
    """
    ops = {name: OpStats() for name in OPERATIONS}
    statuses: Counter[str] = Counter()
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(
        base_url=url,
        headers={"Authorization": f"Bearer {token}"},
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=30),
    ) as http:
        started = time.monotonic()
        deadline = started + duration
        await asyncio.gather(
            *(
                _client(http, rows, deadline, ops, statuses, random.Random(number))
                for number in range(clients)
            )
        )
        elapsed = time.monotonic() - started
    return ops, statuses, elapsed


def run(
    database_url: str,
    *,
    label: str | None = None,
    clients: int = 50,
    duration: float = 60.0,
    customers: int = 2000,
    workers: int = 1,
) -> LoadResult:
    """Seed ``database_url``, serve it with ``manage.py api`` and load it; return figures."""
    env = dict(
        os.environ,
        DATABASE_URL=database_url,
        JWT_SECRET=secrets.token_urlsafe(48),
        COOKIE_KEY=secrets.token_urlsafe(48),
        PYTHONDONTWRITEBYTECODE="1",
    )
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "JWT_SECRET", "COOKIE_KEY")})
    from config import get_settings

    get_settings.cache_clear()
    username, password, rows = _seed(database_url, customers)
    server = Server(env, workers)
    try:
        server.wait_ready()
        token = httpx.post(
            f"{server.url}/api/auth/token",
            json={"username": username, "password": password},
            timeout=30,
        )
        token.raise_for_status()
        server_cpu = server.cpu_seconds()
        client_cpu = time.process_time()
        ops, statuses, elapsed = asyncio.run(
            _load(server.url, token.json()["access_token"], rows, clients, duration)
        )
        server_cpu = server.cpu_seconds() - server_cpu
        client_cpu = time.process_time() - client_cpu
        if sum(op.errors for op in ops.values()):
            print(f"bench: errors; the end of the server's log:\n{server.output()}", flush=True)
    finally:
        server.stop()
    from data.db import get_database

    return LoadResult(
        database=label or get_database(database_url).dialect,
        clients=clients,
        seconds=elapsed,
        workers=workers,
        customers=customers,
        ops=ops,
        statuses=statuses,
        server_cpu=server_cpu,
        client_cpu=client_cpu,
    )


# -- scratch databases and the report ---------------------------------------------------


def _machine() -> str:
    cpu = cpu_name()
    load = ""
    with contextlib.suppress(OSError):
        load = ", load average before the run " + Path("/proc/loadavg").read_text().split()[0]
    return (
        f"{platform.node()}: {cpu}, {os.cpu_count()} CPUs{load}, Python {platform.python_version()}"
    )


def report(results: list[LoadResult], command: str, started: datetime, machine: str) -> str:
    lines = [
        f"## {started:%Y-%m-%d %H:%M} UTC — API load, loopback",
        "",
        f"- Machine: {machine} (client and server share it)",
        f"- Command: `{command}`",
        "- Calls, in equal shares: GET list (limit 50, random offset), GET one, PUT one "
        "(new phone); one tenant; budget: no errors, p99 reported, ≥ 500 req/s on SQLite.",
        "- req/s per server core = 1000 / server CPU per request: what one fully available "
        "core gives one server process; on a shared machine the measured req/s is lower.",
        "",
        "| database | clients | time | server workers | requests | req/s | p50 | p99 "
        "| errors | server CPU/request | req/s per server core | client CPU/request "
        "| per call |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [result.row() for result in results]
    for result in results:
        if result.errors:
            lines.append(f"\n{result.database} statuses: {dict(result.statuses)}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds (default 60)")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=1, help="API server processes")
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument("--no-results", action="store_true", help="do not append the results")
    args = parser.parse_args(argv)
    started = datetime.now(UTC)
    machine = _machine()
    results = []
    common: dict[str, Any] = {
        "clients": args.clients,
        "duration": args.duration,
        "customers": args.customers,
        "workers": args.workers,
    }
    if args.only in (None, "sqlite"):
        with tempfile.TemporaryDirectory(prefix="api-load-") as folder:
            url = f"sqlite:///{Path(folder) / 'load.db'}"
            print(f"[sqlite] {args.clients} clients for {args.duration:.0f} s ...", flush=True)
            results.append(run(url, label="SQLite", **common))
            print(results[-1].row(), flush=True)
    admin = pg_admin_url()
    if args.only in (None, "postgresql"):
        if admin is None:
            print("[postgresql] skipped: set BENCH_DATABASE_URL or TEST_DATABASE_URL", flush=True)
        else:
            url = pg_scratch(admin, SCRATCH_DB)
            try:
                print(f"[postgresql] {args.clients} clients for {args.duration:.0f} s ...")
                results.append(run(url, label="PostgreSQL", **common))
                print(results[-1].row(), flush=True)
            finally:
                from data.db import reset_databases

                reset_databases()
                pg_drop(admin, SCRATCH_DB)
    command = "python bench/api_load.py " + " ".join(argv if argv is not None else sys.argv[1:])
    text = report(results, command.strip(), started, machine)
    print(text)
    if not args.no_results and results:
        if not RESULTS.exists():
            RESULTS.write_text(
                "# API load results\n\nAppended by `bench/api_load.py`; newest last (SPEC §8).\n\n"
            )
        with RESULTS.open("a", encoding="utf-8") as handle:
            handle.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
