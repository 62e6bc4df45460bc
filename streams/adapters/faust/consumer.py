"""Faust's Kafka consumer, with its commit rule made strict: never pass a record still held.

Faust commits a partition up to the end of the first run of consecutive acked offsets, and
lets that run begin one offset after its committed one (`Consumer._new_offset` tolerates a
one-offset gap at the head, meant for an offset that never arrives) or anywhere at all while
nothing is committed yet. The detect stage acks routed packets out of order: a packet with
events waits, unacked, in the reorder buffer until the watermark passes them, while the
watermark-only packet after it is acked at once. Faust's commit then passes the waiting packet,
and a SIGKILL before its events are applied loses them for good (issue 7: the crash test's lost
case revision; `tests/test_resilience.py` holds the watermark back to show it every time).
Here a commit never passes a record that was handed on and is not acked yet (the rule is
`streams/pipeline/acks.py`'s); offsets that never arrive are tolerated as before.

Around a rebalance, only what the worker did in the current consumer generation counts:
- Faust acks the records its streams skip during a rebalance (flow stopped, or an older
  generation: "otherwise the lag would increase"), records the worker never processed. Their
  offsets, in the next generation's bookkeeping, let a commit pass them before their copies
  read again are processed. Acks while Faust rebalances or of an older generation's record are
  therefore not counted: everything from the committed offset is read again after the seek.
- An older generation's record the worker dropped unacked neither holds a commit nor a re-read.
- An offset acked twice (a gap Faust merged, then the record read again) cut Faust's run of
  consecutive offsets at each duplicate: the commit moved one offset per commit (issue 7's
  rebalance test, routed lag ~600 for 180 s). Duplicates are dropped before Faust's rule runs.

Where nothing is committed yet, a seek after a rebalance must still put the partition where
reading starts (issue 18, traced live): aiokafka's `seek_to_committed`, which Faust's seek
calls, moves only partitions with a committed offset, and leaves the others wherever the fetcher
got to. A fetch answered while Faust's flow is stopped (it discards that batch, then seeks) has
moved that position past records nobody handed on; they were never fetched again, and Faust's
rule, which has no head to check while nothing is committed, committed past them. Seen after a
broker restart 1 s after the worker started (before its first commit): 33-39 input records
never routed, in 5 of 7 runs of `tests/test_broker_kill.py`. So every partition with no
committed offset is sought to the log start (`consumer_auto_offset_reset`, as aiokafka's own
reset), and its commit moves only from there.

It also lets the worker read a partition again without racing Faust's fetch loop (`reread`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Set
from typing import Any

from faust.transport.consumer import ensure_TP
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread, Consumer, Transport
from faust.types import TP, Message
from faust.types.tuples import ack_lock

from streams.adapters.faust.commits import held_offsets
from streams.pipeline.acks import may_commit_run

log = logging.getLogger("guardline.consumer")

# Bytes one fetch response may carry. Faust sets only the per-partition limit (1 MiB) and
# leaves aiokafka's 50 MiB; noida-db answers past the per-partition limit, and the client keeps
# a response per partition until it is read: 52-72 MiB of raw records sat in a worker catching
# up (issue 18's memory probe). Real Kafka stops at the per-partition limit anyway.
FETCH_MAX_BYTES = 4 * 1024 * 1024


class BoundedFetchThread(AIOKafkaConsumerThread):
    """Faust's consumer thread, its aiokafka client asking for at most FETCH_MAX_BYTES, and
    draining only the partitions Faust delivers (`Deliverable`)."""

    def _create_worker_consumer(self, transport: Any) -> Any:
        client = super()._create_worker_consumer(transport)
        client._fetch_max_bytes = FETCH_MAX_BYTES  # read when the client starts its fetcher
        return client

    async def _fetch_records(
        self,
        consumer: Any,
        active_partitions: Set[TP],
        timeout: float | None = None,
        max_records: int | None = None,
    ) -> Any:
        partitions: Any = Deliverable(active_partitions)  # read by aiokafka only
        return await super()._fetch_records(
            consumer, partitions, timeout=timeout, max_records=max_records
        )


class Deliverable:
    """Faust's live set of active partitions as aiokafka's `fetched_records` reads it, except
    that it is never empty: aiokafka drains *every* partition when the set it is given is empty
    (`if partitions and tp not in partitions`), and Faust hands it the live set, which a
    rebalance empties while the fetch waits. The records of paused partitions drained then are
    dropped by Faust, aiokafka's position already past them (issue 18: found by a model of the
    intake against Faust's own partition sets; a seek after the rebalance usually repairs it).
    Empty, it now drains nothing."""

    __slots__ = ("live",)

    def __init__(self, live: Set[TP]) -> None:
        self.live = live

    def __bool__(self) -> bool:
        return True

    def __contains__(self, tp: object) -> bool:
        return tp in self.live


class HeadGuardConsumer(Consumer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._parked = asyncio.Event()  # the fetch loop waits for the flow, no record in hand
        # Per partition with nothing committed: the offset the last seek put it at.
        self._start_offset: dict[TP, int] = {}

    def _new_consumer_thread(self) -> AIOKafkaConsumerThread:
        return BoundedFetchThread(self, loop=self.loop, beacon=self.beacon)

    def ack(self, message: Message) -> bool:
        if self.app.rebalancing or message.generation_id != self.app.consumer_generation_id:
            with ack_lock:
                message.acked = True  # done with here: it is read again after the seek
                self._unacked_messages.discard(message)
            return False
        acked: bool = super().ack(message)
        return acked

    def _new_offset(self, tp: TP) -> int | None:
        acked = self._acked[tp]
        if len(acked) > 1:
            acked[:] = sorted(set(acked))
        base = self.commit_base(tp)
        if acked and base not in self._acked_index[tp]:  # else the run starts there
            generation = self.app.consumer_generation_id
            held = held_offsets(self._unacked_messages, generation).get(tp, ())
            if not may_commit_run(base, self._run_start(tp), held):
                return None
        new_offset: int | None = super()._new_offset(tp)
        return new_offset

    def commit_base(self, tp: TP) -> int | None:
        """Where the partition's commit moves on from: its committed offset, else where the
        last seek put it (None: not sought since it was assigned)."""
        committed: int | None = self._committed_offset[tp]
        return committed if committed is not None else self._start_offset.get(tp)

    async def seek_to_committed(self) -> Mapping[TP, int]:
        """Faust's seek, then every partition with no committed offset to where reading
        starts (the log start, or its end with `consumer_auto_offset_reset="latest"`)."""
        committed: Mapping[TP, int] = await super().seek_to_committed()
        acking = self.app.topics.acks_enabled_for  # not changelogs: recovery seeks those
        fresh = [tp for tp, offset in committed.items() if not offset and acking(tp.topic)]
        starts: Mapping[TP, int] = {}
        if fresh:
            thread: Any = self._thread
            if self.app.conf.consumer_auto_offset_reset == "latest":
                starts = await thread.highwaters(*fresh)
            else:
                starts = await thread.earliest_offsets(*fresh)
            await thread.seek_wait(starts)
        self._start_offset = {ensure_TP(tp): offset for tp, offset in starts.items()}
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "seek: committed offsets %s; none committed, sought to the start: %s",
                _by_partition({tp: o for tp, o in committed.items() if tp not in starts}),
                _by_partition(starts),
            )
        return committed

    async def on_partitions_revoked(self, revoked: Set[TP]) -> None:
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "revoked; read offsets %s, committed %s, acked %s",
                _by_partition({tp: self._read_offset.get(tp) for tp in revoked}),
                _by_partition({tp: self._committed_offset.get(tp) for tp in revoked}),
                _by_partition({tp: _span(self._acked.get(tp)) for tp in revoked}),
            )
        for tp in revoked:
            self._start_offset.pop(ensure_TP(tp), None)
        await super().on_partitions_revoked(revoked)

    def _run_start(self, tp: TP) -> int:
        """Where Faust's next run of done offsets starts: acked, or a gap never fetched."""
        acked = self._acked[tp]
        gaps = self._gap[tp].overlap(0, max(acked))
        return min(min(acked), min((gap.begin for gap in gaps), default=min(acked)))

    async def _wait_next_records(self, timeout: float) -> Any:
        # Called by the fetch loop between batches: a stopped flow parks it here, after the
        # previous batch's last record was handed on and its read offset written.
        if not self.flow_active:
            self._parked.set()
        try:
            return await super()._wait_next_records(timeout)
        finally:
            self._parked.clear()

    async def reread(self, park_timeout_s: float = 5.0) -> bool:
        """Seek every partition back to its committed offset, as Faust does after a rebalance.

        Not while the fetch loop iterates a batch: after handing on the record in hand it
        writes that record's offset as the read offset, and every record fetched again below
        it is then dropped as already read; a batch fetched before the seek also goes on being
        handed on, and its jump past the committed offset is added to the acked offsets as a
        gap, so the offsets read again are acked twice and the commit then moves one offset per
        commit (both seen in issue 7's rebalance test: routed lag stuck at ~600 for 180 s).
        So the flow stops, the seek waits until the fetch loop is parked between batches, and
        the flow resumes. False (nothing done) while Faust rebalances, or if the loop does not
        park in time.
        """
        if not self.flow_active:
            return False  # Faust's rebalance owns the flow, and seeks itself
        self.stop_flow()
        try:
            await asyncio.wait_for(self._parked.wait(), park_timeout_s)
            if self.app.rebalancing:
                return False
            await self.perform_seek()
            return True
        except TimeoutError:
            return False
        finally:
            if not self.app.rebalancing:  # else the rebalance resumes the flow when done
                self.resume_flow()


def _by_partition(offsets: Mapping[Any, object]) -> str:
    """Offsets per partition for a debug line: `topic[partition]=offset` (no record ids)."""
    return ", ".join(f"{tp.topic}[{tp.partition}]={v}" for tp, v in sorted(offsets.items()))


def _span(offsets: list[int] | None) -> str:
    return f"{min(offsets)}..{max(offsets)} ({len(offsets)})" if offsets else "-"


class HeadGuardTransport(Transport):
    Consumer = HeadGuardConsumer


def install(app: Any) -> None:
    """Make `app` consume through `HeadGuardConsumer` (before its consumer is created)."""
    app.transport = HeadGuardTransport(app.conf.broker_consumer, app)
