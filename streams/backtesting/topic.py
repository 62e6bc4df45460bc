"""The input topic as a backtest source: a time range, read with a plain consumer.

`offsets_for_times` turns `since` and `until` into offsets per partition (the first record
whose Kafka timestamp is at or after each; the producer sets it when it sends, so it is when
the platform recorded the event). Partitions are read one after another with no consumer
group (nothing is committed, the live workers are not disturbed), so the events are not in
time order across partitions: this source always goes through the external sort.

A record's position is `partition << 40 | offset`: unique, and in a bad message's report it
names the partition and offset.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

import msgspec
from kafka import KafkaConsumer, TopicPartition

from streams.codec import SchemaResolver, decode_event
from streams.model import Event
from streams.validation import InvalidEvent

_OFFSET_BITS: Final = 40
_POLL_RECORDS: Final = 5000


_ENCODE: Final = msgspec.msgpack.Encoder().encode
_RECORDS: Final = msgspec.msgpack.Decoder(list[tuple[int, bytes | None]])


def decode_records(block: bytes) -> list[tuple[int, Event | InvalidEvent]]:
    """A `TopicEvents` block: each record's position and its event (or why it was refused)."""
    return [(seq, _event_or_error(value, None)) for seq, value in _RECORDS.decode(block)]


def _event_or_error(value: bytes | None, resolver: SchemaResolver | None) -> Event | InvalidEvent:
    try:
        return decode_event(value, resolver)
    except InvalidEvent as err:
        return err


class TopicEvents:
    """Records of `topic` whose Kafka timestamp is in [since_ms, until_ms) (None: open)."""

    needs_sort = True
    unit = "records"

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        *,
        since_ms: int | None = None,
        until_ms: int | None = None,
        resolver: SchemaResolver | None = None,
    ) -> None:
        self.topic = topic
        self._resolver = resolver
        self._consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=None,
            enable_auto_commit=False,
            max_poll_records=_POLL_RECORDS,
        )
        partitions = self._consumer.partitions_for_topic(topic)
        if not partitions:
            self._consumer.close()
            raise ValueError(f"topic {topic!r} does not exist (or has no partitions)")
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        first = self._consumer.beginning_offsets(tps)
        end = self._consumer.end_offsets(tps)
        start = self._at(tps, since_ms, end) if since_ms is not None else first
        stop = self._at(tps, until_ms, end) if until_ms is not None else end
        self.ranges = {tp.partition: (start[tp], max(start[tp], stop[tp])) for tp in tps}
        self.total = sum(b - a for a, b in self.ranges.values())
        self.done_items = 0
        # Without a registry, a job process decodes the records; with one, this process does
        # (the registry client stays here), and the run is one job.
        self.decode_block = decode_records if resolver is None else self._decode_here
        self.parallel = resolver is None

    def _decode_here(self, block: bytes) -> list[tuple[int, Event | InvalidEvent]]:
        return [(seq, _event_or_error(v, self._resolver)) for seq, v in _RECORDS.decode(block)]

    def _at(
        self, tps: list[TopicPartition], ts_ms: int, end: dict[TopicPartition, int]
    ) -> dict[TopicPartition, int]:
        found = self._consumer.offsets_for_times(dict.fromkeys(tps, ts_ms))
        return {tp: end[tp] if found[tp] is None else found[tp].offset for tp in tps}

    def blocks(self) -> Iterator[bytes]:
        """Records as blocks of (position, value), for `decode_records` (in a job process)."""
        consumer = self._consumer
        for partition, (start, stop) in self.ranges.items():
            if start >= stop:
                continue
            tp = TopicPartition(self.topic, partition)
            consumer.assign([tp])
            consumer.seek(tp, start)
            # The position, not the last record: offsets past it may hold no record.
            while consumer.position(tp) < stop:
                records = consumer.poll(timeout_ms=1000).get(tp, [])
                block = [
                    (partition << _OFFSET_BITS | r.offset, r.value)
                    for r in records
                    if r.offset < stop
                ]
                self.done_items += len(block)
                if block:
                    yield _ENCODE(block)

    def where(self, seq: int) -> str:
        offset = seq & ((1 << _OFFSET_BITS) - 1)
        return f"{self.topic}[{seq >> _OFFSET_BITS}]@{offset}"

    def fraction_done(self) -> float | None:
        return self.done_items / self.total if self.total else None

    def close(self) -> None:
        self._consumer.close()
