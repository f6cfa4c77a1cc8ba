"""Merge, dismiss and undo of a merge (issue 16), on both databases.

A merge keeps one customer with the values chosen field by field and deletes the other
in one transaction, with the version check of an edit; it is one audit event, and History
undoes it as it restores a delete.  Viewers may not; other tenants' ids are not found.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text

from data.duplicates.merge import default_choices
from data.errors import Conflict, Forbidden, Invalid, NotFound, StaleVersion
from data.fields import FIELD_NAMES
from data.models import Action
from tests.data.duplicate_fixtures import expected_keys

OLDER = {
    "name": "Jürgen Groß",
    "email": "jgross@firma.de",
    "phone": None,
    "address": "Hauptstraße 1, Berlin",
}
NEWER = {
    "name": "Juergen Gross",
    "email": "j.gross@firma.de",
    "phone": "+49 151 1234567",
    "address": "Hauptstr. 2, Berlin",
}


@pytest.fixture
def two(de_tenant: Any, customers_of: Any) -> tuple[Any, Any]:
    """The older customer (no phone) and the newer one, a pair of the tenant."""
    with customers_of(de_tenant, write=True) as customers:
        older = customers.create(OLDER)
    with customers_of(de_tenant, write=True) as customers:
        newer = customers.create(NEWER)
    return older, newer


def merge(scope_of: Any, tenant: Any, keep: Any, remove: Any, **options: Any) -> Any:
    options.setdefault("versions", (keep.version, remove.version))
    with scope_of(tenant, options.pop("user", None), write=True) as scope:
        return scope.duplicates.merge(keep.id, remove.id, **options)


def current(customers_of: Any, tenant: Any, customer_id: str) -> Any:
    with customers_of(tenant) as customers:
        return customers.find(customer_id)


def test_by_default_each_field_takes_the_newer_non_empty_value(
    de_tenant: Any, two: Any, scope_of: Any, customers_of: Any, stored_keys: Any
) -> None:
    older, newer = two
    result = merge(scope_of, de_tenant, older, newer)
    # The newer customer's values win where it has one; the older one's fill its gaps.
    assert result.chosen == dict.fromkeys(FIELD_NAMES, "remove")
    assert result.kept.id == older.id
    assert result.kept.fields() == NEWER
    assert result.kept.version == older.version + 1
    assert result.kept.created_at == older.created_at
    assert current(customers_of, de_tenant, newer.id) is None
    assert stored_keys(de_tenant, older.id) == expected_keys(NEWER, "DE")


def test_default_choices_fill_the_gaps_of_either_side() -> None:
    from data.schemas import CustomerOut

    def customer(id: str, values: dict[str, Any], minutes: int) -> CustomerOut:
        from data.models import utcnow

        moment = utcnow() + timedelta(minutes=minutes)
        return CustomerOut(id, "t", values, moment, moment, 1)

    kept = customer("a", {"name": "A", "email": "a@x.de", "phone": "1", "address": None}, 0)
    gone = customer("b", {"name": "B", "email": "b@x.de", "phone": None, "address": "X"}, 5)
    assert default_choices(kept, gone) == {
        "name": "remove",  # both have one: the newer
        "email": "remove",
        "phone": "keep",  # only the kept one has one
        "address": "remove",  # only the removed one has one
    }


@pytest.mark.parametrize("side", ["keep", "remove"])
@pytest.mark.parametrize("field", FIELD_NAMES)
def test_each_field_takes_the_value_of_the_side_chosen(
    de_tenant: Any, two: Any, scope_of: Any, field: str, side: str
) -> None:
    older, newer = two
    result = merge(scope_of, de_tenant, older, newer, choices={field: side})
    expected = (OLDER if side == "keep" else NEWER)[field]
    assert result.kept.values[field] == expected
    others = [name for name in FIELD_NAMES if name != field]
    assert all(result.kept.values[name] == NEWER[name] for name in others)


def test_the_kept_customer_may_take_the_removed_ones_email(
    de_tenant: Any, two: Any, scope_of: Any, customers_of: Any
) -> None:
    older, newer = two
    merge(scope_of, de_tenant, older, newer, choices={"email": "remove"})
    with customers_of(de_tenant) as customers:
        found = customers.find_by_email(NEWER["email"])
    assert found is not None
    assert found.id == older.id


@pytest.mark.parametrize("stale", ["keep", "remove"])
def test_a_merge_over_someone_elses_change_writes_nothing(
    de_tenant: Any, two: Any, scope_of: Any, customers_of: Any, stale: str, audit_events: Any
) -> None:
    older, newer = two
    changed = older if stale == "keep" else newer
    with customers_of(de_tenant, write=True) as customers:
        customers.update(changed.id, changed.fields() | {"phone": "+49 30 999999"})
    events_before = len(audit_events(de_tenant))
    with pytest.raises(StaleVersion) as caught:
        merge(scope_of, de_tenant, older, newer)
    assert caught.value.message.startswith("This customer was changed by someone else")
    assert caught.value.current is not None
    assert caught.value.current["version"] == changed.version + 1
    assert current(customers_of, de_tenant, older.id) is not None
    assert current(customers_of, de_tenant, newer.id) is not None
    assert len(audit_events(de_tenant)) == events_before


def test_a_merge_is_one_audit_event_and_history_undoes_it(
    de_tenant: Any,
    two: Any,
    scope_of: Any,
    customers_of: Any,
    audit_events: Any,
    pairs_of: Any,
    stored_keys: Any,
) -> None:
    older, newer = two
    assert len(pairs_of(de_tenant)) == 1
    result = merge(scope_of, de_tenant, older, newer, choices={"name": "keep"})
    assert pairs_of(de_tenant) == []
    event = audit_events(de_tenant)[-1]
    assert (event.id, event.action, event.customer_id) == (
        result.event_id,
        Action.MERGE.value,
        older.id,
    )
    assert event.before["removed"]["id"] == newer.id
    assert event.before["removed"]["email"] == NEWER["email"]
    assert event.after["removed_id"] == newer.id

    with scope_of(de_tenant, write=True) as scope:
        undone = scope.duplicates.undo_merge(result.event_id)
    kept, restored = (
        current(customers_of, de_tenant, older.id),
        current(customers_of, de_tenant, newer.id),
    )
    assert kept.fields() == OLDER
    assert kept.version == result.kept.version + 1
    assert restored.fields() == NEWER
    assert restored.created_at == newer.created_at
    assert restored.version == newer.version + 1
    assert (undone.kept.id, undone.restored.id) == (older.id, newer.id)
    assert stored_keys(de_tenant, older.id) == expected_keys(OLDER, "DE")
    assert stored_keys(de_tenant, newer.id) == expected_keys(NEWER, "DE")
    assert audit_events(de_tenant)[-1].action == Action.UNDO_MERGE.value
    assert len(pairs_of(de_tenant)) == 1  # two customers again: the pair is back

    with pytest.raises(Conflict, match="already"), scope_of(de_tenant, write=True) as scope:
        scope.duplicates.undo_merge(result.event_id)


def test_undo_is_refused_when_the_kept_customer_changed_since(
    de_tenant: Any, two: Any, scope_of: Any, customers_of: Any
) -> None:
    older, newer = two
    result = merge(scope_of, de_tenant, older, newer)
    with customers_of(de_tenant, write=True) as customers:
        customers.update(older.id, NEWER | {"phone": "+49 30 1111111"})
    with pytest.raises(Conflict, match="changed since"), scope_of(de_tenant, write=True) as scope:
        scope.duplicates.undo_merge(result.event_id)
    assert current(customers_of, de_tenant, newer.id) is None


def test_undo_is_refused_when_the_removed_email_was_taken_meanwhile(
    de_tenant: Any, two: Any, scope_of: Any, customers_of: Any
) -> None:
    older, newer = two
    result = merge(scope_of, de_tenant, older, newer, choices={"email": "keep"})
    with customers_of(de_tenant, write=True) as customers:
        customers.create({"name": "Someone", "email": NEWER["email"]})
    with pytest.raises(Conflict, match="email"), scope_of(de_tenant, write=True) as scope:
        scope.duplicates.undo_merge(result.event_id)
    assert current(customers_of, de_tenant, older.id).version == result.kept.version


@pytest.mark.parametrize(
    ("choices", "field"),
    [({"colour": "keep"}, "colour"), ({"name": "both"}, "name")],
    ids=["unknown field", "unknown side"],
)
def test_bad_choices_are_invalid_and_write_nothing(
    de_tenant: Any, two: Any, scope_of: Any, customers_of: Any, choices: Any, field: str
) -> None:
    older, newer = two
    with pytest.raises(Invalid) as caught:
        merge(scope_of, de_tenant, older, newer, choices=choices)
    assert field in caught.value.errors
    assert current(customers_of, de_tenant, newer.id) is not None


def test_a_customer_cannot_be_merged_with_itself(de_tenant: Any, two: Any, scope_of: Any) -> None:
    older, _ = two
    with pytest.raises(Invalid, match="two different"):
        merge(scope_of, de_tenant, older, older)


def test_viewers_see_the_queue_but_may_not_merge_or_dismiss(
    de_tenant: Any, two: Any, scope_of: Any, pairs_of: Any, customers_of: Any
) -> None:
    older, newer = two
    [pair] = pairs_of(de_tenant)  # as the viewer
    with pytest.raises(Forbidden):
        merge(scope_of, de_tenant, older, newer, user=de_tenant.viewer)
    with pytest.raises(Forbidden), scope_of(de_tenant, de_tenant.viewer, write=True) as scope:
        scope.duplicates.dismiss(pair.id)
    assert current(customers_of, de_tenant, newer.id) is not None
    assert len(pairs_of(de_tenant)) == 1


def test_a_dismissal_is_an_audit_event_naming_both_customers(
    de_tenant: Any, two: Any, scope_of: Any, audit_events: Any
) -> None:
    older, newer = two
    with scope_of(de_tenant, write=True) as scope:
        [pair] = list(scope.duplicates.each())
        scope.duplicates.dismiss(pair.id)
    event = audit_events(de_tenant)[-1]
    assert event.action == Action.DISMISS.value
    assert {event.after["first"]["id"], event.after["second"]["id"]} == {older.id, newer.id}


# --- tenant isolation ---------------------------------------------------------------------


@pytest.fixture
def theirs(make_tenant: Any, set_region: Any, customers_of: Any, scope_of: Any) -> Any:
    """Another tenant with the same two customers (so the same keys), and their merge."""
    other = make_tenant()
    set_region(other, "DE")
    with customers_of(other, write=True) as customers:
        first = customers.create(OLDER)
    with customers_of(other, write=True) as customers:
        second = customers.create(NEWER)
    with scope_of(other) as scope:
        [pair] = list(scope.duplicates.each())
    return other, first, second, pair


def test_pairs_never_span_tenants(de_tenant: Any, two: Any, theirs: Any, pairs_of: Any) -> None:
    older, newer = two
    other, first, second, _ = theirs
    assert {p.id for p in pairs_of(de_tenant)} != {p.id for p in pairs_of(other)}
    for tenant, ids in ((de_tenant, {older.id, newer.id}), (other, {first.id, second.id})):
        [pair] = pairs_of(tenant)
        assert {pair.first.id, pair.second.id} == ids


def test_raw_sql_sees_only_the_tenants_own_pairs_on_postgresql(
    backend: str, database: Any, de_tenant: Any, two: Any, theirs: Any
) -> None:
    if backend != "postgresql":
        pytest.skip("row-level security: PostgreSQL only")
    with database.transaction(de_tenant.id) as session:
        tenants = session.execute(text("SELECT DISTINCT tenant_id FROM duplicate_pairs")).all()
    assert [row.tenant_id for row in tenants] == [de_tenant.id]


# What a tenant tries with the other tenant's pair, customers and merge: (their pair id,
# their customers, their merge's event id, our customer) → the attempt.
ATTEMPTS: dict[str, Any] = {
    "get pair": lambda d, pair, first, second, event, ours: d.get(pair),
    "dismiss pair": lambda d, pair, first, second, event, ours: d.dismiss(pair),
    "merge their customers": lambda d, pair, first, second, event, ours: d.merge(first, second),
    "merge one of theirs": lambda d, pair, first, second, event, ours: d.merge(ours, second),
    "undo their merge": lambda d, pair, first, second, event, ours: d.undo_merge(event),
}


@pytest.mark.parametrize("operation", list(ATTEMPTS))
def test_another_tenants_pairs_customers_and_merges_are_not_found(
    de_tenant: Any,
    two: Any,
    theirs: Any,
    scope_of: Any,
    customers_of: Any,
    pairs_of: Any,
    operation: str,
) -> None:
    older, _ = two
    other, first, second, their_pair = theirs
    event = ""
    if operation == "undo their merge":
        event = merge(scope_of, other, first, second, versions=None).event_id
    attempt = ATTEMPTS[operation]
    with pytest.raises(NotFound), scope_of(de_tenant, write=True) as scope:
        attempt(scope.duplicates, their_pair.id, first.id, second.id, event, older.id)
    assert len(pairs_of(de_tenant)) == 1
    assert current(customers_of, de_tenant, older.id) is not None
    if not event:
        with scope_of(other) as scope:
            assert scope.duplicates.get(their_pair.id).status == "open"


@pytest.mark.parametrize("pair_id", ["", "nonsense", "b~a", "a~a", "x" * 300])
def test_a_malformed_pair_id_is_not_found(de_tenant: Any, scope_of: Any, pair_id: str) -> None:
    with pytest.raises(NotFound), scope_of(de_tenant) as scope:
        scope.duplicates.get(pair_id)
