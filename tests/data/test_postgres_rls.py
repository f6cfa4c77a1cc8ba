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

from data.db import runtime_role_name
from data.models import TENANT_TABLES


@pytest.fixture(autouse=True)
def postgresql_only(backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("row-level security: PostgreSQL only")


@pytest.fixture
def two_tenants(tenant, other_tenant, add_customers, identity_of, owner_sql):  # type: ignore[no-untyped-def]
    """Rows in every tenant table for both tenants (sessions, an import's undo row too)."""
    for owner, count in ((tenant, 3), (other_tenant, 2)):
        added = add_customers(owner, count)
        identity_of(owner.viewer)
        with owner_sql(owner.id) as conn:
            conn.execute(
                text(
                    "INSERT INTO import_changes (tenant_id, import_id, customer_id, kind, "
                    "version_after) VALUES (:t, :i, :c, 'created', 1)"
                ),
                {"t": owner.id, "i": str(uuid.uuid4()), "c": added[0].id},
            )
            conn.execute(
                text(
                    "INSERT INTO duplicate_pairs (tenant_id, customer_a, customer_b, score, "
                    "reasons, status, found_at) VALUES (:t, :a, :b, 40, 'same_phone', 'open', "
                    "now())"
                ),
                {"t": owner.id, **dict(zip("ab", sorted(c.id for c in added[:2]), strict=True))},
            )
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
    assert row.who == database.app_role == runtime_role_name(database.url)
    assert row.owner != row.who
    assert row.rolsuper is False
    assert row.rolbypassrls is False


def test_every_table_of_the_schema_forces_row_level_security(database):
    """From the catalog, not from a list: a table added without RLS fails here."""
    with database.owner_engine().connect() as conn:
        tables = conn.execute(
            text(
                "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class "
                "WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p') "
                "ORDER BY relname"
            )
        ).all()
    names = {row.relname for row in tables}
    assert set(TENANT_TABLES) | {"tenants", "auth_throttle"} <= names
    unprotected = [
        row.relname
        for row in tables
        if row.relname != "alembic_version" and not (row.relrowsecurity and row.relforcerowsecurity)
    ]
    assert unprotected == []


def test_the_runtime_role_cannot_touch_the_migrations_table(database):
    with (
        pytest.raises(DBAPIError, match="permission denied"),
        database.transaction(None) as session,
    ):
        session.execute(text("SELECT * FROM alembic_version"))


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


def test_sign_in_lookups_see_one_user_by_name_and_nothing_else(database, two_tenants):
    """The users policy lets a tenant-less sign-in find exactly the user it names; a user
    id names nobody any more (cookies name a session now, not a user)."""
    from data.db import LOGIN_USERNAME_SETTING, set_local

    mine, _theirs = two_tenants
    with database.transaction(None) as session:
        set_local(session, LOGIN_USERNAME_SETTING, mine.editor.username)
        rows = session.execute(text("SELECT username FROM users")).scalars().all()
    assert rows == [mine.editor.username]
    with database.transaction(None) as session:
        set_local(session, "app.login_user_id", mine.viewer.id)
        rows = session.execute(text("SELECT username FROM users")).scalars().all()
    assert rows == []


def test_a_session_lookup_sees_the_one_session_whose_secret_it_names(
    database, two_tenants, identity_of
):
    from data.credentials import open_session, secret_hash
    from data.db import LOGIN_SECRET_SETTING, set_local

    mine, theirs = two_tenants
    secret, identity = open_session(database, mine.editor)
    identity_of(theirs.editor)
    with database.transaction(None) as session:
        assert session.execute(text("SELECT count(*) FROM credentials")).scalar_one() == 0
        set_local(session, LOGIN_SECRET_SETTING, secret_hash(secret))
        rows = session.execute(text("SELECT id FROM credentials")).scalars().all()
    assert rows == [identity.credential_id]


def test_a_tenant_sees_its_own_row_of_tenants_and_cannot_change_any(database, two_tenants):
    mine, theirs = two_tenants
    with database.transaction(mine.id) as session:
        names = session.execute(text("SELECT name FROM tenants")).scalars().all()
    assert names == [mine.name]
    for statement in (
        "UPDATE tenants SET name = 'taken over'",
        f"DELETE FROM tenants WHERE id = '{theirs.id}'",
        f"DELETE FROM tenants WHERE id = '{mine.id}'",
    ):
        with (
            pytest.raises(DBAPIError, match="permission denied"),
            database.transaction(mine.id, write=True) as session,
        ):
            session.execute(text(statement))
    with database.transaction(None) as session:
        session.execute(
            text("SELECT set_config('app.lookup_tenant', :n, true)"), {"n": theirs.name}
        )
        assert session.execute(text("SELECT id FROM tenants")).scalars().all() == [theirs.id]


def test_a_new_tenant_row_must_be_the_one_the_transaction_entered(database):
    import uuid

    with (
        pytest.raises(DBAPIError, match="row-level security"),
        database.transaction(str(uuid.uuid4()), write=True) as session,
    ):
        session.execute(
            text("INSERT INTO tenants (id, name, created_at) VALUES (:i, :n, now())"),
            {"i": str(uuid.uuid4()), "n": f"sneaky-{uuid.uuid4().hex[:6]}"},
        )
