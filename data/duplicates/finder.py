"""Candidate pairs without a full pairwise scan: blocking on the keys.

Every rule in ``scoring`` needs two customers to share a key — the canonical email, the
phone, the address or a company email domain — so customers are compared only within a
group of equal key values (a *block*), in **four passes, one per** ``BlockKey``.  Each
pass reads the tenant's customers that have that key with equal values adjacent — from
the database, ``WHERE <key> IS NOT NULL ORDER BY <key>, name_key`` over an index on
``(tenant_id, <key>, name_key)`` — and holds one group at a time, so memory is bounded by
the largest group, not by the tenant.  A pair found by several passes is the same pair
(its score depends only on the two customers), and the passes' results are united.

Within a group of ``n``:

- **phone / email, n ≤ max_block**: every pair is one (``n(n-1)/2`` comparisons).
- **otherwise** (any domain or address group; a phone or email shared by more than
  ``max_block`` customers, a switchboard or a placeholder): only pairs with similar names
  count, found by comparing every pair of names in rapidfuzz's C++ matrix while
  ``n ≤ exact_limit`` (2,000 names: a 4 M-cell matrix, ~0.08 s on one core), above that by a sorted
  neighbourhood: each name against the next ``window`` names in two orders (by the
  folded name, and by its words reversed), which finds a near-identical name unless
  more than ``window`` customers of the group sit between them in both orders.
- **a group larger than max_group** (50,000) is read in consecutive chunks of that size
  and pairs across chunks are missed; ordered by ``name_key`` inside the group, each
  chunk is a range of names, so similar names mostly share a chunk.  ``PassStats``
  counts such groups, so the caller can say so.

Free-mail domains (``FinderSettings.shared_domains``) and domains of more than
``max_domain`` customers are skipped in the domain pass; the query may filter the
former out itself.  ``pairs_for`` is the incremental form: one changed
customer against the customers that share any key with it (``lookup_keys``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from rapidfuzz import fuzz, process

from data.duplicates.records import STRONG_KEYS, BlockKey, Candidate, Pair
from data.duplicates.scoring import DEFAULT_SETTINGS, FinderSettings, evaluate

_NO_TRUST: frozenset[BlockKey] = frozenset()
_LOOP_LIMIT = 16  # below this many names a Python loop beats building a matrix


@dataclass
class PassStats:
    """What one pass saw, for logs and the bench."""

    rows: int = 0  # customers read with this key
    groups: int = 0  # groups of two or more
    largest_group: int = 0
    chunked_groups: int = 0  # groups larger than max_group (pairs across chunks missed)
    skipped_rows: int = 0  # rows in shared (free-mail) domains
    comparisons: int = 0  # name comparisons made
    pairs: int = 0  # pairs this pass found (some also found by another pass)


@dataclass
class FoundPairs:
    """The pairs of a tenant, best first, and what each pass saw."""

    pairs: list[Pair]
    stats: dict[BlockKey, PassStats] = field(default_factory=dict)


def find_pairs(
    rows_for: Callable[[BlockKey], Iterable[Candidate]],
    settings: FinderSettings = DEFAULT_SETTINGS,
) -> FoundPairs:
    """Every pair, best first, from four passes; ``rows_for(key)`` streams one pass's rows.

    ``rows_for(key)`` yields the customers whose ``key`` is not null, with equal values
    adjacent (any collation) and ideally ordered by ``name_key`` inside a value.
    Memory: the largest group of one pass plus the pairs found.
    """
    found: dict[tuple[str, str], Pair] = {}
    stats: dict[BlockKey, PassStats] = {}
    for key in BlockKey:
        stats[key] = PassStats()
        for pair in pairs_in_pass(rows_for(key), key, settings, stats[key]):
            found[pair.ids] = pair
    return FoundPairs(sorted(found.values(), key=_best_first), stats)


def find_pairs_in_memory(
    candidates: Iterable[Candidate], settings: FinderSettings = DEFAULT_SETTINGS
) -> FoundPairs:
    """``find_pairs`` over customers held in memory (tests, small tenants)."""
    everyone = list(candidates)

    def rows_for(key: BlockKey) -> list[Candidate]:
        having = [c for c in everyone if c.key(key) is not None]
        return sorted(having, key=lambda c: (c.key(key) or "", c.name_key))

    return find_pairs(rows_for, settings)


def pairs_in_pass(
    rows: Iterable[Candidate],
    key: BlockKey,
    settings: FinderSettings = DEFAULT_SETTINGS,
    stats: PassStats | None = None,
) -> Iterator[Pair]:
    """The pairs within groups of equal ``key`` values; ``rows`` has equal values adjacent."""
    stats = stats if stats is not None else PassStats()
    current: str | None = None
    members: list[Candidate] = []
    chunked = skipping = False
    for row in rows:
        value = row.key(key)
        if value != current:
            if len(members) > 1:
                yield from _flush(members, key, settings, stats, whole=not chunked)
            else:  # most groups are one customer: no generator for them
                stats.rows += len(members)
            current, members, chunked, skipping = value, [], False, False
        if (
            skipping
            or value is None
            or (key is BlockKey.DOMAIN and value in settings.shared_domains)
        ):
            stats.skipped_rows += 1
            continue
        members.append(row)
        if key is BlockKey.DOMAIN and len(members) > settings.max_domain:
            # A shared domain after all (``FinderSettings.max_domain``): skip the group.
            stats.skipped_rows += len(members)
            members, skipping = [], True
            continue
        if len(members) == settings.max_group:  # read on in chunks; pairs across are lost
            stats.chunked_groups += not chunked
            chunked = True
            yield from _flush(members, key, settings, stats, whole=False)
            members = []
    yield from _flush(members, key, settings, stats, whole=not chunked)


def lookup_keys(
    candidate: Candidate, settings: FinderSettings = DEFAULT_SETTINGS
) -> dict[BlockKey, str]:
    """The key values whose customers ``pairs_for`` needs: query ``key = value`` for each."""
    wanted: dict[BlockKey, str] = {}
    for key in BlockKey:
        value = candidate.key(key)
        if value is not None and not (key is BlockKey.DOMAIN and value in settings.shared_domains):
            wanted[key] = value
    return wanted


def pairs_for(
    changed: Candidate,
    candidates: Iterable[Candidate],
    settings: FinderSettings = DEFAULT_SETTINGS,
) -> list[Pair]:
    """The pairs involving ``changed``, best first: after a write, or for an import's row.

    ``candidates`` are the customers sharing any of ``lookup_keys(changed)``, all of them
    (or at least ``max_block`` per strong key): a strong key's group size decides whether
    it makes a pair alone, as in the bulk passes.  Every candidate's name is compared, so
    this is exact where a bulk pass over a huge group is approximate.
    """
    others = list({c.id: c for c in candidates if c.id != changed.id}.values())
    trusted: set[BlockKey] = set()
    for key in STRONG_KEYS:
        value = changed.key(key)
        if value is not None and sum(c.key(key) == value for c in others) < settings.max_block:
            trusted.add(key)
    found = (evaluate(changed, other, settings, trusted) for other in others)
    return sorted((pair for pair in found if pair is not None), key=_best_first)


def _flush(
    members: list[Candidate],
    key: BlockKey,
    settings: FinderSettings,
    stats: PassStats,
    *,
    whole: bool,
) -> Iterator[Pair]:
    """The pairs of one group (or chunk) read from the stream."""
    stats.rows += len(members)
    if len(members) > 1:
        for pair in _group_pairs(members, key, settings, stats, whole=whole):
            stats.pairs += 1
            yield pair


def _best_first(pair: Pair) -> tuple[int, str, str]:
    return (-pair.score, pair.id_a, pair.id_b)


def _group_pairs(
    members: list[Candidate],
    key: BlockKey,
    settings: FinderSettings,
    stats: PassStats,
    *,
    whole: bool,
) -> Iterator[Pair]:
    count = len(members)
    if count < 2:
        return
    stats.groups += 1
    stats.largest_group = max(stats.largest_group, count)
    if whole and key in STRONG_KEYS and count <= settings.max_block:
        trusted = frozenset({key})
        stats.comparisons += count * (count - 1) // 2
        for i, a in enumerate(members):
            for b in members[i + 1 :]:
                pair = evaluate(a, b, settings, trusted)
                if pair is not None:
                    yield pair
        return
    names = [member.name_key for member in members]
    for i, j in _similar_names(names, settings, stats):
        pair = evaluate(members[i], members[j], settings, _NO_TRUST)
        if pair is not None:
            yield pair


def _similar_names(
    names: list[str], settings: FinderSettings, stats: PassStats
) -> Iterator[tuple[int, int]]:
    """Index pairs ``i < j`` of names at least ``name_threshold`` alike (empty names never)."""
    named = [i for i, name in enumerate(names) if name]
    count = len(named)
    cutoff = settings.name_threshold
    if count <= _LOOP_LIMIT:
        stats.comparisons += count * (count - 1) // 2
        for pos, i in enumerate(named):
            for j in named[pos + 1 :]:
                if fuzz.ratio(names[i], names[j], score_cutoff=cutoff):
                    yield (i, j)
    elif count <= settings.exact_limit:
        # numpy only here (rapidfuzz's matrix is one): loaded at import time, it would add
        # 16 MB to every process that can find pairs, an import's among them, for its
        # whole life, though only a large group needs it.
        import numpy as np

        stats.comparisons += count * (count - 1) // 2
        texts = [names[i] for i in named]
        matrix = process.cdist(
            texts,
            texts,
            scorer=fuzz.ratio,
            score_cutoff=cutoff,
            dtype=np.uint8,
            workers=settings.workers,
        )
        rows, cols = np.nonzero(np.triu(matrix, k=1))
        for row, col in zip(rows.tolist(), cols.tolist(), strict=True):
            yield (named[row], named[col])
    else:
        yield from _neighbourhood(names, named, settings, stats)


def _neighbourhood(
    names: list[str], named: list[int], settings: FinderSettings, stats: PassStats
) -> Iterator[tuple[int, int]]:
    """Sorted neighbourhood in two orders; only hits are remembered (memory ~ pairs found)."""
    hits: set[tuple[int, int]] = set()
    orders = (
        sorted(named, key=lambda i: names[i]),
        sorted(named, key=lambda i: " ".join(reversed(names[i].split()))),
    )
    for order in orders:
        for pos, i in enumerate(order):
            for j in order[pos + 1 : pos + 1 + settings.window]:
                stats.comparisons += 1
                pair = (i, j) if i < j else (j, i)
                if pair in hits:
                    continue
                if fuzz.ratio(names[i], names[j], score_cutoff=settings.name_threshold):
                    hits.add(pair)
                    yield pair
