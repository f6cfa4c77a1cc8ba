"""Tenants: create, find by id or name, list, delete.

On PostgreSQL a transaction sees only its own tenant's row of ``tenants``, or the one
row it names in ``app.lookup_tenant`` (the command line finds a tenant by id or name);
it may create only the tenant it has entered, and the runtime role may neither rename
nor delete one (migration 0003, ``data.administration.RUNTIME_GRANTS``).  Deleting a tenant is the
owner's: ``delete_tenant`` takes an owner connection.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import Connection, delete, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from data.db import LOOKUP_TENANT_SETTING, TENANT_SETTING, enter_tenant, set_local
from data.duplicates.keys import parse_region
from data.errors import Conflict, Invalid, NotFound
from data.models import NAME_MAX, Tenant, new_id, utcnow
from data.schemas import storable, unstorable


@dataclass(frozen=True)
class TenantInfo:
    id: str
    name: str


def create_tenant(session: Session, name: str, region: str | None = None) -> TenantInfo:
    """Create a tenant and enter it: the session's transaction now belongs to it.

    ``region``: its default phone region ("DE", or "none"); when not given, the
    installation's ``DEFAULT_PHONE_REGION``.
    """
    stored_region = _region(region)
    name = (name or "").strip()
    if not name:
        raise Invalid({"name": "Tenant name is required."})
    if len(name) > NAME_MAX:
        raise Invalid({"name": f"Tenant name must be at most {NAME_MAX} characters."})
    problem = unstorable("Tenant name", name)
    if problem is not None:
        raise Invalid({"name": problem})
    if find_tenant(session, name) is not None:
        raise Conflict(f"A tenant named {name!r} already exists.", field="name")
    tenant_id = new_id()
    enter_tenant(session, tenant_id)
    try:
        with session.begin_nested():
            session.execute(
                insert(Tenant).values(
                    id=tenant_id, name=name, created_at=utcnow(), phone_region=stored_region
                )
            )
            if session.get_bind().dialect.name == "sqlite":
                # The tenant's number: its customers' rowids are a range of their own.
                session.execute(
                    text(
                        "UPDATE tenants SET seq = (SELECT coalesce(max(seq), 0) + 1 "
                        "FROM tenants) WHERE id = :id"
                    ),
                    {"id": tenant_id},
                )
    except IntegrityError:
        raise Conflict(f"A tenant named {name!r} already exists.", field="name") from None
    return TenantInfo(tenant_id, name)


def find_tenant(session: Session, id_or_name: str) -> TenantInfo | None:
    """A tenant by id or by name (names compare case-insensitively)."""
    key = (id_or_name or "").strip()
    if not key or not storable(key):
        return None  # no tenant can have a name that cannot be stored
    set_local(session, LOOKUP_TENANT_SETTING, key)
    if _looks_like_uuid(key):
        row = session.execute(select(Tenant.id, Tenant.name).where(Tenant.id == key)).first()
        if row is not None:
            return TenantInfo(row.id, row.name)
    row = session.execute(
        select(Tenant.id, Tenant.name).where(func.lower(Tenant.name) == key.lower())
    ).first()
    return TenantInfo(row.id, row.name) if row is not None else None


def get_tenant(session: Session, id_or_name: str) -> TenantInfo:
    tenant = find_tenant(session, id_or_name)
    if tenant is None:
        raise NotFound("tenant", repr(id_or_name))
    return tenant


def delete_tenant(connection: Connection, tenant_id: str) -> None:
    """Delete a tenant; its users, customers and audit events go with it (cascade).

    The owner's work (``Database.owner_engine``): the runtime role may not delete
    tenants.  The owner too is held to row-level security, so it enters the tenant first.
    """
    if connection.dialect.name == "postgresql":
        connection.execute(
            text("SELECT set_config(:name, :value, true)"),
            {"name": TENANT_SETTING, "value": tenant_id},
        )
    result = connection.execute(delete(Tenant).where(Tenant.id == tenant_id))
    if result.rowcount == 0:
        raise NotFound("tenant", repr(tenant_id))


def _region(region: str | None) -> str | None:
    """The region to store: ``region`` checked, or the installation's default."""
    if region is None:
        from config import get_settings

        return get_settings().default_phone_region
    try:
        return parse_region(region)
    except ValueError as exc:
        raise Invalid({"region": str(exc)}) from None


def phone_region(session: Session, tenant_id: str) -> str | None:
    """The default phone region of the session's tenant ("DE"), or None."""
    return session.execute(
        select(Tenant.phone_region).where(Tenant.id == tenant_id)
    ).scalar_one_or_none()


def set_phone_region(connection: Connection, tenant_id: str, region: str) -> str | None:
    """Change a tenant's default phone region; returns it as stored (None: no region).

    The owner's work, as renaming would be (the runtime role may not update tenants):
    ``database.owner_engine().begin()``.  The stored phone keys still follow the old
    region until they are computed again (``data.duplicates.bulk.rebuild(rekey=True)``).
    """
    stored = _region(region)
    if connection.dialect.name == "postgresql":
        connection.execute(
            text("SELECT set_config(:name, :value, true)"),
            {"name": TENANT_SETTING, "value": tenant_id},
        )
    result = connection.execute(
        update(Tenant).where(Tenant.id == tenant_id).values(phone_region=stored)
    )
    if result.rowcount == 0:
        raise NotFound("tenant", repr(tenant_id))
    return stored


def _looks_like_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
