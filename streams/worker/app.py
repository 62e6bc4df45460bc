"""The thin Faust adapter: one agent on the input topic, state in one table, outputs to topics.

Faust owns the app, the consumer group, offsets and the changelog-backed table. Everything that
decides something is in `runtime.py`. Events are taken without auto-ack and acknowledged only
once their alerts, dead letters and state are handed to the producer, which Faust flushes
before it commits offsets: at-least-once end to end, made idempotent by the engine.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faust
from faust.streams import _current_event

from streams import topics
from streams.codec import encode_alert, encode_dead_letter
from streams.config import GuardlineConfig, Mode
from streams.model import Severity
from streams.worker.runtime import Output, PartitionRuntime

log = logging.getLogger("guardline.worker")

STATE_TABLE = "guardline-state"


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    bootstrap: str
    config: GuardlineConfig
    app_id: str = "guardline"
    partitions: int = topics.DEFAULT_PARTITIONS
    data_dir: Path = Path(".guardline")
    store: str = "rocksdb://"
    instance_id: str | None = None  # static group membership (KIP-345); see README operations
    batch_size: int = 2000
    idle_flush_s: float = 0.5
    ready_file: Path | None = (
        None  # touched once partitions are assigned (demo and tests wait on it)
    )


class GuardlineWorker:
    """Wires the runtime into a Faust app; one instance per worker process."""

    def __init__(self, settings: WorkerSettings) -> None:
        self.settings = settings
        app_kwargs: dict[str, Any] = {}
        if settings.instance_id:
            app_kwargs["consumer_group_instance_id"] = settings.instance_id
        self.app = faust.App(
            settings.app_id,
            broker=f"kafka://{settings.bootstrap}",
            store=settings.store,
            datadir=str(settings.data_dir),
            topic_partitions=settings.partitions,
            processing_guarantee="at_least_once",
            web_enabled=False,  # Faust's web views expose table contents: never serve them
            producer_acks=-1,
            # State and alerts are written in bursts, once per batch: let the producer batch
            # them (defaults of 16 KiB / no linger made one request per few messages).
            producer_max_batch_size=1 << 20,
            producer_linger_ms=10,
            **app_kwargs,
        )
        raw: dict[str, Any] = {
            "key_type": bytes,
            "value_type": bytes,
            "key_serializer": "raw",
            "value_serializer": "raw",
        }
        self.events_topic = self.app.topic(topics.EVENTS.name, **raw)
        self.out_topics = {
            spec.name: self.app.topic(spec.name, **raw)
            for spec in (topics.ALERTS, topics.PRIORITY, topics.SHADOW, topics.DEAD_LETTER)
        }
        self.table = self.app.Table(
            STATE_TABLE,
            default=None,
            partitions=settings.partitions,
            key_type=bytes,  # bytes => Faust's "raw" codec: state is already serialised
            value_type=bytes,
        )
        self.runtimes: dict[int, PartitionRuntime[Any]] = {}
        self.pending: dict[int, list[tuple[int, bytes | None, bytes, Any]]] = defaultdict(list)
        self.pending_count = 0
        self._lock = asyncio.Lock()
        self.totals = {"in": 0, "applied": 0, "alerts": 0, "dead_letters": 0}
        self.app.agent(self.events_topic, name="guardline-detect")(self._agent)
        self.app.timer(interval=settings.idle_flush_s / 2)(self._tick)
        self.app.on_partitions_revoked.connect(self._on_revoked)  # type: ignore[arg-type]
        self.app.on_partitions_assigned.connect(self._on_assigned)  # type: ignore[arg-type]

    async def _agent(self, stream: Any) -> None:
        self._stream = stream.noack()
        async for event in self._stream.events():
            msg = event.message
            self.pending[msg.partition].append((msg.offset, event.key, event.value, event))
            self.pending_count += 1
            if self.pending_count >= self.settings.batch_size:
                await self._flush(drain_idle=False)

    async def _tick(self) -> None:
        await self._flush(drain_idle=True)

    async def _on_revoked(self, app: Any, revoked: Any, **_: Any) -> None:
        """Drop revoked partitions: their unacked events go to the new owner, state via table."""
        for tp in revoked:
            if tp.topic == topics.EVENTS.name:
                self.runtimes.pop(tp.partition, None)
                self.pending.pop(tp.partition, None)
        self.pending_count = sum(len(v) for v in self.pending.values())

    async def _on_assigned(self, app: Any, assigned: Any, **_: Any) -> None:
        mine = sorted(tp.partition for tp in assigned if tp.topic == topics.EVENTS.name)
        log.warning("assigned input partitions %s", mine)
        if self.settings.ready_file is not None:
            self.settings.ready_file.write_text(",".join(map(str, mine)) + "\n")

    def _runtime(self, partition: int) -> PartitionRuntime[Any]:
        runtime = self.runtimes.get(partition)
        if runtime is None:
            table = self.table

            def load(key: str) -> bytes | None:
                value = table.get(key.encode())
                return value if isinstance(value, bytes) else None

            runtime = self.runtimes[partition] = PartitionRuntime(
                partition, self.settings.config, loader=load
            )
        return runtime

    async def _flush(self, *, drain_idle: bool) -> None:
        async with self._lock:
            await self._flush_locked(drain_idle=drain_idle)

    async def _flush_locked(self, *, drain_idle: bool) -> None:
        pending, self.pending = self.pending, defaultdict(list)
        self.pending_count = 0
        now = time.monotonic()
        for partition in set(pending) | (set(self.runtimes) if drain_idle else set()):
            runtime = self._runtime(partition)
            records = pending.get(partition, [])
            out: Output[Any] = Output()
            for offset, key, value, token in records:
                runtime.accept(offset, key, value, token, out)
            idle = drain_idle and now - runtime.last_arrival >= self.settings.idle_flush_s
            runtime.release(out, drain=idle)
            self.totals["in"] += len(records)
            await self._emit(out)

    async def _emit(self, out: Output[Any]) -> None:
        send = {name: t.send_soon for name, t in self.out_topics.items()}
        for alert, mode in out.alerts:
            value = encode_alert(alert)
            key = f"{alert.subject.kind.value}:{alert.subject.id}".encode()
            if mode is Mode.SHADOW:
                send[topics.SHADOW.name](key=key, value=value)
                continue
            send[topics.ALERTS.name](key=key, value=value)
            if alert.severity.rank >= Severity.HIGH.rank:
                send[topics.PRIORITY.name](key=key, value=value)
        for rej in out.rejected:
            send[topics.DEAD_LETTER.name](
                key=rej.key,
                value=encode_dead_letter(
                    reason_code=rej.error.code,
                    reason=str(rej.error),
                    field=rej.error.field,
                    source_topic=topics.EVENTS.name,
                    source_partition=rej.partition,
                    source_offset=rej.offset,
                    original_key=rej.key,
                    original_value=rej.value,
                    failed_at_ms=int(time.time() * 1000),
                ),
            )
        if out.state_writes:
            # Every write comes from an applied event, so there is an event of this partition.
            self._write_state(out.state_writes, out.acks[-1])
        for token in out.acks:
            await self._stream.ack(token)
        self.totals["applied"] += out.applied
        self.totals["alerts"] += len(out.alerts)
        self.totals["dead_letters"] += len(out.rejected)

    def _write_state(self, writes: dict[str, bytes | None], context_event: Any) -> None:
        """Write one batch of subject state to the table, in its partition's changelog.

        Faust picks a table write's partition from the current stream event; a batch spans
        many events, so we set that context to an event of the partition being written.
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

    def run(self, loglevel: str = "warning") -> None:
        from faust.worker import Worker

        worker = Worker(self.app, loglevel=loglevel, quiet=True)
        worker.execute_from_commandline()
