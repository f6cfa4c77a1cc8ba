"""Engine and transactions: the only place that knows which database is behind the URL.

``Database.scope(identity, write=...)`` is how the front doors get a session: one
transaction of one tenant, with the actor's current rights read in it (``data.scope``).
``Database.transaction(tenant_id, write=...)`` is the layer below, for work that has no
signed-in actor (sign-in, the operator's commands).  A session belongs to one tenant for
its whole life:

* on PostgreSQL the tenant is written into the transaction with
  ``set_config('app.tenant_id', ..., true)`` so that the row-level security policies
  hide every other tenant's rows even from a query that forgot its ``WHERE``.  The
  runtime logs in as a role of its own that is neither a superuser nor the tables'
  owner (``init-db`` creates it: ``ensure_runtime_role``), so the policies always apply
  and no statement can ``RESET ROLE`` its way out of them;
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
import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker
from sqlalchemy.pool import NullPool

from data.errors import Unavailable
from data.failures import first_failure, is_contention, is_disk_full, is_locked

if TYPE_CHECKING:
    from data.identity import Identity
    from data.scope import Scope

PROJECT_DIR = Path(__file__).resolve().parent.parent

TENANT_SETTING = "app.tenant_id"
# What a transaction without a tenant may look up, one row at a time (see the policies
# of migration 0003): a user by name at sign-in, a session by its secret's hash, a tenant
# by id or name on the command line, the throttle counters of one attempt.
LOGIN_USERNAME_SETTING = "app.login_username"
LOGIN_SECRET_SETTING = "app.login_secret"  # noqa: S105 - a setting's name
LOOKUP_TENANT_SETTING = "app.lookup_tenant"
THROTTLE_KEYS_SETTING = "app.throttle_keys"
ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

BEGIN_RETRIES = 4
PREPARE_THRESHOLD = 5  # psycopg's default, named: see ``Database.__init__``
# Statements of every PostgreSQL transaction, built once (see ``_start`` and ``_set_tenant``).
LOCK_COUNTS = text("SELECT 1 FROM customer_counts WHERE tenant_id = :tenant FOR UPDATE")
SET_LOCAL = text("SELECT set_config(:name, :value, true)")


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


def runtime_role_name(url: URL, configured: str | None = None) -> str:
    """The runtime role ``init-db`` creates: ``<database>_app`` unless one is configured.

    Named after the database, so that installations sharing a PostgreSQL server (or the
    test databases of parallel runs) each get a role, and a password, of their own.
    """
    name = configured or re.sub(r"[^a-z0-9_]", "_", (url.database or "inventory").lower())
    if not configured:
        name = (name if name[:1].isalpha() or name[:1] == "_" else f"db_{name}")[:59] + "_app"
    if not ROLE_NAME.match(name):
        raise Unavailable(
            f"DATABASE_APP_ROLE {name!r} is not a usable role name "
            "(lower-case letters, digits and _, at most 63)."
        )
    return name


class Database:
    """One engine per database URL, shared by every thread of the process.

    ``url`` is the owner's (it runs the migrations).  On PostgreSQL the runtime logs in
    as ``runtime_url`` when one is given, else as the role ``init-db`` creates, with the
    generated password (``runtime_role_name``).
    """

    def __init__(
        self,
        url: str,
        *,
        runtime_url: str | None = None,
        app_role: str | None = None,
        app_password: str = "",
        busy_timeout_ms: int = 5000,
        pool_size: int = 10,
    ) -> None:
        self.url = normalise_url(url)
        self.dialect = self.url.get_backend_name()
        # The SQLite database's file; None on PostgreSQL or for an in-memory database.
        self.sqlite_file = _sqlite_file(self.url) if self.dialect == "sqlite" else None
        self.busy_timeout_ms = busy_timeout_ms
        self.app_role: str | None = None
        self.app_password = app_password
        self._owner: Engine | None = None
        if self.dialect == "sqlite":
            self.runtime_url = self.url
            self.engine = self._sqlite_engine()
        else:
            if runtime_url:
                self.runtime_url = normalise_url(runtime_url)
            else:
                self.app_role = runtime_role_name(self.url, app_role)
                self.runtime_url = self.url.set(username=self.app_role, password=app_password)
            self.engine = create_engine(
                self.runtime_url,
                pool_pre_ping=True,
                pool_size=pool_size,
                max_overflow=2 * pool_size,
                pool_timeout=10,
                json_serializer=_json_dumps,
                hide_parameters=True,  # values (customer data) never reach logs
                # Server-side prepared statements (psycopg prepares a statement once a
                # connection has run it PREPARE_THRESHOLD times): the API's short
                # statements skip parsing and, once PostgreSQL settles on a generic plan,
                # planning (50 clients on the API: 24 % more requests per second).  A
                # search's best plan depends on its term (a generic plan took 100 ms for
                # what a custom one does in 9), so every statement run under changed
                # planner settings is planned for its values (``plan_cache_mode`` in
                # ``data.customers.search`` and ``data.importing.staging``).
                connect_args={"prepare_threshold": PREPARE_THRESHOLD},
            )
        self._write_engine = self.engine.execution_options(sqlite_begin="IMMEDIATE")
        self._read_sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._write_sessions = sessionmaker(self._write_engine, expire_on_commit=False)

    # -- engines --------------------------------------------------------------------

    def _sqlite_engine(self) -> Engine:
        if self.sqlite_file is not None:
            _private_sqlite_file(self.sqlite_file)
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

    def owner_engine(self) -> Engine:
        """An engine that connects as the URL's own user: migrations and maintenance only.

        It holds no connection between uses (``NullPool``).
        """
        if self.dialect == "sqlite":
            return self.engine
        if self._owner is None:
            self._owner = create_engine(self.url, poolclass=NullPool, json_serializer=_json_dumps)
        return self._owner

    # -- sessions -------------------------------------------------------------------

    def scope(
        self, identity: Identity, *, write: bool = False
    ) -> contextlib.AbstractContextManager[Scope]:
        """The tenant-scoped unit of work of ``identity``: see ``data.scope``."""
        from data.scope import open_scope

        return open_scope(self, identity, write=write)

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
            connection.execute(LOCK_COUNTS, {"tenant": writing_tenant})

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
        """Bring the schema to the newest migration: ``data.administration.migrate``."""
        from data.administration import migrate

        return migrate(self)

    def refresh_statistics(self, *tables: str) -> None:
        """PostgreSQL, after a bulk change: ``data.administration.refresh_statistics``."""
        from data.administration import refresh_statistics

        refresh_statistics(self, *tables)

    def warnings(self) -> list[str]:
        """Sentences about this installation an operator should know (empty when fine)."""
        from data.administration import warnings

        return warnings(self)

    def check(self) -> None:
        """Connect once and look at the schema and the runtime's rights.

        Raises ``Unavailable`` with a sentence: not initialised, unreachable, or (on
        PostgreSQL) a runtime role that could escape row-level security.
        """
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1 FROM tenants WHERE 1 = 0"))
                if self.dialect == "postgresql":
                    from data.administration import runtime_role_problem

                    problem = runtime_role_problem(conn)
                    if problem:
                        raise Unavailable(problem)
        except OperationalError as exc:
            if self.dialect == "sqlite" and "no such table" in str(exc.orig):
                raise self.not_initialised() from None
            if self.dialect == "postgresql" and _is_login_failure(exc):
                raise self.not_initialised() from None
            raise self.unavailable(exc) from None
        except DBAPIError:
            # PostgreSQL: no such table, no runtime role, or no grant on it yet.
            raise self.not_initialised() from None

    @staticmethod
    def not_initialised() -> Unavailable:
        return Unavailable("The database is not initialised; run 'python manage.py init-db' first.")

    def dispose(self) -> None:
        self.engine.dispose()
        if self._owner is not None:
            self._owner.dispose()


def _is_login_failure(exc: OperationalError) -> bool:
    message = str(exc.orig)
    return "authentication failed" in message or ("role" in message and "does not exist" in message)


def _private_sqlite_file(path: Path) -> None:
    """Create the database's folder and file readable by their owner only.

    The file holds password hashes and customer data.  SQLite gives its -wal and -shm
    files the permissions of the database file.  An existing folder other than the
    project's own ``var/`` is left as the operator set it.
    """
    from config import VAR_DIR, make_private_dir

    folder = path.parent
    try:
        make_private_dir(folder)
        if folder.resolve() == VAR_DIR.resolve():
            os.chmod(folder, 0o700)
    except OSError as exc:
        raise Unavailable(
            f"Cannot create the database folder {folder}: {exc.strerror or exc}."
        ) from None
    try:
        if not path.exists():
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        elif path.stat().st_mode & 0o077 and path.stat().st_uid == os.getuid():
            # A file of an older release (0644): password hashes inside; tighten it.
            for companion in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
                if companion.exists():
                    os.chmod(companion, 0o600)
    except OSError as exc:
        raise Unavailable(
            f"Cannot create the database file {path}: {exc.strerror or exc}."
        ) from None
    if not os.access(folder, os.W_OK):
        raise Unavailable(f"The database folder {folder} is not writable.")


def _json_dumps(value: Any) -> str:
    # Keep non-ASCII text readable in the stored JSON (and findable by the History search).
    return json.dumps(value, ensure_ascii=False)


# --- the tenant of a PostgreSQL transaction ----------------------------------------


@event.listens_for(Session, "after_begin")
def _set_tenant(session: Session, _tx: SessionTransaction, connection: Connection) -> None:
    if connection.dialect.name != "postgresql":
        return
    connection.execute(
        SET_LOCAL,
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
        session.execute(SET_LOCAL, {"name": name, "value": value})


# --- one Database per URL per process ----------------------------------------------

_databases: dict[tuple[str, str | None, str | None, str], Database] = {}
_lock = threading.Lock()


def get_database(url: str | None = None) -> Database:
    """The process-wide ``Database`` for ``url`` (default: the settings' URL)."""
    from config import get_settings

    settings = get_settings()
    owner_url = url or settings.database_url
    # An explicit runtime URL belongs to the configured database, not to another URL.
    runtime = settings.database_runtime_url if owner_url == settings.database_url else None
    key = (owner_url, runtime, settings.database_app_role, settings.database_app_password)
    with _lock:
        database = _databases.get(key)
        if database is None:
            database = Database(
                owner_url,
                runtime_url=runtime,
                app_role=settings.database_app_role,
                app_password=settings.database_app_password,
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
