"""PostgreSQL: search uses its trigram index even under row-level security."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from data.customers.search import Search
from data.db import runtime_role_name


@pytest.fixture
def postgres_only(backend):  # type: ignore[no-untyped-def]
    if backend != "postgresql":
        pytest.skip("trigram index and row-level security: PostgreSQL only")


def plan(database, tenant, search: str) -> str:  # type: ignore[no-untyped-def]
    return "\n".join(explain(database, tenant, search))


def explain(database, tenant, search: str, options: str = "") -> list:  # type: ignore[no-untyped-def]
    """``EXPLAIN <options>`` of the search, as the application role, one item per row."""
    with database.owner_engine().begin() as conn:
        conn.execute(text("ANALYZE customers"))
    with database.transaction(tenant.id) as session:
        query = Search(session, tenant.id).filtered(search)
        sql = str(query.compile(session.get_bind(), compile_kwargs={"literal_binds": True}))
        # A test tenant is small, so scanning its rows is cheapest; forbid the plain scans
        # and price index entries as at a million rows, to see which index the planner is
        # *allowed* to use as the application role (row-level security decides that).
        session.execute(text("SET LOCAL enable_seqscan = off"))
        session.execute(text("SET LOCAL enable_indexscan = off"))
        session.execute(text("SET LOCAL cpu_index_tuple_cost = 1"))
        runtime_role = runtime_role_name(database.url)
        assert session.execute(text("SELECT current_user")).scalar() == runtime_role
        return [row[0] for row in session.execute(text(f"EXPLAIN {options} {sql}"))]


def test_search_as_the_application_role_can_use_the_trigram_index(
    postgres_only, database, tenant, seed_customers
):
    rows = [{"name": f"Person {i}", "email": f"p{i}@example.com"} for i in range(2000)]
    rows[1234]["name"] = "Qzxwv Rare"
    seed_customers(tenant.id, rows)
    explained = plan(database, tenant, "qzxwv")
    assert "ix_customers_tenant_search" in explained
    assert "Index Cond: (((tenant_id)::text = " in explained
    assert "(search_text ~~* " in explained


def test_init_db_warns_when_ilike_cannot_use_the_index(postgres_only, database):
    assert database.warnings() == []
    with database.owner_engine().begin() as conn:
        conn.execute(text("ALTER FUNCTION pg_catalog.texticlike(text, text) NOT LEAKPROOF"))
    try:
        warnings = database.warnings()
    finally:
        with database.owner_engine().begin() as conn:
            conn.execute(text("ALTER FUNCTION pg_catalog.texticlike(text, text) LEAKPROOF"))
    assert len(warnings) == 1
    assert warnings[0].startswith("Search will scan each tenant's rows")


def test_a_search_reads_no_index_entry_of_another_tenant(
    postgres_only, database, tenant, other_tenant, seed_customers
):
    seed_customers(
        other_tenant.id,
        [{"name": f"Nakamura {i}", "email": f"n{i}@example.com"} for i in range(1500)],
    )
    seed_customers(
        tenant.id,
        [{"name": f"Nakamura {i}", "email": f"n{i}@example.org"} for i in range(3)]
        + [{"name": f"Person {i}", "email": f"p{i}@example.org"} for i in range(3000)],
    )
    # Priced as at a million rows (see ``explain``): reading the tenant's 3,003 rows by
    # another index would otherwise be cheapest for a test tenant.
    explained = explain(database, tenant, "nakamura", "(ANALYZE, FORMAT JSON)")[0]

    def nodes(node):  # type: ignore[no-untyped-def]
        yield node
        for child in node.get("Plans", []):
            yield from nodes(child)

    scans = [n for n in nodes(explained[0]["Plan"]) if n["Node Type"] == "Bitmap Index Scan"]
    assert [scan["Index Name"] for scan in scans] == ["ix_customers_tenant_search"]
    # The three of this tenant, none of the 1,500 next door (one bitmap of row ids).
    assert scans[0]["Actual Rows"] == 3


def test_statements_are_prepared_but_every_search_is_planned_for_its_term(
    postgres_only, tenant, scope_of, seed_customers
):
    """A statement run again and again on a connection is prepared and may settle on one
    generic plan; a search's count and page are planned for their own term every time."""
    rows = [{"name": f"Person {i}", "email": f"p{i}@example.com"} for i in range(40)]
    seed_customers(tenant.id, rows)
    with scope_of(tenant) as scope:  # one transaction: one connection
        someone = scope.customers.list(limit=1).items[0]
        for round_ in range(20):
            assert scope.customers.find(someone.id) == someone
            term = f"son {round_}"
            assert scope.customers.count(term).value >= 1
            assert scope.customers.list(search=term, limit=5).items
        prepared = scope.session.execute(
            text("SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements")
        ).all()
    finds = [row for row in prepared if "customers.id = $2" in row.statement]
    searches = [row for row in prepared if "search_text ILIKE" in row.statement]
    assert len(finds) == 1
    assert finds[0].generic_plans > 0  # prepared, and planned once for all values
    assert len(searches) == 2  # the count, and the page
    for search in searches:
        assert search.generic_plans == 0, search.statement
        assert search.custom_plans >= 10, search.statement
