#!/usr/bin/env python3
"""API load test (SPEC §8, issue 15): 50 concurrent clients for 60 s on loopback.

    python bench/api_load.py                       # SQLite, and PostgreSQL when configured
    python bench/api_load.py --seconds 10 --only sqlite --reps 1

The clients are ``tests.kit.load`` (the one load generator, which the soak uses too):
each loops over a page of the list, one customer and a full replace (a new phone number),
in equal shares.  The server is the product's own front door, ``python -m api`` (what
``manage.py api`` execs), in a subprocess on a free loopback port, over a scratch
database with one tenant of ``--customers`` customers (``tests.kit.seeding``).  Recorded
per run: requests per second, p50 and p99 latency (overall and per call), errors (any
status ≥ 400, or a transport failure), and the server's CPU time per request (read from
/proc: the figure a busy shared machine distorts least).

``run(database_url, ...)`` is what ``make bench`` calls; ``main`` prints the figures.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BENCH_DIR.parent
sys.path.insert(0, str(PROJECT_DIR))
sys.path.insert(0, str(BENCH_DIR))

from benchkit import machine, pg_admin_url, pg_drop, pg_scratch  # noqa: E402

from tests.kit.load import Ops, run_load  # noqa: E402
from tests.kit.seeding import seed_tenant  # noqa: E402
from tests.kit.servers import ApiProcess  # noqa: E402

SCRATCH_DB = "inventory_bench_api"


@dataclass
class LoadResult:
    database: str
    clients: int
    seconds: float
    workers: int
    customers: int
    ops: dict[str, Ops]
    statuses: Counter[str]
    server_cpu: float  # CPU seconds the server processes used during the load
    client_cpu: float  # CPU seconds this (client) process used

    @property
    def requests(self) -> int:
        return sum(len(op.latencies) for op in self.ops.values())

    @property
    def errors(self) -> int:
        return sum(op.errors for op in self.ops.values())

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds

    @property
    def server_cpu_ms(self) -> float:
        return self.server_cpu / max(1, self.requests) * 1000

    @property
    def client_cpu_ms(self) -> float:
        return self.client_cpu / max(1, self.requests) * 1000

    def percentile(self, share: float) -> float:
        merged = Ops([x for op in self.ops.values() for x in op.latencies])
        return merged.percentile(share)

    def row(self) -> str:
        per_op = ", ".join(
            f"{name} p50 {op.percentile(0.5) * 1000:.1f} / p99 {op.percentile(0.99) * 1000:.1f} ms"
            for name, op in sorted(self.ops.items())
        )
        return (
            f"| {self.database} | {self.clients} | {self.seconds:.0f} s | {self.workers} "
            f"| {self.requests:,} | {self.per_second:,.0f} | {self.percentile(0.5) * 1000:.1f} ms "
            f"| {self.percentile(0.99) * 1000:.1f} ms | {self.errors} "
            f"| {self.server_cpu_ms:.2f} ms | {1000 / max(self.server_cpu_ms, 1e-9):,.0f} "
            f"| {self.client_cpu_ms:.2f} ms | {per_op} |"
        )


TABLE_HEAD = (
    "| database | clients | time | server workers | requests | req/s | p50 | p99 | errors "
    "| server CPU/request | req/s per server core | client CPU/request | per call |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def server_env(database_url: str) -> dict[str, str]:
    return dict(
        os.environ,
        DATABASE_URL=database_url,
        JWT_SECRET=os.environ.get("JWT_SECRET") or secrets.token_urlsafe(48),
        COOKIE_KEY=os.environ.get("COOKIE_KEY") or secrets.token_urlsafe(48),
        PYTHONDONTWRITEBYTECODE="1",
    )


def token_for(url: str, username: str, password: str) -> str:
    import httpx

    answer = httpx.post(
        f"{url}/api/auth/token", json={"username": username, "password": password}, timeout=30
    )
    answer.raise_for_status()
    return str(answer.json()["access_token"])


def run(
    database_url: str,
    *,
    label: str | None = None,
    clients: int = 50,
    seconds: float = 60.0,
    customers: int = 2000,
    workers: int | None = None,
    reps: int = 1,
) -> list[LoadResult]:
    """Seed ``database_url``, serve it with ``python -m api`` and load it ``reps`` times
    (a fresh server each time, the same tenant); the figures of each run."""
    env = server_env(database_url)
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "JWT_SECRET", "COOKIE_KEY")})
    from api import default_workers
    from config import get_settings
    from data.db import get_database, reset_databases

    get_settings.cache_clear()
    database = get_database(database_url)
    database.migrate()
    tenant = seed_tenant(database, customers=customers, prefix="load")
    dialect = database.dialect
    workers = workers or default_workers(dialect)  # as python -m api would choose
    reset_databases()
    results = []
    for _ in range(reps):
        with ApiProcess(env, workers=workers) as server:
            token = token_for(server.url, tenant.username, tenant.password)
            server_cpu = server.cpu_seconds()
            client_cpu = time.process_time()
            figures = run_load(
                server.url, token, tenant.customers, clients=clients, seconds=seconds
            )
            server_cpu = server.cpu_seconds() - server_cpu
            client_cpu = time.process_time() - client_cpu
            if figures.errors:
                print(f"bench: errors; the end of the server's log:\n{server.output()}")
        results.append(
            LoadResult(
                database=label or dialect,
                clients=clients,
                seconds=figures.seconds,
                workers=workers,
                customers=customers,
                ops=figures.ops,
                statuses=figures.statuses,
                server_cpu=server_cpu,
                client_cpu=client_cpu,
            )
        )
        print(results[-1].row(), flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="per run (default 60)")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="API server processes (default: python -m api's: on SQLite one per core, "
        "at most 2; on PostgreSQL 1)",
    )
    parser.add_argument("--reps", type=int, default=1, help="runs per database")
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    args = parser.parse_args(argv)
    common: dict[str, Any] = {
        "clients": args.clients,
        "seconds": args.seconds,
        "customers": args.customers,
        "workers": args.workers,
        "reps": args.reps,
    }
    print(f"Machine: {machine()}, load {os.getloadavg()[0]:.1f}\n{TABLE_HEAD}", flush=True)
    if args.only in (None, "sqlite"):
        with tempfile.TemporaryDirectory(prefix="api-load-") as folder:
            run(f"sqlite:///{Path(folder) / 'load.db'}", label="SQLite", **common)
    admin = pg_admin_url()
    if args.only in (None, "postgresql"):
        if admin is None:
            print("[postgresql] skipped: set BENCH_DATABASE_URL or TEST_DATABASE_URL")
        else:
            try:
                run(pg_scratch(admin, SCRATCH_DB), label="PostgreSQL", **common)
            finally:
                pg_drop(admin, SCRATCH_DB)
    return 0


if __name__ == "__main__":
    sys.exit(main())
