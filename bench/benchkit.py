"""What the bench scripts share: scratch PostgreSQL databases, running and timing commands
with the memory of their whole process tree, spreads of repeated samples, and the
machine's description for the reports.

The harness shared with the tests (servers, the dashboard launcher, seeding, the load
generator) is ``tests.kit``; this module is what only benchmarks need.
"""

from __future__ import annotations

import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
if str(PROJECT_DIR) not in sys.path:
    sys.path.insert(0, str(PROJECT_DIR))

from tests.kit.databases import create_scratch, drop_scratch  # noqa: E402
from tests.kit.servers import descendants  # noqa: E402

TIME = "/usr/bin/time"


# -- scratch PostgreSQL databases ---------------------------------------------------------


def pg_admin_url() -> str | None:
    """The server benchmarks may create databases on: ``BENCH_DATABASE_URL``, else
    ``TEST_DATABASE_URL``; None when neither is set."""
    url = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")
    return url.strip() if url else None


def pg_scratch(admin: str, name: str) -> str:
    """Create the database ``name`` afresh on the server of ``admin``; return its URL."""
    url, _ = create_scratch(admin, name)
    return url


def pg_drop(admin: str, name: str) -> None:
    """Drop the database ``name`` and the runtime role ``init-db`` made for it."""
    drop_scratch(admin, name)


# -- spreads of repeated samples ------------------------------------------------------------


@dataclass
class Spread:
    """Repeated samples of one figure: the median to quote, min and max beside it."""

    samples: list[float] = field(default_factory=list)

    def add(self, value: float) -> None:
        self.samples.append(value)

    @property
    def median(self) -> float:
        return statistics.median(self.samples) if self.samples else float("nan")

    @property
    def low(self) -> float:
        return min(self.samples) if self.samples else float("nan")

    @property
    def high(self) -> float:
        return max(self.samples) if self.samples else float("nan")

    def __bool__(self) -> bool:
        return bool(self.samples)


def ratios(ours: Sequence[float], anchor: Sequence[float]) -> Spread:
    """Ratios pair by pair (run i of ours over run i of the anchor, measured side by side)."""
    return Spread([a / b for a, b in zip(ours, anchor, strict=False) if b])


# -- the memory of a process tree -----------------------------------------------------------


def _memory_kb(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of one process in kB; PSS shares each shared page among its users."""
    rss = pss = 0
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Rss:"):
                rss = int(line.split()[1])
            elif line.startswith("Pss:"):
                pss = int(line.split()[1])
    except (OSError, ValueError):
        pass
    return rss, pss


class TreeMemory(threading.Thread):
    """Samples the summed RSS and PSS of a process and its descendants every ``every`` s."""

    def __init__(self, root: int, every: float = 0.2, include_root: bool = False) -> None:
        super().__init__(daemon=True)
        self.root = root
        self.every = every
        self.include_root = include_root
        self.peak_rss = 0  # kB
        self.peak_pss = 0  # kB
        self.most = 1  # processes at once
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(self.every):
            pids = descendants(self.root)
            if self.include_root:
                pids.append(self.root)
            figures = [_memory_kb(pid) for pid in pids]
            self.peak_rss = max(self.peak_rss, sum(r for r, _ in figures))
            self.peak_pss = max(self.peak_pss, sum(p for _, p in figures))
            self.most = max(self.most, sum(1 for r, _ in figures if r))


@dataclass
class Timed:
    """One run of a command: wall seconds, its output, and memory (MB)."""

    seconds: float
    out: str
    err: str
    rss_mb: float  # the largest single process (/usr/bin/time -v)
    tree_rss_mb: float  # all processes together, summed RSS (sampled)
    tree_pss_mb: float  # all processes together, summed PSS (sampled)
    processes: int

    def memory_note(self) -> str:
        return (
            f"largest process {self.rss_mb:.0f} MB RSS; all {self.processes} processes "
            f"{self.tree_rss_mb:.0f} MB RSS / {self.tree_pss_mb:.0f} MB PSS"
        )


class CommandFailed(RuntimeError):
    pass


def timed(
    command: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    stdin: bytes | None = None,
    stdout: Path | None = None,
    check: bool = True,
) -> Timed:
    """Run ``command`` under ``/usr/bin/time -v``, sampling its whole process tree's memory.

    The largest process's peak is the kernel's (``time -v``); the tree's summed RSS and
    PSS are sampled every 0.2 s (the command and every process it starts).
    """
    full = [TIME, "-v", *command] if Path(TIME).exists() else list(command)
    with tempfile.TemporaryFile() as err, tempfile.TemporaryFile() as out_file:
        out_handle = stdout.open("wb") if stdout is not None else out_file
        try:
            started = time.perf_counter()
            process = subprocess.Popen(
                full,
                env=dict(env) if env is not None else None,
                stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                stdout=out_handle,
                stderr=err,
            )
            sampler = TreeMemory(process.pid)
            sampler.start()
            if stdin is not None:
                assert process.stdin is not None
                process.stdin.write(stdin)
                process.stdin.close()
            code = process.wait()
            elapsed = time.perf_counter() - started
            sampler.done.set()
            sampler.join()
        finally:
            if stdout is not None:
                out_handle.close()
        err.seek(0)
        err_text = err.read().decode(errors="replace")
        out_file.seek(0)
        out_text = out_file.read().decode(errors="replace")
    if check and code != 0:
        raise CommandFailed(f"{' '.join(command)} failed ({code}):\n{err_text[-2000:]}")
    match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", err_text)
    rss = int(match.group(1)) / 1024 if match else float("nan")
    own = re.split(r"\n\s*Command being timed:", err_text)[0]
    return Timed(
        elapsed,
        out_text,
        own,
        rss,
        max(sampler.peak_rss / 1024, rss if rss == rss else 0),
        sampler.peak_pss / 1024,
        sampler.most,
    )


# -- the machine --------------------------------------------------------------------------


def cpu_name() -> str:
    """The CPU's model name (from /proc/cpuinfo), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> str:
    """CPU, CPU count, memory and OS: what a reader needs to compare figures (no host name,
    no paths)."""
    memory = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kb / 1024 / 1024:.0f} GB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return f"{cpu_name()}, {os.cpu_count()} CPUs{memory}, {platform.platform()}"


def load_average() -> float:
    return os.getloadavg()[0]


def commit() -> str:
    """The commit measured, with ``+ uncommitted changes`` when the tree differs from it."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=PROJECT_DIR,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=PROJECT_DIR,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return head + (" + uncommitted changes" if dirty else "")


def private(text: str, *extra: tuple[str, str]) -> str:
    """``text`` with the machine's own paths replaced by what they are (for RESULTS.md)."""
    replacements = [
        *extra,
        (str(PROJECT_DIR / "bench" / "data"), "bench/data"),
        (str(PROJECT_DIR / ".venv" / "bin" / "python"), "python"),
        (sys.executable, "python"),
        (str(PROJECT_DIR) + "/", ""),
        (str(PROJECT_DIR), "."),
        (tempfile.gettempdir() + "/", "$TMPDIR/"),
    ]
    for old, new in replacements:
        text = text.replace(old, new)
    # A database server's address (and any user or password in it) is the machine's too.
    return re.sub(r"postgresql(\+psycopg)?://[^/\s'\"]+/", "postgresql://$SERVER/", text)
