"""The commit rule (`streams/pipeline/acks.py`): never past a record still held."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.pipeline.acks import commit_point, lowest_held, may_commit_run


@pytest.mark.parametrize(
    ("committed", "done", "held", "expected"),
    [
        (0, [], [], 0),  # nothing done
        (0, [0, 1, 2], [], 3),  # a run from the committed offset
        (0, [1, 2], [0], 0),  # the head is held: nothing moves
        (5, [5, 6, 8], [], 7),  # up to the first gap
        (5, [5, 6, 7], [6], 6),  # counted done and still held (acked twice): the held one wins
        (5, [1, 2, 3], [], 5),  # acks below the committed offset change nothing
    ],
)
def test_commit_point(committed: int, done: list[int], held: list[int], expected: int) -> None:
    assert commit_point(committed, done, held) == expected


def test_a_run_after_a_held_record_may_not_be_committed() -> None:
    """The detect stage's case: packet 10 waits for the watermark, 11.. are acked."""
    assert not may_commit_run(10, run_start=11, held=[10])
    assert may_commit_run(10, run_start=11, held=[12])  # held after the run: commit up to it
    assert may_commit_run(0, run_start=0, held=[])  # from the log start, nothing held
    assert not may_commit_run(0, run_start=3, held=[1])
    assert lowest_held([4, 2, 9], since=3) == 4


def test_a_run_must_begin_where_reading_began() -> None:
    """Issue 18's case: nothing committed, the partition read from 0 after a broker restart,
    but 86..87 were never handed on and the first run acked is 88.."""
    assert not may_commit_run(0, run_start=88, held=[])
    assert not may_commit_run(None, run_start=0, held=[])  # where reading began is unknown
    assert may_commit_run(0, run_start=1, held=[])  # one offset that never arrives: tolerated


@given(
    base=st.integers(0, 30),
    done=st.sets(st.integers(0, 60)),
    held=st.sets(st.integers(0, 60)),
)
def test_a_commit_passes_only_done_offsets(base: int, done: set[int], held: set[int]) -> None:
    """Faust's way of committing (the first run of consecutive done offsets) under the rule:
    every offset it passes from the base was done, but for the one head offset tolerated."""
    held -= done
    ahead = sorted(offset for offset in done if offset >= base)
    if not ahead:
        return
    end = ahead[0]
    while end in done:
        end += 1
    if may_commit_run(base, ahead[0], held):
        passed = set(range(base, end))
        assert passed - done <= {base}
        assert not passed & held
