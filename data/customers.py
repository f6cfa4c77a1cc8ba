"""``CustomerRepository``: every read and write of a tenant's customers.

Every statement starts from the tenant: ``self._scoped()`` for reads, and
``WHERE tenant_id = :tenant AND id = :id`` for updates and deletes, whose affected rows
are checked.  A customer of another tenant and a missing one are the same ``NotFound``.
On PostgreSQL row-level security holds the same line a second time.
"""

from __future__ import annotations

import builtins
import itertools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    and_,
    column,
    delete,
    func,
    insert,
    literal_column,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from data import audit, paging
from data.errors import Conflict, Forbidden, Invalid, NotFound, StaleVersion
from data.models import Action, Customer, CustomerCount, new_id, utcnow
from data.schemas import CustomerIn, CustomerOut, clean_text, validate_customer
from data.tenancy import Actor, Permission
from data.text import like_pattern

COLUMNS = (
    Customer.id,
    Customer.tenant_id,
    Customer.name,
    Customer.email,
    Customer.phone,
    Customer.address,
    Customer.created_at,
    Customer.updated_at,
    Customer.version,
)

SORTS: dict[str, Any] = {
    "name": Customer.name,
    "email": Customer.email_key,
    "phone": Customer.phone,
    "address": Customer.address,
    "created_at": Customer.created_at,
    "updated_at": Customer.updated_at,
}

# Columns that may be empty (NULL): empty values sort last ascending, first descending,
# on every database (PostgreSQL's default; SQLite's is the opposite).
NULLABLE_SORTS = frozenset({"phone", "address"})
# Sorts whose column is unique in the tenant: the id is not needed to order them.
UNIQUE_SORTS = frozenset({"email"})

# PostgreSQL only: name, email and phone in one generated column with a trigram index.
SEARCH_TEXT: ColumnElement[str] = literal_column("customers.search_text")

MAX_PAGE_SIZE = 1000
# Searches count their matches up to this many; beyond it the total is "more than".  On
# PostgreSQL the count also chooses the page's plan (see ``list``): counting 10,000 of a
# common name's 40,000 matches in a million customers read 9,000 table pages (47 ms).
COUNT_CAP = 1_000
# SQLite: a search with at most this many matches in the tenant reads them by rowid.
FTS_FEW = 2000


@dataclass(frozen=True)
class Count:
    """A number of customers; ``exact`` is False when it is a lower bound (``1,000+``)."""

    value: int
    exact: bool = True

    def __str__(self) -> str:
        return f"{self.value:,}" if self.exact else f"more than {self.value:,}"


@dataclass(frozen=True)
class Page:
    items: list[CustomerOut]
    total: Count
    offset: int
    limit: int

    @property
    def has_next(self) -> bool:
        if self.total.exact:
            return self.offset + len(self.items) < self.total.value
        # A lower bound ("more than 1,000") cannot tell; a page that is not full can.
        return len(self.items) == self.limit


def parse_sort(sort: str | None) -> tuple[str, bool]:
    """``"name"``, ``"-created_at"`` → (column, descending); unknown → ValueError."""
    raw = (sort or "name").strip()
    descending = raw.startswith("-")
    column = raw.lstrip("-+").strip() or "name"
    column = {"createdAt": "created_at", "updatedAt": "updated_at"}.get(column, column)
    if column not in SORTS:
        choices = ", ".join(SORTS)
        raise ValueError(f"Cannot sort by {column!r}; choose one of {choices}.")
    return column, descending


def fts_phrase(term: str) -> str:
    """An FTS5 query for ``term`` as one quoted phrase (a substring, with the trigram index)."""
    return '"' + term.replace('"', '""') + '"'


def case_variants(term: str) -> builtins.list[str]:
    """Spellings of a short ``term`` that differ in the case of its non-ASCII letters.

    SQLite's ``LIKE`` folds ASCII letters only; ``"ö"`` must still find ``"Özil"``.
    Used for terms too short for the trigram index (one or two characters).
    """
    options = [sorted({c, c.lower(), c.upper()}) if not c.isascii() else [c] for c in term]
    return ["".join(combination) for combination in itertools.product(*options)]


def check_search(term: str) -> str:
    """Refuse a search no database can run (NUL, broken Unicode) with a sentence."""
    try:
        clean_text("search", term)
    except ValueError as exc:
        raise Invalid({"search": str(exc)}) from None
    return term


class CustomerRepository:
    def __init__(self, session: Session, tenant_id: str, actor: Actor | None = None) -> None:
        bound = session.info.get("tenant_id")
        if bound != tenant_id:
            # A session belongs to one tenant (it carries the row-level security setting).
            raise ValueError("session and repository are for different tenants")
        self.session = session
        self.tenant_id = tenant_id
        self.actor = actor
        self.dialect = session.get_bind().dialect.name

    # -- reads ----------------------------------------------------------------------

    def _scoped(self) -> Select[*tuple[Any, ...]]:
        return select(*COLUMNS).where(Customer.tenant_id == self.tenant_id)

    def _out(self, row: Any) -> CustomerOut:
        return CustomerOut.model_validate(dict(row._mapping))

    def find(self, customer_id: str) -> CustomerOut | None:
        row = self.session.execute(self._scoped().where(Customer.id == customer_id)).first()
        return self._out(row) if row is not None else None

    def get(self, customer_id: str) -> CustomerOut:
        customer = self.find(customer_id)
        if customer is None:
            raise NotFound("customer")
        return customer

    def existing_ids(self, customer_ids: Iterable[str]) -> set[str]:
        """Which of these ids are customers of this tenant now (one query)."""
        wanted = list(dict.fromkeys(customer_ids))
        if not wanted:
            return set()
        rows = self.session.execute(
            select(Customer.id).where(Customer.tenant_id == self.tenant_id, Customer.id.in_(wanted))
        ).scalars()
        return set(rows)

    def find_by_email(self, email: str) -> CustomerOut | None:
        key = email.strip().lower()
        row = self.session.execute(self._scoped().where(Customer.email_key == key)).first()
        return self._out(row) if row is not None else None

    def _search_clause(self, term: str) -> ColumnElement[bool]:
        if self.dialect == "postgresql":
            pattern = like_pattern(term)
            # search_text (name, email and phone, a generated column) carries the trigram
            # index; the per-column recheck keeps a term from matching across two fields
            # ("lee zed" must not find name "Ann Lee" with email "zed@...").
            return and_(
                SEARCH_TEXT.ilike(pattern, escape="\\"),
                or_(
                    Customer.name.ilike(pattern, escape="\\"),
                    Customer.email.ilike(pattern, escape="\\"),
                    Customer.phone.ilike(pattern, escape="\\"),
                ),
            )
        if len(term) >= 3:
            # FTS5 trigram index: a quoted phrase is a case-insensitive substring match.
            # (Few matches are read by rowid instead: see _filtered.)  Many: walking the
            # sort's index finds a page of them within a few rows.
            matches = (
                text("SELECT rowid FROM customers_fts WHERE customers_fts MATCH :phrase")
                .bindparams(phrase=fts_phrase(term))
                .columns(column("rowid", Integer))
            )
            return literal_column("customers.seq").in_(matches)
        clauses = []
        for variant in case_variants(term):
            pattern = like_pattern(variant)
            clauses += [
                Customer.name.like(pattern, escape="\\"),
                Customer.email.like(pattern, escape="\\"),
                Customer.phone.like(pattern, escape="\\"),
            ]
        return or_(*clauses)

    def _fts_rows(self, term: str, limit: int) -> builtins.list[int]:
        """SQLite: rowids of this tenant's customers matching ``term`` (at most ``limit``).

        Starts from the trigram index and looks each match up by rowid (``CROSS JOIN``
        fixes that order), so the work follows the number of matches, not of customers.
        """
        found = self.session.execute(
            text(
                "SELECT customers.seq FROM customers_fts CROSS JOIN customers "
                "ON customers.seq = customers_fts.rowid "
                "WHERE customers_fts MATCH :phrase AND customers.tenant_id = :tenant LIMIT :limit"
            ),
            {"phrase": fts_phrase(term), "tenant": self.tenant_id, "limit": limit},
        ).scalars()
        return [int(rowid) for rowid in found]

    def _fts_count(self, term: str, limit: int) -> int:
        """SQLite: how many of this tenant's customers match ``term``, up to ``limit``."""
        return int(
            self.session.execute(
                text(
                    "SELECT count(*) FROM (SELECT 1 FROM customers_fts CROSS JOIN customers "
                    "ON customers.seq = customers_fts.rowid WHERE customers_fts MATCH :phrase "
                    "AND customers.tenant_id = :tenant LIMIT :limit)"
                ),
                {"phrase": fts_phrase(term), "tenant": self.tenant_id, "limit": limit},
            ).scalar_one()
        )

    def _filtered(self, search: str | None) -> Select[*tuple[Any, ...]]:
        term = (search or "").strip()
        if not term:
            return self._scoped()
        check_search(term)
        if self.dialect == "sqlite" and len(term) >= 3:
            few = self._fts_rows(term, FTS_FEW + 1)
            if len(few) <= FTS_FEW:
                # Few matches in this tenant: read just those rows by rowid and sort them.
                # The unary + keeps SQLite from walking the tenant's sort index instead,
                # through every customer in search of them (0.36 s for one match among a
                # million).  The rows are the tenant's: _fts_rows and this both say so.
                return select(*COLUMNS).where(
                    literal_column("+customers.tenant_id") == self.tenant_id,
                    literal_column("customers.seq").in_(few),
                )
        return self._scoped().where(self._search_clause(term))

    def count(self, search: str | None = None) -> Count:
        """Exact for the whole tenant (a counter kept by triggers); capped for searches."""
        term = (search or "").strip()
        if not term:
            n = self.session.execute(
                select(CustomerCount.n).where(CustomerCount.tenant_id == self.tenant_id)
            ).scalar()
            return Count(int(n or 0))
        if self.dialect == "sqlite" and len(term) >= 3:
            n = self._fts_count(check_search(term), COUNT_CAP + 1)
            return Count(COUNT_CAP, exact=False) if n > COUNT_CAP else Count(n)
        capped = self._filtered(term).with_only_columns(Customer.id).limit(COUNT_CAP + 1)
        counting = select(func.count()).select_from(capped.subquery())
        # Through the trigram index: with its guess of a handful of matches, the planner
        # would otherwise walk the tenant's rows looking for COUNT_CAP of them, and read
        # them all when there are fewer (2.3 s for a term with no match in a million).
        with self._planner_off("enable_seqscan", "enable_indexscan"):
            n = int(self.session.execute(counting).scalar_one())
        return Count(COUNT_CAP, exact=False) if n > COUNT_CAP else Count(n)

    def _order(self, column_name: str, descending: bool) -> builtins.list[Any]:
        """ORDER BY for a sort, written so that the sort's index serves it.

        Empty phones and addresses come last ascending and first descending on both
        databases: PostgreSQL's natural order; on SQLite through ``col IS NULL`` leading
        the expression index the migration creates (``NULLS LAST`` would make SQLite
        sort every row of the tenant instead of reading the index).
        """
        sort_column = SORTS[column_name]
        keys: builtins.list[Any] = []
        if column_name in NULLABLE_SORTS and self.dialect == "sqlite":
            keys.append(sort_column.is_(None))
        keys += [sort_column, Customer.id]
        return [key.desc() if descending else key for key in keys]

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

        Deep pages of the whole tenant are anchor seeks (data/paging.py), so page 20,000
        of a million customers costs what page 1 does.
        """
        column_name, descending = parse_sort(sort)
        limit = max(1, min(int(limit), MAX_PAGE_SIZE))
        offset = max(0, int(offset))
        term = (search or "").strip()
        rows: Sequence[Any] | None = None
        total: Count | None = None
        if not term and offset >= paging.DIRECT_LIMIT:
            rows = self._deep_rows(column_name, descending, offset, limit)
        if rows is None:
            query = (
                self._filtered(term)
                .order_by(*self._order(column_name, descending))
                .limit(limit)
                .offset(offset)
            )
            if term and self.dialect == "postgresql":
                total = self.count(term)
                if not total.exact and offset + limit <= COUNT_CAP:
                    rows = self._walk_sort_index(query)
                elif total.exact:
                    # At most COUNT_CAP matches: read them through the trigram index and
                    # sort them (the planner, guessing, might walk the tenant instead).
                    with self._planner_off("enable_seqscan", "enable_indexscan", "jit"):
                        rows = self.session.execute(query).all()
            if rows is None:
                rows = self.session.execute(query).all()
        items = [self._out(row) for row in rows]
        if total is None:
            total = self.count(term) if with_total else Count(offset + len(items), exact=False)
        return Page(items=items, total=total, offset=offset, limit=limit)

    def _walk_sort_index(self, query: Select[*tuple[Any, ...]]) -> Sequence[Any]:
        """PostgreSQL, a search with many matches: read the sort's index until a page is full.

        The planner cannot estimate how many rows a substring matches (it guessed 9 for
        the 40,000 customers named Nakamura among a million), so it reads every match
        through the trigram index and sorts them: 28,000 table pages, 170 ms.  With more
        matches than ``COUNT_CAP``, the first pages are found within a few thousand rows
        of the sort's index instead (a few ms).
        """
        # Neither JIT compilation nor parallel workers pay for reading a page (they cost
        # 20 ms of compiling and starting here).
        with self._planner_off(
            "enable_bitmapscan", "enable_seqscan", "enable_sort", "jit", parallel=False
        ):
            return self.session.execute(query).all()

    @contextmanager
    def _planner_off(self, *settings: str, parallel: bool = True) -> Iterator[None]:
        """PostgreSQL: plan the statements inside without these plan types where possible
        (and, unless ``parallel``, without parallel workers).

        ``SET LOCAL`` would last to the end of the transaction: they are put back after.
        Not on an error: the transaction is then rolled back, which undoes them, and a
        statement in a failed transaction would hide the error.  Nothing on SQLite.
        """
        if self.dialect != "postgresql":
            yield
            return
        changes = dict.fromkeys(settings, "off")
        if not parallel:
            changes["max_parallel_workers_per_gather"] = "0"
        # One round trip each way (this is on every search): set_config(..., true) is
        # SET LOCAL; pg_settings.reset_val is what SET LOCAL ... TO DEFAULT would give.
        self.session.execute(
            text(
                "SELECT set_config(n, v, true) "
                "FROM unnest(CAST(:names AS text[]), CAST(:values AS text[])) AS c(n, v)"
            ),
            {"names": list(changes), "values": list(changes.values())},
        )
        yield
        self.session.execute(
            text(
                "SELECT set_config(name, reset_val, true) FROM pg_settings "
                "WHERE name = ANY(CAST(:names AS text[]))"
            ),
            {"names": list(changes)},
        )

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
        bind = self.session.get_bind()
        key = (
            repr(bind.engine.url),
            self.tenant_id,
            column_name,
            paging.change_key(self.session, self.tenant_id, column_name),
        )
        anchors = paging.CACHE.get(key)
        if anchors is None:
            anchors = paging.compute_anchors(self.session, self.tenant_id, parts)
            paging.CACHE.put(key, anchors)
        if not descending:
            return paging.ascending_slice(
                self.session, self._scoped(), parts, anchors, offset, limit
            )
        # A descending page is an ascending slice read backwards.
        start = anchors.total - offset - limit
        count = limit + min(0, start)
        start = max(0, start)
        if count <= 0:
            return []
        if start < paging.DIRECT_LIMIT:
            query = (
                self._scoped().order_by(*self._order(column_name, False)).offset(start).limit(count)
            )
            rows = self.session.execute(query).all()
        else:
            rows = paging.ascending_slice(
                self.session, self._scoped(), parts, anchors, start, count
            )
        return rows[::-1]

    def iter_all(self, *, search: str | None = None, batch: int = 5000) -> Iterable[CustomerOut]:
        """Every customer (optionally matching ``search``) in name order, streamed."""
        query = self._filtered(search).order_by(Customer.name, Customer.id)
        result = self.session.execute(query, execution_options={"yield_per": batch})
        for row in result:
            yield self._out(row)

    # -- writes ---------------------------------------------------------------------

    def _require_write(self) -> Actor:
        if self.actor is None:
            raise Forbidden("Only a signed-in user can change customers.")
        self.actor.require(Permission.WRITE)
        return self.actor

    def _email_taken(self, email_key: str, exclude_id: str | None = None) -> bool:
        query = select(Customer.id).where(
            Customer.tenant_id == self.tenant_id, Customer.email_key == email_key
        )
        if exclude_id is not None:
            query = query.where(Customer.id != exclude_id)
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
        actor = self._require_write()
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
        self._require_write()
        clean = validate_customer(data)
        return self._insert(
            clean, customer_id=new_id(), version=1, created_at=None, action=Action.CREATE
        )

    def _insert(
        self,
        clean: CustomerIn,
        *,
        customer_id: str,
        version: int,
        created_at: datetime | None,
        action: Action,
    ) -> CustomerOut:
        if self._email_taken(clean.email_key):
            raise self._email_conflict(clean.email)
        now = utcnow()
        values = {
            "tenant_id": self.tenant_id,
            "id": customer_id,
            "name": clean.name,
            "email": clean.email,
            "email_key": clean.email_key,
            "phone": clean.phone,
            "address": clean.address,
            "created_at": created_at or now,
            "updated_at": now,
            "version": version,
        }
        try:
            with self.session.begin_nested():
                row = self.session.execute(
                    insert(Customer).values(**values).returning(*COLUMNS)
                ).one()
        except IntegrityError:
            raise self._email_conflict(clean.email) from None
        created = self._out(row)
        self._audit(action, created.id, None, created)
        return created

    def update(
        self,
        customer_id: str,
        data: Mapping[str, Any] | CustomerIn,
        *,
        expected_version: int | None = None,
    ) -> CustomerOut:
        """Replace the four fields.  With ``expected_version``, refuse a stale write."""
        self._require_write()
        clean = validate_customer(data)
        before = self.get(customer_id)
        if expected_version is not None and before.version != expected_version:
            raise StaleVersion(before.fields() | {"version": before.version}, expected_version)
        if before.fields() == clean.model_dump():
            return before  # nothing changed: no new version, no audit event
        if clean.email_key != before.email.strip().lower() and self._email_taken(
            clean.email_key, exclude_id=customer_id
        ):
            raise self._email_conflict(clean.email)
        statement = (
            update(Customer)
            .where(
                Customer.tenant_id == self.tenant_id,
                Customer.id == customer_id,
                Customer.version == before.version,
            )
            .values(
                name=clean.name,
                email=clean.email,
                email_key=clean.email_key,
                phone=clean.phone,
                address=clean.address,
                updated_at=utcnow(),
                version=before.version + 1,
            )
            .returning(*COLUMNS)
        )
        try:
            with self.session.begin_nested():
                row = self.session.execute(statement).first()
        except IntegrityError:
            raise self._email_conflict(clean.email) from None
        if row is None:
            current = self.get(customer_id)  # NotFound if it was deleted meanwhile
            raise StaleVersion(current.fields() | {"version": current.version}, before.version)
        after = self._out(row)
        self._audit(Action.UPDATE, customer_id, before, after)
        return after

    def delete(self, customer_id: str, *, expected_version: int | None = None) -> CustomerOut:
        """Delete; returns the customer as it was (the audit event keeps it for undo)."""
        self._require_write()
        before = self.get(customer_id)
        if expected_version is not None and before.version != expected_version:
            raise StaleVersion(before.fields() | {"version": before.version}, expected_version)
        result = self.session.execute(
            delete(Customer).where(
                and_(
                    Customer.tenant_id == self.tenant_id,
                    Customer.id == customer_id,
                    Customer.version == before.version,
                )
            )
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            current = self.get(customer_id)
            raise StaleVersion(current.fields() | {"version": current.version}, before.version)
        self._audit(Action.DELETE, customer_id, before, None)
        return before

    def delete_many(self, customer_ids: Iterable[str]) -> builtins.list[CustomerOut]:
        return [self.delete(customer_id) for customer_id in customer_ids]

    def restore(self, customer_id: str) -> CustomerOut:
        """Bring back a deleted customer, with its id, as the last delete left it."""
        self._require_write()
        if self.find(customer_id) is not None:
            raise Conflict("This customer exists; there is nothing to restore.")
        event = audit.AuditLog(self.session, self.tenant_id).last_delete(customer_id)
        if event is None or event.before is None:
            raise NotFound("deleted customer")
        before = event.before
        clean = validate_customer(
            {field: before.get(field) for field in ("name", "email", "phone", "address")}
        )
        created_at = before.get("created_at")
        return self._insert(
            clean,
            customer_id=customer_id,
            version=int(before.get("version") or 0) + 1,
            created_at=datetime.fromisoformat(created_at) if created_at else None,
            action=Action.RESTORE,
        )
