"""The thin Faust adapter: two agents, one state table, outputs to topics.

1. `route` reads the input topic: decode, dead-letter, re-key each event to its subjects
   (`router.py`) and send packed batches to the internal routed topic.
2. `detect` reads the routed topic: watermarks, event-time order, detectors, cases
   (`runtime.py`); state lives in a table co-partitioned with the routed topic.
Faust owns the app, the consumer group, offsets and the changelog-backed table. Records are
taken without auto-ack and acknowledged only once what they caused is acknowledged by the
broker (`_deliver`, `_drain_changelog`): at-least-once end to end, made idempotent by the
engine's per-subject high-water mark.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import faust
from faust.sensors.monitor import Monitor
from faust.streams import _current_event
from faust.types import TP as TopicPartition

from streams import topics
from streams.adapters.faust.commits import StallWatch, held_offsets, lost_offsets
from streams.adapters.faust.consumer import install as install_consumer
from streams.adapters.faust.intake import Intake
from streams.codec import SchemaResolver, encode_alert, encode_dead_letter
from streams.config import GuardlineConfig, Mode
from streams.engine.footprint import state_footprint
from streams.model import Severity
from streams.ops.endpoints import DEFAULT_HOST, DEFAULT_PORT, BrokerProbe, Endpoints, readiness
from streams.ops.metrics import WorkerMetrics
from streams.ops.totals import write_stats
from streams.pipeline.detect import DetectOutput, PartitionRuntime
from streams.pipeline.envelope import IDLE, pack, unpack
from streams.pipeline.route import IDLE_AFTER_S, Router, RouterOutput

log = logging.getLogger("guardline.worker")

STATE_TABLE = "guardline-state"


class Outgoing(NamedTuple):
    """A record the worker produces itself (routed packet, dead letter, alert)."""

    topic: str
    key: bytes | None
    value: bytes
    partition: int | None = None
    timestamp_s: float | None = None


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
    idle_after_s: float = IDLE_AFTER_S
    flush_every_s: float = 0.1  # a partial batch waits at most this long (alert latency)
    # New records are processed this long after they arrive rather than at the next tick:
    # long enough for a fetch's records to gather, short against the 1 s latency target.
    gather_s: float = 0.01
    ready_file: Path | None = (
        None  # touched once partitions are assigned (demo and tests wait on it)
    )
    stats_file: Path | None = None  # totals as JSON, rewritten every tick (`guardline bench`)
    metrics_host: str = DEFAULT_HOST
    metrics_port: int | None = DEFAULT_PORT  # /metrics, /healthz, /readyz; None = no server
    gauges_every_s: float = 1.0  # lag, watermarks and state size refresh (state: x5)
    lost_grace_s: float = 10.0  # offsets neither acked nor held this long are read again
    schema_registry_url: str | None = None  # set: write the Confluent wire format (registry.py)
    intake: bool = True  # input in batches past Faust's per-message path (intake.py)


class _PerBatchMonitor(Monitor):
    """Faust's Monitor timestamps every message and stream event; Guardline counts per batch
    (`streams/ops/metrics.py`), so those per-event hooks do nothing here (profiled: ~4% of CPU)."""

    def on_message_in(self, *args: Any) -> None:
        return None

    def on_stream_event_in(self, *args: Any) -> None:
        return None

    def on_stream_event_out(self, *args: Any, **kwargs: Any) -> None:
        return None

    def on_message_out(self, *args: Any) -> None:
        return None


class GuardlineWorker:
    """Wires the router and the detect runtimes into a Faust app; one per worker process."""

    def __init__(self, settings: WorkerSettings) -> None:
        self.settings = settings
        app_kwargs: dict[str, Any] = {}
        if settings.instance_id:
            app_kwargs["consumer_group_instance_id"] = settings.instance_id
        # Input records skip Faust's per-message delivery (intake.py); Faust still owns the rest.
        self.intake: Intake | None = None
        if settings.intake:
            self.intake = Intake(None, topics.EVENTS.name, settings.batch_size)
            app_kwargs["ConsumerScheduler"] = self.intake.scheduler()
        self.app = faust.App(
            settings.app_id,
            broker=f"kafka://{settings.bootstrap}",
            store=settings.store,
            datadir=str(settings.data_dir),
            topic_partitions=settings.partitions,
            processing_guarantee="at_least_once",
            web_enabled=False,  # Faust's web views expose table contents: never serve them
            producer_acks=-1,
            # Records wait, unacked, in the reorder buffer until the watermark passes them: a
            # rebalance or shutdown that waits for every record to be acked never ends (it hung
            # the group). Unacked records are simply redelivered to the next owner instead.
            stream_wait_empty=False,
            # State and alerts are written in bursts, once per batch: let the producer batch
            # them (defaults of 16 KiB / no linger made one request per few messages).
            producer_max_batch_size=1 << 20,
            producer_linger_ms=10,
            monitor=_PerBatchMonitor(),
            **app_kwargs,
        )
        install_consumer(self.app)  # commits never pass a record still held (consumer.py)
        if self.intake is not None:
            self.intake.app = self.app
        raw: dict[str, Any] = {
            "key_type": bytes,
            "value_type": bytes,
            "key_serializer": "raw",
            "value_serializer": "raw",
        }
        self.events_topic = self.app.topic(topics.EVENTS.name, **raw)
        self.routed_topic = self.app.topic(topics.ROUTED.name, **raw)
        self.table = self.app.Table(
            STATE_TABLE,
            default=None,
            partitions=settings.partitions,
            key_type=bytes,  # bytes => Faust's "raw" codec: state is already serialised
            value_type=bytes,
        )
        # Output framing per topic: None = single-object; else a Confluent header (00 + id).
        outputs = (topics.ALERTS, topics.PRIORITY, topics.SHADOW, topics.DEAD_LETTER)
        self.headers: dict[str, bytes | None] = dict.fromkeys(spec.name for spec in outputs)
        self.resolver: SchemaResolver | None = None
        if settings.schema_registry_url:
            from streams.registry import connect, register_outputs

            registry = connect(settings.schema_registry_url)  # RegistryError: fail at start
            self.headers.update(register_outputs(registry))
            self.resolver = registry
        self.router: Router[Any] = Router(
            settings.config.active(), settings.partitions, resolver=self.resolver
        )
        self.owned_sources: set[int] = set()
        self.owned_routed: set[int] = set()  # routed partitions: a flush may outlive a revoke
        self._claims: set[int] = set()  # newly assigned sources, claimed at the next flush
        self.revocations = 0  # a flush's routed records from before a revoke are stale
        self.runtimes: dict[int, PartitionRuntime[Any]] = {}
        self.inbox: dict[str, dict[int, list[tuple[int, bytes | None, bytes, Any]]]] = {
            topics.EVENTS.name: defaultdict(list),
            topics.ROUTED.name: defaultdict(list),
        }
        self.inbox_count = 0
        self._context: dict[int, Any] = {}  # last routed record per partition (table writes)
        self._lock = asyncio.Lock()
        self._arrived = asyncio.Event()  # records wait in the inbox or the intake
        self.totals = {"in": 0, "routed": 0, "applied": 0, "alerts": 0, "dead_letters": 0}
        # Wall-clock times of the first input record and of the last applied event (bench).
        self.clock = {"first_in_s": 0.0, "last_applied_s": 0.0}
        self.metrics = WorkerMetrics(d.name for d in settings.config.active())
        self._done: dict[tuple[str, int], int] = {}  # past the highest acked offset (lag)
        self._gauges_at = self._state_at = self._stats_at = 0.0
        self._stalls = StallWatch(settings.lost_grace_s)
        self.app.agent(self.events_topic, name="guardline-route")(self._agent)
        self.app.agent(self.routed_topic, name="guardline-detect")(self._agent)
        self.app.timer(interval=settings.flush_every_s)(self._tick)
        if self.intake is not None:
            self.app.task(self._intake_loop)
            self.intake.on_arrival = self._arrived.set
        if settings.gather_s > 0:
            self.app.task(self._gather_loop)
        self.app.on_partitions_revoked.connect(self._on_revoked)  # type: ignore[arg-type]
        self.app.on_partitions_assigned.connect(self._on_assigned)  # type: ignore[arg-type]

    async def _agent(self, stream: Any) -> None:
        """Both agents only collect records; batches are processed in `_flush`.

        With the intake on, the input agent only owns the subscription: records arrive in
        batches through `intake.py`, never through this stream.
        """
        noack = stream.noack()
        async for event in noack.events():
            msg = event.message
            if msg.topic == topics.ROUTED.name and msg.partition not in self.owned_routed:
                continue  # fetched before a revoke: its owner reads it again, committed onwards
            self.inbox[msg.topic][msg.partition].append((msg.offset, event.key, event.value, event))
            self.inbox_count += 1
            self._arrived.set()
            if self.inbox_count >= self.settings.batch_size:
                await self._flush()

    async def _intake_loop(self) -> None:
        """Process a batch as soon as the intake holds one (the tick flushes partial ones)."""
        assert self.intake is not None
        while True:
            await self.intake.ready.wait()
            await self._flush()

    async def _gather_loop(self) -> None:
        """Flush shortly after records arrive: a caught-up stage need not wait for the tick."""
        while True:
            await self._arrived.wait()
            await asyncio.sleep(self.settings.gather_s)
            self._arrived.clear()
            await self._flush()

    async def _tick(self) -> None:
        await self._flush(heartbeats=True)
        now = time.monotonic()
        if self.settings.stats_file is not None and now - self._stats_at >= 0.2:
            self._stats_at = now
            write_stats(self.settings.stats_file, {**self.totals, **self.clock})
        if now - self._gauges_at >= self.settings.gauges_every_s:
            self._gauges_at = now
            state = now - self._state_at >= 5 * self.settings.gauges_every_s
            if state:
                self._state_at = now
            self._update_gauges(state=state)
            await self._reread_lost()

    async def _on_assigned(self, app: Any, assigned: Any, **_: Any) -> None:
        mine = sorted(tp.partition for tp in assigned if tp.topic == topics.EVENTS.name)
        self.owned_sources.update(mine)
        self.owned_routed.update(tp.partition for tp in assigned if tp.topic == topics.ROUTED.name)
        self._claims.update(mine)
        self._count_assigned()
        log.warning("assigned input partitions %s", mine)
        if self.settings.ready_file is not None:
            # Whole or not at all: a reader polling for the file must never see it empty.
            part = self.settings.ready_file.with_name(self.settings.ready_file.name + ".part")
            part.write_text(",".join(map(str, mine)) + "\n")
            part.replace(self.settings.ready_file)

    async def _on_revoked(self, app: Any, revoked: Any, **_: Any) -> None:
        """Drop revoked partitions: unacked records go to the new owner, state via the table."""
        self.revocations += 1
        self._stalls = StallWatch(self.settings.lost_grace_s)  # offsets start over
        for tp in revoked:
            self.inbox.get(tp.topic, {}).pop(tp.partition, None)
            if tp.topic == topics.EVENTS.name:
                if self.intake is not None:
                    self.intake.forget(tp.partition)
                self.owned_sources.discard(tp.partition)
                self._claims.discard(tp.partition)
                self.router.forget(tp.partition)
            elif tp.topic == topics.ROUTED.name:
                self.owned_routed.discard(tp.partition)
                self.runtimes.pop(tp.partition, None)
                self._context.pop(tp.partition, None)
        self.inbox_count = sum(len(r) for box in self.inbox.values() for r in box.values())
        for tp in revoked:
            self._done.pop((tp.topic, tp.partition), None)
            stage = "route" if tp.topic == topics.EVENTS.name else "detect"
            self.metrics.forget_partitions(tp.topic, stage, [tp.partition])
        self._count_assigned()

    async def _flush(self, *, heartbeats: bool = False) -> None:
        async with self._lock:
            inbox = self.inbox
            self.inbox = {name: defaultdict(list) for name in inbox}
            self.inbox_count = 0
            revocations = self.revocations
            if self.intake is not None:
                inbox[topics.EVENTS.name].update(await self.intake.take())
                await self.app.producer.buffer.wait_until_ebb()  # as Faust's delivery does
            routed: RouterOutput[Any] = RouterOutput()
            started = time.perf_counter()
            ingest_s: dict[int, float] = {}  # Kafka timestamp of each source's newest record
            claims, self._claims = self._claims, set()
            for source in sorted(claims & self.owned_sources):
                self.router.claim(source, routed)  # cancels the previous owner's IDLE
            for source, records in inbox[topics.EVENTS.name].items():
                self.router.route(source, records, routed)
                if not self.totals["in"]:
                    self.clock["first_in_s"] = time.time()
                self.totals["in"] += len(records)
                last = records[-1][3]
                ingest_s[source] = (last if self.intake else last.message).timestamp
            if heartbeats:
                self.router.watermarks(sorted(self.owned_sources), routed)
            fetching = getattr(self.app.consumer, "flow_active", True) and not self.app.rebalancing
            if heartbeats and fetching:
                owned = [p for p in sorted(self.owned_sources) if self._caught_up(p)]
                self.router.idle_heartbeats(owned, self.settings.idle_after_s, routed)
            await self._emit_routed(routed, ingest_s)
            if ingest_s:
                self.metrics.record_route(
                    routed.by_type,
                    [rej.error.code for rej in routed.rejected],
                    sum(len(r) for r in inbox[topics.EVENTS.name].values()),
                    time.perf_counter() - started,
                )
            for partition, records in inbox[topics.ROUTED.name].items():
                await self._detect(partition, records, revocations)
            for partition in set(self.runtimes) - set(inbox[topics.ROUTED.name]):
                await self._detect(partition, [], revocations)  # watermarks moved: release

    async def _reread_lost(self) -> None:
        """Have Faust read again the offsets it will otherwise wait for forever (`commits.py`)."""
        app = self.app
        consumer: Any = app.consumer  # ours: streams/adapters/faust/consumer.py
        if app.rebalancing or not getattr(consumer, "flow_active", True):
            return
        acked = getattr(consumer, "_acked", {})
        committed = getattr(consumer, "_committed_offset", {})
        read = getattr(consumer, "_read_offset", {})
        held: dict[Any, list[int]] | None = None
        now = time.monotonic()
        stuck = False
        for tp in consumer.assignment():
            if tp.topic not in self.inbox:
                continue
            lost = lost_offsets(committed.get(tp), read.get(tp), acked.get(tp, ()), ())
            if lost is not None:
                if held is None:
                    held = held_offsets(consumer.unacked, app.consumer_generation_id)
                lost = lost_offsets(
                    committed.get(tp), read.get(tp), acked.get(tp, ()), held.get(tp, ())
                )
            lost = self._stalls.check(tp, lost, now)
            if lost is None:
                continue
            log.warning(
                "%s[%d]: offsets %d-%d were handed on but are neither acked nor held, so the "
                "commit cannot pass them (Faust's offset bookkeeping raced a rebalance); "
                "reading again from the committed offsets (read offset was %s, first acked %s)",
                tp.topic, tp.partition, lost.start, lost.stop - 1,
                read.get(tp), min(acked.get(tp) or [None]),
            )  # fmt: skip
            stuck = True
        if stuck and not await consumer.reread():
            log.warning("not read again now (a rebalance began, or the fetch loop did not pause)")

    def _caught_up(self, source: int) -> bool:
        """Whether every record of an input partition has been routed (so it may be idle).

        A partition with unread records is behind, not idle. Announcing it idle lets the detect
        stage run ahead of its backlog, whose events then arrive late and are skipped by the
        subjects' high-water marks: a restarted worker lost 9 alerts that way (crash test).
        """
        consumer = self.app.consumer
        tp = TopicPartition(topics.EVENTS.name, source)
        end = consumer.highwater(tp)  # None until a fetch for the partition returned
        if end is None:
            return False
        committed = getattr(consumer, "_committed_offset", {}).get(tp) or 0
        return bool(end <= max(self._done.get((topics.EVENTS.name, source), 0), committed))

    async def _emit_routed(self, out: RouterOutput[Any], ingest_s: dict[int, float]) -> None:
        outgoing: list[Outgoing] = [
            # The routed record keeps the input's Kafka timestamp: ingest-to-alert latency.
            Outgoing(
                topics.ROUTED.name,
                None,
                pack(packet),
                dest,
                ingest_s.get(packet.source_partition),
            )
            for dest, packet in out.packets
        ]
        for rej in out.rejected:
            outgoing.append(
                Outgoing(
                    topics.DEAD_LETTER.name,
                    rej.key,
                    encode_dead_letter(
                        reason_code=rej.error.code,
                        reason=str(rej.error),
                        field=rej.error.field,
                        source_topic=topics.EVENTS.name,
                        source_partition=rej.partition,
                        source_offset=rej.offset,
                        original_key=rej.key,
                        original_value=rej.value,
                        failed_at_ms=int(time.time() * 1000),
                        header=self.headers[topics.DEAD_LETTER.name],
                    ),
                )
            )
        await self._deliver(outgoing)
        await self._ack(topics.EVENTS.name, out.acks)
        self.totals["routed"] += out.valid
        self.totals["dead_letters"] += len(out.rejected)

    async def _detect(
        self,
        partition: int,
        records: list[tuple[int, bytes | None, bytes, Any]],
        revocations: int,
    ) -> None:
        if revocations != self.revocations:
            # A rebalance began while this flush awaited a delivery: whoever owns the partition
            # now reads these records again from the committed offset. A runtime made now would
            # outlive the revoke; records applied now, ahead of those before them (an event
            # still waiting for the watermark), would make those late, skipped for good.
            return
        runtime = self._runtime(partition)
        out: DetectOutput[Any] = DetectOutput()
        started = time.perf_counter()
        skipped = runtime.engine.stats.skipped_replays
        for _offset, _key, value, token in records:
            runtime.accept(unpack(value), token, out)
            self._context[partition] = token
        runtime.release(out)
        self.metrics.skipped.inc(runtime.engine.stats.skipped_replays - skipped)
        produced_s = time.time()
        headers = self.headers
        outgoing: list[Outgoing] = []
        for (alert, mode), token in zip(out.alerts, out.alert_tokens, strict=True):
            key = f"{alert.subject.kind.value}:{alert.subject.id}".encode()
            self.metrics.record_alert(
                alert,
                shadow=mode is Mode.SHADOW,
                produced_s=produced_s,
                ingest_s=token.message.timestamp,
            )
            if mode is Mode.SHADOW:
                outgoing.append(
                    Outgoing(
                        topics.SHADOW.name, key, encode_alert(alert, headers[topics.SHADOW.name])
                    )
                )
                continue
            value = encode_alert(alert, headers[topics.ALERTS.name])
            outgoing.append(Outgoing(topics.ALERTS.name, key, value))
            if alert.severity.rank >= Severity.HIGH.rank:
                if headers[topics.PRIORITY.name] != headers[topics.ALERTS.name]:
                    value = encode_alert(alert, headers[topics.PRIORITY.name])
                outgoing.append(Outgoing(topics.PRIORITY.name, key, value))
        # Alerts reach the broker before the state that remembers publishing them is saved:
        # saved first, a crash in between would lose the alert for good (the replayed events
        # are then below the subject's high-water mark). Delivered first, the worst case is
        # the same (alert_id, revision) twice, which consumers dedupe.
        await self._deliver(outgoing)
        if self.runtimes.get(partition) is not runtime:
            # Revoked while delivering (a broker restart made the worker rejoin): the owner
            # re-reads these records from the committed offset, with state from the table.
            return
        if out.state_writes:
            # Every write comes from an applied event, so a record of this partition was seen.
            self._write_state(out.state_writes, self._context[partition])
            if not await self._drain_changelog():
                return
        await self._ack(topics.ROUTED.name, out.acks)
        if out.applied:
            self.totals["applied"] += out.applied
            self.clock["last_applied_s"] = time.time()
        if records:
            self.metrics.record_batch("detect", len(records), time.perf_counter() - started)
        self.totals["alerts"] += len(out.alerts)

    async def _deliver(self, outgoing: list[Outgoing]) -> None:
        """Send and wait for the broker's acks: only then may the causing records be acked.

        Faust's `send_soon` buffer is not enough: its flush before a commit gives up after
        0.1 s without progress (`ProducerBuffer.flush_atmost`), so a commit could pass records
        whose routed packets or dead letters were still queued, and a SIGKILL lost them (the
        crash test lost a case revision that way). One round trip per batch.
        """
        if not outgoing:
            return
        producer = self.app.producer
        pending = [
            await producer.send(o.topic, o.key, o.value, o.partition, o.timestamp_s, None)
            for o in outgoing
        ]
        await asyncio.gather(*pending)

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

    async def _ack(self, topic: str, tokens: list[Any]) -> None:
        """Acknowledge one batch's records; Faust's consumer still tracks and commits offsets.

        `event.ack()` is what `stream.ack` does minus a coroutine and two sensor calls per
        record (our Monitor's per-record hooks are no-ops): 15-18 us per record instead of ~20.
        """
        if not tokens:
            return
        if topic == topics.EVENTS.name and self.intake is not None:
            messages = tokens  # intake tokens are Faust messages, not stream events
            ack = self.app.consumer.ack
            for msg in messages:
                ack(msg)
        else:
            for token in tokens:
                token.ack()
            messages = [token.message for token in tokens]
        newest: dict[int, int] = {}
        for msg in messages:
            if msg.offset >= newest.get(msg.partition, -1):
                newest[msg.partition] = msg.offset
        done = self._done
        for partition, offset in newest.items():
            key = (topic, partition)
            if offset >= done.get(key, 0):
                done[key] = offset + 1

    def _runtime(self, partition: int) -> PartitionRuntime[Any]:
        runtime = self.runtimes.get(partition)
        if runtime is None:
            table = self.table

            def load(key: str) -> bytes | None:
                value = table.get(key.encode())
                return value if isinstance(value, bytes) else None

            runtime = self.runtimes[partition] = PartitionRuntime(
                partition, self.settings.config, self.settings.partitions, loader=load
            )
        return runtime

    def _write_state(self, writes: dict[str, bytes | None], context_event: Any) -> None:
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

    def _count_assigned(self) -> None:
        assignment = self.app.consumer.assignment()
        for spec in (topics.EVENTS, topics.ROUTED):
            self.metrics.set_assigned(
                spec.name, [tp.partition for tp in assignment if tp.topic == spec.name]
            )

    def _update_gauges(self, *, state: bool) -> None:
        """Lag, watermarks and (every few calls) state size, from what the worker holds."""
        consumer = self.app.consumer
        committed = getattr(consumer, "_committed_offset", {})  # Faust: next offset to read
        lags: dict[str, dict[int, int]] = defaultdict(dict)
        for tp in consumer.assignment():
            if tp.topic not in self.inbox:
                continue  # the table's changelog: restore progress, not processing lag
            end = consumer.highwater(tp)  # known once a fetch for the partition returned
            if end is None:
                continue
            # Kafka's definition (log end - committed); before the first commit, what we acked.
            done = committed.get(tp)
            if done is None:
                done = self._done.get((tp.topic, tp.partition), 0)
            lags[tp.topic][tp.partition] = max(0, end - done)
        for topic, per_partition in lags.items():
            self.metrics.set_lag(topic, per_partition)
        self.metrics.set_watermarks(
            "route",
            {p: ts for p, ts in self.router.max_ts.items() if p in self.owned_sources and ts >= 0},
        )
        detect = {p: rt.watermark_ms for p, rt in self.runtimes.items()}
        self.metrics.set_watermarks(
            "detect", {p: ts for p, ts in detect.items() if ts is not None and ts != IDLE}
        )
        if state:
            self.metrics.set_state(state_footprint(rt.engine for rt in self.runtimes.values()))

    def start_endpoints(self) -> Endpoints | None:
        """/metrics, /healthz, /readyz on the configured address (Faust's web stays off)."""
        if self.settings.metrics_port is None:
            return None
        host, port = self.settings.metrics_host, self.settings.metrics_port
        try:
            endpoints = Endpoints(
                host,
                port,
                self.metrics.exposition,
                readiness(lambda: sorted(self.owned_sources), BrokerProbe(self.settings.bootstrap)),
            ).start()
        except OSError as err:
            raise SystemExit(
                f"error: cannot serve metrics on {host}:{port} ({err.strerror}); choose another "
                "address with --metrics-host/--metrics-port (0 = any free port)"
            ) from err
        log.warning("metrics on %s/metrics (also /healthz, /readyz)", endpoints.url)
        return endpoints

    def run(self, loglevel: str = "warning") -> None:
        from faust.worker import Worker

        endpoints = self.start_endpoints()
        worker = Worker(self.app, loglevel=loglevel, quiet=True)
        # Faust's terminal spinner sets the root logger to DEBUG, so every aiokafka debug call
        # builds a log record: ~10% of the worker's CPU when profiled. No spinner, no cost.
        worker.spinner = None
        try:
            worker.execute_from_commandline()
        finally:
            if endpoints is not None:
                endpoints.stop()
