def test_a_new_tenant_starts_with_no_customers(tenant, customers_of):
    with customers_of(tenant) as repository:
        page = repository.list()
    assert page.items == []
    assert page.total.value == 0


def test_added_customers_are_listed_and_counted(tenant, add_customers, customers_of):
    created = add_customers(tenant, 5)
    with customers_of(tenant) as repository:
        page = repository.list(limit=3)
    assert page.total.value == 5
    assert len(page.items) == 3
    assert {c.id for c in created} >= {c.id for c in page.items}
