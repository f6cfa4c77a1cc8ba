"""What the bench scripts (run.py, api_load.py, soak.py) share: scratch PostgreSQL
databases on the server of ``BENCH_DATABASE_URL`` (else ``TEST_DATABASE_URL``), and the
name of the machine's CPU for the reports."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def pg_admin_url() -> str | None:
    url = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")
    return url.strip() if url else None


def pg_scratch(admin: str, name: str) -> str:
    """Create the database ``name`` afresh on the server of ``admin``; return its URL."""
    from sqlalchemy.engine import make_url

    from data.db import normalise_url

    _admin_sql(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')
    return make_url(normalise_url(admin)).set(database=name).render_as_string(hide_password=False)


def pg_drop(admin: str, name: str) -> None:
    _admin_sql(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _admin_sql(admin: str, *statements: str) -> None:
    from sqlalchemy import create_engine, text

    from data.db import normalise_url

    engine = create_engine(normalise_url(admin), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            for statement in statements:
                conn.execute(text(statement))
    finally:
        engine.dispose()


def cpu_name() -> str:
    """The CPU's model name (from /proc/cpuinfo), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
