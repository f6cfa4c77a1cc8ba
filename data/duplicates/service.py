"""``Duplicates``: a tenant's duplicates queue, what ``scope.duplicates`` is.

* reads (any role): ``list`` (best first, paged), ``count``, ``get`` — pairs whose two
  customers both exist, with the customers as they are now;
* decisions (editors; the role is read in the scope's transaction): ``dismiss`` ("not a
  duplicate", for good), ``merge`` and ``undo_merge`` (``data.duplicates.merge``); each
  writes an audit event;
* upkeep, called by every write path in the write's own transaction: ``changed`` after a
  customer was created, changed or restored (its pairs become those found now, looking
  only at customers that share a key with it), ``removed`` after one was deleted;
  ``data.duplicates.bulk`` does the same for a whole import, and rebuilds a tenant.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, and_, func, select, update
from sqlalchemy.orm import Session

from data import audit
from data.duplicates import lookup, store
from data.duplicates.finder import pairs_for
from data.duplicates.records import Candidate, Pair, Reason
from data.duplicates.scoring import DEFAULT_SETTINGS, FinderSettings
from data.errors import NotFound
from data.fields import FIELD_NAMES
from data.identity import Permission
from data.models import CUSTOMERS, DUPLICATE_PAIRS, Action, utcnow
from data.schemas import CustomerOut

if TYPE_CHECKING:
    from data.duplicates.merge import Choices, MergeResult, UndoResult
    from data.scope import Scope

P = DUPLICATE_PAIRS.c
FIRST, SECOND = CUSTOMERS.alias("first"), CUSTOMERS.alias("second")
CUSTOMER_COLUMNS = ("id", "tenant_id", *FIELD_NAMES, "created_at", "updated_at", "version")
MAX_PAGE = 1000
REASON_LABELS: dict[Reason, str] = {
    Reason.SAME_EMAIL: "same email",
    Reason.SAME_PHONE: "same phone",
    Reason.SIMILAR_NAME: "similar name",
    Reason.SAME_EMAIL_DOMAIN: "same company email domain",
    Reason.SAME_ADDRESS: "same address",
}


@dataclass(frozen=True)
class PairView:
    """A suspected pair, with both customers as they are now (``first.id < second.id``)."""

    id: str
    score: int
    reasons: tuple[Reason, ...]
    status: str
    found_at: datetime
    first: CustomerOut
    second: CustomerOut

    def reasons_text(self) -> str:
        """``same phone, similar name``: for people."""
        return ", ".join(REASON_LABELS[reason] for reason in self.reasons)

    def differing(self) -> list[str]:
        """The fields whose values differ (empty and missing are the same)."""
        return [
            name
            for name in FIELD_NAMES
            if (self.first.values.get(name) or "") != (self.second.values.get(name) or "")
        ]

    def customer(self, customer_id: str) -> CustomerOut:
        if customer_id == self.first.id:
            return self.first
        if customer_id == self.second.id:
            return self.second
        raise NotFound("customer")


@dataclass(frozen=True)
class PairPage:
    items: list[PairView]
    total: int
    offset: int
    limit: int

    @property
    def has_next(self) -> bool:
        return self.offset + len(self.items) < self.total


def _customer_columns(alias: Any, prefix: str) -> list[Any]:
    return [alias.c[name].label(f"{prefix}{name}") for name in CUSTOMER_COLUMNS]


def _customer(row: Mapping[str, Any], prefix: str) -> CustomerOut:
    return CustomerOut.of({name: row[f"{prefix}{name}"] for name in CUSTOMER_COLUMNS})


def pairs_query(tenant_id: str) -> Select[Any]:
    """Pairs of the tenant whose customers both exist, with both customers."""
    return (
        select(
            P.customer_a,
            P.customer_b,
            P.score,
            P.reasons,
            P.status,
            P.found_at,
            *_customer_columns(FIRST, "a_"),
            *_customer_columns(SECOND, "b_"),
        )
        .select_from(DUPLICATE_PAIRS)
        .join(FIRST, and_(FIRST.c.tenant_id == tenant_id, FIRST.c.id == P.customer_a))
        .join(SECOND, and_(SECOND.c.tenant_id == tenant_id, SECOND.c.id == P.customer_b))
        .where(P.tenant_id == tenant_id)
    )


def open_pair_count(session: Session, tenant_id: str, *, min_score: int = 0) -> int:
    """How many open pairs of the tenant score at least ``min_score`` (Overview's figure)."""
    query = (
        select(P.customer_a)
        .select_from(DUPLICATE_PAIRS)
        .join(FIRST, and_(FIRST.c.tenant_id == tenant_id, FIRST.c.id == P.customer_a))
        .join(SECOND, and_(SECOND.c.tenant_id == tenant_id, SECOND.c.id == P.customer_b))
        .where(P.tenant_id == tenant_id, P.status == store.OPEN, P.score >= min_score)
        .subquery()
    )
    return int(session.execute(select(func.count()).select_from(query)).scalar_one())


class Duplicates:
    """The duplicates of one scope's tenant."""

    def __init__(self, scope: Scope, settings: FinderSettings = DEFAULT_SETTINGS) -> None:
        self.scope = scope
        self.session = scope.session
        self.tenant_id = scope.tenant_id
        self.settings = settings

    # -- reads ------------------------------------------------------------------------

    def _pairs(self) -> Select[Any]:
        return pairs_query(self.tenant_id)

    @staticmethod
    def _view(row: Any) -> PairView:
        mapping = row._mapping
        return PairView(
            id=store.pair_id(row.customer_a, row.customer_b),
            score=int(row.score),
            reasons=store.parse_reasons(row.reasons),
            status=row.status,
            found_at=row.found_at,
            first=_customer(mapping, "a_"),
            second=_customer(mapping, "b_"),
        )

    def list(self, *, min_score: int = 0, limit: int = 50, offset: int = 0) -> PairPage:
        """Open pairs scoring at least ``min_score``, best first."""
        limit = max(1, min(int(limit), MAX_PAGE))
        offset = max(0, int(offset))
        query = (
            self._pairs()
            .where(P.status == store.OPEN, P.score >= min_score)
            .order_by(P.score.desc(), P.customer_a.desc(), P.customer_b.desc())
            .limit(limit)
            .offset(offset)
        )
        items = [self._view(row) for row in self.session.execute(query)]
        return PairPage(items, self.count(min_score=min_score), offset, limit)

    def each(self, *, min_score: int = 0) -> Iterator[PairView]:
        """Every open pair scoring at least ``min_score``, best first, streamed."""
        query = (
            self._pairs()
            .where(P.status == store.OPEN, P.score >= min_score)
            .order_by(P.score.desc(), P.customer_a.desc(), P.customer_b.desc())
        )
        for row in self.session.execute(query, execution_options={"yield_per": 1000}):
            yield self._view(row)

    def count(self, *, min_score: int = 0) -> int:
        """How many open pairs score at least ``min_score``."""
        return open_pair_count(self.session, self.tenant_id, min_score=min_score)

    def get(self, pair_id: str) -> PairView:
        """One pair, open or dismissed; ``NotFound`` for another tenant's or a gone one."""
        first, second = store.parse_pair_id(pair_id)
        row = self.session.execute(
            self._pairs().where(P.customer_a == first, P.customer_b == second)
        ).first()
        if row is None:
            raise NotFound("duplicate pair")
        return self._view(row)

    # -- decisions --------------------------------------------------------------------

    def dismiss(self, pair_id: str) -> PairView:
        """Mark the pair "not a duplicate": it leaves the queue for good; an audit event says so."""
        actor = self.scope.require(Permission.WRITE)
        view = self.get(pair_id)
        if view.status == store.DISMISSED:
            return view
        now = utcnow()
        self.session.execute(
            update(DUPLICATE_PAIRS)
            .where(
                P.tenant_id == self.tenant_id,
                P.customer_a == view.first.id,
                P.customer_b == view.second.id,
            )
            .values(status=store.DISMISSED, decided_by=actor.username, decided_at=now)
        )
        audit.record(
            self.session,
            self.tenant_id,
            actor=actor.username,
            action=Action.DISMISS,
            customer_id=view.first.id,
            before=None,
            after={
                "pair": view.id,
                "score": view.score,
                "reasons": [reason.value for reason in view.reasons],
                "first": {"id": view.first.id, **view.first.fields()},
                "second": {"id": view.second.id, **view.second.fields()},
            },
        )
        return replace(view, status=store.DISMISSED)

    def merge(
        self,
        keep_id: str,
        remove_id: str,
        *,
        choices: Choices | None = None,
        versions: tuple[int, int] | None = None,
    ) -> MergeResult:
        """Keep one customer, delete the other: see ``data.duplicates.merge.merge``."""
        from data.duplicates.merge import merge

        return merge(self.scope, keep_id, remove_id, choices=choices, versions=versions)

    def undo_merge(self, event_id: str) -> UndoResult:
        """Take a merge back: see ``data.duplicates.merge.undo_merge``."""
        from data.duplicates.merge import undo_merge

        return undo_merge(self.scope, event_id)

    # -- upkeep after writes ----------------------------------------------------------

    def changed(self, customer: CustomerOut) -> builtins.list[Pair]:
        """After a customer was created, changed or restored: its pairs, found again.

        Reads only the customers sharing a key with it (``lookup.sharing``).
        """
        candidate = Candidate.from_values(
            customer.id, customer.values, self.scope.phone_region, customer.updated_at
        )
        others = lookup.sharing(self.session, self.tenant_id, candidate, self.settings)
        pairs = pairs_for(candidate, others, self.settings)
        store.replace_for(self.session, self.tenant_id, customer.id, pairs, utcnow())
        return pairs

    def removed(self, customer_ids: Iterable[str]) -> None:
        """After customers were deleted: their open pairs go (dismissals are kept)."""
        store.forget_open(self.session, self.tenant_id, customer_ids)
