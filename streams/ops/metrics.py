"""What a worker reports to Prometheus: one registry per worker, every name `guardline_*`.

The worker calls the `record_*` / `set_*` methods with plain values it already has (batch
outputs, offsets, watermarks), so this module knows nothing about Faust or Kafka and is tested
without either. Label values are closed sets (event types, reason codes, detector names,
severities, partitions): never ids, so a scrape never carries who did what.
"""

from __future__ import annotations

import contextlib
import urllib.request
from collections.abc import Iterable, Mapping

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)

from streams.model import Action, Alert, Decision, EventType, Severity
from streams.validation import REASON_CODES

PREFIX = "guardline"

# Seconds from the Kafka timestamp of the input record to the alert's produce call.
INGEST_BUCKETS_S = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
# Seconds from the triggering event's own time: includes the platform's delivery delay.
EVENT_TIME_BUCKETS_S = (
    *(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800),
    *(3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 2 * 86400, 7 * 86400),
)
BATCH_BUCKETS = (1, 10, 50, 100, 250, 500, 1000, 2000, 5000, 10000, 50000)
BATCH_SECONDS_BUCKETS_S = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
STAGES = ("route", "detect")


class WorkerMetrics:
    """All of one worker's series, on its own registry (several can live in one process)."""

    def __init__(self, detectors: Iterable[str], *, process: bool = True) -> None:
        # `*_created` samples double every series and no dashboard reads them.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = CollectorRegistry()
        if process:
            ProcessCollector(registry=self.registry)
            PlatformCollector(registry=self.registry)
        reg = self.registry
        self.events_in = Counter(
            f"{PREFIX}_input_events",
            "Valid events read from the input topic, by event type.",
            ["type"],
            registry=reg,
        )
        self.rejected = Counter(
            f"{PREFIX}_rejected_events",
            "Input records sent to the dead-letter topic, by reason code (as in the record).",
            ["reason"],
            registry=reg,
        )
        self.processing_errors = Counter(
            f"{PREFIX}_processing_errors",
            "Events a detector raised on (a bug), by detector and stage: each one was "
            "dead-lettered with reason processing_error and left that subject's state as it was.",
            ["detector", "stage"],
            registry=reg,
        )
        self.skipped = Counter(
            f"{PREFIX}_skipped_events",
            "Routed (event, subject) pairs not applied because the subject's state was already "
            "past them: redelivered duplicates, or events later than the allowed lateness.",
            registry=reg,
        )
        labels = ["detector", "severity"]
        self.alerts = Counter(
            f"{PREFIX}_alerts",
            "New cases published (revision 1) by enforcing detectors.",
            labels,
            registry=reg,
        )
        self.case_updates = Counter(
            f"{PREFIX}_case_updates",
            "Updates of open cases published (revision > 1) by enforcing detectors.",
            labels,
            registry=reg,
        )
        self.shadow_alerts = Counter(
            f"{PREFIX}_shadow_alerts",
            "Alerts and case updates of detectors in shadow mode (shadow topic only).",
            labels,
            registry=reg,
        )
        self.event_to_alert = Histogram(
            f"{PREFIX}_event_to_alert_seconds",
            "Event time of the triggering event to the alert's produce time (clamped at 0).",
            buckets=EVENT_TIME_BUCKETS_S,
            registry=reg,
        )
        self.ingest_to_alert = Histogram(
            f"{PREFIX}_ingest_to_alert_seconds",
            "Kafka timestamp of the input batch that carried the triggering event to the "
            "alert's produce time.",
            buckets=INGEST_BUCKETS_S,
            registry=reg,
        )
        self.batch_records = Histogram(
            f"{PREFIX}_batch_records",
            "Records per processed batch, by stage (route: input topic, detect: routed topic).",
            ["stage"],
            buckets=BATCH_BUCKETS,
            registry=reg,
        )
        self.batch_seconds = Histogram(
            f"{PREFIX}_batch_processing_seconds",
            "Processing time of one batch, by stage.",
            ["stage"],
            buckets=BATCH_SECONDS_BUCKETS_S,
            registry=reg,
        )
        self.lag = Gauge(
            f"{PREFIX}_consumer_lag_records",
            "Records of an assigned partition not yet committed as processed (log end offset "
            "- committed offset), for the input and the internal routed topic.",
            ["topic", "partition"],
            registry=reg,
        )
        self.watermark = Gauge(
            f"{PREFIX}_watermark_timestamp_seconds",
            "Event-time watermark per partition (route: highest event time read from an input "
            "partition; detect: what a routed partition may apply up to).",
            ["stage", "partition"],
            registry=reg,
        )
        self.state_keys = Gauge(
            f"{PREFIX}_state_keys",
            "Subjects with live state, per detector (partitions owned by this worker).",
            ["detector"],
            registry=reg,
        )
        self.state_bytes = Gauge(
            f"{PREFIX}_state_bytes",
            "Estimated serialised size of that state, per detector (sampled).",
            ["detector"],
            registry=reg,
        )
        self.assigned = Gauge(
            f"{PREFIX}_assigned_partitions",
            "Partitions currently assigned to this worker, by topic.",
            ["topic"],
            registry=reg,
        )
        self.decisions = Counter(
            f"{PREFIX}_decisions",
            "Moderator decisions read from the decisions topic, by the case's detector and "
            "action (CONFIRM, CLEAR, ESCALATE): precision from decisions on the dashboard.",
            ["detector", "action"],
            registry=reg,
        )
        self.suppressed = Counter(
            f"{PREFIX}_suppressed_findings",
            "Findings not published because a moderator cleared that detector on that subject.",
            ["detector"],
            registry=reg,
        )
        self.open_cases = Gauge(
            f"{PREFIX}_open_cases",
            "Cases inside their cooldown (not cleared), by detector and severity, in the "
            "partitions this worker owns (sampled with the state size).",
            ["detector", "severity"],
            registry=reg,
        )
        self.input_offset = Gauge(
            f"{PREFIX}_input_offset",
            "Per owned input partition: `handed_on` (first offset never handed to the "
            "pipeline), `fetched` (the client's fetch position), `committed`, `end` (log end). "
            "Records are left to read while end > handed_on.",
            ["partition", "position"],
            registry=reg,
        )
        self.input_fetch_state = Gauge(
            f"{PREFIX}_input_fetch_state",
            "Per owned input partition, 1 for its state: fetching; held (ahead in event time); "
            "full (its intake buffer, until the next batch); paused (a rebalance); unfetched "
            "(in none of the consumer's fetch sets); stalled (records left, no read progress "
            "for the grace: read again from the committed offset).",
            ["partition", "state"],
            registry=reg,
        )
        self._input_partitions: set[str] = set()  # partitions with input series
        self.input_rereads = Counter(
            f"{PREFIX}_input_rereads",
            "Times stalled input partitions were read again from their committed offsets.",
            registry=reg,
        )
        self.routed_holes = Counter(
            f"{PREFIX}_routed_holes",
            "Holes in a routed partition's offsets found before the detect stage, and records "
            "handed on before a new assignment's start offset is known (set aside, read again "
            "from the committed offsets).",
            registry=reg,
        )
        self._detectors = frozenset(detectors_list := list(detectors))
        self.topic_partitions = Gauge(
            f"{PREFIX}_topic_partitions",
            "Partitions of the topic the workers share (--partitions): what all of them "
            "together should hold (alert rule GuardlinePartitionsUnassigned).",
            ["topic"],
            registry=reg,
        )
        # Every known label value starts at 0, so rates and alert rules have a series to
        # read before the first event of a kind (and "no input" is a zero, not an absence).
        for kind in EventType:
            self.events_in.labels(kind.value)
        for code in REASON_CODES:
            self.rejected.labels(code)
        for name in detectors_list:
            for action in Action:
                self.decisions.labels(name, action.value)
            self.suppressed.labels(name)
            for severity in Severity:
                self.open_cases.labels(name, severity.value)
            for severity in Severity:
                for family in (self.alerts, self.case_updates, self.shadow_alerts):
                    family.labels(name, severity.value)
            self.state_keys.labels(name)
            self.state_bytes.labels(name)
            for stage in STAGES:
                self.processing_errors.labels(name, stage)
        for stage in STAGES:
            self.batch_records.labels(stage)
            self.batch_seconds.labels(stage)

    def record_route(
        self, by_type: Mapping[str, int], rejected: Iterable[str], records: int, seconds: float
    ) -> None:
        """One route batch: valid events by type, reason codes of the rejected ones."""
        for kind, n in by_type.items():
            self.events_in.labels(kind).inc(n)
        for code in rejected:
            self.rejected.labels(code).inc()
        self.record_batch("route", records, seconds)

    def record_failures(self, stage: str, detectors: Iterable[str]) -> None:
        """Events dead-lettered because a detector raised (one name per failed event)."""
        for name in detectors:
            self.processing_errors.labels(name, stage).inc()
            self.rejected.labels("processing_error").inc()

    def record_decisions(self, decisions: Iterable[Decision]) -> None:
        """Decisions read; a detector this worker does not run counts as `other` (closed set)."""
        for d in decisions:
            name = d.detector if d.detector in self._detectors else "other"
            self.decisions.labels(name, d.action.value).inc()

    def record_suppressed(self, by_detector: Mapping[str, int]) -> None:
        for name, n in by_detector.items():
            self.suppressed.labels(name).inc(n)

    def record_batch(self, stage: str, records: int, seconds: float) -> None:
        self.batch_records.labels(stage).observe(records)
        self.batch_seconds.labels(stage).observe(seconds)

    def record_alert(
        self, alert: Alert, *, shadow: bool, produced_s: float, ingest_s: float | None
    ) -> None:
        """One alert handed to the producer at `produced_s` (epoch seconds)."""
        labels = (alert.detector, alert.severity.value)
        if shadow:
            self.shadow_alerts.labels(*labels).inc()
        elif alert.revision > 1:
            self.case_updates.labels(*labels).inc()
        else:
            self.alerts.labels(*labels).inc()
        self.event_to_alert.observe(max(0.0, produced_s - alert.trigger_ts_ms / 1000))
        if ingest_s is not None:
            self.ingest_to_alert.observe(max(0.0, produced_s - ingest_s))

    def set_lag(self, topic: str, lags: Mapping[int, int]) -> None:
        for partition, lag in lags.items():
            self.lag.labels(topic, str(partition)).set(lag)

    def set_watermarks(self, stage: str, watermarks_ms: Mapping[int, int]) -> None:
        for partition, ts_ms in watermarks_ms.items():
            self.watermark.labels(stage, str(partition)).set(ts_ms / 1000)

    def set_state(self, sizes: Mapping[str, tuple[int, int]]) -> None:
        """Per detector (keys, estimated bytes); detectors absent from `sizes` hold nothing."""
        for name, (keys, size) in sizes.items():
            self.state_keys.labels(name).set(keys)
            self.state_bytes.labels(name).set(size)

    def set_open_cases(self, counts: Mapping[tuple[str, str], int]) -> None:
        """Every known (detector, severity) is set, to 0 when absent from `counts`."""
        for detector in self._detectors:
            for severity in Severity:
                self.open_cases.labels(detector, severity.value).set(
                    counts.get((detector, severity.value), 0)
                )

    def set_assigned(self, topic: str, partitions: Iterable[int]) -> None:
        self.assigned.labels(topic).set(len(set(partitions)))

    def set_topic_partitions(self, topic: str, count: int) -> None:
        """A worker's share of `topic` starts at 0 of `count` (rules need both series)."""
        self.topic_partitions.labels(topic).set(count)
        self.assigned.labels(topic)

    def forget_partitions(self, topic: str, stage: str | None, partitions: Iterable[int]) -> None:
        """A revoked partition's series would freeze at their last value: drop them (a topic
        without a stage, the decisions topic, has no watermark)."""
        for partition in partitions:
            for gauge, first in ((self.lag, topic), (self.watermark, stage)):
                if first is not None:
                    with contextlib.suppress(KeyError):
                        gauge.remove(first, str(partition))

    def set_input_partitions(
        self, offsets: Mapping[int, Mapping[str, int | None]], states: Mapping[int, set[str]]
    ) -> None:
        """Per owned input partition, its offsets and states; the series of a partition no
        longer owned, or of an offset no longer known, are removed."""
        for partition, positions in offsets.items():
            for position, offset in positions.items():
                if offset is not None:
                    self.input_offset.labels(str(partition), position).set(offset)
                else:
                    with contextlib.suppress(KeyError):
                        self.input_offset.remove(str(partition), position)
        for partition, now in states.items():
            for state in INPUT_STATES:
                self.input_fetch_state.labels(str(partition), state).set(state in now)
        owned = {str(p) for p in offsets} | {str(p) for p in states}
        for gone in self._input_partitions - owned:
            for position in INPUT_POSITIONS:
                with contextlib.suppress(KeyError):
                    self.input_offset.remove(gone, position)
            for state in INPUT_STATES:
                with contextlib.suppress(KeyError):
                    self.input_fetch_state.remove(gone, state)
        self._input_partitions = owned

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


INPUT_STATES = ("fetching", "held", "full", "paused", "unfetched", "stalled")
INPUT_POSITIONS = ("handed_on", "fetched", "committed", "end")

# The families a demo run must show non-zero (the list); lag is judged by its peak.
CHECKED_FAMILIES = (
    f"{PREFIX}_input_events_total",
    f"{PREFIX}_rejected_events_total",
    f"{PREFIX}_alerts_total",
    f"{PREFIX}_case_updates_total",
    f"{PREFIX}_shadow_alerts_total",
    f"{PREFIX}_event_to_alert_seconds_count",
    f"{PREFIX}_ingest_to_alert_seconds_count",
    f"{PREFIX}_batch_records_count",
    f"{PREFIX}_batch_processing_seconds_count",
    f"{PREFIX}_consumer_lag_records",
    f"{PREFIX}_watermark_timestamp_seconds",
    f"{PREFIX}_state_keys",
    f"{PREFIX}_state_bytes",
)


def family_sums(exposition: str) -> dict[str, float]:
    """A /metrics text as {series name: sum over its label sets} (for checks and the demo)."""
    sums: dict[str, float] = {}
    for line in exposition.splitlines():
        if not line or line.startswith("#"):
            continue
        name = line.split("{", 1)[0].split(" ", 1)[0]
        sums[name] = sums.get(name, 0.0) + float(line.rsplit(" ", 1)[1])
    return sums


def scrape(url: str, timeout_s: float = 5.0) -> dict[str, float]:
    """GET a worker's /metrics and sum each series over its labels."""
    with urllib.request.urlopen(url, timeout=timeout_s) as resp:
        return family_sums(resp.read().decode())
