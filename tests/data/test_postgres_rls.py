"""PostgreSQL row-level security: the second line of tenant isolation.

Raw SQL with no tenant filter, run through the application's own sessions, must still
see and change only the current tenant's rows; with no tenant set it sees none; and the
application's role can neither skip the policies nor own the tables.
"""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

TENANT_TABLES = ("customers", "customer_counts", "audit_events", "users")


@pytest.fixture(autouse=True)
def postgresql_only(backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("row-level security: PostgreSQL only")


@pytest.fixture
def two_tenants(tenant, other_tenant, add_customers):  # type: ignore[no-untyped-def]
    add_customers(tenant, 3)
    add_customers(other_tenant, 2)
    return tenant, other_tenant


class Rollback(Exception):
    """Raised to leave a transaction without committing."""


@pytest.mark.parametrize("table", TENANT_TABLES)
def test_select_star_without_where_sees_only_the_current_tenant(database, two_tenants, table):
    for current in two_tenants:
        with database.transaction(current.id) as session:
            rows = session.execute(text(f"SELECT * FROM {table}")).mappings().all()
        assert rows
        assert {row["tenant_id"] for row in rows} == {current.id}


def test_select_star_sees_the_right_number_of_customers(database, two_tenants):
    mine, theirs = two_tenants
    with database.transaction(mine.id) as session:
        assert session.execute(text("SELECT count(*) FROM customers")).scalar_one() == 3
    with database.transaction(theirs.id) as session:
        assert session.execute(text("SELECT count(*) FROM customers")).scalar_one() == 2


@pytest.mark.parametrize("table", TENANT_TABLES)
def test_with_no_tenant_set_nothing_is_visible(database, two_tenants, table):
    with database.transaction(None) as session:
        assert session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() == 0


def test_a_fresh_connection_with_no_setting_at_all_sees_nothing(database, two_tenants):
    with database.engine.connect() as conn:
        # A bare connection of the app's engine: no session, so no tenant was ever set.
        assert conn.execute(text("SELECT current_user")).scalar_one() == database.app_role
        assert conn.execute(text("SELECT count(*) FROM customers")).scalar_one() == 0
        assert conn.execute(text("SELECT count(*) FROM audit_events")).scalar_one() == 0
        conn.rollback()


def test_inserting_a_row_for_another_tenant_is_refused_by_the_policy(database, two_tenants):
    mine, theirs = two_tenants
    with database.transaction(mine.id, write=True) as session:
        with pytest.raises(DBAPIError, match="row-level security"), session.begin_nested():
            session.execute(
                text(
                    "INSERT INTO customers (tenant_id, id, name, email, email_key,"
                    " created_at, updated_at, version)"
                    " VALUES (:t, :id, 'Planted', 'p@x.org', 'p@x.org', now(), now(), 1)"
                ),
                {"t": theirs.id, "id": str(uuid.uuid4())},
            )
        with pytest.raises(DBAPIError, match="row-level security"), session.begin_nested():
            session.execute(
                text(
                    "INSERT INTO audit_events (tenant_id, id, at, actor, action)"
                    " VALUES (:t, :id, now(), 'x', 'create')"
                ),
                {"t": theirs.id, "id": str(uuid.uuid4())},
            )
    with database.transaction(theirs.id) as session:
        assert session.execute(text("SELECT count(*) FROM customers")).scalar_one() == 2


def test_moving_a_row_to_another_tenant_is_refused_by_the_policy(database, two_tenants):
    mine, theirs = two_tenants
    with (
        database.transaction(mine.id, write=True) as session,
        pytest.raises(DBAPIError, match="row-level security"),
        session.begin_nested(),
    ):
        session.execute(text("UPDATE customers SET tenant_id = :t"), {"t": theirs.id})


def test_update_and_delete_without_where_touch_only_the_current_tenant(database, two_tenants):
    mine, theirs = two_tenants
    counts = []

    def overwrite_then_roll_back() -> None:
        with database.transaction(mine.id, write=True) as session:
            counts.append(session.execute(text("UPDATE customers SET name = 'Overwritten'")))
            counts.append(session.execute(text("DELETE FROM customers")))
            raise Rollback

    with pytest.raises(Rollback):
        overwrite_then_roll_back()
    assert [result.rowcount for result in counts] == [3, 3]
    with database.transaction(theirs.id) as session:
        names = session.execute(text("SELECT name FROM customers")).scalars().all()
    assert len(names) == 2
    assert "Overwritten" not in names


def test_a_tenant_cannot_set_itself_into_another_tenant_by_accident(database, two_tenants):
    """The setting is transaction-local: the next transaction on the pooled connection
    starts from the tenant it asks for, never from the one before."""
    _mine, theirs = two_tenants
    with database.transaction(theirs.id) as session:
        assert session.execute(text("SELECT count(*) FROM customers")).scalar_one() == 2
    with database.transaction(None) as session:
        assert session.execute(text("SELECT count(*) FROM customers")).scalar_one() == 0
        setting = session.execute(text("SELECT current_setting('app.tenant_id', true)")).scalar()
        assert setting in ("", None)


def test_the_app_role_is_not_the_owner_and_not_a_superuser(database):
    with database.transaction(None) as session:
        row = session.execute(
            text(
                "SELECT current_user AS who, r.rolsuper, r.rolbypassrls,"
                " (SELECT tableowner FROM pg_tables WHERE tablename = 'customers') AS owner"
                " FROM pg_roles r WHERE r.rolname = current_user"
            )
        ).one()
    assert row.who == database.app_role == "inventory_app"
    assert row.owner != row.who
    assert row.rolsuper is False
    assert row.rolbypassrls is False


@pytest.mark.parametrize("table", TENANT_TABLES)
def test_every_tenant_table_forces_row_level_security(database, table):
    with database.owner_engine().connect() as conn:
        enabled, forced = conn.execute(
            text("SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE relname = :t"),
            {"t": table},
        ).one()
    assert (enabled, forced) == (True, True)


@pytest.mark.parametrize(
    "statement",
    [
        "ALTER TABLE customers DISABLE ROW LEVEL SECURITY",
        "ALTER TABLE customers NO FORCE ROW LEVEL SECURITY",
        "DROP POLICY tenant_isolation ON customers",
        # row_security=off does not switch the policies off: it makes a query that
        # they would filter fail instead.  Either way nothing leaks.
        "SET LOCAL row_security = off; SELECT count(*) FROM customers",
    ],
)
def test_the_app_role_cannot_turn_the_policies_off(database, two_tenants, statement):
    def attempt() -> None:
        with database.transaction(two_tenants[0].id, write=True) as session:
            for part in statement.split("; "):
                session.execute(text(part))

    with pytest.raises(DBAPIError):
        attempt()


def test_sign_in_lookups_see_one_user_by_name_or_id_and_nothing_else(database, two_tenants):
    """The users policy lets a tenant-less sign-in find exactly the user it names."""
    from data.db import LOGIN_USER_ID_SETTING, LOGIN_USERNAME_SETTING, set_local

    mine, _theirs = two_tenants
    with database.transaction(None) as session:
        set_local(session, LOGIN_USERNAME_SETTING, mine.editor.username)
        rows = session.execute(text("SELECT username FROM users")).scalars().all()
    assert rows == [mine.editor.username]
    with database.transaction(None) as session:
        set_local(session, LOGIN_USER_ID_SETTING, mine.viewer.id)
        rows = session.execute(text("SELECT username FROM users")).scalars().all()
    assert rows == [mine.viewer.username]
