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
from sqlalchemy import insert

from data import paging
from data.customers import SORTS, CustomerRepository
from data.models import Customer, new_id, utcnow
from data.sample import customers

SIZE = 60


@pytest.fixture
def computed(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Anchors every 7 rows, deep pages from 14; lists the sorts whose anchors were computed."""
    monkeypatch.setattr(paging, "STRIDE", 7)
    monkeypatch.setattr(paging, "DIRECT_LIMIT", 14)
    paging.CACHE.clear()
    calls: list[str] = []
    real = paging.compute_anchors

    def counting(session: Any, tenant_id: str, parts: Any) -> paging.Anchors:
        calls.append(str(parts[0].keys[0]))
        return real(session, tenant_id, parts)

    monkeypatch.setattr(paging, "compute_anchors", counting)
    yield calls
    paging.CACHE.clear()


@pytest.fixture
def filled(database: Any, tenant: Any) -> None:
    now = utcnow()
    rows = []
    for index, record in enumerate(customers(SIZE, seed=77)):
        email = f"{index}.{record['email']}"
        rows.append(
            record
            | {
                "email": email,
                "email_key": email.lower(),
                "id": new_id(),
                "tenant_id": tenant.id,
                "created_at": now,
                "updated_at": now,
                "version": 1,
            }
        )
    with database.transaction(tenant.id, write=True) as session:
        session.execute(insert(Customer), rows)


def deep_ids(repository: CustomerRepository, sort: str) -> list[str]:
    return [c.id for c in repository.list(sort=sort, offset=21, limit=10).items]


def plain_ids(repository: CustomerRepository, sort: str) -> list[str]:
    column, descending = sort.lstrip("-"), sort.startswith("-")
    query = (
        repository._scoped().order_by(*repository._order(column, descending)).offset(21).limit(10)
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
    computed: list[str], filled: None, tenant: Any, customers_of: Any, change: str
) -> None:
    write, moved = CHANGES[change]
    with customers_of(tenant) as repository:
        for sort in SORTS:
            deep_ids(repository, sort)
        target = repository.list(sort="name", offset=30, limit=1).items[0]
    assert sorted(computed) == sorted(str(SORTS[s]) for s in SORTS)

    with customers_of(tenant, write=True) as repository:
        write(repository, target)
    computed.clear()
    with customers_of(tenant) as repository:
        for sort in SORTS:
            for direction in ("", "-"):
                assert deep_ids(repository, direction + sort) == plain_ids(
                    repository, direction + sort
                ), direction + sort

    assert sorted(computed) == sorted(str(SORTS[s]) for s in moved)
