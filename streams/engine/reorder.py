"""Event-time order: the one release bound, and the buffer that releases up to it.

Held events are applied in exact (ts, event_id) order once they are at or before the release
bound (`release_bound`): every input partition's watermark (the highest event time it has
seen) is known, and the event is more than the allowed lateness older than the lowest of them.
Input shuffled within a partition by less than the lateness, and any interleaving of the
partitions, then gives the same alerts as sorted input (tests/detectors/test_properties.py).
Wall-clock time never moves the bound; only idleness does: once *every* input partition is
idle, everything held is released (IDLE). The rule's reasoning is in `streams/pipeline/detect.py`.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Set
from typing import Final, Generic, TypeVar

T = TypeVar("T")

IDLE: Final = (1 << 63) - 1
"""The watermark of an input partition with nothing pending; as a bound: release everything."""


def release_bound(
    watermarks: Mapping[int, int], idle: Set[int], input_partitions: int, lateness_ms: int
) -> int | None:
    """The inclusive event-time bound up to which held events may be applied.

    Strictly below `lowest watermark - lateness`: another event at exactly the lowest
    watermark may still come from that partition, so with a lateness of 0 an in-order input
    is still applied exactly. None until every input partition has announced a watermark (-1:
    active, no event yet) or gone idle; IDLE (everything) only once every one is idle.
    """
    if len(watermarks) < input_partitions:
        return None
    if len(idle) >= input_partitions:
        return IDLE
    low = min(watermarks.values())
    return None if low < 0 else low - lateness_ms - 1


class ReorderBuffer(Generic[T]):
    """Items held in (ts, event_id) order (arrival order among equals) until a bound passes."""

    __slots__ = ("_heap", "_seq")

    def __init__(self) -> None:
        self._heap: list[tuple[int, str, int, T]] = []
        self._seq = 0

    def __len__(self) -> int:
        return len(self._heap)

    def push(self, ts_ms: int, event_id: str, item: T) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (ts_ms, event_id, self._seq, item))

    def release_until(self, bound_ms: int) -> list[T]:
        """Items at or before `bound_ms` (from `release_bound`), in (ts, event_id) order."""
        heap = self._heap
        out: list[T] = []
        while heap and heap[0][0] <= bound_ms:
            out.append(heapq.heappop(heap)[3])
        return out

    def drain(self) -> list[T]:
        """Everything still held, in order (the same as `release_until(IDLE)`)."""
        heap = self._heap
        return [heapq.heappop(heap)[3] for _ in range(len(heap))]
