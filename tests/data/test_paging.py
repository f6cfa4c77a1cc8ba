"""Deep pages through anchors are exactly the pages a plain OFFSET gives."""

from __future__ import annotations

import pytest
from sqlalchemy import insert

from data import paging
from data.customers import SORTS, CustomerRepository
from data.models import Customer, new_id, utcnow
from data.sample import customers


@pytest.fixture
def small_stride(monkeypatch):  # type: ignore[no-untyped-def]
    """Anchors every 7 rows, deep paging from offset 14: many anchors on a small tenant."""
    monkeypatch.setattr(paging, "STRIDE", 7)
    monkeypatch.setattr(paging, "DIRECT_LIMIT", 14)
    paging.CACHE.clear()
    yield
    paging.CACHE.clear()


@pytest.fixture
def crowd(database, tenant, other_tenant):  # type: ignore[no-untyped-def]
    """300 customers (some without phone or address, some sharing a name) + noise next door."""
    now = utcnow()

    def rows(owner: str, count: int, seed: int) -> list[dict[str, object]]:
        made = []
        for i, record in enumerate(customers(count, seed=seed)):
            email = f"{i}.{record['email']}"
            made.append(
                {
                    **record,
                    "email": email,
                    "email_key": email.lower(),
                    "id": new_id(),
                    "tenant_id": owner,
                    "created_at": now,
                    "updated_at": now,
                    "version": 1,
                }
            )
        return made

    for owner, count, seed in ((tenant.id, 300, 5), (other_tenant.id, 120, 6)):
        with database.transaction(owner, write=True) as session:
            session.execute(insert(Customer), rows(owner, count, seed))


def ids(page) -> list[str]:  # type: ignore[no-untyped-def]
    return [c.id for c in page.items]


def plain_page(repository: CustomerRepository, sort: str, offset: int, limit: int) -> list[str]:
    column, descending = sort.lstrip("-"), sort.startswith("-")
    query = (
        repository._scoped()
        .order_by(*repository._order(column, descending))
        .offset(offset)
        .limit(limit)
    )
    return [row.id for row in repository.session.execute(query)]


@pytest.mark.parametrize("sort", [*SORTS, *(f"-{s}" for s in SORTS)])
def test_every_deep_page_equals_the_plain_offset_page(small_stride, crowd, database, tenant, sort):
    with database.transaction(tenant.id) as session:
        repository = CustomerRepository(session, tenant.id)
        seen: list[str] = []
        for offset in range(0, 310, 23):
            page = repository.list(sort=sort, offset=offset, limit=23)
            assert ids(page) == plain_page(repository, sort, offset, 23), offset
            seen += ids(page)
    assert len(seen) == 300
    assert len(set(seen)) == 300  # every customer exactly once, none of the other tenant


def test_anchors_follow_writes(small_stride, crowd, database, tenant, customers_of):
    with customers_of(tenant) as repository:
        before = repository.list(sort="name", offset=100, limit=10)
    with customers_of(tenant, write=True) as repository:
        repository.create({"name": "AAAA First", "email": "first@example.com"})
        repository.update(before.items[0].id, {"name": "zzzz Last", "email": before.items[0].email})
    with customers_of(tenant) as repository:
        after = repository.list(sort="name", offset=100, limit=10)
        assert ids(after) == plain_page(repository, "name", 100, 10)
    assert ids(after) != ids(before)


def test_a_deep_page_past_the_end_is_empty(small_stride, crowd, database, tenant):
    with database.transaction(tenant.id) as session:
        repository = CustomerRepository(session, tenant.id)
        assert repository.list(offset=5000).items == []
        assert repository.list(sort="-name", offset=5000).items == []
        last = repository.list(sort="-phone", offset=295, limit=50)
    assert len(last.items) == 5
