"""Alert and decision topics -> the case store, at least once from Kafka, idempotent into it.

The feed assigns itself every partition (no consumer group to join or to stall) and keeps its
read offsets in the store, written in the same transaction as the records they cover: after a
crash it resumes exactly where the store is, and a full replay only finds rows already there.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from streams import topics
from streams.cases.store import CaseStore, FeedItem
from streams.codec import SchemaResolver, decode_alert, decode_decision, decode_event
from streams.model import Alert, Decision, Event
from streams.validation import InvalidEvent

log = logging.getLogger(__name__)

FEED_TOPICS = (topics.ALERTS.name, topics.PRIORITY.name, topics.DECISIONS.name)
"""Shadow alerts are for evaluating candidates, never for people: not fed."""

EVENT_MEMORY_MS = 15 * 24 * 3_600_000
"""Input events are kept this long (event time, behind the newest) for the link graph and the
bundles: past the longest detector window (14 days) and the input topic's retention (7)."""
PRUNE_EVERY = 20_000  # events read between two prunes


@dataclass(slots=True)
class FeedStats:
    read: int = 0
    new: int = 0
    unreadable: int = 0  # counted and logged with their offsets, never stored


class CaseFeed:
    def __init__(
        self,
        store: CaseStore,
        bootstrap: str,
        *,
        with_events: bool = True,
        resolver: SchemaResolver | None = None,
    ) -> None:
        self.store = store
        self.bootstrap = bootstrap
        self.topic_names = FEED_TOPICS + ((topics.EVENTS.name,) if with_events else ())
        self.resolver = resolver
        self.stats = FeedStats()
        self._consumer: KafkaConsumer | None = None
        self._newest_event_ms = -1
        self._since_prune = 0

    def _connect(self) -> KafkaConsumer:
        consumer = KafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        assigned: list[TopicPartition] = []
        for name in self.topic_names:
            parts = consumer.partitions_for_topic(name) or set()
            assigned += [TopicPartition(name, p) for p in sorted(parts)]
        consumer.assign(assigned)
        for name in self.topic_names:
            for partition, offset in self.store.offsets(name).items():
                tp = TopicPartition(name, partition)
                if tp in assigned:
                    consumer.seek(tp, offset)
        return consumer

    def poll_once(self, timeout_ms: int = 500) -> int:
        """Read one batch into the store; returns how many records it held."""
        if self._consumer is None:
            self._consumer = self._connect()
        batch = self._consumer.poll(timeout_ms=timeout_ms, max_records=2000)
        items = [
            FeedItem(
                r.topic,
                r.partition,
                r.offset,
                self._decode(r.topic, r.partition, r.offset, r.value),
            )
            for records in batch.values()
            for r in records
        ]
        if items:
            self.stats.new += self.store.ingest(items)
            self.stats.read += len(items)
            self._prune([it.item for it in items if isinstance(it.item, Event)])
        return len(items)

    def _prune(self, events: list[Event]) -> None:
        if not events:
            return
        self._newest_event_ms = max(self._newest_event_ms, max(e.ts_ms for e in events))
        self._since_prune += len(events)
        if self._since_prune >= PRUNE_EVERY:
            self._since_prune = 0
            self.store.forget_events_before(self._newest_event_ms - EVENT_MEMORY_MS)

    def _decode(
        self, topic: str, partition: int, offset: int, value: bytes
    ) -> Alert | Decision | Event | None:
        """None for a record that cannot be read (input ones are on the dead-letter topic)."""
        try:
            if topic == topics.EVENTS.name:
                return decode_event(value, self.resolver)
            if topic == topics.DECISIONS.name:
                return decode_decision(value, self.resolver)
            return decode_alert(value, self.resolver)
        except InvalidEvent as err:
            self.stats.unreadable += 1
            if topic == topics.EVENTS.name:
                return None  # the worker dead-letters and counts it
            log.warning("unreadable record %s[%d]@%d: %s", topic, partition, offset, err.code)
            return None

    def run(self, stop: threading.Event, retry_s: float = 5.0) -> None:
        """Feed until `stop` is set; an unreachable broker is logged in one line and retried
        (the web view goes on serving what the store holds)."""
        try:
            while not stop.is_set():
                try:
                    self.poll_once()
                except KafkaError as err:
                    log.warning("cases feed: Kafka unavailable (%s); retrying", type(err).__name__)
                    self.close()
                    stop.wait(retry_s)
        finally:
            self.close()

    def close(self) -> None:
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None

    def catch_up(self, idle_polls: int = 3) -> int:
        """Read until `idle_polls` polls in a row find nothing (tests, one-shot imports)."""
        total, idle = 0, 0
        while idle < idle_polls:
            n = self.poll_once(timeout_ms=300)
            total += n
            idle = 0 if n else idle + 1
        return total
