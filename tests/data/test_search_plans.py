"""A search gives the same customers, in the same order, whichever way the database
finds them: by rowid when few match in the tenant, through the sort's index when many do
(SQLite chooses by the number of matches; PostgreSQL by its planner)."""

from __future__ import annotations

from typing import Any

import pytest

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
