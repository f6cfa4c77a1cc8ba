"""Engine and transactions: the only place that knows which database is behind the URL.

``Database.transaction(tenant_id, write=...)`` is how every caller gets a session.
The session belongs to one tenant for its whole life:

* on PostgreSQL the tenant is written into the transaction with
  ``set_config('app.tenant_id', ..., true)`` so that the row-level security policies
  hide every other tenant's rows even from a query that forgot its ``WHERE``; the
  connection runs as a role that does not own the tables (``SET ROLE``), so the
  policies apply to it;
* on SQLite a write transaction starts with ``BEGIN IMMEDIATE``, which takes the write
  lock up front: two writers queue instead of failing half-way with "database is
  locked".  A lock that stays taken longer than the busy timeout and a few retries
  becomes ``Unavailable`` with a sentence, never a traceback.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import random
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

from data.errors import Unavailable

PROJECT_DIR = Path(__file__).resolve().parent.parent

TENANT_SETTING = "app.tenant_id"
LOGIN_USERNAME_SETTING = "app.login_username"
LOGIN_USER_ID_SETTING = "app.login_user_id"

BEGIN_RETRIES = 4


class _NoResultRows(logging.Filter):
    """Keep result rows out of SQLAlchemy's engine log.

    With ``sqlalchemy.engine`` at DEBUG, every row a query returns is logged: customer
    data, and the password hashes of sign-in.  As ``hide_parameters`` does for the values
    sent, this drops the rows (and column lists) the database sends back; the
    statements themselves are still logged.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not (isinstance(record.msg, str) and record.msg.endswith(("Row %r", "Col %r")))


logging.getLogger("sqlalchemy.engine.Engine").addFilter(_NoResultRows())


def normalise_url(url: str) -> URL:
    """Parse a database URL; plain ``postgresql://`` means psycopg 3."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise Unavailable("DATABASE_URL is not a valid database URL.") from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise Unavailable(
            f"Database {parsed.get_backend_name()!r} is not supported; use SQLite or PostgreSQL."
        )
    return parsed


def describe_url(url: URL) -> str:
    """The URL without its password, for messages."""
    return url.render_as_string(hide_password=True)


def _sqlite_file(url: URL) -> Path | None:
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


class Database:
    """One engine per database URL, shared by every thread of the process."""

    def __init__(
        self,
        url: str,
        *,
        app_role: str | None = "inventory_app",
        busy_timeout_ms: int = 5000,
        pool_size: int = 10,
    ) -> None:
        self.url = normalise_url(url)
        self.dialect = self.url.get_backend_name()
        self.app_role = app_role if self.dialect == "postgresql" else None
        self.busy_timeout_ms = busy_timeout_ms
        if self.dialect == "sqlite":
            self.engine = self._sqlite_engine()
        else:
            self.engine = create_engine(
                self.url,
                pool_pre_ping=True,
                pool_size=pool_size,
                max_overflow=2 * pool_size,
                pool_timeout=10,
                json_serializer=_json_dumps,
                hide_parameters=True,  # values (customer data) never reach logs
                # No server-side prepared statements: PostgreSQL may keep one generic
                # plan for a prepared statement, made without the values, and a search's
                # best plan depends on its term (a generic plan took 100 ms for what a
                # custom one does in 9).  Planning these statements costs a fraction of
                # a millisecond.
                connect_args={"prepare_threshold": None},
            )
            if self.app_role:
                self._install_set_role(self.engine, self.app_role)
        self._write_engine = self.engine.execution_options(sqlite_begin="IMMEDIATE")
        self._read_sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._write_sessions = sessionmaker(self._write_engine, expire_on_commit=False)

    # -- engines --------------------------------------------------------------------

    def _sqlite_engine(self) -> Engine:
        path = _sqlite_file(self.url)
        if path is not None:
            folder = path.parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise Unavailable(
                    f"Cannot create the database folder {folder}: {exc.strerror}."
                ) from None
            if not os.access(folder, os.W_OK):
                raise Unavailable(f"The database folder {folder} is not writable.")
        engine = create_engine(
            self.url,
            connect_args={"check_same_thread": False, "timeout": self.busy_timeout_ms / 1000},
            json_serializer=_json_dumps,
            hide_parameters=True,  # values (customer data) never reach logs
        )
        busy = int(self.busy_timeout_ms)

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
            # We emit BEGIN ourselves (see _on_begin); the driver must not.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute(f"PRAGMA busy_timeout = {busy}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
            for attempt in range(BEGIN_RETRIES + 1):
                try:
                    conn.exec_driver_sql(f"BEGIN {mode}")
                except OperationalError as exc:
                    # busy_timeout already waited; back off a little more, then give up.
                    if not is_locked(exc) or attempt == BEGIN_RETRIES:
                        raise
                    time.sleep(min(1.0, 0.05 * 2**attempt) * (0.5 + random.random()))
                else:
                    return

        return engine

    @staticmethod
    def _install_set_role(engine: Engine, role: str) -> None:
        quoted = '"' + role.replace('"', '""') + '"'

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            with dbapi_connection.cursor() as cursor:
                cursor.execute(f"SET ROLE {quoted}")
            dbapi_connection.commit()

    def owner_engine(self) -> Engine:
        """An engine that connects as the URL's own user: for migrations only."""
        if self.dialect == "sqlite":
            return self.engine
        return create_engine(self.url)

    # -- sessions -------------------------------------------------------------------

    @contextlib.contextmanager
    def transaction(self, tenant_id: str | None, *, write: bool = False) -> Iterator[Session]:
        """A session in one transaction, bound to one tenant; commits when the block ends.

        ``tenant_id=None`` is for work that belongs to no tenant (sign-in, creating a
        tenant); on PostgreSQL such a session sees no tenant rows at all.
        """
        factory = self._write_sessions if write else self._read_sessions
        with factory() as session:
            session.info["tenant_id"] = tenant_id
            session.info["database"] = self
            try:
                with session.begin():
                    self._start(session, tenant_id if write else None)
                    yield session
            except OperationalError as exc:
                raise self.unavailable(exc) from None

    def _start(self, session: Session, writing_tenant: str | None) -> None:
        """Begin now, so that on SQLite the write lock is taken before any work.

        On PostgreSQL a tenant's write transaction first locks the tenant's row of
        ``customer_counts``, which triggers update on every change of a customer.  Taken
        first, it gives every writer of a tenant the same lock order; taken by the
        triggers half-way, an import that holds it and waits for customer X deadlocks
        with a save that changed X and waits for it.
        """
        connection = session.connection()
        if writing_tenant is not None and self.dialect == "postgresql":
            connection.execute(
                text("SELECT 1 FROM customer_counts WHERE tenant_id = :tenant FOR UPDATE"),
                {"tenant": writing_tenant},
            )

    def unavailable(self, exc: DBAPIError) -> Unavailable:
        exc = first_failure(exc)
        if is_locked(exc) or is_contention(exc):
            return Unavailable(
                "The database is busy with another write; please try again in a moment."
            )
        if is_disk_full(exc):
            return Unavailable(
                "The disk that holds the database is full; nothing was written. "
                "Free some space, then try again."
            )
        if self.dialect == "sqlite":
            detail = str(getattr(exc, "orig", exc)).rstrip(".")
            return Unavailable(f"The database file cannot be used: {detail}.")
        return Unavailable(
            f"The database at {describe_url(self.url)} cannot be reached; check that it is running."
        )

    def migrate(self) -> tuple[str | None, str | None]:
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
        engine = self.owner_engine()
        if self.dialect == "sqlite":
            engine = engine.execution_options(sqlite_begin="IMMEDIATE")
        try:
            with engine.begin() as conn:
                if self.dialect == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(4242001)"))
                before = MigrationContext.configure(conn).get_current_revision()
                config.attributes["connection"] = conn
                command.upgrade(config, "head")
                after = MigrationContext.configure(conn).get_current_revision()
        except OperationalError as exc:
            raise self.unavailable(exc) from None
        except DBAPIError as exc:
            detail = str(exc.orig).strip().splitlines()[0].rstrip(".")
            raise Unavailable(f"The schema could not be created: {detail}.") from None
        return before, after

    def check(self) -> None:
        """Connect once and look at the schema; raise ``Unavailable`` with a sentence."""
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1 FROM tenants WHERE 1 = 0"))
        except OperationalError as exc:
            if self.dialect == "sqlite" and "no such table" in str(exc.orig):
                raise self.not_initialised() from None
            raise self.unavailable(exc) from None
        except DBAPIError:
            # PostgreSQL: no such table, no application role, or no grant on it yet.
            raise self.not_initialised() from None

    def refresh_statistics(self, *tables: str) -> None:
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
        if self.dialect != "postgresql" or not tables:
            return
        owner = self.owner_engine()
        try:
            with owner.execution_options(isolation_level="AUTOCOMMIT").connect() as conn:
                for table in tables:
                    conn.execute(text(f'VACUUM (ANALYZE, SKIP_LOCKED) "{table}"'))
        except DBAPIError as exc:
            logging.getLogger(__name__).warning(
                "VACUUM after a bulk change failed: %s", str(exc.orig).strip().splitlines()[0]
            )
        finally:
            owner.dispose()

    def warnings(self) -> list[str]:
        """Sentences about this installation an operator should know (empty when fine)."""
        if self.dialect != "postgresql":
            return []
        with self.owner_engine().connect() as conn:
            leakproof = conn.execute(
                text("SELECT proleakproof FROM pg_proc WHERE oid = 'texticlike'::regproc")
            ).scalar()
        if leakproof:
            return []
        return [
            "Search will scan each tenant's rows instead of using the trigram index, "
            "because ILIKE is not marked LEAKPROOF (row-level security then forbids the "
            "index); run init-db once as a superuser, or have a DBA run "
            "'ALTER FUNCTION pg_catalog.texticlike(text, text) LEAKPROOF'."
        ]

    @staticmethod
    def not_initialised() -> Unavailable:
        return Unavailable("The database is not initialised; run 'python manage.py init-db' first.")

    def dispose(self) -> None:
        self.engine.dispose()


def _json_dumps(value: Any) -> str:
    # Keep non-ASCII text readable in the stored JSON (and findable by the History search).
    return json.dumps(value, ensure_ascii=False)


def is_locked(exc: BaseException) -> bool:
    orig = getattr(exc, "orig", exc)
    return isinstance(orig, sqlite3.OperationalError) and (
        "locked" in str(orig) or "busy" in str(orig)
    )


def first_failure(exc: DBAPIError) -> DBAPIError:
    """The database error that started a chain of them.

    After a disk or I/O error SQLite rolls the whole transaction back by itself, so the
    rollback of the savepoint that follows fails with "no such savepoint"; that second
    error must not hide the first.
    """
    first = exc
    earlier = exc.__context__
    while earlier is not None and _is_database_error(earlier):
        if isinstance(earlier, OperationalError):
            first = earlier
        earlier = earlier.__context__
    return first


def _is_database_error(error: BaseException) -> bool:
    return isinstance(error, DBAPIError | sqlite3.Error) or type(error).__module__.startswith(
        "psycopg"
    )


def is_disk_full(exc: BaseException) -> bool:
    orig = getattr(exc, "orig", exc)
    if isinstance(orig, sqlite3.Error):
        return getattr(orig, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
    return getattr(orig, "sqlstate", None) == "53100"  # PostgreSQL: disk_full


# PostgreSQL gave up on a transaction because of other transactions, not because it is
# down: serialization failure, deadlock, lock not available.
CONTENTION_SQLSTATES = frozenset({"40001", "40P01", "55P03"})


def is_contention(exc: BaseException) -> bool:
    orig = getattr(exc, "orig", exc)
    return getattr(orig, "sqlstate", None) in CONTENTION_SQLSTATES


# --- the tenant of a PostgreSQL transaction ----------------------------------------


@event.listens_for(Session, "after_begin")
def _set_tenant(session: Session, _tx: SessionTransaction, connection: Connection) -> None:
    if connection.dialect.name != "postgresql":
        return
    connection.execute(
        text("SELECT set_config(:name, :value, true)"),
        {"name": TENANT_SETTING, "value": session.info.get("tenant_id") or ""},
    )


def enter_tenant(session: Session, tenant_id: str) -> None:
    """Move a tenant-less session into a tenant it just created (operator paths only).

    Lets ``create-tenant`` and the demo loader create a tenant and its first users and
    customers in one transaction: all of it, or nothing.
    """
    if session.info.get("tenant_id") not in (None, tenant_id):
        raise ValueError("a session cannot move from one tenant to another")
    session.info["tenant_id"] = tenant_id
    set_local(session, TENANT_SETTING, tenant_id)


def set_local(session: Session, name: str, value: str) -> None:
    """Set a transaction-local setting on PostgreSQL (no-op on SQLite)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT set_config(:name, :value, true)"), {"name": name, "value": value}
        )


# --- one Database per URL per process ----------------------------------------------

_databases: dict[tuple[str, str | None], Database] = {}
_lock = threading.Lock()


def get_database(url: str | None = None) -> Database:
    """The process-wide ``Database`` for ``url`` (default: the settings' URL)."""
    from config import get_settings

    settings = get_settings()
    key = (url or settings.database_url, settings.database_app_role)
    with _lock:
        database = _databases.get(key)
        if database is None:
            database = Database(
                key[0],
                app_role=settings.database_app_role,
                busy_timeout_ms=settings.sqlite_busy_timeout_ms,
            )
            _databases[key] = database
        return database


def reset_databases() -> None:
    """Forget the cached engines (tests, and after a fork)."""
    with _lock:
        for database in _databases.values():
            database.dispose()
        _databases.clear()
