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

It also lets the worker read a partition again without racing Faust's fetch loop (`reread`).
"""

from __future__ import annotations

import asyncio
from typing import Any

from faust.transport.drivers.aiokafka import Consumer, Transport
from faust.types import TP, Message
from faust.types.tuples import ack_lock

from streams.adapters.faust.commits import held_offsets
from streams.pipeline.acks import may_commit_run


class HeadGuardConsumer(Consumer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._parked = asyncio.Event()  # the fetch loop waits for the flow, no record in hand

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
        committed: int | None = self._committed_offset[tp]
        if acked and committed not in self._acked_index[tp]:  # else the run starts there
            generation = self.app.consumer_generation_id
            held = held_offsets(self._unacked_messages, generation).get(tp, ())
            if not may_commit_run(committed, self._run_start(tp), held):
                return None
        new_offset: int | None = super()._new_offset(tp)
        return new_offset

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


class HeadGuardTransport(Transport):
    Consumer = HeadGuardConsumer


def install(app: Any) -> None:
    """Make `app` consume through `HeadGuardConsumer` (before its consumer is created)."""
    app.transport = HeadGuardTransport(app.conf.broker_consumer, app)
