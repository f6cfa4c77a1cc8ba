"""Fixtures shared by every test: a migrated database per backend, tenants, users.

Every data and API test runs on SQLite and, when ``TEST_DATABASE_URL`` points at a
PostgreSQL server, on PostgreSQL as well (the ``database`` fixture is parametrised).
Under CI (``CI`` set) PostgreSQL and Chromium are required: a run without them fails
at start instead of silently skipping half the suite.

Tests isolate by data, not by wiping: each test creates its own tenants (unique names)
and users (unique usernames), so one migrated database serves a whole test session.
"""

from __future__ import annotations

import os
import secrets
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

# Settings for the whole test process, before anything reads them.
os.environ["BCRYPT_ROUNDS"] = "4"
os.environ.setdefault("JWT_SECRET", secrets.token_urlsafe(48))
os.environ.setdefault("COOKIE_KEY", secrets.token_urlsafe(48))
os.environ.pop("DATABASE_URL", None)

PROJECT_DIR = Path(__file__).resolve().parent.parent
TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "").strip()
IN_CI = os.environ.get("CI", "").lower() not in ("", "0", "false", "no")
CHROMIUM = Path("/usr/bin/chromium")

BACKENDS = ["sqlite"] + (["postgresql"] if TEST_DATABASE_URL else [])


def pytest_configure(config: pytest.Config) -> None:
    if not IN_CI:
        return
    missing = []
    if not TEST_DATABASE_URL:
        missing.append("TEST_DATABASE_URL (PostgreSQL)")
    if not CHROMIUM.exists():
        missing.append(f"Chromium at {CHROMIUM}")
    if missing:
        raise pytest.UsageError(
            "CI requires the PostgreSQL and browser tests, but these are missing: "
            + ", ".join(missing)
            + "."
        )


def use_settings(**values: str | None) -> None:
    """Change environment settings and drop every cached settings object and engine."""
    from config import get_settings
    from data.db import reset_databases

    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    get_settings.cache_clear()
    reset_databases()


# -- databases ------------------------------------------------------------------------


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def _postgres_database(name: str) -> tuple[str, Callable[[], None]]:
    """Create a fresh PostgreSQL database; return its URL and a function that drops it
    (with the runtime role init-db makes for it: ``tests.kit.databases``)."""
    from tests.kit.databases import create_scratch

    try:
        return create_scratch(TEST_DATABASE_URL, name)
    except Exception as exc:
        message = f"PostgreSQL at TEST_DATABASE_URL is not usable: {exc}"
        if IN_CI:
            raise RuntimeError(message) from exc
        pytest.skip(message)


@dataclass
class TestDatabase:
    """A migrated database for tests: its URL, and a ``Database`` on it."""

    backend: str
    url: str

    @property
    def db(self):  # type: ignore[no-untyped-def]
        from data.db import get_database

        return get_database(self.url)


@pytest.fixture(scope="session", params=BACKENDS, ids=lambda b: b)
def test_database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestDatabase]:
    """One migrated database per backend for the whole session."""
    backend = request.param
    drop: Callable[[], None] = lambda: None  # noqa: E731
    if backend == "sqlite":
        folder = tmp_path_factory.mktemp("sqlite")
        url = f"sqlite:///{folder / 'test.db'}"
    else:
        url, drop = _postgres_database(f"inventory_test_{_worker()}_{os.getpid()}")
    use_settings(DATABASE_URL=url)
    from data.db import get_database

    get_database(url).migrate()
    yield TestDatabase(backend, url)
    drop()


@pytest.fixture
def database(test_database: TestDatabase):  # type: ignore[no-untyped-def]
    """The ``data.db.Database`` of this backend; ``get_database()`` returns the same."""
    if os.environ.get("DATABASE_URL") != test_database.url:
        use_settings(DATABASE_URL=test_database.url)
    return test_database.db


@pytest.fixture
def backend(test_database: TestDatabase) -> str:
    return test_database.backend


# -- tenants and users ----------------------------------------------------------------


@dataclass(frozen=True)
class TenantFixture:
    id: str
    name: str
    admin: object  # data.users.UserInfo
    editor: object
    viewer: object
    passwords: dict[str, str]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def make_tenant(database):  # type: ignore[no-untyped-def]
    """Create a tenant with an admin, an editor and a viewer; returns a ``TenantFixture``."""
    from data.identity import Role
    from data.tenancy import create_tenant
    from data.users import create_user

    def make(name: str | None = None) -> TenantFixture:
        name = name or unique("tenant")
        users = {}
        passwords = {}
        with database.transaction(None, write=True) as session:
            tenant = create_tenant(session, name)
            for role in (Role.ADMIN, Role.EDITOR, Role.VIEWER):
                username = unique(role.value)
                user, password = create_user(session, tenant.id, username, role)
                users[role] = user
                passwords[username] = password
        return TenantFixture(
            tenant.id, name, users[Role.ADMIN], users[Role.EDITOR], users[Role.VIEWER], passwords
        )

    return make


@pytest.fixture
def tenant(make_tenant) -> TenantFixture:  # type: ignore[no-untyped-def]
    return make_tenant()


@pytest.fixture
def other_tenant(make_tenant) -> TenantFixture:  # type: ignore[no-untyped-def]
    return make_tenant()


@pytest.fixture
def identity_of(database):  # type: ignore[no-untyped-def]
    """``identity_of(user)``: an identity of ``user`` with a session of its own.

    What a signed-in browser holds: the session row is real, so every scope opened with
    it checks the user's current role and that the session still stands.
    """
    from data.credentials import open_session

    def identity(user):  # type: ignore[no-untyped-def]
        _, signed_in = open_session(database, user)
        return signed_in

    return identity


@pytest.fixture
def scope_of(database, identity_of):  # type: ignore[no-untyped-def]
    """``scope_of(tenant, user=None, write=False)``: a scope of the tenant, as ``user``.

    ``user`` defaults to the tenant's editor; an ``Identity`` is used as it is.
    """
    from contextlib import contextmanager

    from data.identity import Identity

    @contextmanager
    def open_scope(tenant: TenantFixture, user=None, *, write: bool = False):  # type: ignore[no-untyped-def]
        who = user if isinstance(user, Identity) else identity_of(user or tenant.editor)
        with database.scope(who, write=write) as scope:
            yield scope

    return open_scope


@pytest.fixture
def customers_of(scope_of):  # type: ignore[no-untyped-def]
    """``customers_of(tenant, user=None, write=False)``: a repository in a scope."""
    from contextlib import contextmanager

    @contextmanager
    def open_repository(tenant: TenantFixture, user=None, *, write: bool = False):  # type: ignore[no-untyped-def]
        with scope_of(tenant, user, write=write) as scope:
            yield scope.customers

    return open_repository


@pytest.fixture
def add_customers(customers_of):  # type: ignore[no-untyped-def]
    """``add_customers(tenant, n)`` → the created customers (realistic sample data)."""
    from data.sample import customers

    def add(tenant: TenantFixture, count: int = 3, seed: int | None = None) -> list:  # type: ignore[type-arg]
        seed = seed if seed is not None else secrets.randbelow(10**9)
        created = []
        with customers_of(tenant, write=True) as repository:
            for record in customers(count, seed=seed, start=secrets.randbelow(10**6) * 1000):
                created.append(repository.create(record))
        return created

    return add


@pytest.fixture
def seed_customers(database):  # type: ignore[no-untyped-def]
    """``seed_customers(tenant_id, records)``: many customers in one set-based insert.

    The one bulk seeding of the tests and the bench (``data.customers.writes.insert_new``):
    validated like any write, stored with their keys (and, on SQLite, rowids from the
    tenant's range), without an audit event each.  Returns the new ids in the order of
    ``records``.
    """
    from data.customers.writes import insert_new
    from data.schemas import validate_customer

    def seed(tenant_id: str, records) -> list[str]:  # type: ignore[no-untyped-def]
        cleans = [validate_customer(record) for record in records]
        with database.transaction(tenant_id, write=True) as session:
            return insert_new(session, tenant_id, cleans)

    return seed


@pytest.fixture
def owner_sql(database):  # type: ignore[no-untyped-def]
    """``with owner_sql(tenant_id) as conn:``: a connection as the tables' owner, in a
    transaction entered into the tenant (PostgreSQL's policies hold the owner too).

    For tests that change what the application could not (a role behind its back, a
    session row), to prove the application re-reads them.
    """
    from contextlib import contextmanager

    from sqlalchemy import text

    @contextmanager
    def connect(tenant_id: str | None = None):  # type: ignore[no-untyped-def]
        with database.owner_engine().begin() as conn:
            if tenant_id is not None and conn.dialect.name == "postgresql":
                conn.execute(text("SELECT set_config('app.tenant_id', :t, true)"), {"t": tenant_id})
            yield conn

    return connect


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's Chromium; browser tests skip without it (CI fails at start instead)."""
    if not CHROMIUM.exists() or shutil.which(str(CHROMIUM)) is None:
        pytest.skip("Chromium is not installed at /usr/bin/chromium")
    return CHROMIUM
