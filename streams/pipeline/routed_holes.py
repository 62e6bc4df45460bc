"""The detect stage applies a routed partition's records only in unbroken offset order.

Faust's read-offset race (`streams/adapters/faust/commits.py`) can hand on a routed partition's
offsets 72-90 to nobody while 91 and on reach the detect stage. Applied, 91 and on move their
subjects' high-water marks past the events of 72-90, which the lost-offset watch has read again
only ~10 s later: skipped for good, acknowledged events not applied (issue 18, seen once in 101
broker-kill runs). So within one assignment generation a record must be the offset right after
the last one handed to the detect stage, and the generation's first one the committed offset
(Faust's race strikes right after a seek, so the hole is often at the head); at a forward jump
(a hole) that partition's records are
set aside, unapplied and unacked, until the hole's first offset comes again (the adapter seeks
back to the committed offsets at once, which is never past the hole: the commit cannot pass an
unacked offset). A record at or below the expected offset (a seek back, a redelivery) is always
taken: what was applied before is skipped by the subjects' high-water marks.

Assumption: the routed topic's offsets have no legitimate gaps. It is written without
transactions (`processing_guarantee="at_least_once"`: no transaction markers) and uses
`cleanup.policy=delete` (`topics.ROUTED`: no compaction), so consecutive records of a partition
have consecutive offsets; retention only moves the log start, which a consumer a day behind
would meet as a jump at its first record: the same head hole found again after its re-read is
taken as the log start, not refused for ever.

A generation whose start is not known (records handed on after a revoke, before Faust's seek
to the committed offsets: Faust forgets a revoked partition's committed offset) takes nothing
either: its first record may be past a hole nobody can see. Taken as the start, it let a
broker-kill run apply routed offsets 687 and on while 512-686 were re-read only by the
lost-offset watch, 10 s later, and skipped (issue 18, 1 of 87 loaded runs). Set aside, the
partition is read again from the committed offsets, which then gives the start.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Generic

from streams.pipeline.ports import Record, T


class RoutedHoles(Generic[T]):
    """Per routed partition: the next offset expected, and a hole found and not yet re-read."""

    def __init__(self) -> None:
        self._next: dict[int, int] = {}
        self.holes: dict[int, range] = {}  # offsets missing, per partition set aside
        self._new: set[int] = set()  # partitions with a hole not yet reported by `take_new`
        self._heads: dict[int, range] = {}  # a head hole refused once, per partition

    def admit(
        self, partition: int, records: Sequence[Record[T]], start: int | None = None
    ) -> list[Record[T]]:
        """The records the detect stage may apply, in order; the rest wait to be read again.

        `start` is the partition's committed offset (where this generation's reading began),
        None if not known yet: then nothing is taken before an offset was.
        """
        taken: list[Record[T]] = []
        head = partition not in self._next
        expected = self._next.get(partition, start)
        for record in records:
            offset = record[0]
            # Taken: the next one, one read again (a seek back), or the same head hole found
            # again after its re-read (the log starts there).
            if expected is None:  # no start yet: read again, from the committed offset
                if partition not in self.holes:
                    self.holes[partition] = range(offset, offset)  # empty: start unknown
                    self._new.add(partition)
                break
            if offset <= expected or (
                head and self._heads.get(partition) == range(expected, offset)
            ):
                self.holes.pop(partition, None)
                taken.append(record)
            elif not self.holes.get(partition):  # none yet, or only "no start"
                self.holes[partition] = range(expected, offset)
                if head:
                    self._heads[partition] = self.holes[partition]
                self._new.add(partition)
                continue
            else:
                continue
            expected = offset + 1
            head = False
        if taken:
            self._next[partition] = taken[-1].offset + 1
        return taken

    def take_new(self) -> set[int]:
        """Partitions with a hole found since the last call: they need a seek back."""
        new, self._new = self._new, set()
        return new & set(self.holes)

    def forget(self, partitions: Iterable[int]) -> None:
        """A new assignment generation: its first record may be any offset."""
        for partition in partitions:
            self._next.pop(partition, None)
            self.holes.pop(partition, None)
            self._new.discard(partition)
            self._heads.pop(partition, None)
