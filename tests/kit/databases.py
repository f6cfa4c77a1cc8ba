"""Scratch PostgreSQL databases, for tests and benchmarks.

A scratch database is created afresh on the server of an admin URL and dropped after,
together with the runtime role ``init-db`` creates for it (``<database>_app``: roles are
server-wide, so each scratch database's role would otherwise outlive it).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


def _execute(admin_url: str, *statements: str) -> None:
    from data.db import normalise_url

    engine = create_engine(normalise_url(admin_url), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            for statement in statements:
                conn.execute(text(statement))
    finally:
        engine.dispose()


def scratch_url(admin_url: str, name: str) -> str:
    """The URL of database ``name`` on the server of ``admin_url`` (psycopg 3)."""
    from data.db import normalise_url

    url = make_url(normalise_url(admin_url)).set(database=name)
    return url.render_as_string(hide_password=False)


def create_scratch(admin_url: str, name: str) -> tuple[str, Callable[[], None]]:
    """Create the database ``name`` afresh; its URL and a function that drops it."""
    _execute(
        admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"'
    )
    url = scratch_url(admin_url, name)
    return url, lambda: drop_scratch(admin_url, name)


def drop_scratch(admin_url: str, name: str) -> None:
    """Drop the database ``name`` and the runtime role made for it (forgetting engines)."""
    from data.db import reset_databases, runtime_role_name

    reset_databases()
    role = runtime_role_name(make_url(scratch_url(admin_url, name)))
    _execute(
        admin_url,
        f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
        f'DROP ROLE IF EXISTS "{role}"',
    )
