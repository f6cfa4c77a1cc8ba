"""Pairs for many customers at once: a whole tenant, or the customers of an import.

* ``rebuild(scope)``: every open pair of the tenant found again in four streamed passes
  (``finder.find_pairs`` over ``lookup.stream``); dismissed pairs stay dismissed.  With
  ``rekey=True`` the stored keys are computed again first (after the tenant's phone
  region changed, or a release that changed how keys are made).  ``manage.py duplicates
  --rebuild``.
* ``after_import(scope, import_id)``: after an import (or its undo), the pairs of the
  customers it touched (``import_changes``): their open pairs go, and the passes read
  only the groups whose key value one of them has.  An import that touched half the
  tenant or more rebuilds the tenant instead.

Neither compares every customer with every other: see ``finder`` for the blocking and
for the cap on huge groups (``BulkResult.chunked_groups`` says when it applied).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

from sqlalchemy import Table, and_, bindparam, func, select, update

from data.duplicates import lookup, store
from data.duplicates.finder import FoundPairs, PassStats, find_pairs
from data.duplicates.keys import DUPLICATE_KEYS, duplicate_keys
from data.duplicates.records import BlockKey
from data.duplicates.scoring import DEFAULT_SETTINGS, FinderSettings
from data.errors import DataError
from data.fields import FIELD_NAMES
from data.models import COUNTS, CUSTOMERS, ImportChange, utcnow

if TYPE_CHECKING:
    from data.db import Database
    from data.identity import Identity
    from data.scope import Scope

C = CUSTOMERS.c
IC = cast("Table", ImportChange.__table__).c
REKEY_BATCH = 5000


@dataclass
class BulkResult:
    """What a bulk run found, and how."""

    pairs: int = 0
    rekeyed: int = 0  # customers whose keys were computed again
    seconds: float = 0.0
    whole_tenant: bool = True
    stats: dict[BlockKey, PassStats] = field(default_factory=dict)

    @property
    def chunked_groups(self) -> int:
        return sum(stats.chunked_groups for stats in self.stats.values())

    @property
    def largest_group(self) -> int:
        return max((stats.largest_group for stats in self.stats.values()), default=0)

    def sentence(self, settings: FinderSettings = DEFAULT_SETTINGS) -> str:
        """One sentence for an operator, naming the cap when it applied."""
        where = "the tenant" if self.whole_tenant else "the imported customers"
        text = f"Found {self.pairs:,} suspected pairs for {where} in {self.seconds:.1f} s."
        if self.chunked_groups:
            text += (
                f" {self.chunked_groups:,} groups sharing one key held more than "
                f"{settings.max_group:,} customers and were compared in parts of that size "
                "(pairs across parts are not found)."
            )
        return text


def rekey(scope: Scope) -> int:
    """Compute every customer's duplicate keys again, with the tenant's phone region.

    In batches of ``REKEY_BATCH`` by id; returns how many customers were read.
    """
    session, tenant, region = scope.session, scope.tenant_id, scope.phone_region
    statement = (
        update(CUSTOMERS)
        .where(C.tenant_id == bindparam("w_tenant"), C.id == bindparam("w_id"))
        .values({key: bindparam(f"new_{key}") for key in DUPLICATE_KEYS})
    )
    last, done = "", 0
    while True:
        rows = session.execute(
            select(C.id, *(C[name] for name in FIELD_NAMES))
            .where(C.tenant_id == tenant, C.id > last)
            .order_by(C.id)
            .limit(REKEY_BATCH)
        ).all()
        if not rows:
            return done
        changes = []
        for row in rows:
            keys = duplicate_keys(dict(row._mapping), region)
            changes.append(
                {"w_tenant": tenant, "w_id": row.id}
                | {f"new_{key}": value for key, value in keys.items()}
            )
        session.connection().execute(statement, changes)
        done += len(rows)
        last = str(rows[-1].id)


def rebuild(
    scope: Scope, *, rekey_first: bool = False, settings: FinderSettings = DEFAULT_SETTINGS
) -> BulkResult:
    """Find every pair of the tenant again (open pairs replaced, dismissals kept)."""
    started = time.perf_counter()
    result = BulkResult(rekeyed=rekey(scope) if rekey_first else 0)
    session, tenant = scope.session, scope.tenant_id
    found = find_pairs(lambda key: lookup.stream(session, tenant, key, settings), settings)
    store.clear_open(session, tenant)
    return _saved(scope, found, result, started)


def after_import(
    scope: Scope, import_id: str, *, settings: FinderSettings = DEFAULT_SETTINGS
) -> BulkResult:
    """Find the pairs of the customers an import (or its undo) touched."""
    started = time.perf_counter()
    session, tenant = scope.session, scope.tenant_id
    of_import = and_(IC.tenant_id == tenant, IC.import_id == import_id)
    touched = session.execute(select(func.count()).where(of_import)).scalar_one()
    if not touched:
        return BulkResult(whole_tenant=False)
    total = session.execute(select(COUNTS.c.n).where(COUNTS.c.tenant_id == tenant)).scalar()
    if touched * 2 >= int(total or 0):
        return rebuild(scope, settings=settings)

    def values(key: BlockKey) -> list[str]:
        """The distinct values of ``key`` among the import's customers."""
        column = C[key.value]
        return list(
            session.execute(
                select(column)
                .distinct()
                .select_from(CUSTOMERS)
                .join(
                    cast("Table", ImportChange.__table__),
                    and_(IC.tenant_id == C.tenant_id, IC.customer_id == C.id),
                )
                .where(of_import, C.tenant_id == tenant, column.is_not(None))
            ).scalars()
        )

    found = find_pairs(
        lambda key: lookup.stream(session, tenant, key, settings, values=values(key)), settings
    )
    store.forget_open_of(session, tenant, select(IC.customer_id).where(of_import))
    return _saved(scope, found, BulkResult(whole_tenant=False), started)


def _saved(scope: Scope, found: FoundPairs, result: BulkResult, started: float) -> BulkResult:
    result.pairs = store.upsert(scope.session, scope.tenant_id, found.pairs, utcnow())
    result.stats = found.stats
    result.seconds = time.perf_counter() - started
    return result


def pairs_after_import(database: Database, identity: Identity, import_id: str) -> BulkResult | None:
    """``after_import`` in a write transaction of its own, once the import has committed.

    The import stands whatever happens here: when this fails (the database went away,
    the session ended), the pairs are found by the next write of those customers or by
    ``manage.py duplicates --rebuild``; the failure is logged, not raised.
    """
    try:
        with database.scope(identity, write=True) as scope:
            return after_import(scope, import_id)
    except DataError as exc:
        logging.getLogger(__name__).warning(
            "duplicate pairs of import %s were not found: %s", import_id, exc
        )
        return None
