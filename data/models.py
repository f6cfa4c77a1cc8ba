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
from typing import Any, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from data.duplicates.keys import KEY_LIMITS
from data.fields import BY_NAME, FIELDS
from data.identity import Role

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Lengths of columns that are not customer fields (a customer's are in data.fields).
NAME_MAX = BY_NAME["name"].max_length  # tenant and display names: as long as a customer's
EMAIL_MAX = BY_NAME["email"].max_length
# The keys the duplicate finder groups customers by (data.duplicates.records.BlockKey).
BLOCK_KEYS = ("phone_key", "email_canon", "email_domain", "address_key")


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


class Action(enum.StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    RESTORE = "restore"
    IMPORT = "import"
    UNDO_IMPORT = "undo_import"
    MERGE = "merge"  # two customers made one (data.duplicates.merge)
    UNDO_MERGE = "undo_merge"
    DISMISS = "dismiss"  # a suspected duplicate pair declared two customers


class Tenant(Base):
    __tablename__ = "tenants"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(NAME_MAX), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The region national phone numbers are read in ("DE"), for the phone key.
    phone_region: Mapped[str | None] = mapped_column(String(3))


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


def _field_columns() -> dict[str, Any]:
    """The columns of the customer's fields, from their one declaration."""
    return {
        field.name: mapped_column(String(field.max_length), nullable=not field.required)
        for field in FIELDS
    }


class Customer(TenantScoped, Base):
    """A tenant's customer: its fields (``data.fields``), keys derived from them, versions.

    ``email_key`` is the one normalised form used for uniqueness (``data.keys``).  The
    field columns are made from ``FIELDS``; code that names one reads it from
    ``CUSTOMERS.c`` (the table), which the type checker accepts.

    On SQLite the migrations add an ``INTEGER PRIMARY KEY`` (``seq``) so that the FTS5
    search index can follow rows by a rowid that ``VACUUM`` never renumbers; each
    tenant's customers get a range of their own (``data.customers.writes``).
    """

    __tablename__ = "customers"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    locals().update(_field_columns())
    email_key: Mapped[str] = mapped_column(String(EMAIL_MAX))
    # Duplicate keys (data.duplicates.keys; migration 0004), kept by every write.
    phone_key: Mapped[str | None] = mapped_column(String(KEY_LIMITS["phone_key"]))
    email_canon: Mapped[str | None] = mapped_column(String(KEY_LIMITS["email_canon"]))
    email_domain: Mapped[str | None] = mapped_column(String(KEY_LIMITS["email_domain"]))
    name_key: Mapped[str | None] = mapped_column(String(KEY_LIMITS["name_key"]))
    address_key: Mapped[str | None] = mapped_column(String(KEY_LIMITS["address_key"]))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __table_args__ = (
        UniqueConstraint("tenant_id", "email_key", name="uq_customers_tenant_email"),
        # Each field's sort reads its index (the email's is the unique key above).
        *(
            Index(f"ix_customers_tenant_{field.name}", "tenant_id", field.name, "id")
            for field in FIELDS
            if field.kind != "email"
        ),
        Index("ix_customers_tenant_created", "tenant_id", "created_at", "id"),
        Index("ix_customers_tenant_updated", "tenant_id", "updated_at", "id"),
        # The duplicate finder's blocks: equal key values adjacent, names in order.
        *(
            Index(
                f"ix_customers_tenant_{key}",
                "tenant_id",
                key,
                "name_key",
                sqlite_where=text(f"{key} IS NOT NULL"),
                postgresql_where=text(f"{key} IS NOT NULL"),
            )
            for key in BLOCK_KEYS
        ),
    )


CUSTOMERS = cast("Table", Customer.__table__)


class CustomerCount(TenantScoped, Base):
    """Per tenant: the number of customers, and counters of changes to them.

    All are kept exact by triggers in the same transaction as the change.  They tell
    cached paging anchors (data/paging.py) whether they still hold: ``changes`` counts
    every insert, update and delete; ``moves`` inserts and deletes; ``<field>_changes``
    the updates that changed that field's sort key (migration 0002).
    """

    __tablename__ = "customer_counts"

    n: Mapped[int] = mapped_column(Integer, default=0)
    changes: Mapped[int] = mapped_column(BigInteger, default=0)
    moves: Mapped[int] = mapped_column(BigInteger, default=0)
    locals().update(
        {field.change_counter: mapped_column(BigInteger, default=0) for field in FIELDS}
    )


COUNTS = cast("Table", CustomerCount.__table__)


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

    ``kind`` is ``created`` or ``updated``; for ``updated``, ``before`` holds the stored
    columns as they were (the fields and their keys, as JSON) and the version and time
    of the last change.  ``version_after`` lets the undo refuse rows edited since.
    """

    __tablename__ = "import_changes"

    import_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    version_after: Mapped[int] = mapped_column(Integer)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    before_version: Mapped[int | None] = mapped_column(Integer)
    before_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Credential(TenantScoped, Base):
    """A dashboard session or an API token: what vouches for a signed-in user.

    A session's cookie holds a random secret; only its keyed hash (``secret_hash``) is
    stored.  An API token is a signed JWT whose ``jti`` is this row's id.  Deleting the
    row ends the session or token at once: signing out, a password or role change and
    removing the user all do that (the last by cascade).
    """

    __tablename__ = "credentials"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(10))  # "session" or "token"
    secret_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AuthThrottle(Base):
    """Failed sign-ins per username (``user:...``) and per client (``client:...``)."""

    __tablename__ = "auth_throttle"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DuplicatePair(TenantScoped, Base):
    """Two customers of a tenant that look like one (``data.duplicates``).

    ``customer_a < customer_b``.  ``reasons`` are ``Reason`` values joined by commas.
    A pair is ``open`` (in the queue) or ``dismissed`` ("not a duplicate", for good: a
    dismissed pair keeps its row, so finding it again never reopens it).  Open pairs of a
    deleted customer are removed with it; the queue reads only pairs whose customers both
    exist.
    """

    __tablename__ = "duplicate_pairs"

    customer_a: Mapped[str] = mapped_column(String(36), primary_key=True)
    customer_b: Mapped[str] = mapped_column(String(36), primary_key=True)
    score: Mapped[int] = mapped_column(Integer)
    reasons: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(10), default="open")
    found_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(150))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint("customer_a < customer_b", name="ordered"),
        CheckConstraint("status IN ('open', 'dismissed')", name="status"),
        Index("ix_duplicate_pairs_tenant_b", "tenant_id", "customer_b"),
        # The queue, best first.  Not covering the ids: SQLite would then read a tenant's
        # whole queue for "the pairs of customer X" instead of seeking the key or the
        # index on customer_b.
        Index("ix_duplicate_pairs_tenant_queue", "tenant_id", "status", "score"),
    )


DUPLICATE_PAIRS = cast("Table", DuplicatePair.__table__)

TENANT_TABLES = (
    "users",
    "customers",
    "customer_counts",
    "audit_events",
    "import_changes",
    "credentials",
    "duplicate_pairs",
)

__all__ = [
    "COUNTS",
    "CUSTOMERS",
    "DUPLICATE_PAIRS",
    "EMAIL_MAX",
    "NAME_MAX",
    "TENANT_TABLES",
    "Action",
    "AuditEvent",
    "AuthThrottle",
    "Base",
    "Credential",
    "Customer",
    "CustomerCount",
    "DuplicatePair",
    "ImportChange",
    "Role",
    "Tenant",
    "User",
    "new_id",
    "utcnow",
]
