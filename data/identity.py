"""Who is acting: roles, what each role may do, the claimed ``Identity`` and the ``Actor``.

Two ideas, kept apart on purpose:

* ``Identity`` is what a front door holds between requests: ids only (the tenant, the
  user, and the session or API token that vouches for them; or, for the command line,
  the operator's name).  It grants nothing by itself.
* ``Actor`` is who acts in one transaction: the user's name and *current* role, read
  from the database by ``Database.scope`` in the same transaction as the work, after
  checking that the session or token still stands.  Every write asks the actor of its
  own scope, so a user demoted, removed or signed out between two clicks writes nothing.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from data.errors import Forbidden, Invalid


class Role(enum.StrEnum):
    ADMIN = "admin"
    EDITOR = "editor"
    VIEWER = "viewer"


class Permission(enum.StrEnum):
    READ = "read"
    EXPORT = "export"
    WRITE = "write"
    IMPORT = "import"
    MANAGE_USERS = "manage users"


# The one table of what each role may do; "at least editor" is "has editor's rights".
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


def at_least(role: Role, minimum: Role) -> bool:
    """True when ``role`` may do everything ``minimum`` may."""
    return ROLE_PERMISSIONS[minimum] <= ROLE_PERMISSIONS[role]


def lesser(one: Role, other: Role) -> Role:
    """The role with fewer rights."""
    return one if at_least(other, one) else other


def parse_role(value: str) -> Role:
    try:
        return Role(str(value).strip().lower())
    except ValueError:
        choices = ", ".join(role.value for role in Role)
        raise Invalid({"role": f"Role must be one of {choices}, not {value!r}."}) from None


def forbidden(role: Role, permission: Permission) -> Forbidden:
    return Forbidden(f"Your role ({role.value}) does not allow you to {DENIED[permission]}.")


@dataclass(frozen=True)
class Identity:
    """Who a request says it comes from; checked against the database in every scope.

    ``credential_id`` is the id of the session or API token row that vouches for the
    user; an ``operator`` identity (the command line, run by whoever may run it on the
    server) has neither user nor credential and acts as an admin of the tenant.
    """

    tenant_id: str
    user_id: str | None = None
    credential_id: str | None = None
    operator: str | None = None

    @classmethod
    def of_operator(cls, tenant_id: str, name: str) -> Identity:
        return cls(tenant_id=tenant_id, operator=name)


@dataclass(frozen=True)
class Actor:
    """Who acts in one scope, as the database says now; only ``data.scope`` makes one."""

    username: str
    role: Role
    display_name: str
    user_id: str | None = None  # None for the operator

    def can(self, permission: Permission) -> bool:
        return permission in ROLE_PERMISSIONS[self.role]

    def require(self, permission: Permission) -> None:
        if not self.can(permission):
            raise forbidden(self.role, permission)
