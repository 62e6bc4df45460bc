"""The Faust adapter: wires the pipeline (`streams/pipeline/`) into a Faust app.

1. The input topic's records (batched past Faust's per-message path by `intake.py`) go to the
   pipeline's route stage; its routed packets and dead letters go to their topics.
2. The routed topic's records (collected by an agent) go to the detect stage, per partition;
   its alerts go to their topics, its state to a table co-partitioned with the routed topic.
Faust owns the app, the consumer group, offsets and the changelog-backed table; the pipeline
decides what to send, save and ack (`flush.py`), and `stage.settle_*` carries it out through
`port.py` in the order at-least-once needs. Records are taken without auto-ack and
acknowledged only once what they caused is acknowledged by the broker; the engine's
per-subject high-water mark makes redelivery harmless. This module only connects the parts:
agents, timers and rebalance hooks to the pipeline, the pipeline to the port and the metrics.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from typing import Any

from faust.exceptions import NotReady
from faust.types import TP as TopicPartition
from faust.types import Message  # the ack token: offset, partition, timestamp

from streams import topics
from streams.adapters.faust.cluster import make_app
from streams.adapters.faust.commits import StallWatch, read_again, reread_lost
from streams.adapters.faust.faust_names import check_faust_names
from streams.adapters.faust.input_partitions import InputPartition, input_partitions, known_end
from streams.adapters.faust.intake import Intake
from streams.adapters.faust.memory_sizes import buffer_sizes
from streams.adapters.faust.port import FaustPort
from streams.adapters.faust.settings import WorkerSettings, rocksdb_options
from streams.codec import SchemaResolver
from streams.kafka_settings import current
from streams.ops import endpoints
from streams.ops.logs import logging_config
from streams.ops.memory_probe import MemoryProbe
from streams.ops.metrics import WorkerMetrics
from streams.ops.pipeline_metrics import StepMetrics, record_gauges
from streams.ops.totals import write_ready, write_stats
from streams.pipeline.alignment import ahead
from streams.pipeline.detect import PartitionRuntime
from streams.pipeline.flush import flush
from streams.pipeline.inbox import Inbox
from streams.pipeline.ports import Record
from streams.pipeline.progress import FreshEnds, caught_up, lag
from streams.pipeline.read_progress import ReadProgress, unread
from streams.pipeline.route import Router
from streams.pipeline.routed_holes import RoutedHoles
from streams.pipeline.stage import Pipeline

__all__ = ["GuardlineWorker", "WorkerSettings"]

log = logging.getLogger("guardline.worker")

STATE_TABLE = "guardline-state"
CONSUMED = (topics.EVENTS.name, topics.ROUTED.name, topics.DECISIONS.name)
STAGES = {topics.EVENTS.name: "route", topics.ROUTED.name: "detect"}  # metrics' stage label
HOLE_RETRY_S = 5.0  # a hole still there this long after its re-read is read again


class GuardlineWorker:
    """Runs the pipeline on a Faust app; one per worker process."""

    def __init__(self, settings: WorkerSettings) -> None:
        self.settings = settings
        self.kafka = settings.kafka or current()
        # Input records skip Faust's per-message delivery (intake.py); Faust still owns the rest.
        self.intake: Intake | None = None
        if settings.intake:
            self.intake = Intake(None, topics.EVENTS.name, settings.batch_size)
        scheduler = None if self.intake is None else self.intake.scheduler()
        self.app = make_app(settings, self.kafka, scheduler)
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
            options=rocksdb_options(settings) if settings.store.startswith("rocksdb") else None,
        )
        self.port = FaustPort(self.app, self.table, intake=self.intake is not None)
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
            loader=self.port.load,
            idle_after_s=settings.idle_after_s,
        )
        self.inbox: Inbox[Message] = Inbox(CONSUMED)
        self._lock = asyncio.Lock()
        self._arrived = asyncio.Event()  # records wait in the inbox or the intake
        self._heartbeat_due = False  # the tick asked for a flush with heartbeats
        self.metrics = WorkerMetrics(d.name for d in settings.config.active())
        self.step_metrics = StepMetrics(self.metrics)
        for spec in (topics.EVENTS, topics.ROUTED):
            self.metrics.set_topic_partitions(spec.name, settings.partitions)
        self._state_at = self._stats_at = 0.0
        self._stalls = StallWatch(settings.lost_grace_s)
        self._reads = ReadProgress(settings.lost_grace_s)  # input partitions that stopped
        self._input_states: dict[int, set[str]] = {}  # per input partition (the gauges')
        self._holes: RoutedHoles[Message] = RoutedHoles()  # routed offsets never handed on
        self._ends = FreshEnds()  # input log ends learned since records were last taken
        self._hole_found = asyncio.Event()
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
        self.app.task(self._hole_loop)
        self.probe = MemoryProbe.from_env()  # off unless $GUARDLINE_MEMORY_PROBE names a file
        if self.probe is not None:
            self.app.timer(interval=self.probe.every_s)(self._probe_tick)
        self.app.on_partitions_revoked.connect(self._on_revoked)  # type: ignore[arg-type]
        self.app.on_partitions_assigned.connect(self._on_assigned)  # type: ignore[arg-type]

    # The pipeline's state, as tests read it.
    @property
    def router(self) -> Router[Message]:
        return self.pipeline.router

    @property
    def runtimes(self) -> dict[int, PartitionRuntime[Message]]:
        return self.pipeline.runtimes

    @property
    def revocations(self) -> int:
        return self.pipeline.revocations

    async def _agent(self, stream: Any) -> None:
        """Every agent only collects records; batches are processed in `_flush`.

        With the intake on, the input agent only owns the subscription: records arrive in
        batches through `intake.py`, never through this stream.
        """
        noack = stream.noack()
        pipeline = self.pipeline
        routed = topics.ROUTED.name
        async for event in noack.events():
            msg = event.message
            if not pipeline.collects(msg.topic, msg.partition):
                continue  # fetched before a revoke: its owner reads it again, committed on
            if msg.topic == routed:
                self.port.context[msg.partition] = event  # the table's write context
            waiting = self.inbox.add(msg.topic, Record(msg.offset, event.key, event.value, msg))
            self._arrived.set()
            if waiting >= self.settings.batch_size:
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
            write_stats(self.settings.stats_file, {**self.pipeline.totals, **self.pipeline.clock})

    async def _gauges_tick(self) -> None:
        """Lag, watermarks, state size (every 5th time) and lost offsets, on a timer of its own:
        a state size pass over every subject outlasts the 0.1 s tick on a busy worker."""
        now = time.monotonic()
        state = now - self._state_at >= 5 * self.settings.gauges_every_s
        if state:
            self._state_at = now
        record_gauges(self.metrics, self.pipeline, self._lags(), state=state)
        await self._reread_lost()
        if self.intake is not None:
            await self._watch_reads(self.intake, now)

    async def _watch_reads(self, intake: Intake, now: float) -> None:
        """Input partition gauges; a partition meant to be read that made no progress for the
        grace with records left is read again (`read_progress.py`)."""
        views = self._input_partitions(intake)
        waiting = {p for p, v in views.items() if v.state in ("held", "full", "paused")}
        self._reads.observe({p: (v.handed_on, v.end) for p, v in views.items()}, waiting, now)
        stalled = self._reads.stalled(now)
        self._input_states = {
            p: {v.state} | ({"stalled"} if p in stalled else set()) for p, v in views.items()
        }
        self.metrics.set_input_partitions(
            {p: v.offsets() for p, v in views.items()}, self._input_states
        )
        if not stalled or self.app.rebalancing:
            return
        log.warning(
            "input partitions %s: records left but nothing read for %.0fs (%s); "
            "reading them again from the committed offsets",
            sorted(stalled), self.settings.lost_grace_s,
            "; ".join(f"{p}: {views[p].state}, {views[p].offsets()}" for p in sorted(stalled)),
        )  # fmt: skip
        intake.resync(stalled)  # back into Faust's fetch set if it fell out of all of them
        self._reads.restart(stalled, now)
        if await read_again(self.app):
            self.metrics.input_rereads.inc()

    def _fetch_detail(self) -> str:
        """For /readyz: input partitions not being fetched, by state ("held 1; stalled 2")."""
        by_state: dict[str, list[int]] = defaultdict(list)
        for partition, states in sorted(self._input_states.items()):
            for state in sorted(states - {"fetching"}):
                by_state[state].append(partition)
        return "; ".join(f"{s} {','.join(map(str, ps))}" for s, ps in sorted(by_state.items()))

    def _input_partitions(self, intake: Intake) -> dict[int, InputPartition]:
        return input_partitions(self.app, intake, set(self.pipeline.owned_sources))

    async def _probe_tick(self) -> None:
        assert self.probe is not None
        self.probe.sample(lambda: buffer_sizes(self))

    async def _reread_lost(self) -> None:
        await reread_lost(self.app, self._stalls, CONSUMED)

    async def _hole_loop(self) -> None:
        """Read again from the committed offsets as soon as a routed partition has a hole
        (`routed_holes.py`), and again while one stays open (the seek raced the fetch loop)."""
        while True:
            await self._hole_found.wait()
            self._hole_found.clear()
            while self._holes.holes and not self.app.should_stop:
                holes = ", ".join(
                    f"{topics.ROUTED.name}[{p}]: offsets "
                    + (f"{r.start}-{r.stop - 1}" if r else f"before {r.start} (no start known)")
                    for p, r in sorted(self._holes.holes.items())
                )
                log.warning(
                    "%s never reached the detect stage while later ones did; not applying "
                    "past them, reading again from the committed offsets",
                    holes,
                )
                await read_again(self.app)
                await asyncio.sleep(HOLE_RETRY_S)

    async def _on_assigned(self, app: Any, assigned: Any, **_: Any) -> None:
        self.pipeline.assigned(assigned)
        self._holes.forget(tp.partition for tp in assigned if tp.topic == topics.ROUTED.name)
        mine = sorted(tp.partition for tp in assigned if tp.topic == topics.EVENTS.name)
        self._count_assigned()
        log.info("assigned input partitions %s", mine)
        if self.settings.ready_file is not None:
            write_ready(self.settings.ready_file, mine)

    async def _on_revoked(self, app: Any, revoked: Any, **_: Any) -> None:
        """Drop revoked partitions: unacked records go to the new owner, state via the table."""
        self.pipeline.revoked(revoked)
        self._stalls = StallWatch(self.settings.lost_grace_s)  # offsets start over
        for tp in revoked:
            self.inbox.forget(tp.topic, tp.partition)
            if tp.topic == topics.EVENTS.name and self.intake is not None:
                self.intake.forget(tp.partition)
            elif tp.topic == topics.ROUTED.name:
                self.port.context.pop(tp.partition, None)
                self._holes.forget([tp.partition])
            self.port.acked.forget(tp.topic, tp.partition)
            self.metrics.forget_partitions(tp.topic, STAGES.get(tp.topic), [tp.partition])
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
        batches = self.inbox.take()
        revocations = self.revocations
        routed = batches[topics.ROUTED.name]
        consumer: Any = self.app.consumer  # ours: consumer.py
        for partition, records in routed.items():
            start = consumer.commit_base(TopicPartition(topics.ROUTED.name, partition))
            routed[partition] = self._holes.admit(partition, records, start)
        if new_holes := self._holes.take_new():
            self.metrics.routed_holes.inc(len(new_holes))
            self._hole_found.set()
        if self.intake is not None:
            batches[topics.EVENTS.name].update(await self.intake.take())
        if batches[topics.EVENTS.name]:
            self._ends.taking(self._end_stamps())
        if self.intake is not None:
            await self.app.producer.buffer.wait_until_ebb()  # as Faust's delivery does
        fetching = getattr(self.app.consumer, "flow_active", True) and not self.app.rebalancing
        await flush(
            self.pipeline,
            batches,
            self.port,
            revocations=revocations,
            heartbeats=heartbeats,
            caught_up=self._caught_up if fetching else None,
            observer=self.step_metrics,
        )
        if self.intake is not None:
            self._align(self.intake)

    def _align(self, intake: Intake) -> None:
        """Hold input partitions read ahead in event time while others have a backlog
        (`alignment.py`): what waits in the reorder buffer stays bounded."""
        views = self._input_partitions(intake)
        # Records never handed on, and still being read: one that stalled is not waited for.
        behind = {p for p, v in views.items() if unread(v.handed_on, v.end)}
        behind -= self._reads.stalled(time.monotonic())
        max_ts = self.router.max_ts
        routed = {p: max_ts[p] for p in views if p in max_ts}
        intake.hold(ahead(routed, behind, self.settings.max_skew_ms))

    def _end_stamps(self) -> dict[int, int | None]:
        """Per assigned input partition, the stamp of its known log end (`FreshEnds.taking`;
        one assigned later has no end from before this)."""
        consumer: Any = self.app.consumer
        name = topics.EVENTS.name
        return {
            tp.partition: known_end(consumer, tp)[1]
            for tp in consumer.assignment()
            if tp.topic == name
        }

    def _caught_up(self, source: int) -> bool:
        """Whether every record of an input partition has been routed, against a log end
        learned since the newest input records were taken (`progress.py`)."""
        consumer: Any = self.app.consumer
        tp = TopicPartition(topics.EVENTS.name, source)
        end = self._ends.end(source, *known_end(consumer, tp))
        acked_to = self.port.acked.next_offset(topics.EVENTS.name, source)
        return caught_up(end, acked_to, consumer._committed_offset.get(tp))

    def _lags(self) -> dict[str, dict[int, int]]:
        """Per consumed topic and partition, the lag (not the table's changelog: restore
        progress, not processing lag); a partition whose log end is not known yet is left out."""
        consumer: Any = self.app.consumer
        committed = consumer._committed_offset  # Faust: next offset to read
        lags: dict[str, dict[int, int]] = defaultdict(dict)
        for tp in consumer.assignment():
            if tp.topic not in CONSUMED:
                continue
            end = consumer.highwater(tp)  # known once a fetch for the partition returned
            if end is not None:
                acked_to = self.port.acked.next_offset(tp.topic, tp.partition)
                lags[tp.topic][tp.partition] = lag(end, committed.get(tp), acked_to)
        return lags

    def _count_assigned(self) -> None:
        assignment = self.app.consumer.assignment()
        for spec in (topics.EVENTS, topics.ROUTED):
            self.metrics.set_assigned(
                spec.name, [tp.partition for tp in assignment if tp.topic == spec.name]
            )

    def start_endpoints(self) -> endpoints.Endpoints | None:
        """/metrics, /healthz, /readyz on the configured address (Faust's web stays off)."""
        settings = self.settings
        if settings.metrics_port is None:
            return None
        ready = endpoints.readiness(
            lambda: sorted(self.pipeline.owned_sources),
            endpoints.BrokerProbe(settings.bootstrap),
            self._fetch_detail,
        )
        served = endpoints.serve(
            settings.metrics_host, settings.metrics_port, self.metrics.exposition, ready
        )
        log.info("metrics on %s/metrics (also /healthz, /readyz)", served.url)
        log.info("kafka: %s", self.kafka.describe())
        return served

    def run(self, loglevel: str = "info", log_format: str = "text") -> None:
        from faust.worker import Worker
        from mode.utils.logging import setup_logging

        check_faust_names(self.app)  # refuse to start if a Faust release renamed one
        config = logging_config(loglevel, log_format)
        # Set up before the worker does (it does the same again): the endpoints log first.
        setup_logging(loglevel=loglevel, logging_config=dict(config))
        served = self.start_endpoints()
        worker = Worker(self.app, loglevel=loglevel, quiet=True, logging_config=config)
        # Faust's terminal spinner sets the root logger to DEBUG, so every aiokafka debug call
        # builds a log record: ~10% of the worker's CPU when profiled. No spinner, no cost.
        worker.spinner = None
        try:
            worker.execute_from_commandline()
        finally:
            if served is not None:
                served.stop()
