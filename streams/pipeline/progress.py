"""How far a partition is done, from what was acked: caught up, and lag before a commit.

A source (input partition) may be announced idle only once every record in it has been
routed: a partition with unread records is behind, not idle. Announcing it idle lets the
detect stage run ahead of its backlog, whose events then arrive late and are skipped by the
subjects' high-water marks (a restarted worker lost 9 alerts that way: the crash test).
"""

from __future__ import annotations

from collections.abc import Sequence

from streams.pipeline.ports import AckToken


class AckedOffsets:
    """Per (topic, partition), the offset after the highest acked record."""

    def __init__(self) -> None:
        self._next: dict[tuple[str, int], int] = {}

    def note(self, topic: str, tokens: Sequence[AckToken]) -> None:
        newest: dict[int, int] = {}
        for token in tokens:
            if token.offset >= newest.get(token.partition, -1):
                newest[token.partition] = token.offset
        done = self._next
        for partition, offset in newest.items():
            key = (topic, partition)
            if offset >= done.get(key, 0):
                done[key] = offset + 1

    def next_offset(self, topic: str, partition: int) -> int:
        return self._next.get((topic, partition), 0)

    def forget(self, topic: str, partition: int) -> None:
        self._next.pop((topic, partition), None)


def caught_up(end: int | None, acked_to: int, committed: int | None) -> bool:
    """Whether a partition whose log ends at `end` (None: not known yet) has nothing left to
    route: every record is acked (`acked_to`, from `AckedOffsets`) or committed."""
    return end is not None and end <= max(acked_to, committed or 0)


def lag(end: int, committed: int | None, acked_to: int) -> int:
    """Kafka's definition (log end - committed); before the first commit, what was acked."""
    return max(0, end - (acked_to if committed is None else committed))
