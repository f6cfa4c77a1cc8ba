"""Validation of large imports in worker processes, overlapping with the database work.

email-validator costs tens of microseconds per address, so a million rows are most of a
minute of one CPU; workers (one per CPU but one) validate while the importing process
stages and writes.

The workers are plain Python subprocesses running ``serve`` here, which read pickled
batches on stdin and answer on stdout, in order.  Deliberately not ``multiprocessing``:
its ``spawn`` start method re-imports the parent's ``__main__`` in every worker, and
inside Streamlit ``__main__`` is the page script being run (and in other hosts it may
be anything), which a worker must never execute.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import queue
import struct
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from pathlib import Path
from typing import IO, Any, Generic, TypeVar, cast

from data.errors import ImportFailed

PROJECT_DIR = Path(__file__).resolve().parents[2]
# A worker's program.  Not ``-m data.importing.workers``: the package imports this
# module before runpy would run it as ``__main__`` (runpy warns about exactly that).
WORKER_MAIN = "import sys; from data.importing.workers import serve; sys.exit(serve(sys.argv[1]))"
HEADER = struct.Struct("!Q")
In = TypeVar("In")
Out = TypeVar("Out")


def _send(stream: IO[bytes], value: object) -> None:
    payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(HEADER.pack(len(payload)))
    stream.write(payload)
    stream.flush()


def _receive_frame(stream: IO[bytes]) -> bytes:
    head = stream.read(HEADER.size)
    if len(head) < HEADER.size:
        raise EOFError
    (size,) = HEADER.unpack(head)
    payload = stream.read(size)
    if len(payload) < size:
        raise EOFError
    return payload


def _receive(stream: IO[bytes]) -> Any:
    return pickle.loads(_receive_frame(stream))  # noqa: S301 - frames from our own process


class Answer(Generic[Out]):
    """A worker's answer as the frame it came in, unpickled only by ``value``.

    A frame is a pickle of ``(ok, value)``: the value, or what the worker raised.
    Answers that wait (in a read-ahead queue, say) wait as one bytes object each: a
    batch of 2,500 staged rows is under a megabyte as a frame and several times that as
    tuples and strings.  ``None`` is a worker that stopped without answering.
    """

    __slots__ = ("frame",)

    def __init__(self, frame: bytes | None) -> None:
        self.frame = frame

    def value(self) -> Out:
        frame, self.frame = self.frame, None  # taken once; the bytes go with it
        value: Any
        try:
            ok, value = pickle.loads(frame) if frame is not None else (False, None)  # noqa: S301
        except pickle.UnpicklingError:
            ok, value = False, None
        if not ok:
            if isinstance(value, BaseException):
                raise value
            raise ImportFailed("A validation worker stopped unexpectedly; please retry.")
        return cast(Out, value)


class _Worker:
    def __init__(self, function: str, context: object) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            [str(PROJECT_DIR), *filter(None, [env.get("PYTHONPATH")])]
        )
        self.process = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
            [sys.executable, "-c", WORKER_MAIN, function],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            cwd=str(PROJECT_DIR),
        )
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.stdin = self.process.stdin
        self.submitted = 0  # items given to this process, ever
        self.in_flight = 0  # ... whose answer has not been taken yet
        # Answers wait here as the pickled frames they came in (a batch's rows are one
        # bytes object of a megabyte or two, instead of several times that in tuples and
        # strings), unpickled only when taken (``result``).
        self.results: queue.Queue[bytes | None] = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        _send(self.stdin, context)

    def _read(self) -> None:
        assert self.process.stdout is not None
        while True:
            try:
                self.results.put(_receive_frame(self.process.stdout))
            except (EOFError, OSError):
                self.results.put(None)
                return

    def submit(self, item: object) -> None:
        self.submitted += 1
        self.in_flight += 1
        try:
            _send(self.stdin, item)
        except (BrokenPipeError, OSError):
            raise ImportFailed("A validation worker stopped unexpectedly; please retry.") from None

    def result(self) -> Answer[Any]:
        return Answer(self.results.get())

    def finish(self) -> None:
        """No more items: the process answers those it has, then exits."""
        with contextlib.suppress(OSError):
            self.stdin.close()

    def close(self) -> None:
        self.finish()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# Items a worker process handles before a fresh one takes its place.  A worker's memory
# crept up with the items it had handled (about 50 MB over 100 batches of 5,000 rows).
# The cause was found later: garbage in cycles waiting for a full collection, which
# ``serve`` now does after each item (a worker then stays at 40 MB).  The fresh process
# every 50 batches (125,000 rows in batches of ``validation.BATCH_ROWS``) stays as a
# bound on whatever a validator may keep (the same remedy as ``multiprocessing``'s
# ``maxtasksperchild``); starting one costs about 0.3 s of CPU.
ITEMS_PER_WORKER = 50


def parallel_map(
    function: str, context: object, items: Iterable[In], workers: int, **options: int
) -> Iterator[Out]:
    """``function(context, item)`` for each item, in input order: ``parallel_answers``
    (``options`` are its ``window`` and ``items_per_worker``) with each answer unpickled
    as it comes (a worker's exception is raised here)."""
    answers: Generator[Answer[Out], None, None] = parallel_answers(
        function, context, items, workers, **options
    )
    try:
        for answer in answers:
            yield answer.value()
    finally:
        answers.close()


def parallel_answers(
    function: str,
    context: object,
    items: Iterable[In],
    workers: int,
    window: int = 1,
    items_per_worker: int = ITEMS_PER_WORKER,
) -> Generator[Answer[Out], None, None]:
    """``function(context, item)`` for each item, in input order, computed by ``workers``
    processes, each answer as its frame (``Answer.value`` unpickles it).

    ``function`` is ``"module:name"``; at most ``window`` items per worker are in flight,
    so memory stays bounded however long ``items`` is, and an item is not kept once it
    has been sent (a caller that needs something of it keeps that itself).  One item per
    worker is enough to keep them busy: the caller's database work on one answer overlaps
    the validation of the next, and more in flight only costs memory (at 100,000 rows on
    SQLite, a window of 2 took 14 MB more at its peak and was no faster).  A worker that
    has been given ``items_per_worker`` items is replaced by a fresh process (the first
    ones earlier, staggered) and closed once its last answer is in.
    """
    pool = [_Worker(function, context) for _ in range(workers)]
    # The first workers are replaced at staggered counts, so that one process at a time
    # is starting while another finishes (never all of them at once).
    quota = [max(1, items_per_worker * (slot + 1) // workers) for slot in range(workers)]
    retired: list[_Worker] = []
    pending: deque[_Worker] = deque()

    def collect() -> Answer[Out]:
        worker = pending.popleft()
        answer: Answer[Out] = worker.result()
        worker.in_flight -= 1
        if worker in retired and not worker.in_flight:
            retired.remove(worker)
            worker.close()
        return answer

    try:
        turn = -1
        for item in items:  # not ``enumerate``: its reused result tuple keeps the last item
            turn += 1
            slot = turn % workers
            worker = pool[slot]
            if worker.submitted >= quota[slot]:
                if worker.in_flight:
                    worker.finish()  # it answers what it has, then exits (``collect``)
                    retired.append(worker)
                else:
                    worker.close()  # gone before its successor starts
                worker = pool[slot] = _Worker(function, context)
                quota[slot] = items_per_worker
            worker.submit(item)
            del item
            pending.append(worker)
            if len(pending) >= window * workers:
                yield collect()
        while pending:
            yield collect()
    finally:
        for worker in [*pool, *retired]:
            worker.close()


def serve(function: str) -> int:
    """The worker's loop: a context, then items until stdin closes.

    After each answer the worker collects its cyclic garbage, while the parent works on
    that answer.  Left to the collector's own schedule, garbage in cycles that outlives
    an item's young collections waits for a full collection, which comes rarely: a
    worker validating 5,000-row batches grew from 39 to 70 MB over 20 of them, and stays
    at 40 MB with a collection after each (phonenumbers keeps the exception of a failed
    parse in a local of its frame, a cycle for every phone it cannot read).  What is
    loaded before the first item lives as long as the worker, so it is frozen out of
    the collections, which then take about 2 ms.
    """
    import gc
    import importlib

    module_name, _, name = function.partition(":")
    target: Callable[[object, object], object] = getattr(importlib.import_module(module_name), name)
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing but frames may go to the parent
    try:
        context = _receive(stdin)
    except EOFError:
        return 0
    gc.freeze()
    while True:
        try:
            item = _receive(stdin)
        except EOFError:
            return 0
        try:
            answer: tuple[bool, object] = (True, target(context, item))
        except Exception as exc:  # handed to the parent, which raises it
            answer = (False, exc)
        try:
            _send(stdout, answer)
        except (BrokenPipeError, OSError):
            return 0
        del item, answer
        gc.collect()
