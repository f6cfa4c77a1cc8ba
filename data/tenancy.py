"""Tenants, and who is acting in one: the ``Actor`` and what each role may do."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from data.errors import Conflict, Forbidden, Invalid, NotFound
from data.models import NAME_MAX, Role, Tenant, new_id, utcnow
from data.schemas import storable, unstorable


class Permission(StrEnum):
    READ = "read"
    EXPORT = "export"
    WRITE = "write"
    IMPORT = "import"
    MANAGE_USERS = "manage users"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.VIEWER: frozenset({Permission.READ, Permission.EXPORT}),
    Role.EDITOR: frozenset(
        {Permission.READ, Permission.EXPORT, Permission.WRITE, Permission.IMPORT}
    ),
    Role.ADMIN: frozenset(Permission),
}

DENIED = {
    Permission.READ: "read customers",
    Permission.EXPORT: "export customers",
    Permission.WRITE: "change customers",
    Permission.IMPORT: "import customers",
    Permission.MANAGE_USERS: "manage users",
}


@dataclass(frozen=True)
class Actor:
    """Who is acting: recorded in the audit log and checked before every write."""

    username: str
    role: Role

    def can(self, permission: Permission) -> bool:
        return permission in ROLE_PERMISSIONS[self.role]

    def require(self, permission: Permission) -> None:
        if not self.can(permission):
            raise Forbidden(
                f"Your role ({self.role.value}) does not allow you to {DENIED[permission]}."
            )


def parse_role(value: str) -> Role:
    try:
        return Role(value.strip().lower())
    except ValueError:
        choices = ", ".join(role.value for role in Role)
        raise Invalid({"role": f"Role must be one of {choices}, not {value!r}."}) from None


@dataclass(frozen=True)
class TenantInfo:
    id: str
    name: str


def create_tenant(session: Session, name: str) -> TenantInfo:
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
    try:
        with session.begin_nested():
            session.execute(insert(Tenant).values(id=tenant_id, name=name, created_at=utcnow()))
    except IntegrityError:
        raise Conflict(f"A tenant named {name!r} already exists.", field="name") from None
    return TenantInfo(tenant_id, name)


def find_tenant(session: Session, id_or_name: str) -> TenantInfo | None:
    """A tenant by id or by name (names compare case-insensitively)."""
    key = (id_or_name or "").strip()
    if not key or not storable(key):
        return None  # no tenant can have a name that cannot be stored
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


def list_tenants(session: Session) -> list[TenantInfo]:
    rows = session.execute(select(Tenant.id, Tenant.name).order_by(Tenant.name))
    return [TenantInfo(row.id, row.name) for row in rows]


def delete_tenant(session: Session, tenant_id: str) -> None:
    """Delete a tenant; its users, customers and audit events go with it (cascade)."""
    result = session.execute(delete(Tenant).where(Tenant.id == tenant_id))
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise NotFound("tenant", repr(tenant_id))


def _looks_like_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
