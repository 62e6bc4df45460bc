"""How far a partition is done (`streams/pipeline/progress.py`)."""

from __future__ import annotations

import pytest

from streams.adapters.memory import MemoryToken
from streams.pipeline.progress import AckedOffsets, caught_up, lag


def tokens(partition: int, *offsets: int) -> list[MemoryToken]:
    return [MemoryToken("t", partition, offset, 0.0) for offset in offsets]


def test_the_offset_after_the_highest_acked_and_never_back() -> None:
    acked = AckedOffsets()
    acked.note("t", tokens(0, 7, 3, 9) + tokens(1, 2))
    assert (acked.next_offset("t", 0), acked.next_offset("t", 1)) == (10, 3)
    acked.note("t", tokens(0, 4))  # an older record acked late
    assert acked.next_offset("t", 0) == 10
    acked.forget("t", 0)
    assert (acked.next_offset("t", 0), acked.next_offset("other", 1)) == (0, 0)


@pytest.mark.parametrize(
    ("end", "acked_to", "committed", "expected"),
    [
        (None, 10, 10, False),  # the log end is not known yet: behind until a fetch says
        (10, 10, None, True),
        (10, 0, 10, True),  # committed by an earlier owner, nothing acked here
        (11, 10, 9, False),
        (0, 0, None, True),  # an empty partition
    ],
)
def test_caught_up(end: int | None, acked_to: int, committed: int | None, expected: bool) -> None:
    assert caught_up(end, acked_to, committed) is expected


def test_lag_counts_from_the_commit_and_from_the_acks_before_one() -> None:
    assert lag(100, 40, 90) == 60
    assert lag(100, None, 90) == 10
    assert lag(100, 120, 0) == 0  # the log end read before the last commit
