"""Stage 2 of the worker, without Faust: what one routed partition does with its packets.

Routed events arrive from every input partition. Each input partition's watermark (the highest
event time its router has seen) travels with its packets, and an event is applied only once
every input partition's watermark is more than `allowed_lateness_ms` past its event time: the
per-subject order is then exactly (ts, event_id), as in a backtest, however the input
partitions were interleaved on the way. Events of one input partition must reach it in event
time order give or take the lateness; across input partitions any order is exact.

Idle input partitions (the router's IDLE announcement: caught up, nothing new for a while) are
released by one rule only: when *every* input partition is idle, everything held is applied
(the end of a burst, a test's finite input, a quiet platform). While any partition is active,
an idle one still holds the others back at its last watermark. Releasing past a partition
merely because it went quiet is what made late events before: its next records (in transit,
fetched but not yet routed, or waiting for a new owner after a rebalance) could be older than
what had been applied, and the subjects' high-water marks then skipped them, so the stream
differed from the backtest. A partition with no traffic at all therefore delays alerts until
the whole input pauses for the idle timeout; on a live platform every partition carries
traffic. A router announces IDLE only while every input partition it owns is caught up against
a log end learned after it took its newest records (`Pipeline.route`, `progress.FreshEnds`),
so within one worker a record written before one it routed is never left behind, however long
the worker was frozen or starved. The one assumption left is across workers (and brokers): a
record reaches its router within the idle timeout of any record produced after it on another
partition (a router stalled for longer while every other partition is already quiet could
still deliver late).

A packet is acknowledged when all its events are applied; a crash before that redelivers it,
and the engine's per-subject high-water mark makes the redelivery harmless.

A step that raises (a detector bug) leaves the event unapplied to that subject: the engine
rebuilds the subject from the store and this release's earlier events for it (the store holds
everything applied before this release), and the failure goes out with its packet's token
(`failures`) to be dead-lettered. The backtest skips the same (subject, event) the same way.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from streams.config import GuardlineConfig, Mode
from streams.engine.core import StepFailure
from streams.engine.decisions import order_key
from streams.engine.reorder import IDLE, ReorderBuffer, release_bound
from streams.model import Alert, Decision, Event
from streams.pipeline.envelope import DECISIONS_SOURCE, Packet
from streams.pipeline.ports import AckToken

Token = TypeVar("Token", bound=AckToken)


@dataclass(slots=True)
class DetectOutput(Generic[Token]):
    alerts: list[tuple[Alert, Mode]] = field(default_factory=list)
    alert_tokens: list[Token] = field(default_factory=list)  # packet of each alert's trigger
    state_writes: dict[str, bytes | None] = field(default_factory=dict)
    acks: list[Token] = field(default_factory=list)
    applied: int = 0
    failures: list[tuple[StepFailure, Token]] = field(default_factory=list)  # and its packet


class _Pending(Generic[Token]):
    """A packet's token, acknowledged once its last event is applied."""

    __slots__ = ("remaining", "token")

    def __init__(self, token: Token, remaining: int) -> None:
        self.token = token
        self.remaining = remaining


class PartitionRuntime(Generic[Token]):
    """Engine + watermarks + reorder buffer for one routed partition (moves with it)."""

    def __init__(
        self,
        partition: int,
        config: GuardlineConfig,
        input_partitions: int,
        *,
        loader: Callable[[str], bytes | None] | None = None,
        clock_ms: Callable[[], int] = lambda: int(time.time() * 1000),
        expire_every_ms: int = 600_000,
    ) -> None:
        self.partition = partition
        self.input_partitions = input_partitions
        self._modes = {s.detector.name: s.mode for s in config.detectors}
        self.engine = config.new_engine(clock_ms=clock_ms, loader=loader)
        self._lateness_ms = config.engine.allowed_lateness_ms
        # Ordering is by (ts, event_id); watermarks below decide release, not the buffer's own.
        # Decisions wait there too, ordered after every event at or before their effective time.
        self.buffer: ReorderBuffer[
            tuple[str, Event | Decision, tuple[str, ...], _Pending[Token]]
        ] = ReorderBuffer()
        # Highest event time announced per input partition (monotonic: a new owner re-reading
        # from the last commit announces lower ones), and which of them are idle now.
        self.source_watermarks: dict[int, int] = {}
        self.idle_sources: set[int] = set()
        self._expire_every_ms = expire_every_ms
        self._last_expire_ms: int | None = None

    def accept(self, packet: Packet, token: Token, out: DetectOutput[Token]) -> None:
        source, watermark = packet.source_partition, packet.watermark_ms
        if source == DECISIONS_SOURCE:
            pending = _Pending(token, len(packet.decisions))
            for key, decision in packet.decisions:
                self.buffer.push(*order_key(decision), (key, decision, (), pending))
            if not packet.decisions:
                out.acks.append(token)
            return
        previous = self.source_watermarks.get(source, -1)
        if watermark == IDLE:
            self.idle_sources.add(source)
            self.source_watermarks[source] = previous
        else:
            # Any other packet, even one without events or a watermark yet (-1: a new owner
            # claiming the partition), means the partition is active again.
            self.idle_sources.discard(source)
            self.source_watermarks[source] = max(watermark, previous)
        if not packet.items:
            out.acks.append(token)
            return
        pending = _Pending(token, len(packet.items))
        for key, event, names in packet.items:
            self.buffer.push(event.ts_ms, event.event_id, (key, event, names, pending))

    @property
    def watermark_ms(self) -> int | None:
        """Events at or before this event time can be applied (IDLE: all of them); None until
        every input partition has announced a watermark or gone idle."""
        return release_bound(
            self.source_watermarks, self.idle_sources, self.input_partitions, self._lateness_ms
        )

    def release(self, out: DetectOutput[Token]) -> None:
        watermark = self.watermark_ms
        if watermark is None or not len(self.buffer):
            return
        engine = self.engine
        last_ts: int | None = None
        # Since the store's state: a rebuild replays it (events and decisions, in order).
        released: list[tuple[str, Event | Decision]] = []
        for key, event, names, pending in self.buffer.release_until(watermark):
            if isinstance(event, Decision):
                engine.decide(key, event)
                released.append((key, event))
                pending.remaining -= 1
                if pending.remaining == 0:
                    out.acks.append(pending.token)
                continue
            for alert in engine.apply(key, engine.detectors_named(names), event):
                out.alerts.append((alert, self._modes[alert.detector]))
                out.alert_tokens.append(pending.token)
            if engine.failures:
                engine.rebuild(key, (e for k, e in released if k == key))
                out.failures += [(f, pending.token) for f in engine.take_failures()]
            released.append((key, event))
            out.applied += 1
            last_ts = event.ts_ms
            pending.remaining -= 1
            if pending.remaining == 0:
                out.acks.append(pending.token)
        if last_ts is not None and (
            self._last_expire_ms is None or last_ts - self._last_expire_ms >= self._expire_every_ms
        ):
            engine.expire(last_ts)
            self._last_expire_ms = last_ts
        out.state_writes.update(engine.take_dirty())
