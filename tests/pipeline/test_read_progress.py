"""Input partitions that stopped being read (`streams/pipeline/read_progress.py`), and what
alignment does about one (`streams/pipeline/alignment.py`)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.pipeline.alignment import ahead
from streams.pipeline.read_progress import ReadProgress, unread

MIN = 60_000


def test_records_left_means_the_log_ends_past_the_first_offset_never_handed_on() -> None:
    assert unread(100, 104) and unread(None, 1)
    assert not unread(104, 104) and not unread(None, 0) and not unread(5, None)


def test_a_partition_with_records_left_and_no_progress_is_stalled_after_the_grace() -> None:
    reads = ReadProgress(grace_s=10)
    reads.observe({0: (100, 104), 1: (50, 90)}, waiting=(), now=0)
    reads.observe({0: (100, 104), 1: (60, 90)}, waiting=(), now=9)  # 1 moved
    reads.observe({0: (100, 104), 1: (60, 90)}, waiting=(), now=10)
    assert reads.stalled(10) == {0}
    reads.observe({0: (100, 104), 1: (60, 90)}, waiting=(), now=18.9)
    assert reads.stalled(18.9) == {0} and reads.stalled(19) == {0, 1}


def test_waiting_caught_up_or_revoked_partitions_are_never_stalled() -> None:
    reads = ReadProgress(grace_s=1)
    for now in range(6):
        reads.observe({0: (5, 9), 1: (5, 9), 2: (9, 9)}, waiting={1}, now=now)
    assert reads.stalled(5) == {0}  # 1 is held (not meant to be read), 2 has nothing left
    for now in (6, 7, 8):
        reads.observe({1: (5, 9)}, waiting=(), now=now)  # 0 revoked; 1 released: from 6
    assert reads.stalled(6.9) == set() and reads.stalled(7) == {1}


def test_a_long_pause_between_two_looks_is_no_stall() -> None:
    """The event loop blocked past the grace (a huge batch, a starved CPU): two more looks."""
    reads = ReadProgress(grace_s=10)
    reads.observe({0: (5, 9)}, waiting=(), now=0)
    reads.observe({0: (5, 9)}, waiting=(), now=30)
    assert reads.stalled(30) == set()
    reads.observe({0: (5, 9)}, waiting=(), now=31)
    assert reads.stalled(31) == {0}


def test_a_partition_read_again_is_timed_afresh() -> None:
    reads = ReadProgress(grace_s=2)
    for now in (0, 1, 2):
        reads.observe({3: (7, 8)}, waiting=(), now=now)
    assert reads.stalled(2) == {3}
    reads.restart({3}, now=2)
    for now in (3, 3.5):
        reads.observe({3: (7, 8)}, waiting=(), now=now)
    assert reads.stalled(3.9) == set() and reads.stalled(4) == {3}


@settings(deadline=None)
@given(
    st.lists(
        st.tuples(
            st.dictionaries(st.integers(0, 3), st.tuples(st.integers(0, 9), st.integers(0, 9))),
            st.sets(st.integers(0, 3)),
        ),
        max_size=30,
    )
)
def test_stalled_exactly_when_records_were_left_unmoved_and_not_waiting_for_the_grace(
    steps: list[tuple[dict[int, tuple[int, int]], set[int]]],
) -> None:
    """Against a direct reading of the definition over the whole history, one step a second."""
    grace = 3
    reads = ReadProgress(grace_s=grace)
    for now, (positions, waiting) in enumerate(steps):
        reads.observe(positions, waiting, now)
        expected = set()
        for p in range(4):
            run = 0  # steps back from now with p owned, not waiting, records left, same position
            for positions_then, waiting_then in reversed(steps[: now + 1]):
                then = positions_then.get(p)
                if then is None or p in waiting_then or then[1] <= then[0]:
                    break
                if then[0] != positions[p][0]:
                    break
                run += 1
            if run - 1 >= grace and run >= 3:
                expected.add(p)
        assert reads.stalled(now) == expected


def reading_rounds(
    volumes: dict[int, int], stuck: set[int], skip_stalled: bool, rounds: int = 2000
) -> int | None:
    """A worker reading a backlog one batch per round per partition not held, one round a
    second; partition p carries volumes[p] events a minute of event time, for an hour.
    Partitions in `stuck` count as having records left but yield nothing when read (what a
    stale end offset, or a fetch that never comes back, looks like to alignment). Returns the
    round after which every other partition is read to its end, None if never."""
    logs = {p: [k * MIN // v for k in range(60 * v)] for p, v in volumes.items()}
    read = dict.fromkeys(volumes, 0)
    watermarks: dict[int, int] = {}
    reads = ReadProgress(grace_s=10)
    for now in range(rounds):
        if all(read[p] == len(logs[p]) for p in volumes.keys() - stuck):
            return now
        left = {p for p in volumes if p in stuck or read[p] < len(logs[p])}
        behind = left - reads.stalled(now) if skip_stalled else left
        held = ahead(watermarks, behind, 10 * MIN)
        for p in volumes.keys() - held - stuck:
            read[p] = min(len(logs[p]), read[p] + 50)
            if read[p]:
                watermarks[p] = logs[p][read[p] - 1]
        ends = {p: (read[p], len(logs[p]) + (p in stuck)) for p in volumes}
        reads.observe(ends, waiting=held, now=now)
    return None


VOLUMES = {0: 20, 1: 5, 2: 2, 3: 1}


def test_a_partition_making_no_progress_holds_the_others_only_for_the_grace() -> None:
    """Before: a partition counted as unread with the lowest watermark (here never routed)
    that yields nothing held every partition ahead of it for ever, the stall of issue 18's
    broker-kill test if its partition counted as unread that way."""
    assert reading_rounds(VOLUMES, stuck={3}, skip_stalled=False) is None
    assert reading_rounds(VOLUMES, stuck={3}, skip_stalled=True) is not None
    # Nothing stuck: the same reading either way (a partition that reads is never stalled).
    assert reading_rounds(VOLUMES, set(), True) == reading_rounds(VOLUMES, set(), False)


@settings(deadline=None, max_examples=60)
@given(
    st.dictionaries(st.integers(0, 5), st.integers(1, 20), min_size=2, max_size=6),
    st.sets(st.integers(0, 5)),
)
def test_every_partition_that_can_be_read_is_read_to_its_end(
    volumes: dict[int, int], stuck: set[int]
) -> None:
    """Whatever partitions stop yielding records, the others are never held for ever."""
    stuck &= volumes.keys()
    assert reading_rounds(volumes, stuck, skip_stalled=True) is not None
