"""Keys derived from a customer's fields, stored beside them and kept current on every write.

The customer as entered is never changed by a key; keys are what the database compares:
``email_key`` makes emails unique per tenant, case-insensitively.  Every write path
(form, grid, API, import, restore, undo) stores ``derived_keys(values)`` with the values
through ``data.customers.writes``, so no path can forget one.

The duplicate keys (``data.duplicates.keys``: phone in E.164, canonical email, email
domain, folded name and address) are derived keys too; the phone's depends on the
tenant's default region (``tenants.phone_region``), which the scope supplies
(``Scope.phone_region``).  Generic code (the import's staging, write and undo, their
before-images) takes every name in ``DERIVED_KEYS``.
"""

from __future__ import annotations

from collections.abc import Mapping

from data.duplicates.keys import DUPLICATE_KEYS, duplicate_keys

DERIVED_KEYS: tuple[str, ...] = ("email_key", *DUPLICATE_KEYS)


def normalise_email(email: str) -> str:
    """The key that makes emails unique per tenant, case-insensitively.

    Computed here, in Python, for both databases: SQLite's ``lower()`` folds only ASCII
    and PostgreSQL's depends on the database locale, so a database function would make
    ``Ä@x.de`` and ``ä@x.de`` equal on one database and different on the other.
    """
    return email.strip().lower()


def derived_keys(
    values: Mapping[str, str | None], region: str | None = None
) -> dict[str, str | None]:
    """The keys of a validated customer's values (every name in ``DERIVED_KEYS``).

    ``region`` is the tenant's default phone region ("DE"; None: numbers without a
    country code are compared by their digits).
    """
    email = values.get("email")
    return {
        "email_key": normalise_email(email) if email else None,
        **duplicate_keys(values, region),
    }
