"""``CustomerRepository`` within one tenant: uniqueness, versions, roles, audit, restore,
counts, search, sort and paging.  Every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import uuid

import pytest
from sqlalchemy import text

from data.customers import Count, CustomerRepository, parse_sort
from data.errors import Conflict, Forbidden, NotFound, StaleVersion, Unauthenticated
from data.identity import Identity
from data.text import like_pattern

ANN = {"name": "Ann Lee", "email": "ann@example.com", "phone": "555-0100", "address": "1 Main St"}
BOB = {"name": "Bob Stone", "email": "bob@example.com"}


def create(customers_of, tenant, *records, user=None):  # type: ignore[no-untyped-def]
    with customers_of(tenant, user, write=True) as repository:
        return [repository.create(record) for record in records]


# -- email uniqueness -------------------------------------------------------------------


@pytest.mark.parametrize(
    "email", ["ann@example.com", "ANN@EXAMPLE.COM", "Ann@Example.com", "  ann@example.com "]
)
def test_create_with_an_email_in_use_is_a_conflict_whatever_its_case(
    tenant, customers_of, stored_count, email
):
    create(customers_of, tenant, ANN)
    with customers_of(tenant, write=True) as repository, pytest.raises(Conflict) as caught:
        repository.create(BOB | {"email": email})
    assert type(caught.value) is Conflict
    assert caught.value.field == "email"
    assert str(caught.value) == f"Another customer already uses the email {email.strip()}."
    assert stored_count(tenant) == 1


def test_non_ascii_emails_are_unique_case_insensitively(tenant, customers_of):
    create(customers_of, tenant, ANN | {"email": "ÄNNE@bücher.de"})
    with customers_of(tenant, write=True) as repository, pytest.raises(Conflict):
        repository.create(BOB | {"email": "änne@BÜCHER.de"})


def test_update_to_an_email_in_use_is_a_conflict_whatever_its_case(
    tenant, customers_of, raw_customer
):
    _ann, bob = create(customers_of, tenant, ANN, BOB)
    before = raw_customer(tenant, bob.id)
    with customers_of(tenant, write=True) as repository, pytest.raises(Conflict) as caught:
        repository.update(bob.id, BOB | {"email": "ANN@example.COM"})
    assert caught.value.field == "email"
    assert raw_customer(tenant, bob.id) == before


def test_update_may_change_the_case_of_its_own_email(tenant, customers_of):
    (ann,) = create(customers_of, tenant, ANN)
    with customers_of(tenant, write=True) as repository:
        updated = repository.update(ann.id, ANN | {"email": "Ann@Example.COM"})
    assert updated.email == "Ann@Example.COM"
    assert updated.version == ann.version + 1


def test_two_tenants_may_hold_the_same_email(tenant, other_tenant, customers_of):
    (mine,) = create(customers_of, tenant, ANN)
    (theirs,) = create(customers_of, other_tenant, ANN | {"email": "ANN@example.com"})
    assert mine.id != theirs.id
    with customers_of(tenant) as repository:
        assert repository.find_by_email("ann@EXAMPLE.com") == mine
    with customers_of(other_tenant) as repository:
        assert repository.find_by_email("ann@example.com") == theirs


@pytest.mark.parametrize("operation", ["create", "update"])
def test_the_unique_index_catches_what_the_check_missed(
    tenant, customers_of, stored_count, monkeypatch, operation
):
    """A concurrent writer can insert the email between the check and the write."""
    _ann, bob = create(customers_of, tenant, ANN, BOB)
    monkeypatch.setattr(CustomerRepository, "_email_taken", lambda *args, **kwargs: False)
    taken = "ANN@example.com"
    with customers_of(tenant, write=True) as repository:
        write = (
            (lambda: repository.create({"name": "Copy", "email": taken}))
            if operation == "create"
            else (lambda: repository.update(bob.id, BOB | {"email": taken}))
        )
        with pytest.raises(Conflict) as caught:
            write()
        assert caught.value.field == "email"
        # The failed statement was undone alone: the transaction goes on.
        repository.create({"name": "Carl", "email": "carl@example.com"})
    assert stored_count(tenant) == 3
    with customers_of(tenant) as repository:
        assert repository.get(bob.id).email == BOB["email"]


def test_concurrent_creates_of_one_email_leave_one_customer(tenant, customers_of, stored_count):
    """Two writers racing to create the same email (spelled differently): one wins."""
    barrier = threading.Barrier(2)
    outcomes: list[object] = []

    def writer(email: str) -> None:
        barrier.wait()
        try:
            with customers_of(tenant, write=True) as repository:
                outcomes.append(repository.create({"name": email, "email": email}))
        except Exception as exc:  # collected and asserted below
            outcomes.append(exc)

    threads = [threading.Thread(target=writer, args=(e,)) for e in ("race@x.org", "RACE@x.org")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    kinds = sorted(type(outcome).__name__ for outcome in outcomes)
    assert kinds == ["Conflict", "CustomerOut"]
    assert stored_count(tenant) == 1


def capped(scope_of, cap):  # type: ignore[no-untyped-def]
    """``customers_of`` whose repositories count search matches up to ``cap``."""
    from contextlib import contextmanager

    @contextmanager
    def open_repository(tenant, user=None, *, write=False):  # type: ignore[no-untyped-def]
        with scope_of(tenant, user, write=write) as scope:
            yield CustomerRepository(scope, count_cap=cap)

    return open_repository


# -- roles -----------------------------------------------------------------------------


WRITES = {
    "create": lambda repository, customer: repository.create(BOB),
    "update": lambda repository, customer: repository.update(customer.id, BOB),
    "delete": lambda repository, customer: repository.delete(customer.id),
    "restore": lambda repository, customer: repository.restore(customer.id),
    "delete_many": lambda repository, customer: repository.delete_many([customer.id]),
}


@pytest.mark.parametrize("operation", list(WRITES))
def test_writes_without_the_write_role_are_forbidden_and_write_nothing(
    tenant, customers_of, raw_customer, stored_count, audit_events, operation
):
    (customer,) = create(customers_of, tenant, ANN)
    if operation == "restore":
        with customers_of(tenant, write=True) as repository:
            repository.delete(customer.id)
    before_row = raw_customer(tenant, customer.id)
    before_events = audit_events(tenant)
    before_count = stored_count(tenant)
    with (
        customers_of(tenant, tenant.viewer, write=True) as repository,
        pytest.raises(Forbidden) as caught,
    ):
        WRITES[operation](repository, customer)
    assert str(caught.value) == "Your role (viewer) does not allow you to change customers."
    assert raw_customer(tenant, customer.id) == before_row
    assert audit_events(tenant) == before_events
    assert stored_count(tenant) == before_count


@pytest.mark.parametrize("operation", list(WRITES))
@pytest.mark.parametrize("change", ["demoted", "session ended", "removed"])
def test_writes_read_the_rights_of_this_moment_and_write_nothing_without_them(
    owner_sql,
    tenant,
    customers_of,
    identity_of,
    raw_customer,
    stored_count,
    audit_events,
    operation,
    change,
):
    """The identity was good when the page was drawn; the write re-reads it in its own
    transaction (a demotion here goes straight to the table, without ending sessions)."""
    (customer,) = create(customers_of, tenant, ANN)
    if operation == "restore":
        with customers_of(tenant, write=True) as repository:
            repository.delete(customer.id)
    signed_in = identity_of(tenant.editor)
    with owner_sql(tenant.id) as conn:
        if change == "demoted":
            conn.execute(
                text("UPDATE users SET role = 'viewer' WHERE id = :id"), {"id": tenant.editor.id}
            )
        elif change == "session ended":
            conn.execute(
                text("DELETE FROM credentials WHERE id = :id"), {"id": signed_in.credential_id}
            )
        else:
            conn.execute(text("DELETE FROM users WHERE id = :id"), {"id": tenant.editor.id})
    before = (raw_customer(tenant, customer.id), audit_events(tenant), stored_count(tenant))
    expected = Forbidden if change == "demoted" else Unauthenticated
    with (
        pytest.raises(expected) as caught,
        customers_of(tenant, signed_in, write=True) as repository,
    ):
        WRITES[operation](repository, customer)
    assert (
        str(caught.value)
        == {
            "demoted": "Your role (viewer) does not allow you to change customers.",
            "session ended": "Your session has ended; please sign in again.",
            "removed": "Your account no longer exists; please contact your admin.",
        }[change]
    )
    assert (raw_customer(tenant, customer.id), audit_events(tenant), stored_count(tenant)) == before


def test_a_viewer_may_read(tenant, customers_of):
    (customer,) = create(customers_of, tenant, ANN)
    with customers_of(tenant, tenant.viewer) as repository:
        assert repository.get(customer.id) == customer
        assert repository.list().total == Count(1)


@pytest.mark.parametrize("role", ["editor", "admin"])
def test_editors_and_admins_may_write(tenant, customers_of, audit_events, role):
    user = getattr(tenant, role)
    (customer,) = create(customers_of, tenant, ANN, user=user)
    with customers_of(tenant, user, write=True) as repository:
        updated = repository.update(customer.id, BOB)
        deleted = repository.delete(customer.id)
        restored = repository.restore(customer.id)
    assert (updated.name, updated.version) == (BOB["name"], 2)
    assert deleted == updated
    assert (restored.id, restored.name, restored.version) == (customer.id, BOB["name"], 3)
    with customers_of(tenant) as repository:
        assert repository.get(customer.id) == restored
    events = audit_events(tenant, customer.id)
    assert [(e.action, e.actor) for e in events] == [
        (action, user.username) for action in ("create", "update", "delete", "restore")
    ]


# -- versions --------------------------------------------------------------------------


def test_update_bumps_the_version_and_updated_at_only(tenant, customers_of):
    (ann,) = create(customers_of, tenant, ANN)
    assert ann.version == 1
    with customers_of(tenant, write=True) as repository:
        updated = repository.update(ann.id, ANN | {"phone": None}, expected_version=1)
    assert updated.version == 2
    assert updated.phone is None
    assert updated.created_at == ann.created_at
    assert updated.updated_at > ann.updated_at
    with customers_of(tenant) as repository:
        assert repository.get(ann.id) == updated


@pytest.mark.parametrize("operation", ["update", "delete"])
def test_a_stale_expected_version_is_refused_with_the_current_values(
    tenant, customers_of, raw_customer, audit_events, operation
):
    (ann,) = create(customers_of, tenant, ANN)
    with customers_of(tenant, write=True) as repository:
        repository.update(ann.id, ANN | {"name": "Ann Someone-Else"})
    before = raw_customer(tenant, ann.id)
    events = audit_events(tenant)
    with customers_of(tenant, write=True) as repository:
        write = (
            (lambda: repository.update(ann.id, ANN | {"name": "Mine"}, expected_version=1))
            if operation == "update"
            else (lambda: repository.delete(ann.id, expected_version=1))
        )
        with pytest.raises(StaleVersion) as caught:
            write()
    assert isinstance(caught.value, Conflict)
    assert caught.value.expected == 1
    assert caught.value.current == ANN | {"name": "Ann Someone-Else", "version": 2}
    assert "changed by someone else" in str(caught.value)
    assert raw_customer(tenant, ann.id) == before
    assert audit_events(tenant) == events


def test_an_update_that_changes_nothing_keeps_the_version_and_writes_no_event(
    tenant, customers_of, raw_customer, audit_events
):
    (ann,) = create(customers_of, tenant, ANN)
    before = raw_customer(tenant, ann.id)
    with customers_of(tenant, write=True) as repository:
        same = repository.update(ann.id, {k: f"  {v} " for k, v in ANN.items()})
    assert same == ann
    assert raw_customer(tenant, ann.id) == before
    assert [e.action for e in audit_events(tenant)] == ["create"]


def test_a_session_that_read_before_another_wrote_gets_stale_version(
    tenant, customers_of, raw_customer
):
    """Read in one session, someone else updates and commits, then our write is refused."""
    (ann,) = create(customers_of, tenant, ANN)
    with customers_of(tenant) as repository:
        loaded = repository.get(ann.id)
    with customers_of(tenant, write=True) as repository:
        winner = repository.update(ann.id, ANN | {"name": "Winner"}, expected_version=1)
    with customers_of(tenant, write=True) as repository, pytest.raises(StaleVersion) as caught:
        repository.update(ann.id, ANN | {"name": "Loser"}, expected_version=loaded.version)
    assert caught.value.current is not None
    assert caught.value.current["name"] == "Winner"
    assert raw_customer(tenant, ann.id)["version"] == winner.version == 2


@pytest.mark.parametrize("operation", ["update", "delete"])
def test_two_writers_racing_on_one_row_one_wins(
    tenant, customers_of, raw_customer, audit_events, operation
):
    (ann,) = create(customers_of, tenant, ANN)
    barrier = threading.Barrier(2)
    outcomes: list[object] = []

    def writer(n: int) -> None:
        barrier.wait()
        try:
            with customers_of(tenant, write=True) as repository:
                if operation == "update":
                    result = repository.update(ann.id, ANN | {"name": f"W{n}"}, expected_version=1)
                else:
                    result = repository.delete(ann.id, expected_version=1)
            outcomes.append(result)
        except Exception as exc:  # collected and asserted below
            outcomes.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    kinds = sorted(type(outcome).__name__ for outcome in outcomes)
    loser = "NotFound" if operation == "delete" and "NotFound" in kinds else "StaleVersion"
    assert kinds == sorted(["CustomerOut", loser])
    actions = [e.action for e in audit_events(tenant)]
    assert actions == ["create", operation]
    if operation == "update":
        assert raw_customer(tenant, ann.id)["version"] == 2
    else:
        assert raw_customer(tenant, ann.id) is None


def test_postgresql_update_blocked_by_a_concurrent_writer_sees_stale_version(
    backend, database, tenant, customers_of, audit_events
):
    """Both read version 1; the second UPDATE waits for the first's row lock, then
    finds ``version = 1`` no longer true: zero rows, so ``StaleVersion``, nothing lost."""
    if backend != "postgresql":
        pytest.skip("row locks with concurrent readers: PostgreSQL only")
    (ann,) = create(customers_of, tenant, ANN)
    first_wrote = threading.Event()
    release_first = threading.Event()
    errors: list[BaseException] = []

    def first() -> None:
        try:
            with customers_of(tenant, write=True) as repository:
                repository.update(ann.id, ANN | {"name": "First"}, expected_version=1)
                first_wrote.set()
                assert release_first.wait(30)
        except BaseException as exc:
            errors.append(exc)
            first_wrote.set()

    thread = threading.Thread(target=first)
    thread.start()
    assert first_wrote.wait(30)

    def release_when_blocked() -> None:
        # Commit the first writer as soon as the second is waiting on its row lock.
        with database.owner_engine().connect() as conn:
            for _ in range(3000):
                waiting = conn.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity"
                        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                    )
                ).scalar_one()
                conn.rollback()
                if waiting:
                    break
                threading.Event().wait(0.01)
        release_first.set()

    releaser = threading.Thread(target=release_when_blocked)
    releaser.start()
    try:
        with customers_of(tenant, write=True) as repository, pytest.raises(StaleVersion) as caught:
            # get() still sees version 1 (the first has not committed), the UPDATE waits.
            repository.update(ann.id, ANN | {"name": "Second"}, expected_version=1)
    finally:
        release_first.set()
        releaser.join()
        thread.join()
    assert not errors
    assert caught.value.current is not None
    assert caught.value.current["name"] == "First"
    assert [e.action for e in audit_events(tenant)] == ["create", "update"]


# -- audit -----------------------------------------------------------------------------


def test_each_change_writes_one_event_with_actor_before_and_after(
    tenant, customers_of, audit_events
):
    editor = tenant.editor
    with customers_of(tenant, editor, write=True) as repository:
        created = repository.create(ANN)
    with customers_of(tenant, tenant.admin, write=True) as repository:
        updated = repository.update(created.id, ANN | {"name": "Ann Changed", "phone": ""})
    with customers_of(tenant, editor, write=True) as repository:
        deleted = repository.delete(created.id)
    with customers_of(tenant, editor, write=True) as repository:
        restored = repository.restore(created.id)

    events = audit_events(tenant, created.id)
    assert [(e.action, e.actor, e.customer_id) for e in events] == [
        ("create", editor.username, created.id),
        ("update", tenant.admin.username, created.id),
        ("delete", editor.username, created.id),
        ("restore", editor.username, created.id),
    ]

    def snap(customer):  # type: ignore[no-untyped-def]
        return customer.fields() | {
            "version": customer.version,
            "created_at": customer.created_at.isoformat(),
            "updated_at": customer.updated_at.isoformat(),
        }

    assert (events[0].before, events[0].after) == (None, snap(created))
    assert (events[1].before, events[1].after) == (snap(created), snap(updated))
    assert events[1].after["phone"] is None
    assert (events[2].before, events[2].after) == (snap(deleted), None)
    assert deleted == updated
    assert (events[3].before, events[3].after) == (None, snap(restored))
    assert all(e.at.tzinfo is not None for e in events)
    assert [e.at for e in events] == sorted(e.at for e in events)


def test_a_failed_write_leaves_no_event(tenant, customers_of, audit_events):
    create(customers_of, tenant, ANN)
    with customers_of(tenant, write=True) as repository, pytest.raises(Conflict):
        repository.create(BOB | {"email": ANN["email"]})
    assert [e.action for e in audit_events(tenant)] == ["create"]


# -- restore ---------------------------------------------------------------------------


def test_restore_brings_back_id_fields_and_created_at(tenant, customers_of, raw_customer):
    (ann,) = create(customers_of, tenant, ANN)
    with customers_of(tenant, write=True) as repository:
        updated = repository.update(ann.id, ANN | {"address": 'Flat 2, "Mill"\n12 Main St'})
        repository.delete(ann.id)
    assert raw_customer(tenant, ann.id) is None
    with customers_of(tenant, write=True) as repository:
        restored = repository.restore(ann.id)
    assert restored.id == ann.id
    assert restored.fields() == updated.fields()
    assert restored.created_at == ann.created_at
    assert restored.version > updated.version
    with customers_of(tenant) as repository:
        assert repository.get(ann.id) == restored


@pytest.mark.parametrize("email", ["ann@example.com", "ANN@EXAMPLE.COM"])
def test_restore_is_refused_when_the_email_is_now_taken(
    tenant, customers_of, raw_customer, stored_count, email
):
    (ann,) = create(customers_of, tenant, ANN)
    with customers_of(tenant, write=True) as repository:
        repository.delete(ann.id)
        newcomer = repository.create(BOB | {"email": email})
    with customers_of(tenant, write=True) as repository, pytest.raises(Conflict) as caught:
        repository.restore(ann.id)
    assert caught.value.field == "email"
    assert raw_customer(tenant, ann.id) is None
    assert stored_count(tenant) == 1
    with customers_of(tenant) as repository:
        assert repository.get(newcomer.id) == newcomer


def test_restore_of_a_customer_that_exists_is_a_conflict(tenant, customers_of):
    (ann,) = create(customers_of, tenant, ANN)
    with customers_of(tenant, write=True) as repository, pytest.raises(Conflict) as caught:
        repository.restore(ann.id)
    assert str(caught.value) == "This customer exists; there is nothing to restore."


def test_restore_of_an_id_never_deleted_is_not_found(tenant, customers_of):
    with customers_of(tenant, write=True) as repository, pytest.raises(NotFound):
        repository.restore(str(uuid.uuid4()))


def test_restore_uses_the_last_delete(tenant, customers_of):
    (ann,) = create(customers_of, tenant, ANN)
    with customers_of(tenant, write=True) as repository:
        repository.delete(ann.id)
        repository.restore(ann.id)
        repository.update(ann.id, ANN | {"name": "Second life"})
        repository.delete(ann.id)
        restored = repository.restore(ann.id)
    assert restored.name == "Second life"


# -- counts ----------------------------------------------------------------------------


def test_the_kept_count_equals_count_star_through_creates_deletes_restores(
    tenant, other_tenant, customers_of, add_customers, stored_count
):
    def check(expected: int) -> None:
        with customers_of(tenant) as repository:
            kept = repository.count()
        assert kept == Count(expected)
        assert stored_count(tenant) == expected

    check(0)
    created = add_customers(tenant, 6)
    add_customers(other_tenant, 2)
    check(6)
    with customers_of(tenant, write=True) as repository:
        repository.delete(created[0].id)
        repository.delete_many([c.id for c in created[1:3]])
    check(3)
    with customers_of(tenant, write=True) as repository:
        repository.restore(created[1].id)
        repository.update(created[3].id, BOB)
    check(4)
    with pytest.raises(NotFound), customers_of(tenant, write=True) as repository:
        # The caller's transaction fails as a whole: the first delete is undone too.
        repository.delete_many([created[4].id, str(uuid.uuid4())])
    check(4)
    with customers_of(other_tenant) as repository:
        assert repository.count() == Count(2)


def test_a_rolled_back_create_does_not_change_the_count(tenant, customers_of, stored_count):
    class Abort(Exception):
        pass

    def create_then_fail() -> None:
        with customers_of(tenant, write=True) as repository:
            repository.create(ANN)
            raise Abort

    with pytest.raises(Abort):
        create_then_fail()
    with customers_of(tenant) as repository:
        assert repository.count() == Count(0)
    assert stored_count(tenant) == 0


@pytest.mark.parametrize(
    ("matching", "expected", "shown"),
    [(2, Count(2), "2"), (3, Count(3), "3"), (4, Count(3, exact=False), "more than 3")],
)
def test_search_counts_are_exact_up_to_the_cap_then_a_lower_bound(
    tenant, scope_of, matching, expected, shown
):
    customers_of = capped(scope_of, 3)
    records = [{"name": f"Match {n}", "email": f"m{n}@example.com"} for n in range(matching)]
    records += [{"name": f"Other {n}", "email": f"o{n}@example.com"} for n in range(5)]
    create(customers_of, tenant, *records)
    with customers_of(tenant) as repository:
        assert repository.count("match") == expected
        page = repository.list(search="match", limit=2)
        assert repository.count() == Count(matching + 5)  # the whole tenant stays exact
    assert str(page.total) == shown
    assert page.total == expected
    assert page.has_next is (matching > 2)
    assert len(page.items) == 2


@pytest.mark.parametrize("matching", [2, 6], ids=["few matches", "many matches"])
def test_a_search_page_is_the_sorted_matches_and_leaves_the_planner_as_it_was(
    tenant, scope_of, backend, matching
):
    """On PostgreSQL the count picks the plan (few: by trigram; many: walk the sort's
    index); either way the page is the first matches in the sort's order, and the
    planner settings it changed for that are back when the page is read."""
    customers_of = capped(scope_of, 3)
    records = [{"name": f"Match {n}", "email": f"m{n}@example.com"} for n in range(matching)]
    records += [{"name": f"Other {n}", "email": f"o{n}@example.com"} for n in range(5)]
    create(customers_of, tenant, *records)
    settings = ["enable_bitmapscan", "enable_seqscan", "enable_indexscan", "enable_sort", "jit"]
    settings += ["max_parallel_workers_per_gather"]

    def shown(repository):
        if backend != "postgresql":
            return None
        return [repository.session.execute(text(f"SHOW {name}")).scalar() for name in settings]

    with customers_of(tenant) as repository:
        before = shown(repository)
        page = repository.list(search="MATCH", sort="-name", limit=2)
        after = shown(repository)
    assert [c.name for c in page.items] == [f"Match {matching - 1}", f"Match {matching - 2}"]
    assert after == before


def test_count_formats_thousands():
    assert str(Count(12345)) == "12,345"
    assert str(Count(10000, exact=False)) == "more than 10,000"


# -- search ----------------------------------------------------------------------------

PEOPLE = [
    {"name": "MÜLLER Hans", "email": "hans@example.de", "phone": "+44 30 1234"},
    {"name": "Özil Mesut", "email": "mesut@example.de"},
    {"name": "中村 健太", "email": "kenta@example.jp", "phone": "03-1234-5678"},
    {"name": "100% Cotton Ltd", "email": "sales@cotton.example"},
    {"name": "snake_case Inc", "email": "snake@example.com"},
    {"name": "Back\\Slash", "email": "bs@example.com"},
    {"name": "O'Brien Pat", "email": "pat@example.ie", "phone": "555 999"},
    {"name": 'The "Quoted" Co', "email": "quoted@example.com"},
    {"name": "Ann Lee", "email": "zed@example.com", "address": "Müller Street 5"},
    {"name": "Plain Person", "email": "plain@example.com"},
]


@pytest.fixture
def people(tenant, customers_of):  # type: ignore[no-untyped-def]
    return {c.name: c for c in create(customers_of, tenant, *PEOPLE)}


def search_names(customers_of, tenant, term):  # type: ignore[no-untyped-def]
    with customers_of(tenant) as repository:
        page = repository.list(search=term, limit=100)
        counted = repository.count(term)
        streamed = [c.name for c in repository.iter_all(search=term)]
    names = sorted(c.name for c in page.items)
    assert page.total == counted == Count(len(names))
    assert sorted(streamed) == names
    return names


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        pytest.param("müller", ["MÜLLER Hans"], id="non-ascii-lower-finds-upper"),
        pytest.param("MÜLLER", ["MÜLLER Hans"], id="upper"),
        pytest.param("ller h", ["MÜLLER Hans"], id="substring-with-space"),
        pytest.param("ü", ["MÜLLER Hans"], id="one-non-ascii-char"),
        pytest.param("Ö", ["Özil Mesut"], id="one-upper-non-ascii-char"),
        pytest.param("öz", ["Özil Mesut"], id="two-chars-non-ascii-case"),
        pytest.param("中村", ["中村 健太"], id="cjk-two-chars"),
        pytest.param("村 健", ["中村 健太"], id="cjk-three-chars"),
        pytest.param("KENTA@", ["中村 健太"], id="email-part-any-case"),
        pytest.param("1234", ["MÜLLER Hans", "中村 健太"], id="phone-digits"),
        pytest.param("9", ["O'Brien Pat"], id="one-char-phone"),
        pytest.param("%", ["100% Cotton Ltd"], id="percent-literal"),
        pytest.param("0%", ["100% Cotton Ltd"], id="percent-two-chars"),
        pytest.param("0% c", ["100% Cotton Ltd"], id="percent-in-longer"),
        pytest.param("_", ["snake_case Inc"], id="underscore-literal"),
        pytest.param("e_c", ["snake_case Inc"], id="underscore-in-longer"),
        pytest.param("\\", ["Back\\Slash"], id="backslash-literal"),
        pytest.param("k\\s", ["Back\\Slash"], id="backslash-in-longer"),
        pytest.param("'", ["O'Brien Pat"], id="single-quote"),
        pytest.param("o'b", ["O'Brien Pat"], id="single-quote-in-longer"),
        pytest.param('"', ['The "Quoted" Co'], id="double-quote"),
        pytest.param('"quoted"', ['The "Quoted" Co'], id="double-quotes-in-longer"),
        pytest.param("  plain  ", ["Plain Person"], id="trimmed"),
        pytest.param("street", [], id="address-is-not-searched"),
        pytest.param("lee zed", [], id="no-match-across-fields"),
        pytest.param("e z", [], id="short-no-match-across-fields"),
        pytest.param("nobody-like-this", [], id="no-match"),
        pytest.param("' OR 1=1 --", [], id="sql-text"),
    ],
)
def test_search_is_a_case_insensitive_substring_of_name_email_or_phone(
    tenant, customers_of, people, term, expected
):
    assert search_names(customers_of, tenant, term) == sorted(expected)


@pytest.mark.parametrize("term", ["", "   ", None])
def test_an_empty_search_lists_everyone(tenant, customers_of, people, term):
    assert len(search_names(customers_of, tenant, term)) == len(PEOPLE)


def test_search_follows_updates_and_deletes(tenant, customers_of, people):
    plain = people["Plain Person"]
    with customers_of(tenant, write=True) as repository:
        repository.update(plain.id, {"name": "Renamed Quokka", "email": "plain@example.com"})
    assert search_names(customers_of, tenant, "quokka") == ["Renamed Quokka"]
    assert search_names(customers_of, tenant, "plain person") == []
    with customers_of(tenant, write=True) as repository:
        repository.delete(plain.id)
    assert search_names(customers_of, tenant, "quokka") == []
    with customers_of(tenant, write=True) as repository:
        repository.restore(plain.id)
    assert search_names(customers_of, tenant, "quokka") == ["Renamed Quokka"]


def test_like_pattern_escapes_the_metacharacters():
    assert like_pattern("50%_a\\b") == "%50\\%\\_a\\\\b%"


# -- sort and paging -------------------------------------------------------------------

SORTABLE = [
    {"name": "delta", "email": "D@example.com", "phone": "300"},
    {"name": "alpha", "email": "c@example.com"},
    {"name": "charlie", "email": "B@example.com", "phone": "100", "address": "zz"},
    {"name": "bravo", "email": "a@example.com", "phone": "200", "address": "aa"},
    {"name": "echo", "email": "e@example.com", "address": "mm"},
]


@pytest.fixture
def sortable(tenant, customers_of):  # type: ignore[no-untyped-def]
    return create(customers_of, tenant, *SORTABLE)


def listed(customers_of, tenant, **kwargs):  # type: ignore[no-untyped-def]
    with customers_of(tenant) as repository:
        return repository.list(**kwargs)


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("name", ["alpha", "bravo", "charlie", "delta", "echo"]),
        ("-name", ["echo", "delta", "charlie", "bravo", "alpha"]),
        ("+name", ["alpha", "bravo", "charlie", "delta", "echo"]),
        ("email", ["bravo", "charlie", "alpha", "delta", "echo"]),  # case-insensitive
        ("-email", ["echo", "delta", "alpha", "charlie", "bravo"]),
        ("created_at", ["delta", "alpha", "charlie", "bravo", "echo"]),
        ("createdAt", ["delta", "alpha", "charlie", "bravo", "echo"]),
        ("-created_at", ["echo", "bravo", "charlie", "alpha", "delta"]),
        # Empty values sort last ascending and first descending, on every database;
        # among equal values (a tuple here) the id decides.
        ("phone", ["charlie", "bravo", "delta", ("alpha", "echo")]),
        ("-phone", [("alpha", "echo"), "delta", "bravo", "charlie"]),
        ("address", ["bravo", "echo", "charlie", ("alpha", "delta")]),
        ("-address", [("alpha", "delta"), "charlie", "echo", "bravo"]),
    ],
)
def test_sort_by_any_column(tenant, customers_of, sortable, sort, expected):
    ids = {c.name: c.id for c in sortable}
    order = []
    for item in expected:
        if isinstance(item, tuple):
            order += sorted(item, key=ids.__getitem__, reverse=sort.startswith("-"))
        else:
            order.append(item)
    assert [c.name for c in listed(customers_of, tenant, sort=sort).items] == order


def test_updated_at_sort_follows_the_last_change(tenant, customers_of, sortable):
    by_name = {c.name: c for c in sortable}
    with customers_of(tenant, write=True) as repository:
        repository.update(by_name["alpha"].id, SORTABLE[1] | {"phone": "1"})
    names = [c.name for c in listed(customers_of, tenant, sort="-updated_at").items]
    assert names[0] == "alpha"
    assert [c.name for c in listed(customers_of, tenant, sort="updated_at").items][-1] == "alpha"


def test_ties_are_broken_by_id_so_pages_never_overlap(tenant, customers_of):
    twins = create(
        customers_of,
        tenant,
        *[{"name": "Same Name", "email": f"twin{n}@example.com"} for n in range(7)],
    )
    for sort in ("name", "-name", "phone", "-phone"):
        seen = []
        for offset in range(0, 7, 3):
            seen += [
                c.id for c in listed(customers_of, tenant, sort=sort, limit=3, offset=offset).items
            ]
        assert sorted(seen) == sorted(c.id for c in twins)
        expected = sorted(seen, reverse=sort.startswith("-"))
        assert seen == expected


def test_paging_walks_every_customer_once(tenant, customers_of, sortable):
    names = []
    offset = 0
    while True:
        page = listed(customers_of, tenant, limit=2, offset=offset)
        assert page.total == Count(5)
        assert (page.offset, page.limit) == (offset, 2)
        names += [c.name for c in page.items]
        if not page.has_next:
            break
        offset += 2
    assert names == ["alpha", "bravo", "charlie", "delta", "echo"]
    assert listed(customers_of, tenant, limit=2, offset=10).items == []


@pytest.mark.parametrize(
    ("limit", "offset", "effective_limit", "effective_offset"),
    [(0, 0, 1, 0), (-5, -3, 1, 0), (5000, 0, 1000, 0), ("2", "1", 2, 1)],
)
def test_limit_and_offset_are_clamped(
    tenant, customers_of, sortable, limit, offset, effective_limit, effective_offset
):
    page = listed(customers_of, tenant, limit=limit, offset=offset)
    assert (page.limit, page.offset) == (effective_limit, effective_offset)
    assert len(page.items) == min(effective_limit, 5 - effective_offset)


def test_without_total_the_page_does_not_count(tenant, customers_of, sortable):
    page = listed(customers_of, tenant, limit=2, with_total=False)
    assert page.total == Count(2, exact=False)
    assert page.has_next
    last = listed(customers_of, tenant, limit=2, offset=4, with_total=False)
    assert [c.name for c in last.items] == ["echo"]
    assert not last.has_next


def test_a_capped_search_has_no_next_page_after_its_last_row(tenant, scope_of):
    customers_of = capped(scope_of, 3)
    create(customers_of, tenant, *[{"name": f"Hit {n}", "email": f"h{n}@x.org"} for n in range(5)])
    first = listed(customers_of, tenant, search="hit", limit=3)
    last = listed(customers_of, tenant, search="hit", limit=3, offset=3)
    assert (str(first.total), str(last.total)) == ("more than 3", "more than 3")
    assert first.has_next
    assert len(last.items) == 2
    assert not last.has_next


@pytest.mark.parametrize("sort", ["password", "tenant_id", "version; DROP TABLE customers", "-"])
def test_sort_by_an_unknown_column_is_refused_with_a_sentence(sort):
    if sort == "-":
        assert parse_sort(sort) == ("name", True)
        return
    with pytest.raises(ValueError, match=r"^Cannot sort by .*; choose one of name, email, phone"):
        parse_sort(sort)


def test_repository_refuses_unknown_sort(tenant, customers_of):
    with customers_of(tenant) as repository, pytest.raises(ValueError, match="Cannot sort by"):
        repository.list(sort="tenant_id")


def test_get_of_a_missing_id_is_not_found(tenant, customers_of):
    with customers_of(tenant) as repository:
        with pytest.raises(NotFound) as caught:
            repository.get(str(uuid.uuid4()))
        assert repository.find(str(uuid.uuid4())) is None
    assert str(caught.value) == "The customer was not found."


def test_the_operator_is_recorded_by_name(database, tenant, audit_events):
    with database.scope(Identity.of_operator(tenant.id, "cli:operator"), write=True) as scope:
        scope.customers.create(ANN)
    assert [e.actor for e in audit_events(tenant)] == ["cli:operator"]


def test_a_role_change_waits_for_a_write_that_read_the_old_role(
    database, backend, tenant, customers_of, identity_of, owner_sql
):
    """PostgreSQL: a write scope holds its user's row FOR SHARE, so the demotion cannot
    commit between the rights check and the write (SQLite's writers take turns)."""
    if backend != "postgresql":
        pytest.skip("row locks: PostgreSQL only")
    from sqlalchemy.exc import DBAPIError

    signed_in = identity_of(tenant.editor)
    demote = text("UPDATE users SET role = 'viewer' WHERE id = :id")
    with customers_of(tenant, signed_in, write=True) as repository:
        repository.create(ANN)
        with owner_sql(tenant.id) as conn:
            conn.execute(text("SET LOCAL lock_timeout = '300ms'"))
            with pytest.raises(DBAPIError, match="lock"):
                conn.execute(demote, {"id": tenant.editor.id})
    with customers_of(tenant) as repository:
        assert repository.count() == Count(1)
