"""Batch intake for the input topic: fetched records reach the worker without Faust's
per-message delivery path.

Profiled, Faust spends ~70% of a bare agent's CPU moving each message from the fetcher to the
agent: one `wait_first` task per message in `Consumer._drain_messages`, then the conductor
(`Event`, codecs, sensors, a queue put) and the stream iterator. The worker processes input in
batches anyway, so the input topic skips all of it: Faust's consumer scheduler (its documented
`ConsumerScheduler` extension point) sees every fetched batch first; this one takes the input
topic's records out of the batch, wraps each in Faust's own `ConsumerMessage`, tracks it as
pending, and leaves every other topic (routed packets, changelogs) to the normal path.

Faust still owns the group, assignment, fetching, offsets and commits: the worker acks each
message through `Consumer.ack` once what it caused is acknowledged by the broker, so Faust commits
only offsets whose records were processed (at-least-once, as with a stream). The intake takes
exactly what Faust's `getmany` would hand on (flow running, partition active or buffered:
what Faust discards it still discards, and seeks back for), and does once per batch what the
drain loop does per message: offsets below the read offset are dropped, offsets never fetched
are registered as gaps (never offsets already handed on), a partition whose buffer is full stops
being fetched until the worker drains it, and records from an older consumer generation are
discarded (fetched again after the seek).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from faust.transport.utils import DefaultSchedulingStrategy
from faust.types import TP, Message  # Message: the ack token of each record

from streams.pipeline.ports import Record


class Intake:
    """Input-topic records per partition, waiting for the worker's next batch."""

    def __init__(self, app: Any, topic: str, batch_size: int) -> None:
        self.app = app
        self.topic = topic
        self.batch_size = batch_size
        self.limit = batch_size  # per partition; beyond it the partition is not fetched
        self.pending: dict[int, list[Record[Message]]] = defaultdict(list)
        self.count = 0
        self.peak = 0  # most records pending at once since the memory probe last looked
        self.ready = asyncio.Event()  # set when a full batch is waiting
        self.on_arrival: Callable[[], None] | None = None  # called when records are taken in
        self._gaps: list[tuple[TP, int, int]] = []
        self._paused: set[TP] = set()  # full: fetched again once taken
        self._held: set[TP] = set()  # ahead in event time (`alignment.py`): until released
        # Per partition, the offset after the last record handed on since it was assigned.
        # A seek moves Faust's read offset back, not this: gaps are never registered over it.
        self._next: dict[int, int] = {}

    def scheduler(self) -> type[DefaultSchedulingStrategy]:
        """A `ConsumerScheduler` class (Faust instantiates it) that feeds this intake."""
        intake = self

        class _Scheduler(DefaultSchedulingStrategy):
            def iterate(self, records: Mapping[TP, list[Any]]) -> Iterator[tuple[TP, Any]]:
                return super().iterate(intake.divert(records))

        return _Scheduler

    def divert(self, records: Mapping[TP, list[Any]]) -> Mapping[TP, list[Any]]:
        """Keep this topic's records; return the rest for Faust's per-message path."""
        if not any(tp.topic == self.topic for tp in records):
            return records
        consumer = self.app.consumer
        if not consumer.flow_active:
            # Faust discards this whole fetch and seeks back to the committed offsets: taking
            # it would also move the read offsets, so the records fetched again after the seek
            # would pass as already read.
            return records
        # Only partitions Faust would deliver from now (a paused partition's records in flight
        # are discarded by Faust too; a revoked one is no longer ours).
        active = consumer._active_partitions or ()
        buffered = consumer._buffered_partitions
        read_offset = consumer._read_offset  # what `_drain_messages` keeps per partition
        to_message = consumer._to_message
        track = consumer.track_message
        rest: dict[TP, list[Any]] = {}
        for tp, batch in records.items():
            if tp.topic != self.topic or (tp not in active and tp not in buffered):
                rest[tp] = batch
                continue
            read: int | None = read_offset[tp]
            box = self.pending[tp.partition]
            before = len(box)
            nxt = self._next.get(tp.partition, 0)
            for record in batch:
                offset = record.offset
                if read is not None and offset < read:
                    continue  # already delivered (Faust's drain loop drops these too)
                if read:
                    # Offsets never fetched (compaction, transaction markers) count as done.
                    # Not from Faust's read offset alone: a seek resets it to the committed
                    # offset while the fetcher may go on past records already handed on, and
                    # a gap over them puts their offsets twice into Faust's acked list, which
                    # then commits one offset per commit interval (a stall, seen after a
                    # broker restart: lag 238 for 180 s).
                    start = max(read + 1, nxt)
                    if offset > start:
                        self._gaps.append((tp, start, offset - 1))
                message = to_message(tp, record)
                track(message)
                box.append(Record(offset, message.key, message.value, message))
                read = offset
                nxt = max(nxt, offset + 1)
            read_offset[tp] = read
            self._next[tp.partition] = nxt
            self.count += len(box) - before
            self.peak = max(self.peak, self.count)
            if len(box) >= self.limit:
                # Faust's partition sets hold its own TP class (records carry aiokafka's).
                paused = TP(tp.topic, tp.partition)
                consumer.on_buffer_full(paused)
                self._paused.add(paused)
        if self.count >= self.batch_size:
            self.ready.set()
        if self.count and self.on_arrival is not None:
            self.on_arrival()
        return rest

    async def take(self) -> dict[int, list[Record[Message]]]:
        """Everything pending, from the current consumer generation; fetching resumes.

        While Faust has stopped the flow, nothing is taken: pending records wait (revoked
        partitions' records are dropped by `forget`, an older generation's below).
        """
        consumer = self.app.consumer
        if not consumer.flow_active:
            # Faust stopped the flow (a rebalance): nothing is processed until it runs again.
            # Revoked partitions' records are dropped by `forget` (as Faust clears its stream
            # buffers), an older generation's below; both are fetched again after the seek.
            self.ready.clear()
            return {}
        pending, self.pending = self.pending, defaultdict(list)
        self.count = 0
        self.ready.clear()
        gaps, self._gaps = self._gaps, []
        for tp, start, end in gaps:
            await consumer._add_gap(tp, start, end)  # lets commits pass offsets never fetched
        for tp in self._paused - self._held:
            consumer.on_buffer_drop(tp)
        self._paused.clear()
        generation = self.app.consumer_generation_id
        for partition, box in pending.items():
            if box and box[0].token.generation_id != generation:  # oldest first
                pending[partition] = [r for r in box if r.token.generation_id == generation]
                self._next.pop(partition, None)  # dropped: they are fetched again
        return {p: box for p, box in pending.items() if box}

    def hold(self, partitions: set[int]) -> None:
        """Stop fetching exactly these partitions (ahead in event time), resume the others
        held before. Records already fetched are still taken: only fetching stops."""
        consumer = self.app.consumer
        held = {TP(self.topic, p) for p in partitions}
        for tp in held:  # all, every time: an assignment resets Faust's partition sets
            consumer.on_buffer_full(tp)
        for tp in self._held - held - self._paused:
            consumer.on_buffer_drop(tp)
        self._held = held

    def next_offset(self, partition: int) -> int | None:
        """The offset after the last record handed on since the partition was assigned."""
        return self._next.get(partition)

    def waiting(self) -> tuple[set[int], set[int]]:
        """(held, full): the partitions this intake keeps from being fetched."""
        return {tp.partition for tp in self._held}, {tp.partition for tp in self._paused}

    def resync(self, partitions: set[int]) -> None:
        """Make Faust fetch these partitions again if they are in none of its fetch sets (not
        active, not buffered, not paused by a rebalance) and this intake keeps them neither
        held nor full: nothing else would ever put them back."""
        consumer = self.app.consumer
        active = consumer._get_active_partitions()
        for partition in partitions:
            tp = TP(self.topic, partition)
            if tp in self._held or tp in self._paused or tp in consumer._paused_partitions:
                continue
            consumer._buffered_partitions.discard(tp)
            active.add(tp)

    def forget(self, partition: int) -> None:
        """A revoked partition: its unacked records go to the new owner."""
        box = self.pending.pop(partition, [])
        self.count -= len(box)
        for tp in [tp for tp in self._paused | self._held if tp.partition == partition]:
            # Faust clears its own sets of a revoked partition, not this one: left in it, the
            # partition would pass Faust's delivery check even while Faust pauses it.
            self.app.consumer._buffered_partitions.discard(tp)
            self._paused.discard(tp)
            self._held.discard(tp)
        self._gaps = [gap for gap in self._gaps if gap[0].partition != partition]
        self._next.pop(partition, None)
