"""Deep pages through anchors are exactly the pages a plain OFFSET gives."""

from __future__ import annotations

import pytest

from data.customers import SORTS, CustomerRepository, paging
from data.sample import customers

STRIDE = 7  # anchors every 7 rows, deep paging from offset 14: many anchors on a small tenant


@pytest.fixture
def small_stride(scope_of):  # type: ignore[no-untyped-def]
    """``with small_stride(tenant) as repository:`` a repository paging with STRIDE."""
    from contextlib import contextmanager

    paging.CACHE.clear()

    @contextmanager
    def opened(tenant):  # type: ignore[no-untyped-def]
        with scope_of(tenant) as scope:
            yield CustomerRepository(scope, stride=STRIDE)

    yield opened
    paging.CACHE.clear()


@pytest.fixture
def crowd(seed_customers, tenant, other_tenant):  # type: ignore[no-untyped-def]
    """300 customers (some without phone or address, some sharing a name) + noise next door."""
    for owner, count, seed in ((tenant.id, 300, 5), (other_tenant.id, 120, 6)):
        seed_customers(
            owner,
            [
                {**record, "email": f"{i}.{record['email']}"}
                for i, record in enumerate(customers(count, seed=seed))
            ],
        )


def ids(page) -> list[str]:  # type: ignore[no-untyped-def]
    return [c.id for c in page.items]


def plain_page(repository: CustomerRepository, sort: str, offset: int, limit: int) -> list[str]:
    column, descending = sort.lstrip("-"), sort.startswith("-")
    query = (
        repository.search.scoped()
        .order_by(*repository._order(column, descending))
        .offset(offset)
        .limit(limit)
    )
    return [row.id for row in repository.session.execute(query)]


@pytest.mark.parametrize("sort", [*SORTS, *(f"-{s}" for s in SORTS)])
def test_every_deep_page_equals_the_plain_offset_page(small_stride, crowd, tenant, sort):
    with small_stride(tenant) as repository:
        seen: list[str] = []
        for offset in range(0, 310, 23):
            page = repository.list(sort=sort, offset=offset, limit=23)
            assert ids(page) == plain_page(repository, sort, offset, 23), offset
            seen += ids(page)
    assert len(seen) == 300
    assert len(set(seen)) == 300  # every customer exactly once, none of the other tenant


def test_anchors_follow_writes(small_stride, crowd, tenant, customers_of):
    with small_stride(tenant) as repository:
        before = repository.list(sort="name", offset=100, limit=10)
    with customers_of(tenant, write=True) as repository:
        repository.create({"name": "AAAA First", "email": "first@example.com"})
        repository.update(before.items[0].id, {"name": "zzzz Last", "email": before.items[0].email})
    with small_stride(tenant) as repository:
        after = repository.list(sort="name", offset=100, limit=10)
        assert ids(after) == plain_page(repository, "name", 100, 10)
    assert ids(after) != ids(before)


def test_a_deep_page_past_the_end_is_empty(small_stride, crowd, tenant):
    with small_stride(tenant) as repository:
        assert repository.list(offset=5000).items == []
        assert repository.list(sort="-name", offset=5000).items == []
        last = repository.list(sort="-phone", offset=295, limit=50)
    assert len(last.items) == 5


@pytest.mark.parametrize("sort", ["created_at", "-created_at", "updated_at", "-updated_at"])
def test_runs_of_equal_times_page_like_the_plain_offset(
    small_stride, seed_customers, customers_of, tenant, sort
):
    # Customers imported together share one time: runs shorter than, equal to and longer
    # than the stride, so that anchor hops land inside runs, on their edges and past them.
    records = [
        {**record, "email": f"{i}.{record['email']}"}
        for i, record in enumerate(customers(81, seed=8))
    ]
    start = 0
    for size in (1, 6, 7, 8, 22, 3, 15, 1, 18):
        seed_customers(tenant.id, records[start : start + size])
        start += size
    with customers_of(tenant, write=True) as repository:
        for customer in repository.list(sort="name", limit=9).items:
            repository.update(customer.id, customer.fields() | {"phone": "+1 555 0100"})
    with small_stride(tenant) as repository:
        times = {c.created_at for c in repository.list(limit=100).items}
        assert len(times) == 9  # one time per run
        seen: list[str] = []
        for offset in range(0, 90, 5):
            page = repository.list(sort=sort, offset=offset, limit=5)
            assert ids(page) == plain_page(repository, sort, offset, 5), offset
            seen += ids(page)
    assert len(set(seen)) == 81
