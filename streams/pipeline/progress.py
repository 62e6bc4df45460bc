"""How far a partition is done, from what was acked: caught up, and lag before a commit.

A source (input partition) may be announced idle only once every record in it has been
routed: a partition with unread records is behind, not idle. Announcing it idle lets the
detect stage run ahead of its backlog, whose events then arrive late and are skipped by the
subjects' high-water marks (a restarted worker lost 9 alerts that way: the crash test).

"Every record" means every record on the log when the router decides, so the log end must be
one learned after the router took its newest input records (`FreshEnds`). A consumer learns
an end only from a fetch response that included the partition: one that was not fetched since
(excluded while its last records waited to be handed on, or the worker frozen, starved or cut
off from the broker) still shows the end from before, and records written since count as
routed. Issue 18, run 136: input partition 2's end was from before records 273-280 were
written, partition 1's event 281 (same subject) was routed, the worker was frozen through a
broker kill; thawed, it announced every partition idle, 281 was applied and 279/280 skipped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

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


class FreshEnds:
    """Which log ends may say an input partition is caught up: only one learned after the
    newest input records were taken to be routed.

    Each known end comes with the stamp of the fetch response that told it (aiokafka: its
    wall-clock ms). `taking` keeps the stamps known when records are taken: an end whose stamp
    is still the same is from no newer response, and records written after it and before the
    ones taken may be unread (two responses within a millisecond look alike: the end then waits
    for a later one). Stamps are compared for a change, not ordered, so a clock step cannot
    make an old end look new.
    """

    def __init__(self) -> None:
        self._before: dict[int, object] = {}

    def taking(self, stamps: Mapping[int, object]) -> None:
        """Input records are taken to be routed; `stamps`: per partition, the stamp of its
        known end (None or missing: none known)."""
        self._before = dict(stamps)

    def end(self, partition: int, end: int | None, stamp: object) -> int | None:
        """`end` if it was learned since the last `taking`, else None (not known)."""
        if end is None or stamp is None or stamp == self._before.get(partition):
            return None
        return end


def caught_up(end: int | None, acked_to: int, committed: int | None) -> bool:
    """Whether a partition whose log ends at `end` (None: not known yet) has nothing left to
    route: every record is acked (`acked_to`, from `AckedOffsets`) or committed."""
    return end is not None and end <= max(acked_to, committed or 0)


def lag(end: int, committed: int | None, acked_to: int) -> int:
    """Kafka's definition (log end - committed); before the first commit, what was acked."""
    return max(0, end - (acked_to if committed is None else committed))
