"""Reading candidates from the customers table: by block (bulk) or around one customer.

Both read only the key columns, through the indexes of migration 0004
``(tenant_id, <key>, name_key) WHERE <key> IS NOT NULL``:

* ``stream(...)``: one pass of the bulk finder, ``ORDER BY <key>, name_key``, streamed
  (``yield_per``): only the groups of values that two or more customers share
  (``shared_values``), optionally only of some values (those of an import's customers),
  ``VALUES_PER_QUERY`` at a time;
* ``sharing(...)``: after one write, the customers sharing any key with the changed one,
  in one round trip (a statement built once per set of keys): per key the ``nearest``
  names on either side of its name, which is every member of a group up to that size.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Select, and_, bindparam, func, select, union_all
from sqlalchemy.orm import Session

from data.duplicates.finder import lookup_keys
from data.duplicates.records import STRONG_KEYS, BlockKey, Candidate
from data.duplicates.scoring import DEFAULT_SETTINGS, FinderSettings
from data.models import CUSTOMERS

C = CUSTOMERS.c
KEY_COLUMNS: tuple[Any, ...] = (
    C.id,
    C.name_key,
    C.email_canon,
    C.email_domain,
    C.phone_key,
    C.address_key,
)
STREAM_BATCH = 5000
# ``stream(values=...)``: groups read per statement.  A list of values, not a subquery:
# with the statistics of a table an import has just filled, PostgreSQL planned
# ``<key> IN (SELECT ... FROM import_changes ...)`` as a nested loop that re-ran the
# subquery per customer (minutes for 12,000 customers in one domain).
VALUES_PER_QUERY = 1000
STRONG_COLUMNS = frozenset(key.value for key in STRONG_KEYS)


def candidate(row: Any) -> Candidate:
    """A candidate from a row of ``KEY_COLUMNS``."""
    return Candidate(
        id=row.id,
        name_key=row.name_key or "",
        email_canon=row.email_canon,
        email_domain=row.email_domain,
        phone_key=row.phone_key,
        address_key=row.address_key,
    )


def stream(
    session: Session,
    tenant_id: str,
    key: BlockKey,
    settings: FinderSettings = DEFAULT_SETTINGS,
    *,
    values: Sequence[str] | None = None,
) -> Iterator[Candidate]:
    """The tenant's customers in groups that can hold a pair: equal values adjacent, names
    in order.

    A value held by one customer makes no pair, and most values are held by one (a
    phone, an email); so the database first names the values that two or more share
    (``shared_values``, an index-only count), and only their customers are read.
    ``values``: only the groups of these values (an import's); free-mail domains are
    left out of the domain pass here already.
    """
    column = C[key.value]
    query = select(*KEY_COLUMNS).where(C.tenant_id == tenant_id, column.is_not(None))
    query = query.order_by(column, C.name_key)
    wanted = shared_values(session, tenant_id, key, settings, values=values)
    # Each chunk holds whole groups (a value is in one chunk only), so equal values stay
    # adjacent across chunks.
    for chunk in _chunks(wanted):
        result = session.execute(
            query.where(column.in_(chunk)), execution_options={"yield_per": STREAM_BATCH}
        )
        for row in result:
            yield candidate(row)


def _chunks(values: Sequence[str]) -> Iterator[Sequence[str]]:
    """``values`` in lists of at most ``VALUES_PER_QUERY`` (one ``IN`` list each)."""
    for start in range(0, len(values), VALUES_PER_QUERY):
        yield values[start : start + VALUES_PER_QUERY]


def shared_values(
    session: Session,
    tenant_id: str,
    key: BlockKey,
    settings: FinderSettings = DEFAULT_SETTINGS,
    *,
    values: Sequence[str] | None = None,
) -> list[str]:
    """The values of ``key`` (of ``values``, when given) that two or more of the tenant's
    customers share, in order: one pass over the key's index, no row read.

    The domain pass also leaves out the free-mail domains and a domain of more than
    ``max_domain`` customers, which ``pairs_in_pass`` would skip after reading it (exactly
    so while ``max_domain < max_group``: a larger group is never chunked first).
    """
    column = C[key.value]
    query = select(column).where(C.tenant_id == tenant_id, column.is_not(None))
    count = func.count()
    bounds = [count > 1]
    if key is BlockKey.DOMAIN:
        if settings.shared_domains:
            query = query.where(column.not_in(sorted(settings.shared_domains)))
        if settings.max_domain < settings.max_group:
            bounds.append(count <= settings.max_domain)
    query = query.group_by(column).having(*bounds)
    if values is None:
        return sorted(session.execute(query).scalars())
    found: list[str] = []
    for chunk in _chunks(sorted(set(values))):
        found += session.execute(query.where(column.in_(chunk))).scalars()
    return sorted(found)


def sharing(
    session: Session,
    tenant_id: str,
    changed: Candidate,
    settings: FinderSettings = DEFAULT_SETTINGS,
) -> list[Candidate]:
    """The customers (not ``changed`` itself) sharing a key with ``changed``: one query.

    Per key, two seeks of the key's index: the ``nearest`` names from ``changed``'s name
    up, and as many down (and, for a phone or an email, customers without a folded
    name); ``nearest_names`` for a domain or an address, where only a similar name
    counts.  So a small group is read whole, and of a larger one (a company's domain, a
    switchboard's number) the names nearest in order, as the bulk passes read a huge
    group: a write stays a few index seeks however large the tenant.  What this misses
    (a similar name far away in a group of hundreds) the next rebuild finds.
    """
    wanted = lookup_keys(changed, settings)
    domain = wanted.get(BlockKey.DOMAIN)
    if domain is not None and _group_exceeds(session, tenant_id, domain, settings.max_domain):
        del wanted[BlockKey.DOMAIN]  # a shared domain, as the bulk pass skips it
    if not wanted:
        return []
    values: dict[str, Any] = {
        "tenant": tenant_id,
        "changed": changed.id,
        "name": changed.name_key,
        **{f"value_{key.value}": value for key, value in wanted.items()},
    }
    limits = tuple(
        (key.value, settings.nearest if key in STRONG_KEYS else settings.nearest_names)
        for key in wanted
    )
    query = _sharing_query(limits)
    seen: dict[str, Candidate] = {}
    for row in session.execute(query, values):
        seen.setdefault(row.id, candidate(row))
    return list(seen.values())


# Built once (it runs in every write of a customer with an email), its values bound.
FIRST_OVER = (
    select(C.id)
    .where(C.tenant_id == bindparam("tenant"), C.email_domain == bindparam("domain"))
    .order_by(C.email_domain, C.name_key)
    .offset(bindparam("limit"))
    .limit(1)
)


def _group_exceeds(session: Session, tenant_id: str, domain: str, limit: int) -> bool:
    """Whether more than ``limit`` customers of the tenant have this email domain (an index
    seek reading at most ``limit + 1`` entries)."""
    first_over = session.execute(
        FIRST_OVER, {"tenant": tenant_id, "domain": domain, "limit": limit}
    ).first()
    return first_over is not None


@functools.cache
def _sharing_query(limits: tuple[tuple[str, int], ...]) -> Any:
    """The ``sharing`` query for these (key, rows per side), built once (values bound)."""
    arms: list[Select[Any]] = []
    name: Any = bindparam("name")
    for key, nearest in limits:
        column = C[key]
        same = and_(
            C.tenant_id == bindparam("tenant"),
            column == bindparam(f"value_{key}"),
            C.id != bindparam("changed"),
        )
        arms.append(
            select(*KEY_COLUMNS).where(same, C.name_key >= name).order_by(C.name_key).limit(nearest)
        )
        arms.append(
            select(*KEY_COLUMNS)
            .where(same, C.name_key < name)
            .order_by(C.name_key.desc())
            .limit(nearest)
        )
        if key in STRONG_COLUMNS:
            # Customers whose name folds to nothing share a phone or an email all the same.
            # An arm of their own: "< :name OR IS NULL" would make the arm above walk the
            # group from its end instead of seeking the name.
            arms.append(select(*KEY_COLUMNS).where(same, C.name_key.is_(None)).limit(nearest))
    parts = [select(*arm.subquery().c) for arm in arms]
    return parts[0] if len(parts) == 1 else union_all(*parts)
