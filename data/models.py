"""Tables, as SQLAlchemy 2 declarative classes.

Every table that holds a tenant's data carries ``tenant_id`` first in its primary key
and in every index, so the schema can be distributed by tenant (Citus) unchanged, and
so that every lookup a repository makes is a tenant-prefixed index seek.

The migration in ``migrations/versions`` is the source of truth for the database; it
adds what SQLAlchemy's metadata cannot express portably (row-level security, the
trigram search indexes, the counter triggers).
"""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

NAME_MAX = 200
EMAIL_MAX = 254
PHONE_MAX = 50
ADDRESS_MAX = 500


def new_id() -> str:
    return str(uuid.uuid4())


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every database.

    PostgreSQL stores ``timestamptz``; SQLite stores naive UTC text that sorts in time
    order.  Values always come back aware, in UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use datetime.now(UTC)")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        moment: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
        if moment.tzinfo is None:
            return moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)


JSONType = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Role(enum.StrEnum):
    ADMIN = "admin"
    EDITOR = "editor"
    VIEWER = "viewer"


class Action(enum.StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    RESTORE = "restore"
    IMPORT = "import"
    UNDO_IMPORT = "undo_import"


class Tenant(Base):
    __tablename__ = "tenants"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(NAME_MAX), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TenantScoped:
    """Mixin: the tenant column every tenant table starts with."""

    tenant_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )


class User(Base):
    """A person who signs in; usernames are unique across the installation.

    ``credentials_changed_at`` is compared with the issue time of cookies and API tokens:
    anything issued before the last password change no longer signs in.
    """

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    username: Mapped[str] = mapped_column(String(150), unique=True)
    display_name: Mapped[str] = mapped_column(String(NAME_MAX))
    email: Mapped[str | None] = mapped_column(String(EMAIL_MAX))
    password_hash: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    credentials_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Customer(TenantScoped, Base):
    """A tenant's customer.  ``email_key`` is the one normalised form used for uniqueness.

    On SQLite the migration adds an ``INTEGER PRIMARY KEY`` (``seq``) so that the FTS5
    search index can follow rows by a rowid that ``VACUUM`` never renumbers.
    """

    __tablename__ = "customers"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(NAME_MAX))
    email: Mapped[str] = mapped_column(String(EMAIL_MAX))
    email_key: Mapped[str] = mapped_column(String(EMAIL_MAX))
    phone: Mapped[str | None] = mapped_column(String(PHONE_MAX))
    address: Mapped[str | None] = mapped_column(String(ADDRESS_MAX))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __table_args__ = (
        UniqueConstraint("tenant_id", "email_key", name="uq_customers_tenant_email"),
        Index("ix_customers_tenant_name", "tenant_id", "name", "id"),
        Index("ix_customers_tenant_phone", "tenant_id", "phone", "id"),
        Index("ix_customers_tenant_address", "tenant_id", "address", "id"),
        Index("ix_customers_tenant_created", "tenant_id", "created_at", "id"),
        Index("ix_customers_tenant_updated", "tenant_id", "updated_at", "id"),
    )


class CustomerCount(TenantScoped, Base):
    """Per tenant: the number of customers, and counters of changes to them.

    All are kept exact by triggers in the same transaction as the change.  They tell
    cached paging anchors (data/paging.py) whether they still hold: ``changes`` counts
    every insert, update and delete; ``moves`` inserts and deletes; ``name_changes`` …
    ``address_changes`` the updates that changed that sort's key (migration 0002).
    """

    __tablename__ = "customer_counts"

    n: Mapped[int] = mapped_column(Integer, default=0)
    changes: Mapped[int] = mapped_column(BigInteger, default=0)
    moves: Mapped[int] = mapped_column(BigInteger, default=0)
    name_changes: Mapped[int] = mapped_column(BigInteger, default=0)
    email_changes: Mapped[int] = mapped_column(BigInteger, default=0)
    phone_changes: Mapped[int] = mapped_column(BigInteger, default=0)
    address_changes: Mapped[int] = mapped_column(BigInteger, default=0)


class AuditEvent(TenantScoped, Base):
    __tablename__ = "audit_events"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(150))
    action: Mapped[str] = mapped_column(String(20))
    customer_id: Mapped[str | None] = mapped_column(String(36))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONType)

    __table_args__ = (
        Index("ix_audit_events_tenant_at", "tenant_id", "at"),
        Index("ix_audit_events_tenant_customer", "tenant_id", "customer_id", "at"),
    )


class ImportChange(TenantScoped, Base):
    """What one import did to one customer, written set-based, so it can be undone.

    ``kind`` is ``created`` or ``updated``; for ``updated`` the ``before_*`` columns hold
    the row as it was.  ``version_after`` lets the undo refuse rows edited since.
    """

    __tablename__ = "import_changes"

    import_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    version_after: Mapped[int] = mapped_column(Integer)
    before_name: Mapped[str | None] = mapped_column(String(NAME_MAX))
    before_email: Mapped[str | None] = mapped_column(String(EMAIL_MAX))
    before_phone: Mapped[str | None] = mapped_column(String(PHONE_MAX))
    before_address: Mapped[str | None] = mapped_column(String(ADDRESS_MAX))
    before_version: Mapped[int | None] = mapped_column(Integer)
    before_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuthThrottle(Base):
    """Failed sign-ins per username (``user:...``) and per client (``client:...``)."""

    __tablename__ = "auth_throttle"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


TENANT_TABLES = ("users", "customers", "customer_counts", "audit_events", "import_changes")

__all__ = [
    "ADDRESS_MAX",
    "EMAIL_MAX",
    "NAME_MAX",
    "PHONE_MAX",
    "TENANT_TABLES",
    "Action",
    "AuditEvent",
    "AuthThrottle",
    "Base",
    "Customer",
    "CustomerCount",
    "ImportChange",
    "Role",
    "Tenant",
    "User",
    "new_id",
    "utcnow",
]
