"""Event-time reordering with a bounded allowed lateness.

Events of one partition arrive roughly in event-time order. Holding each one until the
partition's watermark (highest event time seen minus the allowed lateness) has passed it lets
the engine apply them in exact (ts, event_id) order, so input shuffled within the lateness gives
the same alerts as sorted input. Wall-clock time never moves the watermark; only `drain()`
(end of input, or an idle partition) releases early.
"""

from __future__ import annotations

import heapq
from typing import Generic, TypeVar

T = TypeVar("T")


class ReorderBuffer(Generic[T]):
    __slots__ = ("_heap", "_lateness_ms", "_max_ts_ms", "_seq")

    def __init__(self, allowed_lateness_ms: int) -> None:
        if allowed_lateness_ms < 0:
            raise ValueError(f"allowed_lateness_ms must be >= 0, got {allowed_lateness_ms}")
        self._lateness_ms = allowed_lateness_ms
        self._heap: list[tuple[int, str, int, T]] = []
        self._max_ts_ms: int | None = None
        self._seq = 0

    def __len__(self) -> int:
        return len(self._heap)

    @property
    def watermark_ms(self) -> int | None:
        """Events at or before this event time are released (inclusive bound)."""
        if self._max_ts_ms is None:
            return None
        return self._max_ts_ms - self._lateness_ms

    def push(self, ts_ms: int, event_id: str, item: T) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (ts_ms, event_id, self._seq, item))
        if self._max_ts_ms is None or ts_ms > self._max_ts_ms:
            self._max_ts_ms = ts_ms

    def release(self) -> list[T]:
        """Items whose event time is at or before the watermark, in (ts, event_id) order."""
        watermark = self.watermark_ms
        return [] if watermark is None else self.release_until(watermark)

    def release_until(self, watermark_ms: int) -> list[T]:
        """Items at or before an externally known watermark (e.g. the minimum over inputs)."""
        heap = self._heap
        out: list[T] = []
        while heap and heap[0][0] <= watermark_ms:
            out.append(heapq.heappop(heap)[3])
        return out

    def drain(self) -> list[T]:
        """Everything still held, in order: end of input, or a partition gone idle."""
        heap = self._heap
        return [heapq.heappop(heap)[3] for _ in range(len(heap))]
