"""The REST API (FastAPI): see api/main.py."""

from __future__ import annotations

import os

MAX_DEFAULT_WORKERS = 2


def default_workers(dialect: str) -> int:
    """Server processes when ``--workers`` is not given: on SQLite one per core this
    process may use, at most two; on PostgreSQL one.

    One process runs Python on one core at a time: under 50 clients it used one core of
    two.  On SQLite a second process served about 1.55 times as many requests at the
    same p99 (its writers take turns through ``api.deps``).  On PostgreSQL, whose server
    needs the other core, it served 1.08 times as many with a p99 1.6 times as long
    (docs/performance.md).  More than two gain little while SQLite writes one
    transaction at a time, and each costs its own memory; ``--workers N`` sets any number.
    """
    if dialect != "sqlite":
        return 1
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(MAX_DEFAULT_WORKERS, cores))
