"""What the pipeline's steps and state show, as the worker's metrics (`metrics.py`).

`StepMetrics` is the flush's observer (`streams/pipeline/flush.py`): each step's counts, its
alerts and their latency. `record_gauges` sets what is read from the pipeline's state on a
timer: watermarks per stage and, when asked, state size and open cases.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from streams.config import Mode
from streams.engine.footprint import open_cases, state_footprint
from streams.engine.reorder import IDLE
from streams.ops.metrics import WorkerMetrics
from streams.pipeline.ports import T
from streams.pipeline.stage import DetectStep, Pipeline, RouteStep


class StepMetrics:
    """Counts each step of a flush into `metrics`."""

    def __init__(self, metrics: WorkerMetrics) -> None:
        self.metrics = metrics

    def routed(self, step: RouteStep[T], seconds: float) -> None:
        out = step.output
        self.metrics.record_route(
            out.by_type,
            [rej.error.code for rej in out.rejected if rej.failure is None],
            step.records,
            seconds,
        )
        self.metrics.record_failures(
            "route", [rej.failure.detector for rej in out.rejected if rej.failure]
        )

    def decided(self, step: RouteStep[T]) -> None:
        self.metrics.record_decisions(step.output.decisions)
        for rejected in step.output.rejected:
            self.metrics.rejected.labels(rejected.error.code).inc()

    def detecting(self, step: DetectStep[T]) -> None:
        metrics = self.metrics
        metrics.skipped.inc(step.skipped)
        metrics.record_failures("detect", (f.detector for f, _ in step.output.failures))
        metrics.record_suppressed(step.suppressed)
        produced_s = time.time()
        for (alert, mode), token in zip(step.output.alerts, step.output.alert_tokens, strict=True):
            metrics.record_alert(
                alert, shadow=mode is Mode.SHADOW, produced_s=produced_s, ingest_s=token.timestamp
            )

    def detected(self, step: DetectStep[T], seconds: float) -> None:
        self.metrics.record_batch("detect", step.records, seconds)


def record_gauges(
    metrics: WorkerMetrics,
    pipeline: Pipeline[T],
    lags: Mapping[str, Mapping[int, int]],
    *,
    state: bool,
) -> None:
    """Lag (per topic, per partition, as the adapter measured it), watermarks of both stages
    and, with `state`, state size and open cases (a pass over every subject: not every time)."""
    for topic, per_partition in lags.items():
        metrics.set_lag(topic, per_partition)
    owned = pipeline.owned_sources
    metrics.set_watermarks(
        "route", {p: ts for p, ts in pipeline.router.max_ts.items() if p in owned and ts >= 0}
    )
    detect = {p: rt.watermark_ms for p, rt in pipeline.runtimes.items()}
    metrics.set_watermarks(
        "detect", {p: ts for p, ts in detect.items() if ts is not None and ts != IDLE}
    )
    if state:
        engines = [rt.engine for rt in pipeline.runtimes.values()]
        metrics.set_state(state_footprint(engines))
        metrics.set_open_cases(open_cases(engines))
