"""A tenant with a user and many customers, for the benchmarks and the load tests.

Customers are validated like every write and bulk-inserted through
``data.customers.writes.insert_new``, the code path of the tests' ``seed_customers``
fixture: no audit event per customer, a batch in memory at a time.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from data.customers.writes import insert_new
from data.db import Database
from data.identity import Role
from data.sample import customers as sample_customers
from data.schemas import validate_customer
from data.tenancy import create_tenant
from data.users import create_user


@dataclass(frozen=True)
class SeededCustomer:
    id: str
    name: str
    email: str
    phone: str | None
    address: str | None

    def body(self, **changes: str | None) -> dict[str, str | None]:
        """The customer's fields as an API body, with ``changes``."""
        fields = {
            "name": self.name,
            "email": self.email,
            "phone": self.phone,
            "address": self.address,
        }
        return {**fields, **changes}


@dataclass(frozen=True)
class SeededTenant:
    tenant_id: str
    name: str
    username: str
    password: str
    customers: list[SeededCustomer]


def seed_tenant(
    database: Database,
    *,
    customers: int,
    seed: int = 2026,
    role: Role = Role.EDITOR,
    prefix: str = "seeded",
    email_prefix: str = "",
    keep: bool = True,
) -> SeededTenant:
    """A new tenant with one user of ``role`` and ``customers`` sample customers.

    ``email_prefix`` is put in front of each sample email (to make a second set of the
    same seed distinct); ``keep=False`` returns no customer list (for very large seeds).
    """
    suffix = secrets.token_hex(4)
    name = f"{prefix} {suffix}"
    username = f"{prefix}-{suffix}"
    password = secrets.token_urlsafe(16)
    records: list[dict[str, Any]] = []
    with database.transaction(None, write=True) as session:
        tenant = create_tenant(session, name)
        create_user(session, tenant.id, username, role, password)
    kept: list[SeededCustomer] = []

    def cleaned() -> Any:
        for record in sample_customers(customers, seed=seed):
            if email_prefix:
                record = {**record, "email": f"{email_prefix}{record['email']}"}
            clean = validate_customer(record)
            if keep:
                records.append(clean.fields())
            yield clean

    with database.transaction(tenant.id, write=True) as session:
        ids = insert_new(session, tenant.id, cleaned())
    if keep:
        kept = [
            SeededCustomer(
                customer_id,
                str(fields["name"]),
                str(fields["email"]),
                fields.get("phone"),
                fields.get("address"),
            )
            for customer_id, fields in zip(ids, records, strict=True)
        ]
    return SeededTenant(tenant.id, name, username, password, kept)
