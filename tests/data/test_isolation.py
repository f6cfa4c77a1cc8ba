"""Tenant isolation in the data layer: every operation × own tenant / other tenant / missing id.

Another tenant's customer and an id that does not exist must be indistinguishable (the
same ``NotFound``, same message), and the other tenant's row must be exactly as it was.
Runs on SQLite and PostgreSQL; on PostgreSQL row-level security holds the same line
(tests/data/test_postgres_rls.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from data.customers import Count, CustomerRepository
from data.errors import NotFound
from data.identity import Identity
from data.scope import Scope, read_actor

NEW_VALUES = {"name": "Changed By Intruder", "email": "intruder@example.com"}

Operation = Callable[[CustomerRepository, Any], Any]

# Each operation on one customer; ``customer`` is a CustomerOut or, for a missing id, a stub.
OPERATIONS: dict[str, Operation] = {
    "get": lambda repository, customer: repository.get(customer.id),
    "update": lambda repository, customer: repository.update(customer.id, NEW_VALUES),
    "update-with-version": lambda repository, customer: repository.update(
        customer.id, NEW_VALUES, expected_version=customer.version
    ),
    "delete": lambda repository, customer: repository.delete(customer.id),
    "delete-with-version": lambda repository, customer: repository.delete(
        customer.id, expected_version=customer.version
    ),
    "delete-many": lambda repository, customer: repository.delete_many([customer.id]),
    "restore": lambda repository, customer: repository.restore(customer.id),
}


class Missing:
    id = str(uuid.uuid4())
    version = 1


def prepare(operation: str, add_customers, customers_of, owner):  # type: ignore[no-untyped-def]
    """A customer of ``owner`` in the state the operation needs (restore: deleted)."""
    (customer,) = add_customers(owner, 1)
    if operation == "restore":
        with customers_of(owner, write=True) as repository:
            repository.delete(customer.id)
    return customer


def snapshot(database, tenant, *, sessions: bool = False) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Everything a tenant has: customers (every column), its count, its audit events,
    users, import undo rows and (with ``sessions``) its sessions and tokens."""
    from sqlalchemy import text

    with database.transaction(tenant.id) as session:
        return {
            table: [
                dict(row)
                for row in session.execute(
                    text(f"SELECT * FROM {table} WHERE tenant_id = :t ORDER BY 1, 2"),
                    {"t": tenant.id},
                ).mappings()
            ]
            for table in (
                "customers",
                "customer_counts",
                "audit_events",
                "users",
                "import_changes",
                *(["credentials"] if sessions else []),
            )
        }


# What each operation leaves of the customer in its own tenant.
AFTER = {
    "get": "unchanged",
    "update": "changed",
    "update-with-version": "changed",
    "delete": "gone",
    "delete-with-version": "gone",
    "delete-many": "gone",
    "restore": "unchanged",
}


@pytest.mark.parametrize("operation", list(OPERATIONS))
def test_own_tenant_can(operation, tenant, add_customers, customers_of):
    customer = prepare(operation, add_customers, customers_of, tenant)
    with customers_of(tenant, write=True) as repository:
        result = OPERATIONS[operation](repository, customer)
    with customers_of(tenant) as repository:
        now = repository.find(customer.id)
    if AFTER[operation] == "gone":
        assert now is None
    elif AFTER[operation] == "changed":
        assert now is not None
        assert (now.name, now.email, now.version) == (
            NEW_VALUES["name"],
            NEW_VALUES["email"],
            customer.version + 1,
        )
    else:
        assert now is not None
        assert now.fields() == customer.fields()
    if operation in ("get", "update", "update-with-version", "restore"):
        assert result == now


@pytest.mark.parametrize("operation", list(OPERATIONS))
def test_other_tenants_customer_is_the_same_not_found_as_a_missing_id(
    operation, database, tenant, other_tenant, add_customers, customers_of
):
    theirs = prepare(operation, add_customers, customers_of, other_tenant)
    add_customers(tenant, 2)  # ours, so that "nothing visible" is not the reason
    before_theirs = snapshot(database, other_tenant)
    before_ours = snapshot(database, tenant)

    with customers_of(tenant, tenant.admin, write=True) as repository:
        with pytest.raises(NotFound) as other:
            OPERATIONS[operation](repository, theirs)
        with pytest.raises(NotFound) as missing:
            OPERATIONS[operation](repository, Missing())

    assert type(other.value) is type(missing.value)
    assert str(other.value) == str(missing.value)
    assert "not found" in str(other.value)
    assert theirs.id not in str(other.value)
    assert snapshot(database, other_tenant) == before_theirs
    assert snapshot(database, tenant) == before_ours


def test_the_other_tenant_can_still_restore_what_we_could_not(
    tenant, other_tenant, add_customers, customers_of
):
    theirs = prepare("restore", add_customers, customers_of, other_tenant)
    with customers_of(tenant, write=True) as repository, pytest.raises(NotFound):
        repository.restore(theirs.id)
    with customers_of(other_tenant, write=True) as repository:
        assert repository.restore(theirs.id).id == theirs.id
    with customers_of(tenant) as repository:
        assert repository.find(theirs.id) is None


@pytest.fixture
def twins(tenant, other_tenant, customers_of):  # type: ignore[no-untyped-def]
    """Both tenants hold a customer with the same name, email and phone, plus their own."""
    shared = {"name": "Shared Name", "email": "shared@example.com", "phone": "555-0000"}
    with customers_of(tenant, write=True) as repository:
        mine = [
            repository.create(shared),
            repository.create({"name": "Mine Only", "email": "m@x.org"}),
        ]
    with customers_of(other_tenant, write=True) as repository:
        theirs = [
            repository.create(shared),
            repository.create({"name": "Theirs Only Zebra", "email": "secret@their.org"}),
        ]
    return mine, theirs


READS: dict[str, Callable[[CustomerRepository], set[str]]] = {
    "list": lambda r: {c.id for c in r.list(limit=1000).items},
    "list-sorted-desc": lambda r: {c.id for c in r.list(sort="-created_at").items},
    "search-shared-name": lambda r: {c.id for c in r.list(search="shared name").items},
    "search-shared-email": lambda r: {c.id for c in r.list(search="SHARED@").items},
    "search-phone": lambda r: {c.id for c in r.list(search="555").items},
    "search-two-chars": lambda r: {c.id for c in r.list(search="sh").items},
    "iter-all": lambda r: {c.id for c in r.iter_all()},
    "iter-all-search": lambda r: {c.id for c in r.iter_all(search="shared")},
    "find-by-email": lambda r: {c.id for c in [r.find_by_email("shared@example.com")] if c},
}


@pytest.mark.parametrize("read", list(READS))
def test_reads_never_include_the_other_tenants_rows(read, tenant, customers_of, twins):
    mine, theirs = twins
    with customers_of(tenant) as repository:
        seen = READS[read](repository)
    assert seen
    assert seen <= {c.id for c in mine}
    assert not seen & {c.id for c in theirs}


@pytest.mark.parametrize("term", ["zebra", "secret@their.org", "their", "Theirs Only Zebra"])
def test_searching_for_the_other_tenants_text_finds_nothing(term, tenant, customers_of, twins):
    with customers_of(tenant) as repository:
        page = repository.list(search=term)
        assert repository.count(term) == Count(0)
        assert repository.find_by_email("secret@their.org") is None
    assert page.items == []
    assert page.total == Count(0)


def test_counts_are_per_tenant(tenant, other_tenant, customers_of, add_customers, twins):
    add_customers(other_tenant, 4)
    with customers_of(tenant) as repository:
        assert repository.count() == Count(2)
        assert repository.count("shared") == Count(1)
        assert repository.list().total == Count(2)
    with customers_of(other_tenant) as repository:
        assert repository.count() == Count(6)


def test_ids_of_other_tenants_are_not_reported_as_existing(tenant, customers_of, twins):
    mine, theirs = twins
    with customers_of(tenant) as repository:
        assert repository.existing_ids([c.id for c in mine + theirs]) == {c.id for c in mine}
        assert repository.existing_ids([c.id for c in theirs]) == set()
        assert all(repository.find(c.id) is None for c in theirs)


@pytest.mark.parametrize("bound_to", ["other-tenant", "no-tenant"])
def test_a_scope_cannot_be_built_on_a_session_of_another_tenant(
    database, tenant, other_tenant, bound_to
):
    """A scope's repositories take their tenant from the scope; the scope refuses a
    session bound to another tenant (on PostgreSQL, one with another RLS setting)."""
    session_tenant = other_tenant.id if bound_to == "other-tenant" else None
    operator = Identity.of_operator(tenant.id, "cli:test")
    with database.transaction(session_tenant) as session:
        actor, region = read_actor(session, operator)
        with pytest.raises(ValueError, match="different tenants"):
            Scope(session, operator, actor, region)


def test_an_audit_log_shows_only_its_tenants_events(
    database, tenant, other_tenant, add_customers, audit_events
):
    from data.audit import AuditLog

    mine = add_customers(tenant, 2)
    theirs = add_customers(other_tenant, 3)
    assert {e.customer_id for e in audit_events(tenant)} == {c.id for c in mine}
    with database.transaction(tenant.id) as session:
        log = AuditLog(session, tenant.id)
        assert log.events(customer_id=theirs[0].id) == []
        assert log.count(customer_id=theirs[0].id) == 0
        assert log.last_delete(theirs[0].id) is None
    with database.transaction(other_tenant.id) as session:
        event_id = AuditLog(session, other_tenant.id).events()[0].id
    with database.transaction(tenant.id) as session:
        assert AuditLog(session, tenant.id).get(event_id) is None


def test_deleting_a_tenant_deletes_its_users_customers_and_events_only(
    database, tenant, other_tenant, add_customers, identity_of
):
    from data.tenancy import delete_tenant, find_tenant

    add_customers(tenant, 3)
    add_customers(other_tenant, 2)
    identity_of(tenant.editor)  # a session row, which must go too
    before_other = snapshot(database, other_tenant, sessions=True)
    with database.owner_engine().begin() as owner:
        delete_tenant(owner, tenant.id)
    assert snapshot(database, tenant, sessions=True) == {
        "customers": [],
        "customer_counts": [],
        "audit_events": [],
        "users": [],
        "credentials": [],
        "import_changes": [],
    }
    assert snapshot(database, other_tenant, sessions=True) == before_other
    with database.transaction(None) as session:
        assert find_tenant(session, tenant.id) is None
    with database.owner_engine().begin() as owner, pytest.raises(NotFound):
        delete_tenant(owner, tenant.id)
