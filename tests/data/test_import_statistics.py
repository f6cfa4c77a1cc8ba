"""A large import leaves PostgreSQL's planner statistics up to date (bench/RESULTS.md).

Right after a million-row import, before autovacuum's ANALYZE, deep pages and searches
were planned for a tiny tenant and read every row.  The import refreshes the statistics
of ``customers`` when it commits; a small import leaves that to autovacuum.
"""

from __future__ import annotations

import io
from typing import Any

import pytest
from sqlalchemy import text

from data.importing import ImportMode, import_file
from data.sample import customers

ANALYZE_AFTER_ROWS = 10  # a "large" import, for these tests


def csv_of(count: int, seed: int) -> bytes:
    lines = ["name,email,phone"]
    for index, record in enumerate(customers(count, seed=seed)):
        lines.append(f'"{record["name"]}",{index}.{record["email"]},{record["phone"] or ""}')
    return "\n".join(lines).encode()


def planner_rows(database: Any) -> float:
    """What the planner believes ``customers`` holds (pg_class.reltuples, set by ANALYZE)."""
    with database.owner_engine().connect() as conn:
        return float(
            conn.execute(
                text("SELECT reltuples FROM pg_class WHERE oid = 'customers'::regclass")
            ).scalar_one()
        )


def stored_rows(database: Any) -> int:
    with database.owner_engine().connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM customers")).scalar_one())


@pytest.mark.parametrize(("rows", "refreshed"), [(12, True), (3, False)], ids=["large", "small"])
def test_import_refreshes_planner_statistics_only_when_large(
    database: Any,
    backend: str,
    identity_of: Any,
    tenant: Any,
    rows: int,
    refreshed: bool,
) -> None:
    if backend != "postgresql":
        pytest.skip("planner statistics are PostgreSQL's (SQLite plans from its indexes)")
    with database.owner_engine().begin() as conn:
        conn.execute(text("ANALYZE customers"))
    before = stored_rows(database)

    summary = import_file(
        database,
        identity_of(tenant.editor),
        io.BytesIO(csv_of(rows, seed=rows)),
        filename="c.csv",
        analyze_after_rows=ANALYZE_AFTER_ROWS,
    )

    assert summary.created == rows
    assert stored_rows(database) == before + rows
    expected = before + rows if refreshed else before
    assert planner_rows(database) == expected


def vacuums(database: Any) -> int:
    with database.owner_engine().connect() as conn:
        conn.execute(text("SELECT pg_stat_clear_snapshot()"))
        return int(
            conn.execute(
                text("SELECT vacuum_count FROM pg_stat_user_tables WHERE relname = 'customers'")
            ).scalar_one()
        )


def test_a_large_upsert_vacuums_away_the_rows_it_replaced(
    database: Any, backend: str, identity_of: Any, tenant: Any
) -> None:
    """Autovacuum may be late or off: the first page in "last changed" order must not walk
    the index entries of every row an upsert replaced."""
    if backend != "postgresql":
        pytest.skip("VACUUM of dead row versions is PostgreSQL's")
    editor = identity_of(tenant.editor)
    source = csv_of(12, seed=5)
    import_file(
        database,
        editor,
        io.BytesIO(source),
        filename="a.csv",
        analyze_after_rows=ANALYZE_AFTER_ROWS,
    )
    before = vacuums(database)

    renamed = source.replace(b'",', b' Jr.",')  # the same emails, every name changed
    summary = import_file(
        database,
        editor,
        io.BytesIO(renamed),
        filename="b.csv",
        mode=ImportMode.UPSERT,
        analyze_after_rows=ANALYZE_AFTER_ROWS,
    )

    assert summary.updated == 12
    assert vacuums(database) == before + 1
