"""How far a partition is done (`streams/pipeline/progress.py`)."""

from __future__ import annotations

import pytest

from streams.adapters.memory import MemoryToken
from streams.pipeline.progress import AckedOffsets, FreshEnds, caught_up, lag


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


def test_a_log_end_counts_only_if_learned_after_the_newest_records_were_taken() -> None:
    """Run 136: partition 2's end (stamp 1000) was from before records 273-280 were written;
    partition 1's event 281 came in a later response (1005) and was taken to be routed."""
    ends = FreshEnds()
    assert ends.end(2, 137, 1000) == 137  # nothing taken yet: nothing it must be newer than
    ends.taking({1: 1005, 2: 1000})
    assert ends.end(2, 137, 1000) is None  # records written since may be past it
    assert ends.end(1, 24, 1005) is None  # the response that carried what was taken
    assert ends.end(2, 176, 1010) == 176  # a response since
    assert ends.end(2, 176, 990) == 176  # also after a clock step back: it changed
    assert ends.end(3, 30, 1012) == 30  # not assigned when the records were taken
    assert ends.end(2, None, 1010) is None and ends.end(2, 5, None) is None
