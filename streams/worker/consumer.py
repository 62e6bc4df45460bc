"""Faust's Kafka consumer, with its commit rule made strict: never pass a record still held.

Faust commits a partition up to the end of the first run of consecutive acked offsets, and
lets that run begin one offset after its committed one (`Consumer._new_offset` tolerates a
one-offset gap at the head, meant for an offset that never arrives) or anywhere at all while
nothing is committed yet. The detect stage acks routed packets out of order: a packet with
events waits, unacked, in the reorder buffer until the watermark passes them, while the
watermark-only packet after it is acked at once. Faust's commit then passes the waiting packet,
and a SIGKILL before its events are applied loses them for good (issue 7: the crash test's lost
case revision; `tests/test_resilience.py` holds the watermark back to show it every time).
Here a commit never passes a record that was handed on and is not acked yet; offsets that never
arrive are tolerated as before.
"""

from __future__ import annotations

from typing import Any

from faust.transport.drivers.aiokafka import Consumer, Transport
from faust.types import TP

from streams.worker.commits import held_offsets


class HeadGuardConsumer(Consumer):
    def _new_offset(self, tp: TP) -> int | None:
        acked = self._acked[tp]
        committed: int | None = self._committed_offset[tp]
        if acked and committed not in self._acked_index[tp]:  # else the run starts there
            since = committed or 0
            held = held_offsets(self._unacked_messages).get(tp, ())
            lowest = min((offset for offset in held if offset >= since), default=None)
            if lowest is not None and lowest < self._run_start(tp):
                return None
        new_offset: int | None = super()._new_offset(tp)
        return new_offset

    def _run_start(self, tp: TP) -> int:
        """Where Faust's next run of done offsets starts: acked, or a gap never fetched."""
        acked = self._acked[tp]
        gaps = self._gap[tp].overlap(0, max(acked))
        return min(min(acked), min((gap.begin for gap in gaps), default=min(acked)))


class HeadGuardTransport(Transport):
    Consumer = HeadGuardConsumer


def install(app: Any) -> None:
    """Make `app` consume through `HeadGuardConsumer` (before its consumer is created)."""
    app.transport = HeadGuardTransport(app.conf.broker_consumer, app)
