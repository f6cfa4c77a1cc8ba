"""The owner's work: migrations, the runtime role and its grants, maintenance.

Everything here connects as the URL's own user (the tables' owner, or a superuser), never
as the runtime role: ``Database.migrate`` (``init-db``) brings the schema to the newest
revision and then makes sure the runtime role exists, logs in with the generated
password, and holds exactly ``RUNTIME_GRANTS``; ``refresh_statistics`` vacuums after a
bulk change; ``warnings`` says what an operator should know.
"""

from __future__ import annotations

import logging

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError, OperationalError

from data.db import PROJECT_DIR, Database
from data.errors import Unavailable


def migrate(database: Database) -> tuple[str | None, str | None]:
    """Bring the schema to the newest migration; returns (revision before, after).

    Idempotent: on an up-to-date database it changes nothing.  Runs as the URL's own
    user, in one transaction (PostgreSQL and SQLite both have transactional DDL),
    under a lock so that two processes starting at once do not race.
    """
    from alembic import command
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext

    config = Config(str(PROJECT_DIR / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_DIR / "migrations"))
    engine = database.owner_engine()
    if database.dialect == "sqlite":
        engine = engine.execution_options(sqlite_begin="IMMEDIATE")
    try:
        with engine.begin() as conn:
            if database.dialect == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(4242001)"))
                _ensure_runtime_role(database, conn)
            before = MigrationContext.configure(conn).get_current_revision()
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
            after = MigrationContext.configure(conn).get_current_revision()
            if database.dialect == "postgresql":
                _grant_runtime(database, conn)
    except OperationalError as exc:
        raise database.unavailable(exc) from None
    except DBAPIError as exc:
        detail = str(exc.orig).strip().splitlines()[0].rstrip(".")
        raise Unavailable(f"The schema could not be created: {detail}.") from None
    return before, after


def _runtime_user(database: Database) -> str:
    return str(database.runtime_url.username or "")


def _ensure_runtime_role(database: Database, conn: Connection) -> None:
    """Create or update the runtime's login role (no superuser, no RLS bypass).

    Only for the role this installation names (``runtime_role_name``); a runtime URL
    given explicitly is the operator's to create.  Needs an owner that may create
    roles (a superuser or ``CREATEROLE``); a role that exists already is brought to
    the generated password and to its limits.
    """
    if database.app_role is None:
        return
    role = '"' + database.app_role + '"'  # checked against ROLE_NAME
    found = conn.execute(
        text(
            "SELECT rolsuper, rolbypassrls, rolcreatedb, rolcreaterole, rolreplication "
            "FROM pg_roles WHERE rolname = :role"
        ),
        {"role": database.app_role},
    ).first()
    limits = "LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION INHERIT"
    if found is not None and not any(found):
        # Already within its limits: only log in and the password.  (Naming the limits
        # again needs a superuser on PostgreSQL 15+, even to keep them; an owner with
        # CREATEROLE must be able to run init-db twice.)
        limits = "LOGIN"
    password = conn.execute(
        text("SELECT quote_literal(:password)"), {"password": database.app_password}
    ).scalar_one()
    verb = "ALTER" if found is not None else "CREATE"
    try:
        with conn.begin_nested():
            conn.execute(text(f"{verb} ROLE {role} {limits} PASSWORD {password}"))
    except DBAPIError as exc:
        detail = str(exc.orig).strip().splitlines()[0].rstrip(".")
        raise Unavailable(
            f"init-db could not {verb.lower()} the runtime role {database.app_role}: {detail}. "
            "Run it with a URL of a user that may create roles (a superuser, or one "
            "with CREATEROLE), or set DATABASE_RUNTIME_URL to a role you made."
        ) from None


def _grant_runtime(database: Database, conn: Connection) -> None:
    """Give the runtime role exactly what it needs, every time init-db runs.

    Reads and writes of the tenant tables (row-level security decides which rows);
    ``tenants`` read and insert only (no rename, no delete); nothing else, not even
    the migrations' own table.
    """
    user = _runtime_user(database)
    if not user or user == database.url.username:
        return
    role = conn.execute(text("SELECT quote_ident(:role)"), {"role": user}).scalar_one()
    exists = conn.execute(
        text("SELECT 1 FROM pg_roles WHERE rolname = :role"), {"role": user}
    ).first()
    if exists is None:
        raise Unavailable(
            f"The runtime role {user} of DATABASE_RUNTIME_URL does not exist; "
            "create it first (LOGIN, no superuser), then run init-db again."
        )
    conn.execute(text(f"GRANT USAGE ON SCHEMA public TO {role}"))
    for table, privileges in RUNTIME_GRANTS.items():
        conn.execute(text(f"REVOKE ALL ON {table} FROM {role}"))
        conn.execute(text(f"GRANT {privileges} ON {table} TO {role}"))
    conn.execute(text(f"REVOKE ALL ON alembic_version FROM {role}"))
    # PostgreSQL 14 and older let everyone create tables in public; the runtime must not.
    try:
        with conn.begin_nested():
            conn.execute(text("REVOKE CREATE ON SCHEMA public FROM PUBLIC"))
            conn.execute(text(f"REVOKE CREATE ON SCHEMA public FROM {role}"))
    except DBAPIError:
        logging.getLogger(__name__).warning(
            "init-db could not revoke CREATE on schema public; check the runtime role's rights"
        )


def refresh_statistics(database: Database, *tables: str) -> None:
    """PostgreSQL: ``VACUUM (ANALYZE)`` these tables now, after a bulk change (best effort).

    Autovacuum gets to a table some time after a bulk change (a minute or more, and
    never where it is turned off); until then:

    * the planner believes a tenant that just received a million rows is tiny.
      Measured right after such an import: a deep Customers page read every row of
      the tenant through a bitmap scan and sorted them (1.1 s instead of 3 ms) and a
      search took 0.5 s;
    * the index entries of the rows an upsert replaced are still there: the first
      Customers page in "last changed" order walked a million dead entries (30-70 ms
      instead of 1 ms), and index-only scans (page anchors) visited the table too.

    About 10 s for a million updated rows, as the table's owner (the URL's own user,
    the one that runs ``init-db``), outside any transaction; for another user, or
    while another vacuum holds the table (``SKIP_LOCKED``), PostgreSQL skips it with
    a warning and autovacuum does it later.
    """
    if database.dialect != "postgresql" or not tables:
        return
    owner = database.owner_engine()
    try:
        with owner.execution_options(isolation_level="AUTOCOMMIT").connect() as conn:
            for table in tables:
                conn.execute(text(f'VACUUM (ANALYZE, SKIP_LOCKED) "{table}"'))
    except DBAPIError as exc:
        logging.getLogger(__name__).warning(
            "VACUUM after a bulk change failed: %s", str(exc.orig).strip().splitlines()[0]
        )


def warnings(database: Database) -> list[str]:
    """Sentences about this installation an operator should know (empty when fine)."""
    if database.dialect != "postgresql":
        return []
    with database.owner_engine().connect() as conn:
        leakproof = conn.execute(
            text("SELECT proleakproof FROM pg_proc WHERE oid = 'texticlike'::regproc")
        ).scalar()
    if leakproof:
        return []
    return [
        "Search will scan each tenant's rows instead of using the trigram index, "
        "because ILIKE is not marked LEAKPROOF (row-level security then forbids the "
        "index); have a superuser run, once per database: "
        "ALTER FUNCTION pg_catalog.texticlike(text, text) LEAKPROOF"
    ]


# What the runtime role may do, table by table (row-level security decides the rows).
RUNTIME_GRANTS: dict[str, str] = {
    "tenants": "SELECT, INSERT",
    "users": "SELECT, INSERT, UPDATE, DELETE",
    "customers": "SELECT, INSERT, UPDATE, DELETE",
    "customer_counts": "SELECT, INSERT, UPDATE, DELETE",
    "audit_events": "SELECT, INSERT, UPDATE, DELETE",
    "import_changes": "SELECT, INSERT, UPDATE, DELETE",
    "credentials": "SELECT, INSERT, UPDATE, DELETE",
    "auth_throttle": "SELECT, INSERT, UPDATE, DELETE",
    "duplicate_pairs": "SELECT, INSERT, UPDATE, DELETE",
}


def runtime_role_problem(conn: Connection) -> str | None:
    """Why the connected role must not run the application, or None when it may.

    A superuser or a role that bypasses row-level security ignores the policies; the
    tables' owner could drop them.
    """
    row = conn.execute(
        text(
            "SELECT r.rolname, r.rolsuper, r.rolbypassrls, EXISTS (SELECT 1 FROM pg_tables "
            "WHERE schemaname = 'public' AND tableowner = r.rolname) AS owner "
            "FROM pg_roles r WHERE r.rolname = current_user"
        )
    ).one()
    if row.rolsuper:
        what = "a superuser"
    elif row.rolbypassrls:
        what = "allowed to bypass row-level security"
    elif row.owner:
        what = "the owner of tables of the schema"
    else:
        return None
    return (
        f"The runtime database role {row.rolname} is {what}, so row-level security would "
        "not hold; run init-db (it creates a role of its own) or set DATABASE_RUNTIME_URL "
        "to a role that is none of these."
    )
