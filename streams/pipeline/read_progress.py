"""Which input partitions stopped being read although records are left (issue 18's stall).

A partition the worker means to read (not held by `alignment.py`, its intake buffer not full)
whose log ends past the first offset never handed on, and whose position has not moved for
`grace_s`, is stalled: nothing will read it by itself. Seen once under load after a broker
restart: input partition 1 kept 60 records unread for four minutes, the worker alive and
idle. Two ways the adapter can get there, neither visible to the partition's own numbers: a
fetch drained by aiokafka but dropped before it was handed on (the fetch position is past
it; one such way, an empty set of active partitions, is closed: `Deliverable` in
`streams/adapters/faust/consumer.py`), or a partition left out of every one of Faust's fetch
sets. The exact sequence behind the stall seen is not known, so the worker reads a stalled
partition again from its committed offset, and alignment stops waiting for it (a partition
held for one that makes no progress would be held as long).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping


def unread(position: int | None, end: int | None) -> bool:
    """Records left: the log ends (`end`, None: not known yet) past the first offset never
    handed on (`position`, None: nothing handed on or committed: the log start)."""
    return end is not None and end > (position or 0)


class ReadProgress:
    """Per input partition, since when it has had records left and made no read progress.

    Stalled takes `grace_s` and at least `looks` observations of the same position: a worker
    whose event loop was blocked for longer than the grace (one huge batch on a starved CPU)
    then looks twice more, with its fetch loop running in between, before it reads again.
    """

    def __init__(self, grace_s: float, looks: int = 3) -> None:
        self.grace_s = grace_s
        self.looks = looks
        # partition -> (position, since, observations of that position)
        self._since: dict[int, tuple[int | None, float, int]] = {}

    def observe(
        self,
        positions: Mapping[int, tuple[int | None, int | None]],
        waiting: Collection[int],
        now: float,
    ) -> None:
        """`positions`: per owned partition, (first offset never handed on, log end);
        `waiting`: partitions not meant to be read now (held, full, a rebalance): not timed."""
        since = self._since
        for partition, (position, end) in positions.items():
            if partition in waiting or not unread(position, end):
                since.pop(partition, None)
                continue
            last = since.get(partition)
            if last is None or last[0] != position:
                since[partition] = (position, now, 1)
            else:
                since[partition] = (position, last[1], last[2] + 1)
        for partition in set(since) - set(positions):
            del since[partition]  # no longer owned

    def stalled(self, now: float) -> set[int]:
        """Partitions with records left and no progress for at least `grace_s` and `looks`."""
        return {
            p
            for p, (_, since, looks) in self._since.items()
            if now - since >= self.grace_s and looks >= self.looks
        }

    def restart(self, partitions: Collection[int], now: float) -> None:
        """Read again (a seek): time them from `now`, as a fresh start."""
        for partition in partitions:
            if partition in self._since:
                self._since[partition] = (self._since[partition][0], now, 1)
