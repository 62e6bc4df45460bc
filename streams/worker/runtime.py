"""What one worker does with the records of one input partition, without any Faust.

The Faust adapter (`app.py`) hands raw records in and sends what comes out; everything that
decides anything lives here so the bench and the tests drive the same code.

Per partition: decode -> dead-letter what breaks the contract -> hold in the event-time reorder
buffer -> apply released events to the engine -> alerts out, dirty state out, and the records
whose effects are all out become safe to acknowledge (at-least-once: a crash before that
redelivers them, and the engine's per-subject high-water mark makes redelivery harmless).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from streams.codec import decode_event
from streams.config import GuardlineConfig, Mode
from streams.engine.core import Engine, subject_key
from streams.engine.reorder import ReorderBuffer
from streams.model import Alert, Event, SubjectKind
from streams.validation import InvalidEvent

Token = TypeVar("Token")  # the adapter's handle for acknowledging a record (a Faust event)


@dataclass(frozen=True, slots=True)
class Rejected:
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    error: InvalidEvent


@dataclass(slots=True)
class Output(Generic[Token]):
    alerts: list[tuple[Alert, Mode]] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    state_writes: dict[str, bytes | None] = field(default_factory=dict)
    acks: list[Token] = field(default_factory=list)
    applied: int = 0


class PartitionRuntime(Generic[Token]):
    """Engine + reorder buffer for one input partition (state moves with the partition)."""

    def __init__(
        self,
        partition: int,
        config: GuardlineConfig,
        *,
        loader: Callable[[str], bytes | None] | None = None,
        clock_ms: Callable[[], int] = lambda: int(time.time() * 1000),
        expire_every_ms: int = 600_000,
    ) -> None:
        self.partition = partition
        self._modes = {s.detector.name: s.mode for s in config.detectors}
        self.engine = Engine(config.active(), config.engine, clock_ms=clock_ms, loader=loader)
        self.buffer: ReorderBuffer[tuple[Event, Token]] = ReorderBuffer(
            config.engine.allowed_lateness_ms
        )
        self._expire_every_ms = expire_every_ms
        self._last_expire_ms: int | None = None
        self.last_arrival = time.monotonic()

    def accept(
        self, offset: int, key: bytes | None, value: bytes, token: Token, out: Output[Token]
    ) -> None:
        """Decode one record into the buffer, or reject it (then it is safe to ack at once)."""
        self.last_arrival = time.monotonic()
        try:
            event = decode_event(value)
        except InvalidEvent as err:
            out.rejected.append(Rejected(self.partition, offset, key, value, err))
            out.acks.append(token)
            return
        self.buffer.push(event.ts_ms, event.event_id, (event, token))

    def release(self, out: Output[Token], *, drain: bool = False) -> None:
        """Apply what the watermark released (everything with `drain`), collecting outputs."""
        ready = self.buffer.drain() if drain else self.buffer.release()
        if not ready:
            return
        engine = self.engine
        actor_kind = SubjectKind.ACCOUNT
        for event, token in ready:
            local_key = subject_key(actor_kind, event.actor.id)
            for key, detectors in engine.routes(event).items():
                if key == local_key:
                    for alert in engine.apply(key, detectors, event):
                        out.alerts.append((alert, self._modes[alert.detector]))
            out.acks.append(token)
            out.applied += 1
        watermark = ready[-1][0].ts_ms if drain else self.buffer.watermark_ms
        if watermark is not None and (
            self._last_expire_ms is None
            or watermark - self._last_expire_ms >= self._expire_every_ms
        ):
            engine.expire(watermark)
            self._last_expire_ms = watermark
        out.state_writes.update(engine.take_dirty())


def process_records(
    runtime: PartitionRuntime[Token],
    records: Sequence[tuple[int, bytes | None, bytes, Token]],
    *,
    drain: bool = False,
) -> Output[Token]:
    """One batch of (offset, key, value, token) from the runtime's partition."""
    out: Output[Token] = Output()
    for offset, key, value, token in records:
        runtime.accept(offset, key, value, token, out)
    runtime.release(out, drain=drain)
    return out
