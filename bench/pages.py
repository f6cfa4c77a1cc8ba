"""The Customers page in the data layer: the calls the page makes, timed (SPEC §8).

For one tenant (the big one of the bench data set) this times, through
``CustomerRepository`` exactly as ``ui.customer_table.load_page`` calls it (a read
transaction of the tenant, ``list(search, sort, limit, offset)`` with its total):

* the first page of every sort in both directions (the anchor of the page rows),
* the next page, pages deep in the middle and the last page (anchor seeks),
* the count alone,
* a search (``nakamura`` by default), its next page and its last counted page,
* *cold* deep pages: the first deep page of a sort after a write to the tenant, which
  recomputes that sort's anchors (data/paging.py), and in a process that has none yet.

Warm figures are medians of ``repeat`` calls (p90 beside them).  Wall-clock time is what
a user waits for; on a shared machine it includes waiting for a CPU, so the machine's
load is reported with it.
"""

from __future__ import annotations

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
    cold: dict[str, Timing] = field(default_factory=dict)  # after a write
    count: Timing = field(default_factory=lambda: Timing("count"))
    search: Timing = field(default_factory=lambda: Timing("search"))
    search_next: Timing = field(default_factory=lambda: Timing("search next"))
    search_last: Timing = field(default_factory=lambda: Timing("search last"))
    search_total: str = ""
    cold_process: Timing = field(default_factory=lambda: Timing("cold process"))

    def all_deep(self) -> list[Timing]:
        return [*self.middle.values(), *self.last.values()]


def sort_specs(sorts: list[str]) -> list[str]:
    return [direction + sort for sort in sorts for direction in DIRECTIONS]


@contextmanager
def _repository(
    database: Any, tenant_id: str, actor: Any = None, write: bool = False
) -> Iterator[Any]:
    from data.customers import CustomerRepository

    with database.transaction(tenant_id, write=write) as session:
        yield CustomerRepository(session, tenant_id, actor)


def _time(call: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = call()
    return time.perf_counter() - started, value


def _page(database: Any, tenant_id: str, **query: Any) -> Any:
    with _repository(database, tenant_id) as repository:
        return repository.list(limit=PAGE, **query)


def _timed_page(database: Any, tenant_id: str, **query: Any) -> tuple[float, Any]:
    return _time(lambda: _page(database, tenant_id, **query))


def touch(database: Any, tenant_id: str, actor: Any) -> None:
    """One ordinary write to the tenant (a phone number), as a user's edit is."""
    with _repository(database, tenant_id, actor, write=True) as repository:
        first = repository.list(limit=1, with_total=False).items[0]
        phone = "+1 555 0100" if first.phone != "+1 555 0100" else "+1 555 0101"
        repository.update(first.id, first.fields() | {"phone": phone})


def rename(database: Any, tenant_id: str, actor: Any) -> None:
    """A write that moves a row in the name order (the Customers page's default sort), so
    that the next deep page of that order computes its anchors again."""
    with _repository(database, tenant_id, actor, write=True) as repository:
        first = repository.list(limit=1, with_total=False).items[0]
        name = first.name[:-2] if first.name.endswith(" ·") else first.name + " ·"
        repository.update(first.id, first.fields() | {"name": name})


def measure(
    database: Any,
    tenant_id: str,
    actor: Any,
    *,
    label: str,
    repeat: int = 15,
    search: str = SEARCH,
    progress: Callable[[str], None] = print,
) -> PageFigures:
    """Time the Customers page's data-layer calls on ``tenant_id`` of ``database``."""
    from data import paging
    from data.customers import SORTS

    paging.CACHE.clear()
    with _repository(database, tenant_id) as repository:
        total = repository.count().value
    figures = PageFigures(label, total)
    last_offset = max(0, (total - 1) // PAGE * PAGE)
    middle_offsets = sorted({total // 3 // PAGE * PAGE, total // 2 // PAGE * PAGE + PAGE * 7})
    specs = sort_specs(list(SORTS))

    # A process that has computed no anchors yet: its first deep page (name order).
    seconds, _ = _timed_page(database, tenant_id, sort="name", offset=middle_offsets[0])
    figures.cold_process.samples.append(seconds)

    for spec in specs:
        progress(f"    {label}: sort {spec}")
        # Cold: a write, then the first deep page of this sort recomputes its anchors.
        for _ in range(2):
            touch(database, tenant_id, actor)
            seconds, _ = _timed_page(database, tenant_id, sort=spec, offset=middle_offsets[-1])
            figures.cold.setdefault(spec, Timing(f"cold {spec}")).samples.append(seconds)
        # Warm: anchors cached for this change count.
        for name, offset_of in (
            ("first", lambda i: 0),
            ("next", lambda i: PAGE),
            ("middle", lambda i: middle_offsets[i % len(middle_offsets)] + PAGE * (i % 5)),
            ("last", lambda i: last_offset),
        ):
            timing = getattr(figures, name).setdefault(spec, Timing(f"{name} {spec}"))
            for i in range(repeat):
                seconds, page = _timed_page(database, tenant_id, sort=spec, offset=offset_of(i))
                if not page.items:
                    raise SystemExit(f"bench: empty page {name} of {spec} at {offset_of(i)}")
                timing.samples.append(seconds)

    for _ in range(repeat):
        seconds, _ = _time(lambda: _count(database, tenant_id))
        figures.count.samples.append(seconds)

    for i in range(repeat):
        seconds, page = _timed_page(database, tenant_id, search=search, sort="name")
        figures.search.samples.append(seconds)
        figures.search_total = str(page.total)
        seconds, _ = _timed_page(database, tenant_id, search=search, sort="name", offset=PAGE)
        figures.search_next.samples.append(seconds)
        if i < 3:
            deepest = max(0, (page.total.value - 1) // PAGE * PAGE)
            seconds, _ = _timed_page(
                database, tenant_id, search=search, sort="name", offset=deepest
            )
            figures.search_last.samples.append(seconds)
    return figures


def _count(database: Any, tenant_id: str) -> int:
    with _repository(database, tenant_id) as repository:
        return int(repository.count().value)


def summary(figures: PageFigures) -> dict[str, tuple[float, float, str]]:
    """Rows for the results table: name → (median seconds, anchor seconds, note)."""
    first = statistics.median(t.median for t in figures.first.values())
    first_name = figures.first["name"].median
    deep = figures.all_deep()
    worst_deep = max(deep, key=lambda t: t.median)
    cold = max(figures.cold.values(), key=lambda t: t.median)
    nexts = max(figures.next.values(), key=lambda t: t.median)
    return {
        "first page (name order)": (first_name, first_name, "the anchor"),
        "first page, worst of 12 sorts": (
            max(t.median for t in figures.first.values()),
            first_name,
            f"median over sorts {first * 1000:.1f} ms",
        ),
        "next page, worst sort": (nexts.median, first_name, nexts.label),
        "deep page (middle or last), worst sort": (
            worst_deep.median,
            first_name,
            f"{worst_deep.label}; p90 {worst_deep.p90 * 1000:.1f} ms",
        ),
        "count": (figures.count.median, first_name, "exact, the tenant's counter row"),
        "cold deep page after a write, worst sort": (
            cold.median,
            first_name,
            f"{cold.label}: recomputes that sort's anchors",
        ),
    }


def detail_table(figures: PageFigures) -> list[str]:
    """Per sort: medians in ms (p90 in brackets)."""

    def cell(timing: Timing | None) -> str:
        if timing is None:
            return "—"
        return f"{timing.median * 1000:.1f} ({timing.p90 * 1000:.1f})"

    lines = [
        f"Data layer, {figures.database}, tenant of {figures.rows:,} customers, pages of {PAGE}: "
        "median ms (p90), warm unless said",
        "",
        "| sort | first page | next page | middle pages | last page | "
        "first deep page after a write (cold) |",
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
        "",
    ]
    return lines
