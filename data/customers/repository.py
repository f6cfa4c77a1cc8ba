"""``CustomerRepository``: every read and write of a tenant's customers.

Every statement starts from the tenant: ``self.search.scoped()`` for reads, and
``WHERE tenant_id = :tenant AND id = :id`` for updates and deletes, whose affected rows
are checked.  A customer of another tenant and a missing one are the same ``NotFound``.
On PostgreSQL row-level security holds the same line a second time.

A repository belongs to a scope (``data.scope``): every write asks the scope's actor,
read from the database in the same transaction, whether their role allows it.
"""

from __future__ import annotations

import builtins
import functools
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Integer, Select, Update, bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from data import audit
from data.customers import paging
from data.customers.columns import (
    COLUMNS,
    MAX_PAGE_SIZE,
    NULLABLE_SORTS,
    SORTS,
    UNIQUE_SORTS,
    C,
    Count,
    Page,
    out,
    parse_sort,
)
from data.customers.search import COUNT_CAP, FTS_FEW, Search
from data.customers.writes import SQLITE_CUSTOMERS, new_row, next_seq, stamp
from data.errors import Conflict, NotFound, StaleVersion
from data.identity import Permission
from data.keys import normalise_email
from data.models import COUNTS, CUSTOMERS, Action, new_id, utcnow
from data.schemas import CustomerIn, CustomerOut, validate_customer

if TYPE_CHECKING:
    from data.scope import Scope

SQLITE_RETURNING = tuple(SQLITE_CUSTOMERS.c[column.name] for column in COLUMNS)
# Statements of every request, built once (building one cost more than running it).
FIND = select(*COLUMNS).where(C.tenant_id == bindparam("tenant"), C.id == bindparam("id"))
COUNT = select(COUNTS.c.n).where(COUNTS.c.tenant_id == bindparam("tenant"))


def order_keys(dialect: str, column_name: str, descending: bool) -> builtins.list[Any]:
    """ORDER BY for a sort, written so that the sort's index serves it.

    Empty values come last ascending and first descending on both databases:
    PostgreSQL's natural order; on SQLite through ``col IS NULL`` leading the
    expression index the migration creates (``NULLS LAST`` would make SQLite sort
    every row of the tenant instead of reading the index).
    """
    sort_column = SORTS[column_name]
    keys: builtins.list[Any] = []
    if column_name in NULLABLE_SORTS and dialect == "sqlite":
        keys.append(sort_column.is_(None))
    keys += [sort_column, C.id]
    return [key.desc() if descending else key for key in keys]


@functools.cache
def page_query(dialect: str, column_name: str, descending: bool) -> Select[Any]:
    """A shallow page of the tenant in one sort (``tenant``, ``limit`` and ``offset`` bound
    when run): built once per sort, as every Customers page and API list asks for one."""
    return (
        select(*COLUMNS)
        .where(C.tenant_id == bindparam("tenant"))
        .order_by(*order_keys(dialect, column_name, descending))
        .limit(bindparam("limit", type_=Integer))
        .offset(bindparam("offset", type_=Integer))
    )


@functools.cache
def update_query(names: tuple[str, ...]) -> Update:
    """Replace a customer's stored columns ``names`` at the version it was read at (all
    bound when run: ``new_<name>``, ``w_tenant``, ``w_id``, ``w_version``, ``w_now``)."""
    return (
        update(CUSTOMERS)
        .where(
            C.tenant_id == bindparam("w_tenant"),
            C.id == bindparam("w_id"),
            C.version == bindparam("w_version"),
        )
        .values({name: bindparam(f"new_{name}") for name in names} | stamp(bindparam("w_now")))
        .returning(*COLUMNS)
    )


class CustomerRepository:
    def __init__(
        self,
        scope: Scope,
        *,
        count_cap: int = COUNT_CAP,
        fts_few: int = FTS_FEW,
        stride: int = paging.STRIDE,
    ) -> None:
        self.scope = scope
        self.session = scope.session
        self.tenant_id = scope.tenant_id
        self.dialect = scope.dialect
        self.search = Search(self.session, self.tenant_id, count_cap=count_cap, fts_few=fts_few)
        self.stride = stride

    # -- reads ----------------------------------------------------------------------

    def find(self, customer_id: str) -> CustomerOut | None:
        row = self.session.execute(FIND, {"tenant": self.tenant_id, "id": customer_id}).first()
        return out(row) if row is not None else None

    def get(self, customer_id: str) -> CustomerOut:
        customer = self.find(customer_id)
        if customer is None:
            raise NotFound("customer")
        return customer

    def get_many(self, customer_ids: Iterable[str]) -> dict[str, CustomerOut]:
        """The customers of this tenant among these ids (one query), by id."""
        wanted = list(dict.fromkeys(customer_ids))
        if not wanted:
            return {}
        rows = self.session.execute(self.search.scoped().where(C.id.in_(wanted)))
        return {customer.id: customer for customer in map(out, rows)}

    def existing_ids(self, customer_ids: Iterable[str]) -> set[str]:
        """Which of these ids are customers of this tenant now (one query)."""
        wanted = list(dict.fromkeys(customer_ids))
        if not wanted:
            return set()
        rows = self.session.execute(
            select(C.id).where(C.tenant_id == self.tenant_id, C.id.in_(wanted))
        ).scalars()
        return set(rows)

    def find_by_email(self, email: str) -> CustomerOut | None:
        key = normalise_email(email)
        row = self.session.execute(self.search.scoped().where(C.email_key == key)).first()
        return out(row) if row is not None else None

    def matching(self, search: str | None = None) -> Select[Any]:
        """The tenant's customers (or a search's matches) in name order: a query to stream.

        The export builds its rows from it; it selects ``COLUMNS``, which callers may
        replace with ``with_only_columns``.
        """
        return self.search.filtered(search).order_by(C.name, C.id)

    def count(self, search: str | None = None) -> Count:
        """Exact for the whole tenant (a counter kept by triggers); capped for searches."""
        if not (search or "").strip():
            n = self.session.execute(COUNT, {"tenant": self.tenant_id}).scalar()
            return Count(int(n or 0))
        return self.search.count(search)

    def _order(self, column_name: str, descending: bool) -> builtins.list[Any]:
        return order_keys(self.dialect, column_name, descending)

    def list(
        self,
        *,
        search: str | None = None,
        sort: str = "name",
        limit: int = 50,
        offset: int = 0,
        with_total: bool = True,
    ) -> Page:
        """One page: ``limit`` customers from ``offset`` in the order ``sort``.

        Deep pages of the whole tenant are anchor seeks (``data.customers.paging``), so
        page 20,000 of a million customers costs what page 1 does.
        """
        column_name, descending = parse_sort(sort)
        limit = max(1, min(int(limit), MAX_PAGE_SIZE))
        offset = max(0, int(offset))
        term = (search or "").strip()
        rows: Sequence[Any] | None = None
        total: Count | None = None
        if not term and offset >= 2 * self.stride:
            rows = self._deep_rows(column_name, descending, offset, limit)
        if rows is None and not term:
            rows = self.session.execute(
                page_query(self.dialect, column_name, descending),
                {"tenant": self.tenant_id, "limit": limit, "offset": offset},
            ).all()
        if rows is None:
            query = (
                self.search.filtered(term)
                .order_by(*self._order(column_name, descending))
                .limit(limit)
                .offset(offset)
            )
            if term and self.dialect == "postgresql":
                total, rows = self.search.count_and_page(term, query, offset, limit)
            else:
                rows = self.session.execute(query).all()
        items = [out(row) for row in rows]
        if total is None:
            total = self.count(term) if with_total else Count(offset + len(items), exact=False)
        return Page(items=items, total=total, offset=offset, limit=limit)

    def _deep_rows(
        self, column_name: str, descending: bool, offset: int, limit: int
    ) -> Sequence[Any]:
        """Rows of a deep page, through cached anchors."""
        parts = paging.segments(
            SORTS[column_name],
            column_name in NULLABLE_SORTS,
            self.dialect,
            unique=column_name in UNIQUE_SORTS,
        )
        key = (
            repr(self.session.get_bind().engine.url),
            self.tenant_id,
            column_name,
            self.stride,
            paging.change_key(self.session, self.tenant_id, column_name),
        )
        anchors = paging.CACHE.get(key)
        if anchors is None:
            anchors = paging.compute_anchors(self.session, self.tenant_id, parts, self.stride)
            paging.CACHE.put(key, anchors)
        scoped = self.search.scoped()
        if not descending:
            return paging.ascending_slice(
                self.session, scoped, parts, anchors, offset, limit, self.stride
            )
        # A descending page is an ascending slice read backwards.
        start = anchors.total - offset - limit
        count = limit + min(0, start)
        start = max(0, start)
        if count <= 0:
            return []
        if start < 2 * self.stride:
            query = scoped.order_by(*self._order(column_name, False)).offset(start).limit(count)
            rows = self.session.execute(query).all()
        else:
            rows = paging.ascending_slice(
                self.session, scoped, parts, anchors, start, count, self.stride
            )
        return rows[::-1]

    def iter_all(self, *, search: str | None = None, batch: int = 5000) -> Iterable[CustomerOut]:
        """Every customer (optionally matching ``search``) in name order, streamed."""
        result = self.session.execute(self.matching(search), execution_options={"yield_per": batch})
        for row in result:
            yield out(row)

    # -- writes ---------------------------------------------------------------------

    def _email_taken(self, email_key: str, exclude_id: str | None = None) -> bool:
        query = select(C.id).where(C.tenant_id == self.tenant_id, C.email_key == email_key)
        if exclude_id is not None:
            query = query.where(C.id != exclude_id)
        return self.session.execute(query.limit(1)).first() is not None

    @staticmethod
    def _email_conflict(email: str) -> Conflict:
        return Conflict(f"Another customer already uses the email {email}.", field="email")

    def _audit(
        self,
        action: Action,
        customer_id: str,
        before: CustomerOut | None,
        after: CustomerOut | None,
    ) -> None:
        actor = self.scope.require(Permission.WRITE)
        audit.record(
            self.session,
            self.tenant_id,
            actor=actor.username,
            action=action,
            customer_id=customer_id,
            before=audit.snapshot(before) if before is not None else None,
            after=audit.snapshot(after) if after is not None else None,
        )

    def create(self, data: Mapping[str, Any] | CustomerIn) -> CustomerOut:
        self.scope.require(Permission.WRITE)
        clean = validate_customer(data)
        return self._insert(clean, customer_id=new_id(), action=Action.CREATE)

    def _insert(
        self,
        clean: CustomerIn,
        *,
        customer_id: str,
        action: Action,
        version: int = 1,
        created_at: datetime | None = None,
    ) -> CustomerOut:
        if self._email_taken(clean.email_key):
            raise self._email_conflict(clean.email)
        values = new_row(
            self.tenant_id,
            customer_id,
            clean,
            now=utcnow(),
            created_at=created_at,
            version=version,
            region=self.scope.phone_region,
        )
        if self.dialect == "sqlite":
            statement = (
                insert(SQLITE_CUSTOMERS)
                .values(seq=next_seq(self.session, self.tenant_id), **values)
                .returning(*SQLITE_RETURNING)
            )
        else:
            statement = insert(CUSTOMERS).values(**values).returning(*COLUMNS)
        try:
            with self.session.begin_nested():
                row = self.session.execute(statement).one()
        except IntegrityError:
            raise self._email_conflict(clean.email) from None
        created = out(row)
        self.scope.duplicates.changed(created)
        self._audit(action, created.id, None, created)
        return created

    def _stale(self, customer_id: str, expected: int | None) -> StaleVersion:
        current = self.get(customer_id)  # NotFound if it was deleted meanwhile
        return StaleVersion(current.fields() | {"version": current.version}, expected)

    def update(
        self,
        customer_id: str,
        data: Mapping[str, Any] | CustomerIn,
        *,
        expected_version: int | None = None,
    ) -> CustomerOut:
        """Replace the fields.  With ``expected_version``, refuse a stale write."""
        self.scope.require(Permission.WRITE)
        clean = validate_customer(data)
        before = self.get(customer_id)
        if expected_version is not None and before.version != expected_version:
            raise StaleVersion(before.fields() | {"version": before.version}, expected_version)
        if before.fields() == clean.fields():
            return before  # nothing changed: no new version, no audit event
        if clean.email_key != normalise_email(before.email) and self._email_taken(
            clean.email_key, exclude_id=customer_id
        ):
            raise self._email_conflict(clean.email)
        stored = clean.stored(self.scope.phone_region)
        values: dict[str, Any] = {f"new_{name}": value for name, value in stored.items()}
        values |= {
            "w_tenant": self.tenant_id,
            "w_id": customer_id,
            "w_version": before.version,
            "w_now": utcnow(),
        }
        try:
            with self.session.begin_nested():
                row = self.session.execute(update_query(tuple(stored)), values).first()
        except IntegrityError:
            raise self._email_conflict(clean.email) from None
        if row is None:
            raise self._stale(customer_id, before.version)
        after = out(row)
        self.scope.duplicates.changed(after)
        self._audit(Action.UPDATE, customer_id, before, after)
        return after

    def delete(self, customer_id: str, *, expected_version: int | None = None) -> CustomerOut:
        """Delete; returns the customer as it was (the audit event keeps it for undo)."""
        self.scope.require(Permission.WRITE)
        before = self.get(customer_id)
        if expected_version is not None and before.version != expected_version:
            raise StaleVersion(before.fields() | {"version": before.version}, expected_version)
        result = self.session.execute(
            delete(CUSTOMERS).where(
                C.tenant_id == self.tenant_id,
                C.id == customer_id,
                C.version == before.version,
            )
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise self._stale(customer_id, before.version)
        self.scope.duplicates.removed([customer_id])
        self._audit(Action.DELETE, customer_id, before, None)
        return before

    def delete_many(self, customer_ids: Iterable[str]) -> builtins.list[CustomerOut]:
        return [self.delete(customer_id) for customer_id in customer_ids]

    def restore(self, customer_id: str) -> CustomerOut:
        """Bring back a deleted customer, with its id, as the last delete left it."""
        self.scope.require(Permission.WRITE)
        if self.find(customer_id) is not None:
            raise Conflict("This customer exists; there is nothing to restore.")
        event = audit.AuditLog(self.session, self.tenant_id).last_delete(customer_id)
        if event is None or event.before is None:
            raise NotFound("deleted customer")
        before = event.before
        clean = validate_customer(audit.fields_of(before))
        created_at = before.get("created_at")
        return self._insert(
            clean,
            customer_id=customer_id,
            action=Action.RESTORE,
            version=int(before.get("version") or 0) + 1,
            created_at=datetime.fromisoformat(created_at) if created_at else None,
        )
