"""Read input partitions in step by event time while a backlog is read (watermark alignment).

Why: the detect stage applies an event only once every input partition's watermark has passed
it, so events from a partition read ahead in event time wait in the reorder buffer. Reading a
backlog fetch by fetch, equal record counts per partition are not equal event time: partitions
carry different volumes. In issue 18's soak, a restarted worker with a backlog had its input
partitions 4 event days apart and 470k events (~300 MiB) waiting in the reorder buffer; the
more backlog, the more waiting. So a partition more than `max_skew_ms` ahead of the slowest one
that still has records to read is not fetched until that one catches up. Only partitions with
unread records count: a caught-up partition has nothing to catch up with, so live traffic is
never held (its lag is ~0), and the slowest partition with unread records is never held itself:
reading always goes on.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

NO_WATERMARK = -1  # a partition not routed yet: the slowest possible


def ahead(watermarks: Mapping[int, int], unread: Collection[int], max_skew_ms: int) -> set[int]:
    """Input partitions to hold: event time (`watermarks`, the highest routed per partition)
    more than `max_skew_ms` past the slowest partition in `unread` (records left to read)."""
    if not unread:
        return set()
    floor = min(watermarks.get(p, NO_WATERMARK) for p in unread)
    return {p for p, ts in watermarks.items() if ts > floor + max_skew_ms}
