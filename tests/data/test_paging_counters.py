"""Page anchors of a sort outlive writes that move no row in that sort, and only those.

A deep page is an anchor seek (data/paging.py); computing a sort's anchors reads the
whole tenant's index, so they are kept until a write moves rows in that sort's order:
an insert or delete moves rows in every order, an update only in the orders of the
columns it changed (and always in "last changed").  Whatever happened, a deep page is
the page a plain OFFSET gives.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from data.customers import SORTS, CustomerRepository, paging
from data.sample import customers

SIZE = 60
STRIDE = 7  # anchors every 7 rows, deep pages from 14


@pytest.fixture
def computed(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Lists the sorts whose anchors were computed."""
    paging.CACHE.clear()
    calls: list[str] = []
    real = paging.compute_anchors

    def counting(session: Any, tenant_id: str, parts: Any, stride: int) -> paging.Anchors:
        calls.append(str(parts[0].keys[0]))
        return real(session, tenant_id, parts, stride)

    monkeypatch.setattr(paging, "compute_anchors", counting)
    yield calls
    paging.CACHE.clear()


@pytest.fixture
def filled(seed_customers: Any, tenant: Any) -> None:
    seed_customers(
        tenant.id,
        [
            {**record, "email": f"{index}.{record['email']}"}
            for index, record in enumerate(customers(SIZE, seed=77))
        ],
    )


@pytest.fixture
def paged(scope_of: Any) -> Callable[..., Any]:
    """``with paged(tenant, write=False) as repository:`` paging with STRIDE."""
    from contextlib import contextmanager

    @contextmanager
    def opened(tenant: Any, *, write: bool = False) -> Iterator[CustomerRepository]:
        with scope_of(tenant, write=write) as scope:
            yield CustomerRepository(scope, stride=STRIDE)

    return opened


def deep_ids(repository: CustomerRepository, sort: str) -> list[str]:
    return [c.id for c in repository.list(sort=sort, offset=21, limit=10).items]


def plain_ids(repository: CustomerRepository, sort: str) -> list[str]:
    column, descending = sort.lstrip("-"), sort.startswith("-")
    query = (
        repository.search.scoped()
        .order_by(*repository._order(column, descending))
        .offset(21)
        .limit(10)
    )
    return [row.id for row in repository.session.execute(query)]


Change = Callable[[CustomerRepository, Any], object]

CHANGES: dict[str, tuple[Change, set[str]]] = {
    # change → the sorts whose rows it moves (their anchors must be computed again)
    "phone edit": (
        lambda r, c: r.update(c.id, c.fields() | {"phone": "+1 555 0199"}),
        {"phone", "updated_at"},
    ),
    "name edit": (
        lambda r, c: r.update(c.id, c.fields() | {"name": "Zora Zylstra"}),
        {"name", "updated_at"},
    ),
    "address edit": (
        lambda r, c: r.update(c.id, c.fields() | {"address": None}),
        {"address", "updated_at"},
    ),
    "email case only": (
        lambda r, c: r.update(c.id, c.fields() | {"email": c.email.upper()}),
        {"updated_at"},
    ),
    "insert": (
        lambda r, c: r.create({"name": "Aaron Aalto", "email": "aaron@example.com"}),
        set(SORTS),
    ),
    "delete": (lambda r, c: r.delete(c.id), set(SORTS)),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_a_write_recomputes_the_anchors_of_the_sorts_it_moves_only(
    computed: list[str], filled: None, tenant: Any, paged: Any, change: str
) -> None:
    write, moved = CHANGES[change]
    with paged(tenant) as repository:
        for sort in SORTS:
            deep_ids(repository, sort)
        target = repository.list(sort="name", offset=30, limit=1).items[0]
    assert sorted(computed) == sorted(str(SORTS[s]) for s in SORTS)

    with paged(tenant, write=True) as repository:
        write(repository, target)
    computed.clear()
    with paged(tenant) as repository:
        for sort in SORTS:
            for direction in ("", "-"):
                assert deep_ids(repository, direction + sort) == plain_ids(
                    repository, direction + sort
                ), direction + sort

    assert sorted(computed) == sorted(str(SORTS[s]) for s in moved)
