"""``manage.py import-csv`` killed with SIGKILL at random moments (SPEC §9).

Each run upserts a file that changes every customer of the tenant and adds new ones, and
kills the process after a random delay spread over its whole life: Python starting,
reading, staging, writing, committing, exiting.  Whatever the moment, the tenant must be
exactly as before (every column of every customer, the exact count, audit events,
import before-images) or exactly as the whole file makes it, never anything between.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from data.fields import FIELD_NAMES
from data.keys import DERIVED_KEYS, normalise_email
from tests.faults.helpers import MANAGE, TenantState, csv_bytes, manage, manage_env, tenant_state

RUNS = 6
BASE_ROWS = 1500  # customers the tenant has before the killed runs; each run updates them all
NEW_ROWS = 1500  # customers each run adds
WINDOW = 1.1  # kill moments spread over this many times a full import's duration


def upsert_rows(tag: str, run: int | str) -> list[dict[str, Any]]:
    rows = [
        {
            "name": f"Customer {i}",
            "email": f"c{i}-{tag}@example.com",
            "phone": f"run {run}",
            "address": f"{i} Kill Street, run {run}",
        }
        for i in range(BASE_ROWS)
    ]
    rows += [
        {"name": f"New {run}.{i}", "email": f"n{run}.{i}-{tag}@example.com", "phone": None}
        for i in range(NEW_ROWS)
    ]
    return rows


def assert_exactly_imported(before: TenantState, after: TenantState, rows: list[dict[str, Any]]):
    """``after`` is ``before`` with the whole file upserted, in one import."""
    old, new = before.by_email(), after.by_email()
    file = {normalise_email(row["email"]): row for row in rows}
    created = [key for key in file if key not in old]
    updated = [key for key in file if key in old]
    assert set(new) == set(old) | set(file)
    for key, was in old.items():
        now = new[key]
        if key not in file:
            assert now == was, f"{key} changed though the file does not name it"
            continue
        row = file[key]
        assert (now["id"], now["created"]) == (was["id"], was["created"])
        assert [now[f] for f in FIELD_NAMES] == [row.get(f) or "" for f in FIELD_NAMES]
        assert int(now["version"]) == int(was["version"]) + 1
    for key in created:
        now, row = new[key], file[key]
        assert [now[f] for f in FIELD_NAMES] == [row.get(f) or "" for f in FIELD_NAMES]
        assert now["version"] == "1"
    assert after.count == (before.count or 0) + len(created) == len(after.customers)
    events = set(after.audit) - set(before.audit)
    assert set(before.audit) <= set(after.audit)
    assert [event[1] for event in events] == ["import"], events
    import_id = next(iter(events))[0]
    assert set(before.import_changes) <= set(after.import_changes)
    changes = set(after.import_changes) - set(before.import_changes)
    assert {change[0] for change in changes} == {import_id}
    kinds = Counter(change[2] for change in changes)
    assert kinds == Counter({"created": len(created), "updated": len(updated)})
    ids = {old[key]["id"]: old[key] for key in updated}
    for change in changes:
        if change[2] == "updated":
            # (import_id, customer_id, kind, version_after, before as JSON, before_version)
            was = ids[change[1]]
            before = json.loads(change[4])
            stored = (*FIELD_NAMES, *DERIVED_KEYS)
            assert [before[f] or "" for f in stored] + [change[5]] == [
                *(was[f] for f in stored),
                was["version"],
            ]


def writer_probe(database: Any) -> Callable[[], bool]:
    """A function telling whether some connection holds an open write transaction now.

    SQLite: the write lock is taken (``BEGIN IMMEDIATE`` without waiting fails).
    PostgreSQL: a session of this test's database has a transaction that wrote.
    """
    if database.dialect == "sqlite":

        def sqlite_writing() -> bool:
            probe = sqlite3.connect(database.url.database, timeout=0, isolation_level=None)
            try:
                probe.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError:
                return True
            else:
                probe.execute("ROLLBACK")
                return False
            finally:
                probe.close()

        return sqlite_writing
    engine = database.owner_engine()

    def postgresql_writing() -> bool:
        with engine.connect() as conn:
            writers = conn.execute(
                text(
                    "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL"
                )
            ).scalar_one()
        return bool(writers)

    return postgresql_writing


def import_command(path: Path, tenant_id: str) -> list[str]:
    upsert = ["--tenant", tenant_id, "--mode", "upsert"]
    return [sys.executable, MANAGE, "import-csv", str(path), *upsert]


def watch(
    command: list[str], database: Any, writing_now: Callable[[], bool]
) -> tuple[float, float, float]:
    """Run an import to its end; return its duration and when its transaction opened and
    closed (seconds from the start, as often as the probe can tell)."""
    began = time.monotonic()
    process = subprocess.Popen(
        command, env=manage_env(database), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    seen: list[float] = []
    while process.poll() is None:
        if writing_now():
            seen.append(time.monotonic() - began)
        time.sleep(0.01)
    duration = time.monotonic() - began
    _, stderr = process.communicate()
    assert process.returncode == 0, stderr.decode()
    assert seen, "the probe never saw the import's transaction"
    return duration, seen[0], seen[-1]


def integrity_ok(database: Any) -> None:
    if database.dialect == "sqlite":
        with database.engine.connect() as conn:
            assert conn.execute(text("PRAGMA integrity_check")).scalar() == "ok"


@pytest.mark.timeout(900)
def test_an_import_killed_at_random_moments_leaves_the_tenant_as_before_or_after(
    database, backend, tenant, tmp_path
):
    seed = int(os.environ.get("FAULTS_SEED") or random.randrange(10**6))
    rng = random.Random(seed)
    tag = uuid.uuid4().hex[:8]
    writing_now = writer_probe(database)
    first = tmp_path / "first.csv"
    first.write_bytes(csv_bytes(upsert_rows(tag, "first")))
    result = manage(database, "import-csv", str(first), "--tenant", tenant.id, "--mode", "upsert")
    assert result.returncode == 0, result.stderr
    # A run of the same shape, watched: how long it lives, when it holds its transaction.
    calibration = tmp_path / "calibration.csv"
    calibration.write_bytes(csv_bytes(upsert_rows(tag, "calibration")))
    duration, opened, closed = watch(import_command(calibration, tenant.id), database, writing_now)
    # Half of the kill moments anywhere in the process's life, half while it writes; each
    # group spread evenly (one per slice), all in random order.
    half = RUNS // 2
    delays = [(i + rng.random()) * WINDOW * duration / half for i in range(half)]
    delays += [opened + (i + rng.random()) * (closed - opened) / half for i in range(half)]
    rng.shuffle(delays)

    outcomes: Counter[str] = Counter()
    for run, delay in enumerate(delays):
        rows = upsert_rows(tag, run)
        path = tmp_path / f"run-{run}.csv"
        path.write_bytes(csv_bytes(rows))
        before = tenant_state(database, tenant.id)
        process = subprocess.Popen(
            import_command(path, tenant.id),
            env=manage_env(database),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        killed = inside = False
        try:
            process.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            inside = writing_now()
            process.send_signal(signal.SIGKILL)
            killed = True
        _, stderr = process.communicate(timeout=120)
        after = tenant_state(database, tenant.id)
        context = f"run {run}, killed after {delay:.2f} s of ~{duration:.2f} s (seed {seed})"
        if not killed:
            assert process.returncode == 0, f"{context}: {stderr.decode()}"
        moment = ("inside" if inside else "outside") + " its write transaction"
        if after == before:
            assert killed, f"{context}: a finished import changed nothing"
            outcomes[f"killed {moment}: as before"] += 1
        else:
            assert_exactly_imported(before, after, rows)
            outcomes[f"killed {moment}: as after" if killed else "finished"] += 1
        integrity_ok(database)

    print(
        f"\n[{backend}] killed imports (seed {seed}; {duration:.2f} s each, writing from "
        f"{opened:.2f} s to {closed:.2f} s): {dict(outcomes)}"
    )
    # The database takes the next import at once: no lock or half transaction is left.
    last = tmp_path / "last.csv"
    last.write_bytes(csv_bytes(upsert_rows(tag, "last")))
    before = tenant_state(database, tenant.id)
    result = manage(database, "import-csv", str(last), "--tenant", tenant.id, "--mode", "upsert")
    assert result.returncode == 0, result.stderr
    assert_exactly_imported(before, tenant_state(database, tenant.id), upsert_rows(tag, "last"))
