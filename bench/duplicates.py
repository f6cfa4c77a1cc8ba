"""Duplicate pairs of a 1,000,000-customer tenant: time and peak memory (issue 16).

Measures the product's own path, on a real migrated database (SQLite by default):

1. **load**: synthetic customers (``data.duplicates.synthetic``: ~3 % planted duplicates,
   German phones, half free-mail addresses, company domains of skewed sizes) go into a
   tenant whose phone region is DE, through ``data.customers.writes.insert_new`` (the
   bulk seeding of tests and benchmarks: every column a write stores, keys included, and
   every index).  Timed apart: computing the keys alone (``duplicate_keys``), which is
   what every write path pays per customer.  The planted pairs go to ``<db>.planted``.
2. **find**: a process of its own runs ``data.duplicates.bulk.rebuild`` for the tenant —
   what ``manage.py duplicates --rebuild`` does without recomputing the keys, and what an
   import into an empty tenant does — four passes streamed from the customers table over
   the indexes of migration 0004, the pairs written to ``duplicate_pairs``.  Its peak RSS
   is the finder's, not the generator's.  Precision and recall against the planted pairs.
3. **writes** (standalone runs): single creates of near-duplicates in the big tenant, each
   in its own transaction, with the write hook finding their pairs: the cost per write.

    nice .venv/bin/python bench/duplicates.py [--rows 1000000] [--url URL] [--writes 200]

``bench/run.py`` (``make bench``) calls ``load(db, rows, seed)`` and
``duplicates.py find --db DB``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))
sys.path.insert(0, str(PROJECT / "bench"))

DUPLICATE_RATE = 0.03
BATCH = 10_000
TENANT = "bench-duplicates"
FLOORS = (0, 50)


def _database(url: str):  # type: ignore[no-untyped-def]
    from data.db import get_database

    database = get_database(url)
    database.migrate()
    return database


def _url(db: Path) -> str:
    return f"sqlite:///{db}"


def load(db: Path | str, rows: int, seed: int) -> tuple[int, float, float]:
    """Seed the tenant; (customers written, seconds of key computation, seconds to seed)."""
    from data.db import reset_databases
    from data.duplicates.keys import duplicate_keys
    from data.duplicates.synthetic import synthetic_customers

    # A database of this URL may be cached with pooled connections to a file that was
    # removed since (the bench removes it between repetitions): they would write there.
    reset_databases()
    url = db if isinstance(db, str) else _url(db)
    originals = round(rows / (1 + DUPLICATE_RATE))
    started = time.perf_counter()
    for customer in synthetic_customers(originals, duplicate_rate=DUPLICATE_RATE, seed=seed):
        duplicate_keys(customer.values, "DE")
    keys_seconds = time.perf_counter() - started
    generated = time.perf_counter()
    for _ in synthetic_customers(originals, duplicate_rate=DUPLICATE_RATE, seed=seed):
        pass
    keys_seconds -= time.perf_counter() - generated  # the generation alone, taken out
    started = time.perf_counter()
    written = _seed(url, originals, seed, _planted_file(url))
    return written, keys_seconds, time.perf_counter() - started


def _planted_file(url: str) -> Path:
    from sqlalchemy.engine import make_url

    database = make_url(url).database or "bench"
    if url.startswith("sqlite"):
        return Path(f"{database}.planted")
    return Path(tempfile.gettempdir()) / f"{database}.planted"


def _seed(url: str, originals: int, seed: int, planted: Path) -> int:
    from data.customers.writes import insert_new
    from data.duplicates.synthetic import synthetic_customers
    from data.schemas import validate_customer
    from data.tenancy import create_tenant

    database = _database(url)
    with database.transaction(None, write=True) as session:
        tenant_id = create_tenant(session, f"{TENANT}-{time.time_ns()}", region="DE").id
    written = 0
    previous: dict[str, str] = {}  # synthetic id → stored id, of the batch before
    with planted.open("w") as truth:
        truth.write(f"tenant {tenant_id}\n")
        stream = synthetic_customers(originals, duplicate_rate=DUPLICATE_RATE, seed=seed)
        while batch := _take(stream, BATCH):
            with database.transaction(tenant_id, write=True) as session:
                ids = insert_new(session, tenant_id, (validate_customer(c.values) for c in batch))
            stored = dict(zip((c.id for c in batch), ids, strict=True))
            for customer in batch:
                if customer.duplicate_of is not None:
                    original = stored.get(customer.duplicate_of) or previous[customer.duplicate_of]
                    truth.write(f"{original} {stored[customer.id]}\n")
            previous = {batch[-1].id: ids[-1]}
            written += len(batch)
    return written


def _take(stream: Iterator[object], count: int) -> list:  # type: ignore[type-arg]
    batch = []
    for item in stream:
        batch.append(item)
        if len(batch) == count:
            break
    return batch


def _tenant(url: str) -> str:
    """The bench tenant's id (the first line of ``<db>.planted``)."""
    with _planted_file(url).open() as planted:
        return planted.readline().split()[1]


def find(url: str) -> dict[str, object]:
    """Rebuild the tenant's pairs; what was found, how fast, how well (for ``find``)."""
    from data.duplicates.bulk import rebuild
    from data.identity import Identity

    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    database = _database(url)
    tenant_id = _tenant(url)
    operator = Identity.of_operator(tenant_id, "bench")
    started = time.perf_counter()
    with database.scope(operator, write=True) as scope:
        result = rebuild(scope)
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "baseline_mb": baseline,
        "pairs": result.pairs,
        "chunked_groups": result.chunked_groups,
        "largest_group": result.largest_group,
        **_quality(database, tenant_id, _planted_file(url)),
        "stats": {key.value: vars(stats) for key, stats in result.stats.items()},
    }


def _quality(database, tenant_id: str, planted: Path) -> dict[str, object]:  # type: ignore[no-untyped-def]
    from data.identity import Identity

    lines = planted.read_text().splitlines()[1:]
    truth = {tuple(sorted(line.split())) for line in lines}
    found: dict[int, set[tuple[str, ...]]] = {floor: set() for floor in FLOORS}
    with database.scope(Identity.of_operator(tenant_id, "bench")) as scope:
        for pair in scope.duplicates.each():
            for floor in FLOORS:
                if pair.score >= floor:
                    found[floor].add((pair.first.id, pair.second.id))
    quality = {}
    for floor, got in found.items():
        hits = len(got & truth)
        quality[floor] = (hits / max(1, len(got)), hits / max(1, len(truth)))
    return {"planted": len(truth), "quality": quality}


def writes(url: str, count: int) -> list[float]:
    """Milliseconds per single create of a near-duplicate in the tenant (the write hook)."""
    from data.duplicates.synthetic import synthetic_customers
    from data.identity import Identity

    database = _database(url)
    operator = Identity.of_operator(_tenant(url), "bench")
    spent = []
    for index, customer in enumerate(synthetic_customers(count, duplicate_rate=0, seed=99)):
        values = dict(customer.values) | {"email": f"w{index}.{customer.values['email']}"}
        started = time.perf_counter()
        with database.scope(operator, write=True) as scope:
            scope.customers.create(values)
        spent.append((time.perf_counter() - started) * 1000)
    return spent


def report(rows: int, seed: int, url: str, count: int) -> None:
    from benchkit import load_average, machine, timed

    print(f"machine: {machine()}")
    print(f"load average before: {load_average():.1f}")
    written, keys_s, seed_s = load(url, rows, seed)
    print(f"keys: {written:,} customers in {keys_s:.1f} s ({keys_s / written * 1e6:.0f} µs each)")
    print(f"seeded with insert_new (keys, every index) in {seed_s:.0f} s")
    measured = timed([sys.executable, __file__, "find", "--url", url])
    found = json.loads(measured.out)
    print(
        f"find (rebuild): {found['seconds']:.1f} s in the process ({measured.seconds:.1f} s "
        f"with start-up), peak RSS {measured.rss_mb:.0f} MB "
        f"(of which {found['baseline_mb']:.0f} MB is Python and the libraries)"
    )
    print(f"pairs: {found['pairs']:,}; planted {found['planted']:,}")
    print(
        f"largest group {found['largest_group']:,}; groups compared in parts: "
        f"{found['chunked_groups']}"
    )
    for floor, (precision, recall) in found["quality"].items():
        print(f"  score >= {floor}: precision {precision:.3f}, recall {recall:.3f}")
    for key, stats in found["stats"].items():
        print(f"  {key}: {stats}")
    if count:
        spent = writes(url, count)
        print(
            f"writes: {count} single creates in the tenant: median {statistics.median(spent):.1f}"
            f" ms, p95 {sorted(spent)[int(len(spent) * 0.95) - 1]:.1f} ms"
        )
    print(f"load average after: {load_average():.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("phase", nargs="?", choices=["all", "find"], default="all")
    parser.add_argument("--rows", type=int, default=1_000_000, help="customers, about")
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--db", type=Path, help="a SQLite file (default: a temporary one)")
    parser.add_argument("--url", help="a database URL instead (an empty PostgreSQL database)")
    parser.add_argument("--writes", type=int, default=200, help="single creates to time")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()
    os.environ.setdefault("BCRYPT_ROUNDS", "4")
    if args.phase == "find":
        print(json.dumps(find(args.url or _url(args.db))))
        return
    folder = Path(tempfile.mkdtemp(prefix="dupbench-"))
    db = args.db or folder / "customers.db"
    url = args.url or _url(db)
    try:
        report(args.rows, args.seed, url, args.writes)
    finally:
        if not args.keep and not args.url:
            for path in db.parent.glob(db.name + "*"):
                path.unlink()


if __name__ == "__main__":
    main()
