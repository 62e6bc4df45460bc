"""Stage 1 of the worker, without Faust: decode, dead-letter, route each event to its subjects.

Detectors keep state per subject (the actor, but also the blocked account, the device, the IP),
so each valid event is re-keyed to every subject key that wants it and packed, per internal
partition, into one routed message that also carries this input partition's watermark.

Watermark announcements (the detect stage's rules are in `runtime.py`): a routed batch carries
the source's highest event time; a source caught up and quiet for the idle timeout is announced
IDLE once; a source this router has just been assigned is *claimed* (an empty packet with its
watermark, -1 if none yet), which cancels an IDLE its previous owner may have announced before
records arrived that only the new owner will route.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from streams import topics
from streams.codec import SchemaResolver, decode_decision, decode_event
from streams.detectors.contract import Detector
from streams.engine.core import StepFailure, routes, routing_failure
from streams.engine.decisions import decision_key
from streams.model import Decision
from streams.pipeline.envelope import DECISIONS_SOURCE, IDLE, Item, Packet
from streams.pipeline.partition import partition_for
from streams.pipeline.ports import AckToken, Record
from streams.validation import InvalidEvent

Token = TypeVar("Token", bound=AckToken)


MAX_PACKET_ITEMS = 500
"""Routed items per packet (~0.3-0.6 KB each): a big input batch must not make a packet over
Kafka's 1 MiB default message limit (a 1.3 MB packet crashed a worker's producer)."""


WATERMARK_STEP_MS = 50
"""A batch without events for an internal partition still tells it the new watermark once the
watermark has moved this much event time past what it last heard (the tick sends the rest):
an empty packet per batch, source and partition was most routed messages at live rates, yet
waiting for the 0.1 s tick added up to 0.1 s to the detect stage's hold."""

IDLE_AFTER_S = 0.5
"""An input partition silent this long (and fully read) stops holding the watermark back."""


@dataclass(frozen=True, slots=True)
class Rejected:
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    error: InvalidEvent
    failure: StepFailure | None = None  # a valid event a detector failed to route (a bug)
    topic: str = topics.EVENTS.name


@dataclass(slots=True)
class RouterOutput(Generic[Token]):
    packets: list[tuple[int, Packet]] = field(default_factory=list)  # (internal partition, ..)
    rejected: list[Rejected] = field(default_factory=list)
    acks: list[Token] = field(default_factory=list)
    valid: int = 0
    by_type: dict[str, int] = field(default_factory=dict)  # valid events per type (metrics)
    decisions: list[Decision] = field(default_factory=list)  # routed decisions (metrics)


class Router(Generic[Token]):
    def __init__(
        self,
        detectors: Sequence[Detector],
        partitions: int,
        *,
        resolver: SchemaResolver | None = None,
    ) -> None:
        self.detectors = tuple(detectors)
        self.partitions = partitions
        self.resolver = resolver  # input may be Confluent-framed when a registry is set
        self.max_ts: dict[int, int] = {}
        self.last_arrival: dict[int, float] = {}
        self.idle_announced: set[int] = set()
        self.sent: dict[tuple[int, int], int] = {}  # (source, dest) -> watermark last sent

    def route(
        self,
        source: int,
        records: Sequence[Record[Token]],
        out: RouterOutput[Token],
    ) -> None:
        """One batch of one input partition."""
        by_dest: dict[int, list[Item]] = defaultdict(list)
        previous = max_ts = self.max_ts.get(source, -1)
        by_type = out.by_type
        resolver = self.resolver
        for offset, key, value, token in records:
            out.acks.append(token)
            try:
                event = decode_event(value, resolver)
            except InvalidEvent as err:
                out.rejected.append(Rejected(source, offset, key, value, err))
                continue
            try:
                subjects = routes(self.detectors, event)
            except Exception as exc:  # a detector bug: this event only, never the worker
                failure = routing_failure(self.detectors, event, exc)
                error = InvalidEvent("processing_error", None, failure.reason)
                out.rejected.append(Rejected(source, offset, key, value, error, failure))
                continue
            out.valid += 1
            by_type[event.type] = by_type.get(event.type, 0) + 1
            max_ts = max(max_ts, event.ts_ms)
            for subject, wanting in subjects.items():
                names = tuple(d.name for d in wanting)
                by_dest[partition_for(subject, self.partitions)].append((subject, event, names))
        was_idle = source in self.idle_announced
        if records:
            self.last_arrival[source] = time.monotonic()
            self.idle_announced.discard(source)
        self.max_ts[source] = max_ts
        if max_ts < 0:
            return
        # Internal partitions with events hear the new watermark now; the others once it moved
        # WATERMARK_STEP_MS past what they heard, or at the next `watermarks` call (the tick),
        # unless the source was idle: then every one hears at once that it is active again.
        # Split packets carry the new watermark only on the last one: the detect stage may
        # apply a packet before the next arrives, and events must never come in below it.
        step, step_ms = MAX_PACKET_ITEMS, WATERMARK_STEP_MS
        sent = self.sent
        for dest in range(self.partitions):
            items = by_dest.get(dest)
            if not items and not was_idle and max_ts - sent.get((source, dest), -1) < step_ms:
                continue
            chunks = [items[i : i + step] for i in range(0, len(items), step)] if items else [[]]
            for chunk in chunks[:-1]:
                out.packets.append((dest, Packet(source, previous, chunk)))
            out.packets.append((dest, Packet(source, max_ts, chunks[-1])))
            sent[(source, dest)] = max_ts

    def route_decisions(
        self, batches: Mapping[int, Sequence[Record[Token]]], out: RouterOutput[Token]
    ) -> None:
        """Moderator decisions, each to the internal partition of its subject, like events,
        but carrying no watermark (they come from no input partition)."""
        by_dest: dict[int, list[tuple[str, Decision]]] = defaultdict(list)
        for partition, records in batches.items():
            for offset, key, value, token in records:
                out.acks.append(token)
                try:
                    decision = decode_decision(value, self.resolver)
                except InvalidEvent as err:
                    topic = topics.DECISIONS.name
                    out.rejected.append(Rejected(partition, offset, key, value, err, topic=topic))
                    continue
                out.decisions.append(decision)
                subject = decision_key(decision)
                by_dest[partition_for(subject, self.partitions)].append((subject, decision))
        for dest, decisions in sorted(by_dest.items()):
            out.packets.append((dest, Packet(DECISIONS_SOURCE, -1, [], decisions)))

    def watermarks(self, owned: Sequence[int], out: RouterOutput[Token]) -> None:
        """Watermark-only packets to internal partitions whose view of a source is behind.

        Sent on a timer rather than with every batch: a batch's events reach only some
        partitions, and an empty packet to every other one per batch and source was most of
        the routed messages at live rates (each one a trip through Faust's per-message path).
        """
        sent = self.sent
        for source in owned:
            watermark = self.max_ts.get(source, -1)
            if watermark < 0 or source in self.idle_announced:
                continue
            for dest in range(self.partitions):
                if sent.get((source, dest), -1) < watermark:
                    out.packets.append((dest, Packet(source, watermark, [])))
                    sent[(source, dest)] = watermark

    def idle_heartbeats(
        self, owned: Sequence[int], idle_s: float, out: RouterOutput[Token]
    ) -> None:
        """Sources with nothing new for `idle_s` stop holding the detect stage back (once)."""
        now = time.monotonic()
        for source in owned:
            if source in self.idle_announced:
                continue
            if now - self.last_arrival.get(source, 0.0) >= idle_s:
                self.idle_announced.add(source)
                for dest in range(self.partitions):
                    out.packets.append((dest, Packet(source, IDLE, [])))

    def claim(self, source: int, out: RouterOutput[Token]) -> None:
        """A newly assigned source is active until this router finds it caught up and quiet."""
        self.last_arrival[source] = time.monotonic()
        self.idle_announced.discard(source)
        watermark = self.max_ts.get(source, -1)
        for dest in range(self.partitions):
            out.packets.append((dest, Packet(source, watermark, [])))
            self.sent[(source, dest)] = watermark

    def forget(self, source: int) -> None:
        for dest in range(self.partitions):
            self.sent.pop((source, dest), None)
        self.max_ts.pop(source, None)
        self.last_arrival.pop(source, None)
        self.idle_announced.discard(source)
