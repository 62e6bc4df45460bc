"""Which input partitions are held while a backlog is read (`streams/pipeline/alignment.py`)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from streams.pipeline.alignment import NO_WATERMARK, ahead

MIN = 60_000


def test_partitions_ahead_of_the_slowest_with_a_backlog_are_held() -> None:
    watermarks = {0: 100 * MIN, 1: 30 * MIN, 2: 39 * MIN, 3: 41 * MIN}
    assert ahead(watermarks, unread={0, 1}, max_skew_ms=10 * MIN) == {0, 3}


def test_nothing_is_held_without_a_backlog() -> None:
    """Live traffic: no partition has records left to read, so none waits for another."""
    assert ahead({0: 100 * MIN, 1: 0}, unread=set(), max_skew_ms=MIN) == set()


def test_a_partition_with_a_backlog_and_nothing_routed_yet_is_the_slowest() -> None:
    assert ahead({0: 5 * MIN, 1: 0}, unread={2}, max_skew_ms=MIN) == {0}


watermark_maps = st.dictionaries(
    st.integers(0, 7), st.integers(NO_WATERMARK, 10**9), min_size=1, max_size=8
)


@given(watermark_maps, st.sets(st.integers(0, 7)), st.integers(0, 10**8))
def test_reading_always_goes_on_and_only_what_is_ahead_is_held(
    watermarks: dict[int, int], unread: set[int], skew: int
) -> None:
    held = ahead(watermarks, unread, skew)
    # The slowest partition with a backlog is never held: reading always goes on.
    assert not unread or not unread <= held
    # A partition is held only when more than the skew ahead of one with a backlog.
    for p in held:
        assert any(watermarks[p] - watermarks.get(u, NO_WATERMARK) > skew for u in unread)


def waiting_peak(volumes: list[int], backlog_min: int, align: bool) -> int:
    """A model of the worker reading a backlog: partitions carry `volumes` events a minute
    of event time, each round reads up to BATCH records from every partition not held, and
    an event waits (the reorder buffer) until every partition's watermark has passed it.
    Returns the most events waiting at once."""
    batch, skew = 50, 10 * MIN
    logs = [[k * MIN // v for k in range(backlog_min * v)] for v in volumes]
    read = [0] * len(volumes)
    watermarks: dict[int, int] = {}
    peak = 0
    while any(read[p] < len(log) for p, log in enumerate(logs)):
        unread = {p for p, log in enumerate(logs) if read[p] < len(log)}
        held = ahead(watermarks, unread, skew) if align else set()
        for p in unread - held:
            read[p] = min(len(logs[p]), read[p] + batch)
            watermarks[p] = logs[p][read[p] - 1]
        done = [p for p in range(len(logs)) if read[p] == len(logs[p])]
        bound = min(
            watermarks.get(p, NO_WATERMARK) if p not in done else 10**12 for p in range(len(logs))
        )
        waiting = sum(sum(1 for ts in logs[p][: read[p]] if ts > bound) for p in range(len(logs)))
        peak = max(peak, waiting)
    return peak


def test_aligned_reading_bounds_what_waits_whatever_the_backlog() -> None:
    """Reading equal record counts per partition (the worker before this) lets the low-volume
    partitions run ahead in event time: what waits grows with the backlog. Aligned, it stays
    under the skew's worth of events plus a batch per partition, for any backlog."""
    volumes = [1, 2, 5, 20]  # events a minute of event time
    bound = 10 * sum(volumes) + 50 * len(volumes)  # 10 minutes of skew, a batch each
    for backlog_min in (300, 600):
        assert waiting_peak(volumes, backlog_min, align=True) <= bound
    unaligned = [waiting_peak(volumes, backlog, align=False) for backlog in (300, 600)]
    assert unaligned[0] > bound and unaligned[1] > 1.8 * unaligned[0]
