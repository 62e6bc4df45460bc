"""The Faust adapter: wires the pipeline (`streams/pipeline/`) into a Faust app.

1. The input topic's records (batched past Faust's per-message path by `intake.py`) go to the
   pipeline's route stage; its routed packets and dead letters go to their topics.
2. The routed topic's records (collected by an agent) go to the detect stage, per partition;
   its alerts go to their topics, its state to a table co-partitioned with the routed topic.
Faust owns the app, the consumer group, offsets and the changelog-backed table; the pipeline
decides what to send, save and ack, and `stage.settle_*` carries it out through this adapter's
port (`deliver`, `save`, `ack`) in the order at-least-once needs. Records are taken without
auto-ack and acknowledged only once what they caused is acknowledged by the broker; the
engine's per-subject high-water mark makes redelivery harmless.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faust
from faust.exceptions import NotReady
from faust.sensors.monitor import Monitor
from faust.streams import _current_event
from faust.types import TP as TopicPartition
from faust.types import Message  # the ack token: offset, partition, timestamp

from streams import topics
from streams.adapters.faust.cluster import app_settings
from streams.adapters.faust.commits import StallWatch, held_offsets, lost_offsets
from streams.adapters.faust.consumer import install as install_consumer
from streams.adapters.faust.faust_names import check_faust_names
from streams.adapters.faust.fetch_pacing import install as pace_fetches
from streams.adapters.faust.intake import Intake
from streams.codec import SchemaResolver
from streams.config import GuardlineConfig, Mode
from streams.engine.footprint import open_cases, state_footprint
from streams.engine.reorder import IDLE
from streams.kafka_settings import KafkaSettings, current
from streams.ops.endpoints import DEFAULT_HOST, DEFAULT_PORT, BrokerProbe, Endpoints, readiness
from streams.ops.logs import logging_config
from streams.ops.metrics import WorkerMetrics
from streams.ops.totals import write_stats
from streams.pipeline.detect import PartitionRuntime
from streams.pipeline.ports import Outgoing, Record
from streams.pipeline.route import IDLE_AFTER_S, Router
from streams.pipeline.stage import DetectStep, Pipeline, settle_detect, settle_route

log = logging.getLogger("guardline.worker")

STATE_TABLE = "guardline-state"
PRODUCER_BUFFER_MESSAGES = 1_000_000


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
    kafka: KafkaSettings | None = None  # TLS, SASL, replication; None = kafka_settings.current()


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
    """Runs the pipeline on a Faust app; one per worker process. Its own port (`deliver`,
    `save`, `ack`) is what `stage.settle_*` calls."""

    def __init__(self, settings: WorkerSettings) -> None:
        self.settings = settings
        self.kafka = settings.kafka or current()
        app_kwargs: dict[str, Any] = app_settings(self.kafka)
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
        # Table writes queue in Faust's producer buffer, a batch's worth at once, and `save`
        # drains it after every batch. Faust's own threshold (100 messages) only had its
        # per-message path warn "producer buffer full" and flush beside that drain, in every
        # busy second; the drain bounds the buffer to one batch's state writes instead.
        self.app.producer.buffer.max_messages = PRODUCER_BUFFER_MESSAGES
        pace_fetches()  # an idle worker on a broker that answers empty fetches at once
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
        self.decisions_topic = self.app.topic(topics.DECISIONS.name, **raw)
        self.table = self.app.Table(
            STATE_TABLE,
            default=None,
            partitions=settings.partitions,
            key_type=bytes,  # bytes => Faust's "raw" codec: state is already serialised
            value_type=bytes,
            extra_topic_configs=self.kafka.topic_configs(),  # min.insync.replicas
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
        self.pipeline: Pipeline[Message] = Pipeline(
            settings.config,
            settings.partitions,
            headers=self.headers,
            resolver=self.resolver,
            loader=self.load,
            idle_after_s=settings.idle_after_s,
        )
        self.inbox: dict[str, dict[int, list[Record[Message]]]] = {
            topics.EVENTS.name: defaultdict(list),
            topics.ROUTED.name: defaultdict(list),
            topics.DECISIONS.name: defaultdict(list),
        }
        self.inbox_count = 0
        self._context: dict[int, Any] = {}  # a routed stream event per partition (table writes)
        self._lock = asyncio.Lock()
        self._arrived = asyncio.Event()  # records wait in the inbox or the intake
        self._heartbeat_due = False  # the tick asked for a flush with heartbeats
        self.metrics = WorkerMetrics(d.name for d in settings.config.active())
        for spec in (topics.EVENTS, topics.ROUTED):
            self.metrics.set_topic_partitions(spec.name, settings.partitions)
        self._done: dict[tuple[str, int], int] = {}  # past the highest acked offset (lag)
        self._state_at = self._stats_at = 0.0
        self._stalls = StallWatch(settings.lost_grace_s)
        self.app.agent(self.events_topic, name="guardline-route")(self._agent)
        self.app.agent(self.routed_topic, name="guardline-detect")(self._agent)
        self.app.agent(self.decisions_topic, name="guardline-decisions")(self._agent)
        self.app.timer(interval=settings.flush_every_s)(self._tick)
        self.app.timer(interval=settings.gauges_every_s)(self._gauges_tick)
        if self.intake is not None:
            self.app.task(self._intake_loop)
            self.intake.on_arrival = self._arrived.set
        if settings.gather_s > 0:
            self.app.task(self._gather_loop)
        self.app.on_partitions_revoked.connect(self._on_revoked)  # type: ignore[arg-type]
        self.app.on_partitions_assigned.connect(self._on_assigned)  # type: ignore[arg-type]

    # The pipeline's state, as the gauges and tests read it.
    @property
    def router(self) -> Router[Message]:
        return self.pipeline.router

    @property
    def runtimes(self) -> dict[int, PartitionRuntime[Message]]:
        return self.pipeline.runtimes

    @property
    def revocations(self) -> int:
        return self.pipeline.revocations

    @property
    def owned_sources(self) -> set[int]:
        return self.pipeline.owned_sources

    @property
    def totals(self) -> dict[str, int]:
        return self.pipeline.totals

    async def _agent(self, stream: Any) -> None:
        """Both agents only collect records; batches are processed in `_flush`.

        With the intake on, the input agent only owns the subscription: records arrive in
        batches through `intake.py`, never through this stream.
        """
        noack = stream.noack()
        owned_routed = self.pipeline.owned_routed
        routed = topics.ROUTED.name
        async for event in noack.events():
            msg = event.message
            if msg.topic == routed:
                if msg.partition not in owned_routed:
                    continue  # fetched before a revoke: its owner reads it again, committed on
                self._context[msg.partition] = event  # the table's write context (`save`)
            self.inbox[msg.topic][msg.partition].append(
                Record(msg.offset, event.key, event.value, msg)
            )
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
        """Flush shortly after records arrive: a caught-up stage need not wait for the tick.
        Also the tick's flush (heartbeats), at once."""
        while True:
            await self._arrived.wait()
            if not self._heartbeat_due:
                await asyncio.sleep(self.settings.gather_s)
            self._arrived.clear()
            await self._flush()

    async def _tick(self) -> None:
        if self.settings.gather_s > 0:
            # The gather loop (or any flush before it) runs the heartbeats: a tick never waits
            # behind a batch in progress for the lock, which made Faust's timer warn "Timer
            # _tick is overlapping" many times a minute under load.
            self._heartbeat_due = True
            self._arrived.set()
        else:
            await self._flush(heartbeats=True)
        now = time.monotonic()
        if self.settings.stats_file is not None and now - self._stats_at >= 0.2:
            self._stats_at = now
            write_stats(self.settings.stats_file, {**self.totals, **self.pipeline.clock})

    async def _gauges_tick(self) -> None:
        """Lag, watermarks, state size (every 5th time) and lost offsets, on a timer of its own:
        a state size pass over every subject outlasts the 0.1 s tick on a busy worker."""
        now = time.monotonic()
        state = now - self._state_at >= 5 * self.settings.gauges_every_s
        if state:
            self._state_at = now
        self._update_gauges(state=state)
        await self._reread_lost()

    async def _on_assigned(self, app: Any, assigned: Any, **_: Any) -> None:
        self.pipeline.assigned(assigned)
        mine = sorted(tp.partition for tp in assigned if tp.topic == topics.EVENTS.name)
        self._count_assigned()
        log.info("assigned input partitions %s", mine)
        if self.settings.ready_file is not None:
            # Whole or not at all: a reader polling for the file must never see it empty.
            part = self.settings.ready_file.with_name(self.settings.ready_file.name + ".part")
            part.write_text(",".join(map(str, mine)) + "\n")
            part.replace(self.settings.ready_file)

    async def _on_revoked(self, app: Any, revoked: Any, **_: Any) -> None:
        """Drop revoked partitions: unacked records go to the new owner, state via the table."""
        self.pipeline.revoked(revoked)
        self._stalls = StallWatch(self.settings.lost_grace_s)  # offsets start over
        for tp in revoked:
            self.inbox.get(tp.topic, {}).pop(tp.partition, None)
            if tp.topic == topics.EVENTS.name:
                if self.intake is not None:
                    self.intake.forget(tp.partition)
            elif tp.topic == topics.ROUTED.name:
                self._context.pop(tp.partition, None)
        self.inbox_count = sum(len(r) for box in self.inbox.values() for r in box.values())
        for tp in revoked:
            self._done.pop((tp.topic, tp.partition), None)
            stage = {topics.EVENTS.name: "route", topics.ROUTED.name: "detect"}.get(tp.topic)
            self.metrics.forget_partitions(tp.topic, stage, [tp.partition])
        self._count_assigned()

    async def _flush(self, *, heartbeats: bool = False) -> None:
        async with self._lock:
            if self.app.should_stop:
                return  # the producer may be gone: unacked records go to the next owner
            try:
                await self._flush_batches(heartbeats or self._heartbeat_due)
            except NotReady:
                if not self.app.should_stop:
                    raise
                # The worker began stopping during this batch and the producer stopped first
                # (this crashed the shutdown before): nothing of the batch was acked, so the
                # next owner reads it again.

    async def _flush_batches(self, heartbeats: bool) -> None:
        """Route and detect what the inbox and the intake hold (under the flush lock)."""
        self._heartbeat_due = False
        inbox = self.inbox
        self.inbox = {name: defaultdict(list) for name in inbox}
        self.inbox_count = 0
        revocations = self.revocations
        if self.intake is not None:
            inbox[topics.EVENTS.name].update(await self.intake.take())
            await self.app.producer.buffer.wait_until_ebb()  # as Faust's delivery does
        started = time.perf_counter()
        fetching = getattr(self.app.consumer, "flow_active", True) and not self.app.rebalancing
        step = self.pipeline.route(
            inbox[topics.EVENTS.name],
            heartbeats=heartbeats,
            caught_up=self._caught_up if fetching else None,
        )
        await settle_route(self.pipeline, step, self)
        if step.records:
            out = step.output
            self.metrics.record_route(
                out.by_type,
                [rej.error.code for rej in out.rejected if rej.failure is None],
                step.records,
                time.perf_counter() - started,
            )
            failed = [rej.failure.detector for rej in out.rejected if rej.failure]
            self.metrics.record_failures("route", failed)
        if inbox[topics.DECISIONS.name]:
            decided = self.pipeline.route_decisions(inbox[topics.DECISIONS.name])
            await settle_route(self.pipeline, decided, self)
            self.metrics.record_decisions(decided.output.decisions)
            for rejected in decided.output.rejected:
                self.metrics.rejected.labels(rejected.error.code).inc()
        for partition, records in inbox[topics.ROUTED.name].items():
            await self._detect(partition, records, revocations)
        for partition in set(self.runtimes) - set(inbox[topics.ROUTED.name]):
            await self._detect(partition, [], revocations)  # watermarks moved: release

    async def _detect(
        self, partition: int, records: Sequence[Record[Message]], revocations: int
    ) -> None:
        started = time.perf_counter()
        step = self.pipeline.detect(partition, records, revocations)
        if step is None:
            return
        self._record_alerts(step)
        if await settle_detect(self.pipeline, step, self) and records:
            self.metrics.record_batch("detect", len(records), time.perf_counter() - started)

    def _record_alerts(self, step: DetectStep[Message]) -> None:
        self.metrics.skipped.inc(step.skipped)
        self.metrics.record_failures("detect", (f.detector for f, _ in step.output.failures))
        self.metrics.record_suppressed(step.suppressed)
        produced_s = time.time()
        for (alert, mode), token in zip(step.output.alerts, step.output.alert_tokens, strict=True):
            self.metrics.record_alert(
                alert, shadow=mode is Mode.SHADOW, produced_s=produced_s, ingest_s=token.timestamp
            )

    async def _reread_lost(self) -> None:
        """Have Faust read again the offsets it will otherwise wait for forever (`commits.py`)."""
        app = self.app
        consumer: Any = app.consumer  # ours: streams/adapters/faust/consumer.py
        if app.rebalancing or not getattr(consumer, "flow_active", True):
            return
        acked = consumer._acked
        read = consumer._read_offset
        held: dict[Any, list[int]] | None = None
        now = time.monotonic()
        stuck = False
        for tp in consumer.assignment():
            if tp.topic not in self.inbox:
                continue
            base = consumer.commit_base(tp)  # committed, else where reading started
            lost = lost_offsets(base, read.get(tp), acked.get(tp, ()), ())
            if lost is not None:
                if held is None:
                    held = held_offsets(consumer.unacked, app.consumer_generation_id)
                lost = lost_offsets(base, read.get(tp), acked.get(tp, ()), held.get(tp, ()))
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
        consumer: Any = self.app.consumer
        tp = TopicPartition(topics.EVENTS.name, source)
        end = consumer.highwater(tp)  # None until a fetch for the partition returned
        if end is None:
            return False
        committed = consumer._committed_offset.get(tp) or 0
        return bool(end <= max(self._done.get((topics.EVENTS.name, source), 0), committed))

    # --- the port: what `stage.settle_*` calls ------------------------------------------------

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
        self._write_state(writes, self._context[partition])
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
        if topic == topics.EVENTS.name and self.intake is not None:
            ack = consumer.ack
            for msg in tokens:
                ack(msg)
        else:
            for msg in tokens:
                msg.ack(consumer)
        newest: dict[int, int] = {}
        for msg in tokens:
            if msg.offset >= newest.get(msg.partition, -1):
                newest[msg.partition] = msg.offset
        done = self._done
        for partition, offset in newest.items():
            key = (topic, partition)
            if offset >= done.get(key, 0):
                done[key] = offset + 1

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

    def _count_assigned(self) -> None:
        assignment = self.app.consumer.assignment()
        for spec in (topics.EVENTS, topics.ROUTED):
            self.metrics.set_assigned(
                spec.name, [tp.partition for tp in assignment if tp.topic == spec.name]
            )

    def _update_gauges(self, *, state: bool) -> None:
        """Lag, watermarks and (every few calls) state size, from what the worker holds."""
        consumer: Any = self.app.consumer
        committed = consumer._committed_offset  # Faust: next offset to read
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
            engines = [rt.engine for rt in self.runtimes.values()]
            self.metrics.set_state(state_footprint(engines))
            self.metrics.set_open_cases(open_cases(engines))

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
        log.info("metrics on %s/metrics (also /healthz, /readyz)", endpoints.url)
        log.info("kafka: %s", self.kafka.describe())
        return endpoints

    def run(self, loglevel: str = "info", log_format: str = "text") -> None:
        from faust.worker import Worker
        from mode.utils.logging import setup_logging

        check_faust_names(self.app)  # refuse to start if a Faust release renamed one
        config = logging_config(loglevel, log_format)
        # Set up before the worker does (it does the same again): the endpoints log first.
        setup_logging(loglevel=loglevel, logging_config=dict(config))
        endpoints = self.start_endpoints()
        worker = Worker(self.app, loglevel=loglevel, quiet=True, logging_config=config)
        # Faust's terminal spinner sets the root logger to DEBUG, so every aiokafka debug call
        # builds a log record: ~10% of the worker's CPU when profiled. No spinner, no cost.
        worker.spinner = None
        try:
            worker.execute_from_commandline()
        finally:
            if endpoints is not None:
                endpoints.stop()
