"""Validation worker processes: answers in order, fresh processes after a quota, and the
rows they send for PostgreSQL's ``COPY``."""

from __future__ import annotations

import gc
import os
import weakref
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from data.importing.validation import copy_text
from data.importing.workers import parallel_answers, parallel_map

TARGET = f"{__name__}:times"


def times(context: int, item: int) -> tuple[int, int]:
    """Run in a worker: the item times the context, and which process answered."""
    return item * context, os.getpid()


def refuse_two(context: int, item: int) -> int:
    """Run in a worker: the item times the context, except 2, which it cannot handle."""
    if item == 2:
        raise ValueError("two is not welcome")
    return item * context


class Box:
    def __init__(self, value: int) -> None:
        self.value = value


def unbox(context: int, item: Box) -> int:
    """Run in a worker: the boxed value times the context."""
    return item.value * context


class Cycle:
    """An object that refers to itself, with a megabyte: freed only by the collector."""

    def __init__(self) -> None:
        self.me = self
        self.payload = bytearray(1 << 20)


_left: weakref.ref[Cycle] | None = None


def leave_a_cycle(context: int, item: int) -> bool | None:
    """Run in a worker: leave a cycle behind, old enough (as a batch's garbage is) that
    only a full collection frees it, and say whether the previous item's was freed
    before this item came."""
    global _left
    freed = None if _left is None else _left() is None
    cycle = Cycle()
    gc.collect()  # the cycle, still in use, reaches the oldest generation
    _left = weakref.ref(cycle)
    return freed


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_answers_come_in_order_from_workers_replaced_after_their_quota() -> None:
    results = list(parallel_map(TARGET, 10, range(20), workers=2, items_per_worker=3))
    assert [answer for answer, _ in results] == [i * 10 for i in range(20)]
    handled = Counter(pid for _, pid in results)
    assert max(handled.values()) <= 3  # no process answers more than its quota
    assert len(handled) >= 7  # 20 items, at most 3 each
    assert os.getpid() not in handled
    assert not any(alive(pid) for pid in handled)  # every one closed and reaped


def test_stopping_early_closes_every_worker_old_and_new() -> None:
    answers = parallel_map(TARGET, 1, range(100), workers=2, items_per_worker=2)
    pids = {pid for _, pid in (next(answers) for _ in range(7))}
    assert len(pids) >= 3
    answers.close()  # as when an import stops on an error
    assert not any(alive(pid) for pid in pids)


def test_a_replaced_worker_is_gone_before_its_successor_starts() -> None:
    """With its answers all taken, a worker past its quota is closed and reaped at once,
    not left behind until the end of a long import."""
    answers = parallel_map(TARGET, 1, range(10), workers=1, items_per_worker=2)
    seen = [next(answers)[1] for _ in range(8)]
    replaced = [pid for pid in dict.fromkeys(seen) if pid != seen[-1]]
    assert len(replaced) == 3
    assert not any(alive(pid) for pid in replaced)
    answers.close()


def test_an_item_is_let_go_once_sent() -> None:
    """Only answers are held: a batch of records is not kept while its answer is awaited."""
    refs: list[weakref.ref[Box]] = []

    def track(box: Box) -> Box:
        refs.append(weakref.ref(box))
        return box

    answers = parallel_map(f"{__name__}:unbox", 3, (track(Box(i)) for i in range(8)), workers=2)
    assert next(answers) == 0
    gc.collect()
    assert len(refs) >= 2  # both workers were given an item
    assert [ref() for ref in refs] == [None] * len(refs)
    assert list(answers) == [i * 3 for i in range(1, 8)]


def test_answers_wait_as_the_frames_they_came_in_until_taken() -> None:
    """An import reads ahead: the batches waiting for their turn are held as one bytes
    object each (a batch as tuples and strings is several times its frame)."""
    answers = list(parallel_answers(TARGET, 10, range(3), workers=1))
    assert [type(answer.frame) for answer in answers] == [bytes] * 3
    assert [answer.value()[0] for answer in answers] == [0, 10, 20]
    assert [answer.frame for answer in answers] == [None] * 3  # taken once, then let go


def test_what_a_worker_raised_is_raised_where_its_answer_is_taken() -> None:
    answers = parallel_answers(f"{__name__}:refuse_two", 5, range(4), workers=1)
    first, second, third = next(answers), next(answers), next(answers)
    assert (first.value(), second.value()) == (0, 5)
    with pytest.raises(ValueError, match="two is not welcome"):
        third.value()
    answers.close()
    with pytest.raises(ValueError, match="two is not welcome"):
        list(parallel_map(f"{__name__}:refuse_two", 5, range(4), workers=1))


def test_one_cpu_is_left_to_the_importing_process_and_the_database(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from data.importing import validation

    big, small = 10 * validation.PARALLEL_MIN_BYTES, validation.PARALLEL_MIN_BYTES - 1
    for cpus, workers in ((1, 0), (2, 1), (3, 2), (16, validation.MAX_WORKERS)):
        monkeypatch.setattr(os, "cpu_count", lambda cpus=cpus: cpus)
        assert validation.worker_count(big, validation.PARALLEL_MIN_BYTES) == workers
        assert validation.worker_count(small, validation.PARALLEL_MIN_BYTES) == 0


def test_a_worker_frees_the_garbage_of_an_item_before_the_next() -> None:
    """Garbage in cycles would wait for the collector's rare full collections and the
    worker would grow batch after batch (phonenumbers leaves a cycle for each phone it
    cannot parse: 39 → 70 MB over 20 batches of 5,000 rows)."""
    answers = list(parallel_map(f"{__name__}:leave_a_cycle", 0, range(5), workers=1))
    assert answers == [None, True, True, True, True]


# -- the rows a worker sends for PostgreSQL's COPY -----------------------------------------

COPY_ESCAPED = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}


def copy_line(row: tuple[int | str | None, ...]) -> str:
    """PostgreSQL's COPY text format, value by value, as its documentation gives it."""
    return "\t".join(
        "\\N" if value is None else "".join(COPY_ESCAPED.get(c, c) for c in str(value))
        for value in row
    )


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(min_value=1, max_value=10**9),
            *[st.none() | st.text(alphabet=st.sampled_from('ab \\\tN\n\r,"é')) for _ in range(4)],
        ),
        max_size=6,
    )
)
def test_rows_for_copy_escape_exactly_what_copy_needs(
    rows: list[tuple[int | str | None, ...]],
) -> None:
    copied = copy_text(rows)
    assert len(copied) == len(rows)
    assert copied.text == "".join(copy_line(row) + "\n" for row in rows)
