"""A search gives the same customers, in the same order, whichever way the database
finds them: by rowid when few match in the tenant, through the sort's index when many do
(SQLite chooses by the number of matches; PostgreSQL by its planner)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from data.customers import CustomerRepository
from data.sample import customers


@pytest.fixture
def crowd(tenant: Any, other_tenant: Any, customers_of: Any) -> None:
    """60 customers, a dozen named Nakamura; the same names next door."""
    for owner, seed in ((tenant, 31), (other_tenant, 31)):
        with customers_of(owner, write=True) as repository:
            for index, record in enumerate(customers(60, seed=seed)):
                if index % 5 == 0:
                    record = record | {"name": f"Kenji Nakamura {index:02d}"}
                repository.create(record)


def expected(repository: Any, term: str, sort: str) -> list[str]:
    """Every customer whose name, email or phone holds ``term`` (ignoring case), in order."""
    everyone = repository.list(sort=sort, limit=1000).items
    folded = term.casefold()
    return [
        c.id
        for c in everyone
        if any(folded in (value or "").casefold() for value in (c.name, c.email, c.phone))
    ]


@pytest.mark.parametrize("few", [1000, 2], ids=["few-matches", "many-matches"])
@pytest.mark.parametrize("sort", ["name", "-email", "phone"])
def test_search_lists_and_counts_the_same_customers_however_they_are_found(
    crowd: None,
    tenant: Any,
    scope_of: Any,
    few: int,
    sort: str,
) -> None:
    with scope_of(tenant) as scope:
        repository = CustomerRepository(scope, fts_few=few)
        wanted = expected(repository, "NAKAMURA", sort)
        page = repository.list(search="NAKAMURA", sort=sort, limit=5)
        rest = repository.list(search="NAKAMURA", sort=sort, limit=50, offset=5)

    assert len(wanted) >= 12
    assert [c.id for c in page.items + rest.items] == wanted
    assert page.total.exact
    assert page.total.value == len(wanted)


def vm_steps(scope: Any, run: Any) -> tuple[int, Any]:
    """SQLite virtual-machine instructions (FTS5's own statements included) of ``run()``."""
    raw = scope.session.connection().connection.driver_connection
    steps = [0]

    def step() -> int:
        steps[0] += 1
        return 0

    raw.set_progress_handler(step, 1)
    try:
        result = run()
    finally:
        raw.set_progress_handler(None, 1)
    return steps[0], result


def merge_index_segments(scope_of: Any, tenant: Any) -> None:
    """FTS5's segment layout changes with every write and moves the figure by thousands of
    instructions either way; measured on one merged segment, only the rows count."""
    with scope_of(tenant, write=True) as scope:
        scope.session.execute(text("INSERT INTO customers_fts (customers_fts) VALUES ('optimize')"))


def search_page(scope: Any) -> list[str]:
    page = CustomerRepository(scope).list(search="kenji nakamura", sort="name", limit=20)
    return [customer.id for customer in page.items]


def test_sqlite_search_work_does_not_grow_with_other_tenants_matches(
    backend: str, tenant: Any, other_tenant: Any, customers_of: Any, scope_of: Any
) -> None:
    """Issue 13: on SQLite the FTS index spans every tenant; a tenant's search reads only
    its own rowid range of it, so 3,000 matching customers next door cost it nothing."""
    if backend != "sqlite":
        pytest.skip("the full-text index is SQLite's (PostgreSQL filters by tenant in RLS)")
    with customers_of(tenant, write=True) as repository:
        for index, record in enumerate(customers(40, seed=5)):
            if index % 4 == 0:
                record = record | {"name": f"Kenji Nakamura {index:02d}"}
            repository.create(record)
    merge_index_segments(scope_of, tenant)
    with scope_of(tenant) as scope:
        alone, found_alone = vm_steps(scope, lambda: search_page(scope))
    with customers_of(other_tenant, write=True) as repository:
        for index, record in enumerate(customers(3000, seed=6)):
            repository.create(record | {"name": f"Kenji Nakamura {index:04d}"})
    merge_index_segments(scope_of, tenant)
    with scope_of(tenant) as scope:
        crowded, found_crowded = vm_steps(scope, lambda: search_page(scope))
        # What reading the index without the tenant's range would cost: the bound below
        # must be able to tell.
        unscoped, matches = vm_steps(
            scope,
            lambda: scope.session.execute(
                text("SELECT rowid FROM customers_fts WHERE customers_fts MATCH :q"),
                {"q": '"kenji nakamura"'},
            ).all(),
        )

    assert len(found_alone) == 10
    assert found_crowded == found_alone
    assert len(matches) >= 3010  # other tests of this database may add more
    bound = alone * 1.2 + 500
    assert unscoped > bound, (alone, unscoped)
    print(f"VM instructions: alone {alone}, beside 3,000 matches {crowded}, unscoped {unscoped}")
    assert crowded <= bound, (alone, crowded)
