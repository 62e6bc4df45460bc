"""One flush of a worker: everything collected since the last one, through both stages.

The same order on every adapter: route the input batches (and tell the internal partitions
their watermarks on a heartbeat), route moderator decisions, then apply each routed
partition's records, then let every other routed partition release what the watermarks now
allow. Each step is carried out (`stage.settle_*`: send, save, ack) before the next is taken.
An `Observer` sees each step, for metrics; the pipeline never depends on it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from streams import topics
from streams.pipeline.ports import Port, Record, T
from streams.pipeline.stage import DetectStep, Pipeline, RouteStep, settle_detect, settle_route

Batches = Mapping[str, Mapping[int, Sequence[Record[T]]]]


class Observer(Protocol[T]):
    def routed(self, step: RouteStep[T], seconds: float) -> None:
        """Input records were routed and their step carried out (not called without any)."""

    def decided(self, step: RouteStep[T]) -> None:
        """Moderator decisions were routed and their step carried out."""

    def detecting(self, step: DetectStep[T]) -> None:
        """A detect step was taken, before it is carried out."""

    def detected(self, step: DetectStep[T], seconds: float) -> None:
        """A detect step with records was carried out to its end."""


async def flush(
    pipeline: Pipeline[T],
    batches: Batches[T],
    port: Port[T],
    *,
    revocations: int,
    heartbeats: bool = False,
    caught_up: Callable[[int], bool] | None = None,
    observer: Observer[T] | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> None:
    """Route and detect one flush's `batches` (per topic, per partition). `revocations` is
    the pipeline's count when the records were taken: a detect step is not taken if a revoke
    came since (`Pipeline.detect`)."""
    started = clock()
    step = pipeline.route(
        batches.get(topics.EVENTS.name, {}), heartbeats=heartbeats, caught_up=caught_up
    )
    await settle_route(pipeline, step, port)
    if step.records and observer is not None:
        observer.routed(step, clock() - started)
    decisions = batches.get(topics.DECISIONS.name)
    if decisions:
        decided = pipeline.route_decisions(decisions)
        await settle_route(pipeline, decided, port)
        if observer is not None:
            observer.decided(decided)
    routed = batches.get(topics.ROUTED.name, {})
    for partition, records in routed.items():
        await detect(pipeline, partition, records, port, revocations, observer, clock)
    for partition in set(pipeline.runtimes) - set(routed):
        await detect(pipeline, partition, [], port, revocations, observer, clock)  # release


async def detect(
    pipeline: Pipeline[T],
    partition: int,
    records: Sequence[Record[T]],
    port: Port[T],
    revocations: int,
    observer: Observer[T] | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> None:
    """One routed partition's records (or none: release what the watermarks allow)."""
    started = clock()
    step = pipeline.detect(partition, records, revocations)
    if step is None:
        return
    if observer is not None:
        observer.detecting(step)
    if await settle_detect(pipeline, step, port) and records and observer is not None:
        observer.detected(step, clock() - started)
