"""The tenant-scoped unit of work: ``with database.scope(identity, write=True) as scope:``.

A scope is one transaction of one tenant.  Before anything else it reads, in that same
transaction, who is acting now: the user named by the identity, their current role, and
whether the session or API token that vouches for them still stands.  Every repository
of the scope (``scope.customers``, ``scope.users``, ``scope.audit``, ...) checks rights
against that actor, so authority always comes from the database at the moment of the
work, never from an object kept from an earlier request or run.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import TYPE_CHECKING

from sqlalchemy import Select, Table, and_, bindparam, select
from sqlalchemy.orm import Session

from data.errors import Unauthenticated
from data.identity import Actor, Identity, Permission, Role
from data.models import Credential, Tenant, User, utcnow

if TYPE_CHECKING:
    from data.audit import AuditLog
    from data.credentials import Credentials
    from data.customers import CustomerRepository
    from data.db import Database
    from data.duplicates.service import Duplicates
    from data.users import UserDirectory

SESSION_ENDED = "Your session has ended; please sign in again."
ACCOUNT_GONE = "Your account no longer exists; please contact your admin."


class Scope:
    """One transaction of one tenant, and who acts in it (read from the database)."""

    def __init__(
        self, session: Session, identity: Identity, actor: Actor, phone_region: str | None
    ) -> None:
        if session.info.get("tenant_id") != identity.tenant_id:
            raise ValueError("session and identity are for different tenants")
        self.session = session
        self.identity = identity
        self.actor = actor
        # The tenant's default phone region ("DE"), read with the actor in this
        # transaction: the phone key of every customer this scope writes is computed
        # with it (``data.keys``).
        self.phone_region = phone_region

    @property
    def tenant_id(self) -> str:
        return self.identity.tenant_id

    @property
    def dialect(self) -> str:
        return self.session.get_bind().dialect.name

    def tenant_name(self) -> str:
        """The name of the scope's tenant."""
        from data.tenancy import get_tenant

        return get_tenant(self.session, self.tenant_id).name

    def require(self, permission: Permission) -> Actor:
        """The actor, if their current role allows ``permission``; else ``Forbidden``."""
        self.actor.require(permission)
        return self.actor

    @cached_property
    def duplicates(self) -> Duplicates:
        from data.duplicates.service import Duplicates

        return Duplicates(self)

    @cached_property
    def customers(self) -> CustomerRepository:
        from data.customers import CustomerRepository

        return CustomerRepository(self)

    @cached_property
    def users(self) -> UserDirectory:
        from data.users import UserDirectory

        return UserDirectory(self)

    @cached_property
    def audit(self) -> AuditLog:
        from data.audit import AuditLog

        return AuditLog(self.session, self.tenant_id)

    @cached_property
    def credentials(self) -> Credentials:
        from data.credentials import Credentials

        return Credentials(self)


USERS: Table = User.__table__  # type: ignore[assignment]
CREDENTIALS: Table = Credential.__table__  # type: ignore[assignment]
TENANTS: Table = Tenant.__table__  # type: ignore[assignment]


def _actor_query(*, lock: bool) -> Select[tuple[str, str, str | None, str | None]]:
    """The user of a credential that still stands: one indexed join, by primary keys.

    It also reads the tenant's phone region (``Scope.phone_region``), which every write
    of a customer needs: one statement instead of two.
    """
    users, credentials = USERS.c, CREDENTIALS.c
    region = select(TENANTS.c.phone_region).where(TENANTS.c.id == users.tenant_id).scalar_subquery()
    query = (
        select(users.username, users.role, users.display_name, region.label("phone_region"))
        .join(
            CREDENTIALS,
            and_(credentials.user_id == users.id, credentials.tenant_id == users.tenant_id),
        )
        .where(
            users.tenant_id == bindparam("tenant"),
            users.id == bindparam("user"),
            credentials.id == bindparam("credential"),
            credentials.expires_at > bindparam("now"),
        )
    )
    return query.with_for_update(read=True, of=USERS) if lock else query


# Built once: this runs at the start of every scope (every API request, every page), and
# building the statement cost more than running it.
ACTOR_QUERY = _actor_query(lock=False)
ACTOR_QUERY_LOCKED = _actor_query(lock=True)
USER_EXISTS = select(USERS.c.id).where(
    USERS.c.tenant_id == bindparam("tenant"), USERS.c.id == bindparam("user")
)


def read_actor(
    session: Session, identity: Identity, *, write: bool = False
) -> tuple[Actor, str | None]:
    """Who ``identity`` is now (or ``Unauthenticated`` with a sentence), and the tenant's
    phone region (in the same statement, for a user).

    In a write scope on PostgreSQL the user's row is locked ``FOR SHARE`` until the end of
    the transaction: a role change or removal committed meanwhile waits for the write,
    and one committed just before is what this read sees (READ COMMITTED re-reads a row
    it waited for).  SQLite's writers take turns (``BEGIN IMMEDIATE``) anyway.
    """
    if identity.operator is not None:
        from data.tenancy import phone_region

        actor = Actor(identity.operator, Role.ADMIN, identity.operator)
        return actor, phone_region(session, identity.tenant_id)
    if not identity.user_id or not identity.credential_id:
        raise Unauthenticated(SESSION_ENDED)
    lock = write and session.get_bind().dialect.name == "postgresql"
    row = session.execute(
        ACTOR_QUERY_LOCKED if lock else ACTOR_QUERY,
        {
            "tenant": identity.tenant_id,
            "user": identity.user_id,
            "credential": identity.credential_id,
            "now": utcnow(),
        },
    ).first()
    if row is not None:
        actor = Actor(row.username, Role(row.role), row.display_name, identity.user_id)
        return actor, row.phone_region
    exists = session.execute(
        USER_EXISTS, {"tenant": identity.tenant_id, "user": identity.user_id}
    ).first()
    raise Unauthenticated(SESSION_ENDED if exists is not None else ACCOUNT_GONE)


@contextmanager
def open_scope(database: Database, identity: Identity, *, write: bool = False) -> Iterator[Scope]:
    with database.transaction(identity.tenant_id, write=write) as session:
        yield Scope(session, identity, *read_actor(session, identity, write=write))
