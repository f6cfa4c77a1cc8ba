"""The API load generator: concurrent clients over a mix of calls, for bench/ and the soak.

``run_load(url, token, customers, clients=50, seconds=60)`` starts ``clients`` coroutines,
each with its own keep-alive connection, that loop until the deadline over the calls an
integration makes most, chosen at random in equal shares (``mix``):

* ``list``: a page of the list (``GET /api/customers?limit=50&offset=...``);
* ``get``: one customer (``GET /api/customers/{id}``);
* ``put``: a full replace with a new phone number (``PUT /api/customers/{id}``).

``think`` seconds between a client's calls turn saturation into steady load (the soak);
``periodic`` adds calls made every so often beside the clients (the soak's imports and
exports).  Every call is timed; an error is any status of 400 or more, or a transport
failure.  aiohttp rather than httpx: client and server share the machine, and aiohttp's
CPU per request is several times lower.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import aiohttp

    from tests.kit.seeding import SeededCustomer

PAGE = 50
MIX = ("list", "get", "put")


@dataclass
class Ops:
    """Latencies (seconds) and errors of one kind of call."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    first_errors: list[str] = field(default_factory=list)

    def record(self, seconds: float, error: str | None = None) -> None:
        self.latencies.append(seconds)
        if error is not None:
            self.errors += 1
            if len(self.first_errors) < 5:
                self.first_errors.append(error[:300])

    def merge(self, other: Ops) -> None:
        self.latencies += other.latencies
        self.errors += other.errors
        self.first_errors += other.first_errors[: max(0, 5 - len(self.first_errors))]

    def percentile(self, share: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def merged(ops: dict[str, Ops]) -> Ops:
    total = Ops()
    for op in ops.values():
        total.merge(op)
    return total


@dataclass
class LoadFigures:
    """What the clients saw: per kind of call, statuses, and the time it took."""

    ops: dict[str, Ops]
    statuses: Counter[str]
    seconds: float

    @property
    def requests(self) -> int:
        return sum(len(op.latencies) for op in self.ops.values())

    @property
    def errors(self) -> int:
        return sum(op.errors for op in self.ops.values())

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, share: float) -> float:
        return merged(self.ops).percentile(share)


# record(call's name, seconds, error or None, status): what each call reports.
Record = Callable[[str, float, "str | None", str], None]


@dataclass(frozen=True)
class Periodic:
    """A call made every ``every`` seconds (first after ``offset``) beside the clients.

    ``call(http)`` returns None on success, else a sentence saying what went wrong.
    """

    name: str
    every: float
    offset: float
    call: Callable[[aiohttp.ClientSession], Awaitable[str | None]]


async def _client(
    http: aiohttp.ClientSession,
    customers: Sequence[SeededCustomer],
    deadline: float,
    record: Record,
    rng: random.Random,
    mix: Sequence[str],
    think: float,
    page: int,
) -> None:
    import aiohttp

    last_offset = max(0, len(customers) - page)
    while time.monotonic() < deadline:
        name = rng.choice(mix)
        customer = rng.choice(customers)
        started = time.perf_counter()
        error: str | None = None
        try:
            if name == "list":
                offset = rng.randint(0, last_offset)
                call = http.get("/api/customers", params={"limit": page, "offset": offset})
            elif name == "get":
                call = http.get(f"/api/customers/{customer.id}")
            else:
                body = customer.body(phone=f"+1 555 {rng.randrange(10**7):07d}")
                call = http.put(f"/api/customers/{customer.id}", json=body)
            async with call as response:
                answer = await response.read()
                status = str(response.status)
                if response.status >= 400:
                    error = f"{name} {response.status}: {answer[:200].decode(errors='replace')}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            status, error = type(exc).__name__, f"{name}: {type(exc).__name__} {exc}"
        record(name, time.perf_counter() - started, error, status)
        if think:
            await asyncio.sleep(think)


async def drive(
    url: str,
    token: str,
    customers: Sequence[SeededCustomer],
    *,
    clients: int = 50,
    seconds: float = 60.0,
    think: float = 0.0,
    mix: Sequence[str] = MIX,
    page: int = PAGE,
    periodic: Sequence[Periodic] = (),
    timeout: float = 30.0,
    seed: int = 0,
) -> LoadFigures:
    """Load ``url`` with ``clients`` clients for ``seconds``; see the module doc."""
    import aiohttp

    ops: dict[str, Ops] = {}
    statuses: Counter[str] = Counter()

    def record(name: str, elapsed: float, error: str | None, status: str) -> None:
        ops.setdefault(name, Ops()).record(elapsed, error)
        statuses[status] += 1

    async def repeat(task: Periodic, http: aiohttp.ClientSession, deadline: float) -> None:
        await asyncio.sleep(task.offset)
        while time.monotonic() < deadline:
            started = time.perf_counter()
            try:
                error = await task.call(http)
            except (aiohttp.ClientError, TimeoutError) as exc:
                error = f"{task.name}: {type(exc).__name__} {exc}"
            status = "ok" if error is None else "failed"
            record(task.name, time.perf_counter() - started, error, status)
            await asyncio.sleep(task.every)

    connector = aiohttp.TCPConnector(limit=clients + len(periodic))
    async with aiohttp.ClientSession(
        base_url=url,
        headers={"Authorization": f"Bearer {token}"},
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=timeout),
    ) as http:
        started = time.monotonic()
        deadline = started + seconds
        await asyncio.gather(
            *(
                _client(
                    http, customers, deadline, record, random.Random(seed + n), mix, think, page
                )
                for n in range(clients)
            ),
            *(repeat(task, http, deadline) for task in periodic),
        )
        elapsed = time.monotonic() - started
    return LoadFigures(ops, statuses, elapsed)


def run_load(
    url: str, token: str, customers: Sequence[SeededCustomer], **options: Any
) -> LoadFigures:
    """``drive(...)`` in a fresh event loop."""
    return asyncio.run(drive(url, token, customers, **options))
