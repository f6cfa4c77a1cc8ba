"""The PostgreSQL role the dashboard, the API and the CLI log in as cannot escape (SPEC §9).

Issue 13 found the runtime logged in as a superuser and ``SET ROLE``d down, so any
statement could ``RESET ROLE`` and row-level security held only against a forgotten
filter.  Now ``init-db`` makes a login role of its own for the runtime.  These tests run
what an injected statement would try, in a tenant's own write transaction, with two
tenants' data in the database, and require that each attempt fails (for lack of
privilege, not by accident) or sees nothing, and that nothing of either tenant changed:

* who it is: no superuser, no BYPASSRLS, owner of no table, member of no role that is;
  ``RESET ROLE``, ``SET ROLE``, ``SET SESSION AUTHORIZATION`` cannot change that;
* what it may do: no deleting or renaming tenants, no TRUNCATE, no DDL (policies, RLS,
  tables), no server files or programs, no reading the migrations' table, no throttle
  counters it does not name;
* the catalog: every table of the schema has row-level security enabled and forced,
  with policies that read the transaction's settings, and exactly the privileges of
  ``RUNTIME_GRANTS`` (a table added without them fails here); no view or
  SECURITY DEFINER function runs with the owner's rights;
* ``Database.check()`` refuses to run with a runtime role that is a superuser, bypasses
  RLS or owns the tables, in one sentence.

PostgreSQL only: SQLite has no roles (its file's permissions are in
``test_database_files``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from data.administration import RUNTIME_GRANTS
from data.db import Database, runtime_role_name
from data.errors import Throttled, Unauthenticated, Unavailable
from data.signin import authenticate, throttle_keys
from tests.conftest import PROJECT_DIR
from tests.faults.helpers import tenant_state

PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")


@pytest.fixture(autouse=True)
def postgresql_only(backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("database roles: PostgreSQL only")


@pytest.fixture
def owner_name(database) -> str:  # type: ignore[no-untyped-def]
    return str(database.url.username)


@pytest.fixture
def two_tenants(tenant, other_tenant, add_customers, identity_of, database):  # type: ignore[no-untyped-def]
    """Both tenants with customers, audit events, sessions, and throttle counters."""
    for owner in (tenant, other_tenant):
        add_customers(owner, 3)
        identity_of(owner.viewer)
        with pytest.raises((Unauthenticated, Throttled)):
            authenticate(database, owner.viewer.username, "not the password", f"db-{owner.id}")
    return tenant, other_tenant


def everything(database, tenants, owner_sql) -> tuple[object, ...]:  # type: ignore[no-untyped-def]
    """Each tenant's data, its row of tenants, its users, sessions and throttle counters."""
    seen: list[object] = []
    for owner in tenants:
        seen.append(tenant_state(database, owner.id))
        with owner_sql(owner.id) as conn:
            keys = throttle_keys(owner.viewer.username, f"db-{owner.id}")
            conn.execute(
                text("SELECT set_config('app.throttle_keys', :k, true)"),
                {"k": "\n".join(keys.values())},
            )
            for query in (
                "SELECT id, name, created_at FROM tenants",
                "SELECT id, username, role, password_hash FROM users ORDER BY id",
                "SELECT id, kind, secret_hash, expires_at FROM credentials ORDER BY id",
                "SELECT key, failures, locked_until FROM auth_throttle ORDER BY key",
            ):
                seen.append(tuple(tuple(row) for row in conn.execute(text(query))))
    assert all(seen), "every table holds something of both tenants"
    return tuple(seen)


def run_as_runtime(database, tenant_id: str | None, *statements: str) -> list[list[tuple]]:  # type: ignore[no-untyped-def, type-arg]
    """Run ``statements`` in one write transaction of the tenant, as the runtime does."""
    results = []
    with database.transaction(tenant_id, write=tenant_id is not None) as session:
        for statement in statements:
            result = session.execute(text(statement))
            results.append([tuple(row) for row in result] if result.returns_rows else [])
    return results


# -- who the runtime is -------------------------------------------------------------------

WHO = (
    "SELECT current_user, session_user, r.rolsuper, r.rolbypassrls, r.rolcreaterole, "
    "r.rolcreatedb, r.rolreplication FROM pg_roles r WHERE r.rolname = current_user"
)


def test_the_runtime_logs_in_as_its_own_role_with_no_power(database, tenant, owner_name):
    ((who,),) = run_as_runtime(database, tenant.id, WHO)
    assert who[0] == who[1] == database.app_role == runtime_role_name(database.url)
    assert who[0] != owner_name
    assert who[2:] == (False, False, False, False, False)
    ((owned,), (member_of,)) = run_as_runtime(
        database,
        tenant.id,
        "SELECT count(*) FROM pg_class WHERE pg_get_userbyid(relowner) = current_user",
        "SELECT array_agg(b.rolname::text) FROM pg_auth_members m "
        "JOIN pg_roles b ON b.oid = m.roleid WHERE m.member = "
        "(SELECT oid FROM pg_roles WHERE rolname = current_user)",
    )
    assert owned == (0,)
    assert member_of == (None,)  # a member of the owner's role could SET ROLE to it


@pytest.mark.parametrize(
    "statement",
    ["RESET ROLE", "SET ROLE NONE", "RESET SESSION AUTHORIZATION", "RESET ALL", "DISCARD ALL"],
)
def test_resetting_the_role_leaves_the_runtime_as_powerless_as_before(database, tenant, statement):
    if statement == "DISCARD ALL":  # not allowed in a transaction: on a connection of its own
        engine = create_engine(
            database.runtime_url, isolation_level="AUTOCOMMIT", poolclass=NullPool
        )
        with engine.connect() as conn:
            conn.exec_driver_sql(statement)
            who = tuple(conn.execute(text(WHO)).one())
        engine.dispose()
    else:
        ((who,),) = run_as_runtime(database, tenant.id, statement, WHO)[1:]
    assert who[0] == who[1] == database.app_role
    assert who[2:] == (False, False, False, False, False)


@pytest.mark.parametrize(
    ("statement", "refusal"),
    [
        ("SET ROLE {owner}", "permission denied to set role"),
        ("SET ROLE postgres", "permission denied to set role"),
        ("SET SESSION AUTHORIZATION {owner}", "permission denied to set session authorization"),
        ("SET SESSION AUTHORIZATION postgres", "permission denied to set session authorization"),
        ("ALTER ROLE CURRENT_USER SUPERUSER", "permission denied|must be superuser"),
        ("ALTER ROLE CURRENT_USER BYPASSRLS", "permission denied|must be superuser"),
        ("CREATE ROLE sneaky_{tag} LOGIN", "permission denied to create role"),
        ("CREATE ROLE sneaky_{tag} SUPERUSER LOGIN", "must be superuser to create superusers"),
        ("GRANT {owner} TO CURRENT_USER", "permission denied|must have admin option|superuser"),
        ("GRANT postgres TO CURRENT_USER", "permission denied|must have admin option|superuser"),
    ],
)
def test_the_runtime_cannot_become_anyone_with_more_rights(
    database, two_tenants, owner_sql, owner_name, statement, refusal
):
    before = everything(database, two_tenants, owner_sql)
    sql = statement.format(owner=owner_name, tag=uuid.uuid4().hex[:8])
    with pytest.raises(DBAPIError, match=refusal):
        run_as_runtime(database, two_tenants[0].id, sql)
    assert everything(database, two_tenants, owner_sql) == before


# -- what it may do -------------------------------------------------------------------------

NOT_OWNER = "must be owner of"


@pytest.mark.parametrize(
    ("statement", "refusal"),
    [
        ("DELETE FROM tenants", "permission denied for table tenants"),
        ("DELETE FROM tenants WHERE name = '{other_name}'", "permission denied for table tenants"),
        ("UPDATE tenants SET name = 'taken over'", "permission denied for table tenants"),
        ("UPDATE tenants SET id = id WHERE id = '{other}'", "permission denied for table tenants"),
        ("TRUNCATE customers", "permission denied for table customers"),
        ("TRUNCATE tenants CASCADE", "permission denied for table tenants"),
        ("TRUNCATE auth_throttle", "permission denied for table auth_throttle"),
        ("DROP POLICY tenant_isolation ON customers", NOT_OWNER),
        ("DROP POLICY tenant_read ON tenants", NOT_OWNER),
        ("CREATE POLICY see_all ON customers USING (true)", NOT_OWNER),
        ("ALTER TABLE customers DISABLE ROW LEVEL SECURITY", NOT_OWNER),
        ("ALTER TABLE customers NO FORCE ROW LEVEL SECURITY", NOT_OWNER),
        ("ALTER TABLE tenants DISABLE ROW LEVEL SECURITY", NOT_OWNER),
        ("ALTER TABLE auth_throttle NO FORCE ROW LEVEL SECURITY", NOT_OWNER),
        ("ALTER TABLE credentials DISABLE ROW LEVEL SECURITY", NOT_OWNER),
        ("ALTER TABLE customers DISABLE TRIGGER ALL", NOT_OWNER),
        ("DROP TABLE customers CASCADE", NOT_OWNER),
        ("ALTER TABLE customers OWNER TO CURRENT_USER", NOT_OWNER),
        ("CREATE TABLE public.sneaky (id int)", "permission denied for schema public"),
        ("CREATE SCHEMA sneaky", "permission denied for database"),
        ("SELECT * FROM alembic_version", "permission denied for table alembic_version"),
        ("UPDATE alembic_version SET version_num = '0001'", "permission denied"),
        ("SELECT pg_read_file('/etc/passwd')", "permission denied for function pg_read_file"),
        ("COPY customers FROM '/etc/passwd'", "permission denied|must be superuser|pg_read_server"),
        ("COPY (SELECT 1) TO PROGRAM 'true'", "permission denied|must be superuser|pg_execute"),
        ("SET LOCAL row_security = off; SELECT * FROM customers", "row-level security"),
    ],
)
def test_destructive_or_escaping_statements_fail_and_change_nothing(
    database, two_tenants, owner_sql, statement, refusal
):
    mine, theirs = two_tenants
    before = everything(database, two_tenants, owner_sql)
    sql = statement.format(other=theirs.id, other_name=theirs.name)
    with pytest.raises(DBAPIError, match=refusal):
        run_as_runtime(database, mine.id, *sql.split("; "))
    assert everything(database, two_tenants, owner_sql) == before


def test_granting_itself_more_does_nothing(database, two_tenants, owner_sql):
    """GRANT by a role without grant option only warns; the privileges stay as they were."""
    before = everything(database, two_tenants, owner_sql)
    check = (
        "SELECT has_table_privilege('tenants', 'DELETE'), has_table_privilege('tenants', 'UPDATE')"
    )
    assert run_as_runtime(database, two_tenants[0].id, check) == [[(False, False)]]
    run_as_runtime(database, two_tenants[0].id, "GRANT ALL ON tenants, customers TO CURRENT_USER")
    assert run_as_runtime(database, two_tenants[0].id, check) == [[(False, False)]]
    assert everything(database, two_tenants, owner_sql) == before


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param("SELECT * FROM auth_throttle", "nothing", id="throttle-without-keys"),
        pytest.param("SELECT count(*) FROM auth_throttle", "zero", id="throttle-count"),
        pytest.param("SELECT id FROM tenants", "own", id="tenants"),
        pytest.param("SELECT DISTINCT tenant_id FROM users", "own", id="users"),
        pytest.param("SELECT DISTINCT tenant_id FROM credentials", "own", id="credentials"),
        pytest.param("SELECT DISTINCT tenant_id FROM customers", "own", id="customers"),
        pytest.param("SELECT DISTINCT tenant_id FROM audit_events", "own", id="audit"),
    ],
)
def test_reads_that_name_nothing_see_only_the_tenant_or_nothing(
    database, two_tenants, query, expected
):
    mine, _ = two_tenants
    (rows,) = run_as_runtime(database, mine.id, query)
    want = {"nothing": [], "zero": [(0,)], "own": [(mine.id,)]}[expected]
    assert rows == want
    (rows,) = run_as_runtime(database, None, query)  # no tenant at all: nothing, or zero
    assert rows in ([], [(0,)])


# -- the catalog -------------------------------------------------------------------------


def test_every_table_has_forced_rls_with_setting_based_policies_and_exact_grants(database):
    """From the catalog, not from a list: a table added without all of this fails here."""
    role = database.app_role
    with database.owner_engine().connect() as conn:
        tables = conn.execute(
            text(
                "SELECT c.oid, c.relname, c.relrowsecurity, c.relforcerowsecurity, "
                "n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN "
                "('pg_catalog', 'information_schema', 'pg_toast') "
                "AND n.nspname NOT LIKE 'pg_temp%' AND n.nspname NOT LIKE 'pg_toast_temp%'"
            )
        ).all()
        policies = conn.execute(
            text(
                "SELECT polrelid, polname, pg_get_expr(polqual, polrelid) AS qual, "
                "pg_get_expr(polwithcheck, polrelid) AS checks FROM pg_policy"
            )
        ).all()
        granted = {
            row.relname: {p for p in PRIVILEGES if getattr(row, p.lower())}
            for row in conn.execute(
                text(
                    "SELECT relname, "
                    + ", ".join(
                        f"has_table_privilege(:role, c.oid, '{p}') AS {p.lower()}"
                        for p in PRIVILEGES
                    )
                    + " FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace "
                    "AND c.relkind IN ('r', 'p')"
                ),
                {"role": role},
            )
        }
    assert {row.nspname for row in tables} == {"public"}
    names = {row.relname for row in tables}
    assert names == set(RUNTIME_GRANTS) | {"alembic_version"}, "a table without a declared grant"
    problems = []
    for row in tables:
        if row.relname == "alembic_version":
            continue
        if not (row.relrowsecurity and row.relforcerowsecurity):
            problems.append(f"{row.relname}: row-level security not enabled and forced")
        own = [p for p in policies if p.polrelid == row.oid]
        if not own:
            problems.append(f"{row.relname}: no policy")
        for policy in own:
            for expression in (policy.qual, policy.checks):
                if expression is not None and "current_setting('app." not in expression:
                    problems.append(f"{row.relname}.{policy.polname}: {expression}")
    assert problems == []
    expected = {
        table: {p.strip() for p in privileges.split(",")}
        for table, privileges in RUNTIME_GRANTS.items()
    }
    assert granted == expected | {"alembic_version": set()}


def test_no_view_or_function_runs_with_the_owners_rights(database):
    """A view (without security_invoker) or a SECURITY DEFINER function runs as its owner:
    one the runtime could call would be a way round the policies."""
    with database.owner_engine().connect() as conn:
        views = conn.execute(
            text(
                "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace "
                "AND relkind IN ('v', 'm') AND NOT coalesce("
                "'security_invoker=true' = ANY(reloptions), false)"
            )
        ).all()
        definers = conn.execute(
            text(
                "SELECT proname FROM pg_proc WHERE pronamespace = 'public'::regnamespace "
                "AND prosecdef"
            )
        ).all()
    assert views == []
    assert definers == []


# -- Database.check() -------------------------------------------------------------------


def manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(PROJECT_DIR / "manage.py"), *args],
        capture_output=True,
        text=True,
        env=os.environ | env,
        timeout=120,
        check=False,
    )


def test_a_superuser_runtime_url_is_refused_with_one_sentence(test_database, owner_name):
    owner_url = test_database.url
    with pytest.raises(Unavailable) as caught:
        Database(owner_url, runtime_url=owner_url).check()
    assert str(caught.value) == (
        f"The runtime database role {owner_name} is a superuser, so row-level security would "
        "not hold; run init-db (it creates a role of its own) or set DATABASE_RUNTIME_URL "
        "to a role that is none of these."
    )
    # The command line stops on it before doing any work.
    name = f"never-{uuid.uuid4().hex[:8]}"
    result = manage("create-tenant", name, DATABASE_URL=owner_url, DATABASE_RUNTIME_URL=owner_url)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == f"manage.py create-tenant: {caught.value}\n"
    with test_database.db.owner_engine().connect() as conn:
        found = conn.execute(text("SELECT count(*) FROM tenants WHERE name = :n"), {"n": name})
        assert found.scalar_one() == 0


@pytest.fixture
def login_role(database) -> Iterator[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """A fresh login role (name, URL of the test database as it); dropped afterwards."""
    name = f"probe_{uuid.uuid4().hex[:10]}"
    url = make_url(str(database.url.render_as_string(hide_password=False))).set(
        username=name, password="probe-password"
    )
    admin = create_engine(database.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE ROLE {name} LOGIN PASSWORD 'probe-password'"))
    try:
        yield name, url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP OWNED BY {name}"))
            conn.execute(text(f"DROP ROLE {name}"))
        admin.dispose()


def test_a_runtime_role_that_bypasses_rls_is_refused(database, login_role):
    name, url = login_role
    admin = create_engine(database.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"ALTER ROLE {name} BYPASSRLS"))
        conn.execute(text(f"GRANT SELECT ON tenants TO {name}"))
    admin.dispose()
    runtime = Database(str(database.url.render_as_string(hide_password=False)), runtime_url=url)
    try:
        with pytest.raises(Unavailable, match=f"^The runtime database role {name} is allowed "):
            runtime.check()
    finally:
        runtime.dispose()


def test_a_runtime_role_that_owns_the_tables_is_refused(test_database, login_role):
    """In a database of its own: the tables are given to the role, then it is the runtime."""
    name, _ = login_role
    base = make_url(test_database.url)
    scratch = f"inventory_owner_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{scratch}"'))
    owner_url = base.set(database=scratch).render_as_string(hide_password=False)
    database = Database(owner_url, app_password="scratch-password")
    try:
        database.migrate()
        with database.owner_engine().begin() as conn:
            conn.execute(text(f"ALTER TABLE customers OWNER TO {name}"))
            conn.execute(text(f"GRANT SELECT ON tenants TO {name}"))
        runtime_url = base.set(
            database=scratch, username=name, password="probe-password"
        ).render_as_string(hide_password=False)
        runtime = Database(owner_url, runtime_url=runtime_url)
        try:
            owner = f"^The runtime database role {name} is the owner of tables of the schema"
            with pytest.raises(Unavailable, match=owner):
                runtime.check()
        finally:
            runtime.dispose()
        database.check()  # the role init-db made is fine
    finally:
        database.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)'))
            conn.execute(text(f'DROP ROLE IF EXISTS "{runtime_role_name(make_url(owner_url))}"'))
        admin.dispose()


def test_an_owner_with_createrole_but_no_superuser_runs_init_db_again_and_again(
    test_database, login_role
):
    """The README's set-up for a managed database: an owner that may create roles but is
    no superuser.  init-db makes the runtime role, and repeats without error."""
    name, _ = login_role
    base = make_url(test_database.url)
    scratch = f"inventory_creator_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"ALTER ROLE {name} CREATEROLE"))
        conn.execute(text(f'CREATE DATABASE "{scratch}" OWNER {name}'))
    with create_engine(base.set(database=scratch), isolation_level="AUTOCOMMIT").connect() as conn:
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))  # needs a superuser
    owner_url = base.set(
        database=scratch, username=name, password="probe-password"
    ).render_as_string(hide_password=False)
    database = Database(owner_url, app_password="scratch-password")
    try:
        assert database.migrate()[1] is not None
        assert database.migrate()[0] == database.migrate()[1]  # and again, unchanged
        database.check()
        with database.transaction(None) as session:
            who = session.execute(text("SELECT current_user")).scalar_one()
        assert who == runtime_role_name(make_url(owner_url))
    finally:
        database.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)'))
            conn.execute(text(f'DROP ROLE IF EXISTS "{runtime_role_name(make_url(owner_url))}"'))
        admin.dispose()
