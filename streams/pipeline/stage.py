"""One worker's pipeline, synchronous: a batch in, what to send, save and ack out.

`Pipeline` holds the router (stage 1), one `PartitionRuntime` per routed partition (stage 2)
and which partitions this worker owns. An adapter hands it batches of records and calls its
assign and revoke hooks; each call returns a step (`RouteStep`, `DetectStep`): records to send
(`outputs.py`), state to save, tokens to ack. `settle_route` and `settle_detect` then carry out
a step on the adapter's `Port`, in the order at-least-once needs:

1. send the step's records and wait for the broker's acks;
2. save the state the step changed (after the alerts: saved first, a crash in between would lose
   an alert for good, as the replayed events are then below the subject's high-water mark;
   sent first, the worst case is the same (alert_id, revision) twice, which consumers dedupe);
3. only then ack the records that caused them (the commit rule is `acks.py`'s).

Across a rebalance only the current generation counts: a detect step taken before a revoke
(`revocations` changed) is not taken at all, and one whose partition was revoked while its
records were being sent (`current`) neither saves nor acks: the new owner reads those records
again from the committed offset, with the state saved so far.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Generic

from streams import topics
from streams.codec import SchemaResolver
from streams.config import GuardlineConfig
from streams.engine.core import StepFailure
from streams.pipeline.detect import DetectOutput, PartitionRuntime
from streams.pipeline.envelope import unpack
from streams.pipeline.outputs import (
    alert_records,
    dead_letter_record,
    failure_dead_letter,
    routed_records,
)
from streams.pipeline.ports import Headers, Outgoing, Port, Record, T
from streams.pipeline.route import IDLE_AFTER_S, Rejected, Router, RouterOutput

Loader = Callable[[str], bytes | None]

log = logging.getLogger("guardline.pipeline")


@dataclass(slots=True)
class RouteStep(Generic[T]):
    outgoing: list[Outgoing]  # routed packets, then dead letters
    output: RouterOutput[T]  # acks, counts per type, refused records
    records: int  # input records routed (0: only watermarks and heartbeats)
    topic: str = topics.EVENTS.name  # whose records `output.acks` acknowledges


@dataclass(slots=True)
class DetectStep(Generic[T]):
    partition: int
    runtime: PartitionRuntime[T]
    output: DetectOutput[T]  # alerts (with their trigger's token), state writes, acks
    outgoing: list[Outgoing] = field(default_factory=list)  # the alerts' records
    records: int = 0
    skipped: int = 0  # events not applied: redelivered, or later than the lateness
    suppressed: dict[str, int] = field(default_factory=dict)  # findings a clear held back


class Pipeline(Generic[T]):
    """Both stages of one worker, and the partitions it owns (`Rebalance` hooks)."""

    def __init__(
        self,
        config: GuardlineConfig,
        partitions: int,
        *,
        headers: Headers,
        resolver: SchemaResolver | None = None,
        loader: Loader | None = None,
        idle_after_s: float = IDLE_AFTER_S,
        clock_s: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.partitions = partitions
        self.headers = headers
        self.loader = loader
        self.idle_after_s = idle_after_s
        self.clock_s = clock_s
        self.router: Router[T] = Router(config.active(), partitions, resolver=resolver)
        self.owned_sources: set[int] = set()
        self.owned_routed: set[int] = set()
        self._claims: set[int] = set()  # newly assigned sources, claimed at the next route
        self.revocations = 0  # a step's records from before a revoke are stale
        self.runtimes: dict[int, PartitionRuntime[T]] = {}
        self.totals = {"in": 0, "routed": 0, "applied": 0, "alerts": 0, "dead_letters": 0}
        # Wall-clock times of the first input record and of the last applied event (bench).
        self.clock = {"first_in_s": 0.0, "last_applied_s": 0.0}

    # --- assign and revoke hooks -------------------------------------------------------------

    def assigned(self, partitions: Iterable[tuple[str, int]]) -> None:
        for topic, partition in partitions:
            if topic == topics.EVENTS.name:
                self.owned_sources.add(partition)
                self._claims.add(partition)
            elif topic == topics.ROUTED.name:
                self.owned_routed.add(partition)

    def revoked(self, partitions: Iterable[tuple[str, int]]) -> None:
        """Drop revoked partitions: unacked records go to the new owner, state via the store."""
        self.revocations += 1
        for topic, partition in partitions:
            if topic == topics.EVENTS.name:
                self.owned_sources.discard(partition)
                self._claims.discard(partition)
                self.router.forget(partition)
            elif topic == topics.ROUTED.name:
                self.owned_routed.discard(partition)
                self.runtimes.pop(partition, None)

    def collects(self, topic: str, partition: int) -> bool:
        """Whether a record fetched now is collected for the next flush. Not a routed record
        of a partition this worker does not own (fetched before a revoke, delivered after it):
        its owner reads it again from the committed offset, and applied here, ahead of the
        records before it, it would make an event still waiting there late (skipped)."""
        return topic != topics.ROUTED.name or partition in self.owned_routed

    # --- stage 1: route ----------------------------------------------------------------------

    def route(
        self,
        batches: Mapping[int, Sequence[Record[T]]],
        *,
        heartbeats: bool = False,
        caught_up: Callable[[int], bool] | None = None,
    ) -> RouteStep[T]:
        """Route input batches (per input partition). With `heartbeats` (the tick), also tell
        internal partitions watermarks they have not heard, and announce IDLE the owned sources
        that are quiet, once every owned source is `caught_up` (None: the consumer is not
        fetching; announce none).

        Every one, not just the quiet ones: a source announced idle earlier may since have
        records its router has not routed, while another source routed a later event of the
        same subject. The IDLE completing the set would release that event ahead of them, and
        they would come late (skipped). Holding every IDLE while an owned source is behind
        delays no release: a set with a source that is not idle releases nothing anyway."""
        router = self.router
        out: RouterOutput[T] = RouterOutput()
        claims, self._claims = self._claims, set()
        for source in sorted(claims & self.owned_sources):
            router.claim(source, out)  # cancels the previous owner's IDLE
        ingest_s: dict[int, float] = {}  # Kafka timestamp of each source's newest record
        count = 0
        for source, records in batches.items():
            router.route(source, records, out)
            if not self.totals["in"]:
                self.clock["first_in_s"] = self.clock_s()
            self.totals["in"] += len(records)
            count += len(records)
            ingest_s[source] = records[-1][3].timestamp  # the token: Kafka timestamp
        if heartbeats:
            owned = sorted(self.owned_sources)
            router.watermarks(owned, out)
            if caught_up is not None and all(caught_up(p) for p in owned):
                router.idle_heartbeats(owned, self.idle_after_s, out)
        outgoing = routed_records(out.packets, ingest_s)
        if out.rejected:
            failed_at_ms = int(self.clock_s() * 1000)
            outgoing += [dead_letter_record(r, self.headers, failed_at_ms) for r in out.rejected]
            for rejected in out.rejected:
                if rejected.failure is not None:
                    _log_failure(topics.EVENTS.name, rejected.partition, rejected.offset, rejected)
        return RouteStep(outgoing, out, count)

    def route_decisions(self, batches: Mapping[int, Sequence[Record[T]]]) -> RouteStep[T]:
        """Route moderator decisions (per decisions-topic partition) to their subjects."""
        out: RouterOutput[T] = RouterOutput()
        self.router.route_decisions(batches, out)
        outgoing = routed_records(out.packets, {})
        if out.rejected:
            failed_at_ms = int(self.clock_s() * 1000)
            outgoing += [dead_letter_record(r, self.headers, failed_at_ms) for r in out.rejected]
        count = sum(len(records) for records in batches.values())
        return RouteStep(outgoing, out, count, topics.DECISIONS.name)

    # --- stage 2: detect ---------------------------------------------------------------------

    def detect(
        self, partition: int, records: Sequence[Record[T]], revocations: int
    ) -> DetectStep[T] | None:
        """Apply a routed partition's records (or none: release what the watermarks allow).

        None if a rebalance began since `revocations` was read: whoever owns the partition now
        reads these records again from the committed offset. A runtime made now would outlive
        the revoke; records applied now, ahead of those before them (an event still waiting for
        the watermark), would make those late, skipped for good.
        """
        if revocations != self.revocations:
            return None
        runtime = self.runtime(partition)
        out: DetectOutput[T] = DetectOutput()
        stats = runtime.engine.stats
        skipped, held = stats.skipped_replays, dict(stats.suppressed)
        for _offset, _key, value, token in records:
            runtime.accept(unpack(value), token, out)
        runtime.release(out)
        outgoing: list[Outgoing] = []
        for alert, mode in out.alerts:
            outgoing += alert_records(alert, mode, self.headers)
        if out.failures:
            failed_at_ms = int(self.clock_s() * 1000)
            for failure, token in out.failures:
                _log_failure(topics.ROUTED.name, partition, token.offset, failure)
                offset = token.offset
                outgoing.append(
                    failure_dead_letter(failure, partition, offset, self.headers, failed_at_ms)
                )
        return DetectStep(
            partition,
            runtime,
            out,
            outgoing,
            records=len(records),
            skipped=stats.skipped_replays - skipped,
            suppressed={
                d: n - held.get(d, 0) for d, n in stats.suppressed.items() if n != held.get(d, 0)
            },
        )

    def runtime(self, partition: int) -> PartitionRuntime[T]:
        runtime = self.runtimes.get(partition)
        if runtime is None:
            runtime = self.runtimes[partition] = PartitionRuntime(
                partition, self.config, self.partitions, loader=self.loader
            )
        return runtime

    def current(self, step: DetectStep[T]) -> bool:
        """Whether the step's partition is still the one it was taken on (not revoked since)."""
        return self.runtimes.get(step.partition) is step.runtime


# --- carrying out a step, in order -----------------------------------------------------------


async def settle_route(pipeline: Pipeline[T], step: RouteStep[T], port: Port[T]) -> None:
    await port.deliver(step.outgoing)
    port.ack(step.topic, step.output.acks)
    pipeline.totals["routed"] += step.output.valid
    pipeline.totals["dead_letters"] += len(step.output.rejected)


async def settle_detect(pipeline: Pipeline[T], step: DetectStep[T], port: Port[T]) -> bool:
    """False if the step was dropped part way (revoked while sending, or state not saved)."""
    await port.deliver(step.outgoing)
    if not pipeline.current(step):
        # Revoked while delivering (a broker restart made the worker rejoin): the owner
        # re-reads these records from the committed offset, with state from the store.
        return False
    out = step.output
    if out.state_writes and not await port.save(step.partition, out.state_writes):
        return False
    port.ack(topics.ROUTED.name, out.acks)
    if out.applied:
        pipeline.totals["applied"] += out.applied
        pipeline.clock["last_applied_s"] = pipeline.clock_s()
    pipeline.totals["alerts"] += len(out.alerts)
    pipeline.totals["dead_letters"] += len(out.failures)
    return True


def _log_failure(topic: str, partition: int, offset: int, what: Rejected | StepFailure) -> None:
    """One line per poison event: where it was read and what failed, never an id."""
    failure = what.failure if isinstance(what, Rejected) else what
    assert failure is not None
    log.error(
        "%s[%d] offset %d: %s; the event went to the dead-letter topic (processing_error) "
        "and the worker goes on",
        topic, partition, offset, failure.reason,
    )  # fmt: skip
