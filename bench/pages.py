"""The Customers page in the data layer: the calls the page makes, timed (SPEC §8).

For one tenant (the big one of the bench data set) this times, through the repository of
a scope exactly as ``ui.customer_table.load_page`` calls it (a read scope of a signed-in
user, whose session row is checked, then ``list(search, sort, limit, offset)`` with its
total):

* the first page of every sort in both directions (the anchor of the page rows),
* the next page, pages deep in the middle and the last page (anchor seeks),
* the count alone,
* a search (``nakamura`` by default), its next page and its last counted page; the same
  search in a small tenant beside the big one (its cost must not depend on the big one),
* *cold* deep pages: the first deep page of a sort after a write that moved rows in that
  sort (a rename for the name order, any update for "last changed"), which recomputes or
  corrects that sort's anchors (``data.customers.paging``), and in a process that has
  none yet.

Warm figures are medians of ``repeat`` calls (p90 beside them); cold ones of ``cold``
writes per sort.  Wall-clock time is what a user waits for; on a shared machine it
includes waiting for a CPU, so the machine's load is reported with it.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

PAGE = 50
SEARCH = "nakamura"
DIRECTIONS = ("", "-")


@dataclass
class Timing:
    label: str
    samples: list[float] = field(default_factory=list)  # seconds

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def p90(self) -> float:
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]

    @property
    def best(self) -> float:
        return min(self.samples)

    @property
    def worst(self) -> float:
        return max(self.samples)


@dataclass
class PageFigures:
    """Everything measured for one database; seconds."""

    database: str
    rows: int
    first: dict[str, Timing] = field(default_factory=dict)  # per sort spec
    next: dict[str, Timing] = field(default_factory=dict)
    middle: dict[str, Timing] = field(default_factory=dict)
    last: dict[str, Timing] = field(default_factory=dict)
    cold: dict[str, Timing] = field(default_factory=dict)  # after a write that moved rows
    count: Timing = field(default_factory=lambda: Timing("count"))
    search: Timing = field(default_factory=lambda: Timing("search"))
    search_next: Timing = field(default_factory=lambda: Timing("search next"))
    search_last: Timing = field(default_factory=lambda: Timing("search last"))
    search_small: Timing = field(default_factory=lambda: Timing("search, small tenant"))
    search_total: str = ""
    search_small_total: str = ""
    cold_process: Timing = field(default_factory=lambda: Timing("cold process"))

    def all_deep(self) -> list[Timing]:
        return [*self.middle.values(), *self.last.values()]


def sort_specs(sorts: list[str]) -> list[str]:
    return [direction + sort for sort in sorts for direction in DIRECTIONS]


@contextmanager
def customers(database: Any, identity: Any, *, write: bool = False) -> Iterator[Any]:
    """The repository of a scope of ``identity``, as the dashboard opens one."""
    with database.scope(identity, write=write) as scope:
        yield scope.customers


def _time(call: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = call()
    return time.perf_counter() - started, value


def _page(database: Any, identity: Any, **query: Any) -> Any:
    with customers(database, identity) as repository:
        return repository.list(limit=PAGE, **query)


def _timed_page(database: Any, identity: Any, **query: Any) -> tuple[float, Any]:
    return _time(lambda: _page(database, identity, **query))


def first_email(database: Any, identity: Any, offset: int, search: str | None = None) -> str:
    """The email of the customer at ``offset`` in name order (for the browser's checks)."""
    with customers(database, identity) as repository:
        page = repository.list(search=search, sort="name", limit=1, offset=offset)
    return str(page.items[0].email)


# What to change so that a row moves in each sort's order (and the sort's anchors must be
# recomputed or corrected): the sort's own field; created_at moves only on an insert or a
# delete, so its write deletes a customer and restores it.
def write_moving(database: Any, identity: Any, sort: str) -> None:
    """One ordinary write to the tenant that moves a row in the order ``sort``."""
    column = sort.lstrip("-")
    with customers(database, identity, write=True) as repository:
        first = repository.list(limit=1, offset=PAGE * 3, with_total=False).items[0]
        fields = first.fields()
        if column == "created_at":
            repository.delete(first.id)
            repository.restore(first.id)
            return
        target = column if column in fields else "phone"
        value = str(fields.get(target) or "")
        if target == "phone":
            changed = f"+1 555 {random.randrange(10**7):07d}"
        elif target == "email":
            local, _, domain = value.partition("@")
            changed = f"{local[:-2]}@{domain}" if local.endswith(".x") else f"{local}.x@{domain}"
        else:
            changed = value[:-2] if value.endswith(" ·") else value + " ·"
        repository.update(first.id, fields | {target: changed})


def rename(database: Any, identity: Any) -> None:
    """A write that moves a row in the name order (the Customers page's default sort)."""
    write_moving(database, identity, "name")


def measure(
    database: Any,
    identity: Any,
    *,
    label: str,
    repeat: int = 15,
    cold: int = 3,
    search: str = SEARCH,
    small: Any = None,
    progress: Callable[[str], None] = print,
) -> PageFigures:
    """Time the Customers page's data-layer calls as ``identity`` (a user of the tenant);
    ``small`` is a user of a small tenant beside it (its search is timed too)."""
    from data.customers import SORTS, paging

    paging.CACHE.clear()
    with customers(database, identity) as repository:
        total = repository.count().value
    figures = PageFigures(label, total)
    last_offset = max(0, (total - 1) // PAGE * PAGE)
    middle_offsets = sorted({total // 3 // PAGE * PAGE, total // 2 // PAGE * PAGE + PAGE * 7})
    specs = sort_specs(list(SORTS))

    # A process that has computed no anchors yet: its first deep page (name order).
    seconds, _ = _timed_page(database, identity, sort="name", offset=middle_offsets[0])
    figures.cold_process.samples.append(seconds)

    for spec in specs:
        progress(f"    {label}: sort {spec}")
        # Warm the anchors first, so that a cold figure is the write's cost alone.
        _page(database, identity, sort=spec, offset=middle_offsets[-1])
        for _ in range(cold):
            write_moving(database, identity, spec)
            seconds, _ = _timed_page(database, identity, sort=spec, offset=middle_offsets[-1])
            figures.cold.setdefault(spec, Timing(f"cold {spec}")).samples.append(seconds)
        for name, offset_of in (
            ("first", lambda i: 0),
            ("next", lambda i: PAGE),
            ("middle", lambda i: middle_offsets[i % len(middle_offsets)] + PAGE * (i % 5)),
            ("last", lambda i: last_offset),
        ):
            timing = getattr(figures, name).setdefault(spec, Timing(f"{name} {spec}"))
            for i in range(repeat):
                seconds, page = _timed_page(database, identity, sort=spec, offset=offset_of(i))
                if not page.items:
                    raise SystemExit(f"bench: empty page {name} of {spec} at {offset_of(i)}")
                timing.samples.append(seconds)

    for _ in range(repeat):
        seconds, _ = _time(lambda: _count(database, identity))
        figures.count.samples.append(seconds)

    for i in range(repeat):
        seconds, page = _timed_page(database, identity, search=search, sort="name")
        figures.search.samples.append(seconds)
        figures.search_total = str(page.total)
        seconds, _ = _timed_page(database, identity, search=search, sort="name", offset=PAGE)
        figures.search_next.samples.append(seconds)
        if i < 3:
            deepest = max(0, (page.total.value - 1) // PAGE * PAGE)
            seconds, _ = _timed_page(database, identity, search=search, sort="name", offset=deepest)
            figures.search_last.samples.append(seconds)
        if small is not None:
            seconds, page = _timed_page(database, small, search=search, sort="name")
            figures.search_small.samples.append(seconds)
            figures.search_small_total = str(page.total)
    return figures


def _count(database: Any, identity: Any) -> int:
    with customers(database, identity) as repository:
        return int(repository.count().value)


def worst(timings: dict[str, Timing]) -> Timing:
    return max(timings.values(), key=lambda t: t.median)


def detail_table(figures: PageFigures) -> list[str]:
    """Per sort: medians in ms (p90 in brackets)."""

    def cell(timing: Timing | None) -> str:
        if timing is None or not timing.samples:
            return "—"
        return f"{timing.median * 1000:.1f} ({timing.p90 * 1000:.1f})"

    lines = [
        f"Data layer, {figures.database}, tenant of {figures.rows:,} customers, pages of {PAGE}: "
        "median ms (p90), warm unless said",
        "",
        "| sort | first page | next page | middle pages | last page | "
        "first deep page after a write that moved rows (cold) |",
        "|---|---|---|---|---|---|",
    ]
    for spec in figures.first:
        lines.append(
            f"| {spec} | {cell(figures.first.get(spec))} | {cell(figures.next.get(spec))} "
            f"| {cell(figures.middle.get(spec))} | {cell(figures.last.get(spec))} "
            f"| {cell(figures.cold.get(spec))} |"
        )
    lines += [
        "",
        f"- count: {cell(figures.count)} ms; a fresh process's first deep page "
        f"(name order, computes anchors): {figures.cold_process.median * 1000:.0f} ms",
        f"- search `{SEARCH}` (page 1 with its count, {figures.search_total} matches): "
        f"{cell(figures.search)} ms; its page 2: {cell(figures.search_next)} ms; its last "
        f"counted page: {cell(figures.search_last)} ms",
    ]
    if figures.search_small.samples:
        lines.append(
            f"- the same search in a tenant of the small ones ({figures.search_small_total} "
            f"matches): {cell(figures.search_small)} ms"
        )
    lines.append("")
    return lines
