"""The demo tenant: "Acme Demo" with an admin, an editor, a viewer and ~300 customers."""

from __future__ import annotations

from dataclasses import dataclass

from data.db import Database
from data.identity import Identity, Role
from data.sample import customers
from data.scope import Scope, read_actor
from data.tenancy import create_tenant, find_tenant
from data.users import create_user

DEMO_TENANT = "Acme Demo"
DEMO_USERS = (("admin", Role.ADMIN), ("editor", Role.EDITOR), ("viewer", Role.VIEWER))


@dataclass(frozen=True)
class DemoTenant:
    tenant_id: str
    created: bool
    passwords: dict[str, str]  # username -> password; empty when it already existed


def load_demo(database: Database, count: int = 300, seed: int = 7) -> DemoTenant:
    """Create the demo tenant once; a second call changes nothing."""
    passwords: dict[str, str] = {}
    with database.transaction(None, write=True) as session:
        existing = find_tenant(session, DEMO_TENANT)
        if existing is not None:
            return DemoTenant(existing.id, created=False, passwords={})
        tenant = create_tenant(session, DEMO_TENANT)
        for username, role in DEMO_USERS:
            _, password = create_user(
                session,
                tenant.id,
                username,
                role,
                display_name=f"Demo {role.value}",
                email=f"{username}@acme.example.com",
            )
            passwords[username] = password
        loader = Identity.of_operator(tenant.id, "demo")
        repository = Scope(session, loader, *read_actor(session, loader)).customers
        for record in customers(count, seed=seed):
            repository.create(record)
    return DemoTenant(tenant.id, created=True, passwords=passwords)
