"""The pipeline's port on a Faust app: its producer (sink), its table (state store) and its
consumer (ack ledger), as `stage.settle_*` calls them."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

from faust.streams import _current_event
from faust.types import Message  # the ack token: offset, partition, timestamp

from streams import topics
from streams.pipeline.ports import Outgoing
from streams.pipeline.progress import AckedOffsets


class FaustPort:
    def __init__(self, app: Any, table: Any, *, intake: bool) -> None:
        self.app = app
        self.table = table
        self.intake = intake  # input records come through intake.py, not a stream
        self.acked = AckedOffsets()
        # A routed stream event per partition: the table's write context (`_write_state`).
        self.context: dict[int, Any] = {}

    async def deliver(self, records: Sequence[Outgoing]) -> None:
        """Send and wait for the broker's acks: only then may the causing records be acked.

        Faust's `send_soon` buffer is not enough: its flush before a commit gives up after
        0.1 s without progress (`ProducerBuffer.flush_atmost`), so a commit could pass records
        whose routed packets or dead letters were still queued, and a SIGKILL lost them (the
        crash test lost a case revision that way). One round trip per batch.
        """
        if not records:
            return
        producer = self.app.producer
        pending = [
            await producer.send(o.topic, o.key, o.value, o.partition, o.timestamp_s, None)
            for o in records
        ]
        await asyncio.gather(*pending)

    def load(self, key: str) -> bytes | None:
        value = self.table.get(key.encode())
        return value if isinstance(value, bytes) else None

    async def save(self, partition: int, writes: Mapping[str, bytes | None]) -> bool:
        """Write one batch of state to the table, then hand its changelog writes to the client.

        Every write comes from an applied event, so a record of this partition was collected
        (the table's write context, `_write_state`). Not once the worker is stopping: the
        producer may stop before the changelog writes are sent (Faust's buffer then crashed
        the shutdown with "Producer service not yet started"); the records stay unacked.
        """
        if self.app.should_stop:
            return False
        self._write_state(writes, self.context[partition])
        return await self._drain_changelog()

    async def _drain_changelog(self) -> bool:
        """Hand the table's changelog writes (queued by Faust's `send_soon`) to the client.

        Faust flushes its client before committing, but not reliably its own buffer (above);
        once the buffer is empty, the commit's flush covers every state write of acked records.
        False when the producer is stopping: the records then stay unacked (redelivered).
        """
        buffer = self.app.producer.buffer
        while buffer.size and buffer.state == "running":
            await buffer.flush()
        return not buffer.size

    def ack(self, topic: str, tokens: Sequence[Message]) -> None:
        """Acknowledge one batch's records; Faust's consumer still tracks and commits offsets.

        Input records taken by the intake are acked on the consumer (they never went through
        a stream); routed ones through the message, as `event.ack()` does, minus a coroutine
        and two sensor calls per record (our Monitor's per-record hooks are no-ops).
        """
        if not tokens:
            return
        consumer = self.app.consumer
        if topic == topics.EVENTS.name and self.intake:
            ack = consumer.ack
            for msg in tokens:
                ack(msg)
        else:
            for msg in tokens:
                msg.ack(consumer)
        self.acked.note(topic, tokens)

    def _write_state(self, writes: Mapping[str, bytes | None], context_event: Any) -> None:
        """Write one batch of subject state to the table, in its partition's changelog.

        Faust picks a table write's partition from the current stream event; a batch spans
        many events, so we set that context to a routed record of the partition being written.
        """
        token = _current_event.set(weakref.ref(context_event))
        try:
            table = self.table
            for key, value in writes.items():
                raw_key = key.encode()
                if value is None:
                    if raw_key in table:
                        del table[raw_key]
                else:
                    table[raw_key] = value
        finally:
            _current_event.reset(token)
