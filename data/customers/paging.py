"""Pages that stay as fast deep in a million rows as on the first page.

``OFFSET 900000`` makes a database walk 900,000 index entries.  Instead, for every sort
the tenant is cut into *segments* (contiguous index ranges) and every ``STRIDE``-th row of
each is remembered as an *anchor* (its sort key).  A page at any position is then a seek
to the anchor just before it (a row-value comparison the index answers directly) plus an
``OFFSET`` shorter than ``STRIDE``.

Anchors are computed with one index scan per segment when first needed and cached per
process, keyed by the tenant's change counters that concern the sort (``customer_counts``,
kept by triggers in the same transaction as every insert, update and delete; see
``SORT_COUNTERS``): the first deep page of a sort after a write that moved rows in that
sort pays for one scan; every other page is a seek.  Shallow pages (and
searches, whose counts are capped) use a plain ``OFFSET``, which is cheap there.

Descending pages read the same ascending segments backwards, so one set of anchors
serves both directions.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, false, func, literal, select, true, tuple_
from sqlalchemy.orm import Session

from data.fields import FIELDS
from data.models import COUNTS, CUSTOMERS

C = CUSTOMERS.c
STRIDE = 1000  # rows between two anchors; offsets below 2 * STRIDE read the index directly
CACHE_SIZE = 64


@dataclass(frozen=True)
class Segment:
    """Rows of one index range, in ascending order of ``keys`` (the last key is the id)."""

    where: tuple[ColumnElement[bool], ...]
    keys: tuple[Any, ...]
    # Anchors by hops over the index (``anchor_walk``), else by numbering every row.
    hops: bool = True


def segments(column: Any, nullable: bool, dialect: str, *, unique: bool = False) -> list[Segment]:
    """The ascending order of a sort, as segments: non-empty values, then empty ones.

    A ``unique`` column (the email key, unique per tenant) needs no id to break ties:
    keyed by the column alone its index covers the anchor scan.  With the id as a
    second key SQLite read every row of the tenant from the table as well (7.8 s
    instead of 1.7 s for a million customers).
    """
    if unique:
        return [Segment((), (column,))]
    if not nullable:
        return [Segment((), (column, C.id))]
    if dialect == "sqlite":
        # The index leads with "col IS NULL"; constrain that expression, not IS NOT NULL.
        filled = Segment((column.is_(None) == false(),), (column, C.id))
        empty = Segment((column.is_(None) == true(), column.is_(None)), (C.id,))
    else:
        filled = Segment((column.is_not(None),), (column, C.id))
        # The empty values in id order are in no index: hops would read the table
        # (70 ms where numbering takes 10 for 15,000 of them).
        empty = Segment((column.is_(None),), (C.id,), hops=False)
    return [filled, empty]


@dataclass(frozen=True)
class Anchors:
    sizes: tuple[int, ...]  # rows per segment
    keys: tuple[tuple[tuple[Any, ...], ...], ...]  # per segment: key of rows 0, S, 2S, ...

    @property
    def total(self) -> int:
        return sum(self.sizes)


class AnchorCache:
    """A small thread-safe LRU of anchors, per tenant, sort and change count."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self._items: OrderedDict[tuple[Any, ...], Anchors] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...]) -> Anchors | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: tuple[Any, ...], anchors: Anchors) -> None:
        with self._lock:
            self._items[key] = anchors
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


CACHE = AnchorCache()


# The counters (customer_counts, kept by triggers) whose change moves rows in a sort.
# An update of a phone moves no row in the name order; every update moves rows in the
# "last changed" order; only inserts and deletes move rows in the creation order.
SORT_COUNTERS: dict[str, tuple[Any, ...]] = {
    **{field.name: (COUNTS.c.moves, COUNTS.c[field.change_counter]) for field in FIELDS},
    "created_at": (COUNTS.c.moves,),
    "updated_at": (COUNTS.c.changes,),
}


def change_key(session: Session, tenant_id: str, sort: str) -> tuple[int, ...]:
    """The counters that tell whether the anchors of ``sort`` still hold."""
    row = session.execute(
        select(*SORT_COUNTERS[sort]).where(COUNTS.c.tenant_id == tenant_id)
    ).first()
    return tuple(int(value) for value in row) if row is not None else ()


def compute_anchors(
    session: Session, tenant_id: str, parts: Sequence[Segment], stride: int = STRIDE
) -> Anchors:
    sizes: list[int] = []
    keys: list[tuple[tuple[Any, ...], ...]] = []
    dialect = session.get_bind().dialect.name
    for part in parts:
        if part.hops:
            rows = session.execute(anchor_walk(dialect, tenant_id, part, stride)).all()
        else:
            position = func.row_number().over(order_by=part.keys).label("position")
            numbered = (
                select(*part.keys, position).where(C.tenant_id == tenant_id, *part.where).subquery()
            )
            columns = list(numbered.c)
            rows = session.execute(
                select(*columns[:-1]).where((columns[-1] - 1) % stride == 0).order_by(columns[-1])
            ).all()
        anchor_keys = tuple(tuple(row) for row in rows)
        if anchor_keys:
            # Rows from the last anchor on: fewer than ``stride``, one short index range.
            tail = select(func.count()).select_from(
                select(C.id)
                .where(
                    C.tenant_id == tenant_id,
                    *part.where,
                    tuple_(*part.keys) >= tuple_(*anchor_keys[-1]),
                )
                # In index order: unordered, PostgreSQL guessed that most of the tenant
                # follows the last anchor (imported rows share one time) and read the
                # table from its start (26 ms instead of 0.5 for 100,000 customers).
                .order_by(*part.keys)
                .limit(stride)
                .subquery()
            )
            size = (len(anchor_keys) - 1) * stride + int(session.execute(tail).scalar_one())
        else:
            size = 0
        sizes.append(size)
        keys.append(anchor_keys)
    return Anchors(tuple(sizes), tuple(keys))


def anchor_walk(dialect: str, tenant_id: str, part: Segment, stride: int) -> Select[Any]:
    """The keys of rows 0, ``stride``, 2 × ``stride`` … of a segment, in one statement.

    A recursive query hops from each anchor to the row ``stride`` index entries further
    (``OFFSET`` over the sort's index, which steps through entries without building
    rows): five times cheaper than numbering every row of the tenant with
    ``row_number()`` and keeping every ``stride``-th (SQLite 73 → 11 ms, PostgreSQL
    38 → 15 ms for 100,000 customers).  The last key (the id, or a unique column)
    names one row of the tenant: SQLite, which has no ``LATERAL``, reads the other keys
    of the next anchor by it.

    SQLite seeks a row value it takes from the previous anchor (not a bound parameter) by
    its first column alone, so a hop inside a run of equal values (the rows of an import
    share one time) would read the run from its start: 0.6 s for 100,000 customers
    imported at once.  There the hop is first tried inside the run, an equality seek on
    the value and a range on the id; only a hop that leaves the run reads it from its
    start, once per run (18 ms).
    """
    first = (
        select(*part.keys)
        .where(C.tenant_id == tenant_id, *part.where)
        .order_by(*part.keys)
        .limit(1)
        .subquery("first_anchor")
    )
    walk = select(*first.c, literal(0).label("anchor")).cte("anchors", recursive=True)
    previous = tuple(walk.c[key.name] for key in part.keys)
    number = (walk.c.anchor + 1).label("anchor")
    hop = (
        select(*part.keys)
        .where(C.tenant_id == tenant_id, *part.where, tuple_(*part.keys) >= tuple_(*previous))
        .order_by(*part.keys)
        .offset(stride)
        .limit(1)
    )
    if dialect == "postgresql":
        following = hop.correlate(walk).lateral("next_anchor")
        step = select(*following.c, number).select_from(walk.join(following, true()))
    else:
        row = CUSTOMERS.alias("next_anchor")
        last = part.keys[-1].name
        found: ColumnElement[Any] = (
            hop.with_only_columns(part.keys[-1]).correlate(walk).scalar_subquery()
        )
        if len(part.keys) == 2:
            within_run = (
                select(part.keys[-1])
                .where(
                    C.tenant_id == tenant_id,
                    *part.where,
                    part.keys[0] == previous[0],
                    part.keys[1] >= previous[1],
                )
                .order_by(*part.keys)
                .offset(stride)
                .limit(1)
                .correlate(walk)
                .scalar_subquery()
            )
            found = func.coalesce(within_run, found)
        step = select(*(row.c[key.name] for key in part.keys), number).select_from(
            walk.join(row, and_(row.c.tenant_id == tenant_id, row.c[last] == found))
        )
    walk = walk.union_all(step)
    return select(*(walk.c[key.name] for key in part.keys)).order_by(walk.c.anchor)


def ascending_slice(
    session: Session,
    base: Select[Any],
    parts: Sequence[Segment],
    anchors: Anchors,
    start: int,
    count: int,
    stride: int = STRIDE,
) -> list[Any]:
    """Rows ``start`` … ``start + count - 1`` of the ascending order, by anchor seeks."""
    rows: list[Any] = []
    position = start
    for index, part in enumerate(parts):
        size = anchors.sizes[index]
        if position >= size:
            position -= size
            continue
        anchor = position // stride
        skip = position - anchor * stride
        query = (
            base.where(*part.where, tuple_(*part.keys) >= tuple_(*anchors.keys[index][anchor]))
            .order_by(*part.keys)
            .offset(skip)
            .limit(count - len(rows))
        )
        rows += session.execute(query).all()
        if len(rows) >= count:
            break
        position = 0  # the page goes on at the start of the next segment
    return rows
