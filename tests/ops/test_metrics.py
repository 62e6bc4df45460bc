"""WorkerMetrics without Kafka: names, labels and what each record_* call counts."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from streams.codec import encode_event
from streams.config import load_config
from streams.model import Alert, EventType, Severity, Subject, SubjectKind
from streams.ops.metrics import CHECKED_FAMILIES, WorkerMetrics, family_sums
from streams.pipeline.route import Router, RouterOutput
from streams.validation import REASON_CODES
from tests.factories import T0, adult, message, minor
from tests.promtool import exported_series

DETECTORS = ("new_contact_burst", "minor_mass_add")


def alert(detector: str = "new_contact_burst", *, revision: int = 1, trigger: int = T0) -> Alert:
    return Alert(
        alert_id="case-1", detector=detector, detector_version="1", severity=Severity.HIGH,
        score=1.0, subject=Subject(SubjectKind.ACCOUNT, "u-1"), window_start_ms=trigger,
        window_end_ms=trigger, trigger_ts_ms=trigger, features={}, counterparts=(),
        minors_exposed=1, evidence_event_ids=("e-1",), reason="r", revision=revision,
    )  # fmt: skip


def samples(metrics: WorkerMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = metrics.exposition().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(metrics: WorkerMetrics, name: str, **labels: str) -> float:
    return samples(metrics)[(name, tuple(sorted(labels.items())))]


def test_every_series_is_prefixed_and_follows_prometheus_naming() -> None:
    metrics = WorkerMetrics(DETECTORS, process=False)
    names = {name for name, _ in samples(metrics)}
    assert names and all(n.startswith("guardline_") for n in names)
    counters = {n for n in names if n.endswith("_total")}
    assert "guardline_input_events_total" in counters
    assert not any(n.endswith("_created") for n in names)
    for n in names:  # units in the name, base units only
        assert not re.search(r"_(ms|milliseconds|kb|mb)(_|$)", n), n


def test_known_label_values_start_at_zero() -> None:
    metrics = WorkerMetrics(DETECTORS, process=False)
    got = samples(metrics)
    for kind in EventType:
        assert got[("guardline_input_events_total", (("type", kind.value),))] == 0
    for code in REASON_CODES:
        assert got[("guardline_rejected_events_total", (("reason", code),))] == 0
    for name in DETECTORS:
        for severity in Severity:
            labels = (("detector", name), ("severity", severity.value))
            assert got[("guardline_alerts_total", labels)] == 0
            assert got[("guardline_shadow_alerts_total", labels)] == 0


def test_poison_events_count_by_detector_and_stage_and_as_dead_letters() -> None:
    metrics = WorkerMetrics(DETECTORS, process=False)
    labels = {"detector": "minor_mass_add", "stage": "detect"}
    assert value(metrics, "guardline_processing_errors_total", **labels) == 0
    metrics.record_failures("detect", ["minor_mass_add", "minor_mass_add"])
    metrics.record_failures("route", ["new_contact_burst"])
    assert value(metrics, "guardline_processing_errors_total", **labels) == 2
    assert (
        value(
            metrics,
            "guardline_processing_errors_total",
            detector="new_contact_burst",
            stage="route",
        )
        == 1
    )
    assert value(metrics, "guardline_rejected_events_total", reason="processing_error") == 3


def test_route_batch_counts_types_reasons_and_the_batch() -> None:
    metrics = WorkerMetrics(DETECTORS, process=False)
    metrics.record_route({"MESSAGE_SENT": 5, "BLOCKED": 1}, ["bad_avro", "bad_avro"], 8, 0.02)
    assert value(metrics, "guardline_input_events_total", type="MESSAGE_SENT") == 5
    assert value(metrics, "guardline_input_events_total", type="BLOCKED") == 1
    assert value(metrics, "guardline_rejected_events_total", reason="bad_avro") == 2
    assert value(metrics, "guardline_batch_records_sum", stage="route") == 8
    assert value(metrics, "guardline_batch_records_count", stage="route") == 1
    assert value(metrics, "guardline_batch_processing_seconds_sum", stage="route") == 0.02


def test_alerts_updates_and_shadow_alerts_are_counted_apart() -> None:
    metrics = WorkerMetrics(DETECTORS, process=False)
    now_s = T0 / 1000 + 30
    metrics.record_alert(alert(), shadow=False, produced_s=now_s, ingest_s=now_s - 0.5)
    metrics.record_alert(alert(revision=2), shadow=False, produced_s=now_s, ingest_s=None)
    metrics.record_alert(alert("minor_mass_add"), shadow=True, produced_s=now_s, ingest_s=None)
    high = {"severity": "HIGH"}
    assert value(metrics, "guardline_alerts_total", detector="new_contact_burst", **high) == 1
    assert value(metrics, "guardline_case_updates_total", detector="new_contact_burst", **high) == 1
    assert value(metrics, "guardline_shadow_alerts_total", detector="minor_mass_add", **high) == 1
    assert value(metrics, "guardline_alerts_total", detector="minor_mass_add", **high) == 0
    assert value(metrics, "guardline_event_to_alert_seconds_count") == 3
    assert value(metrics, "guardline_event_to_alert_seconds_sum") == 90
    assert value(metrics, "guardline_ingest_to_alert_seconds_count") == 1
    assert value(metrics, "guardline_ingest_to_alert_seconds_sum") == 0.5


@settings(max_examples=50, deadline=None)
@given(st.integers(min_value=-(10**9), max_value=10**9))
def test_latency_is_never_negative(offset_ms: int) -> None:
    """A trigger in the future (clock skew) counts as 0, never shrinks the histogram's sum."""
    metrics = WorkerMetrics(DETECTORS, process=False)
    produced_s = T0 / 1000
    metrics.record_alert(
        alert(trigger=T0 + offset_ms), shadow=False, produced_s=produced_s, ingest_s=produced_s
    )
    got = value(metrics, "guardline_event_to_alert_seconds_sum")
    assert got == pytest.approx(max(0.0, -offset_ms / 1000), abs=1e-6)


def test_gauges_per_partition_and_forgetting_revoked_ones() -> None:
    metrics = WorkerMetrics(DETECTORS, process=False)
    metrics.set_lag("in", {0: 12, 1: 0})
    metrics.set_watermarks("route", {0: T0, 1: T0 + 1000})
    metrics.set_state({"new_contact_burst": (3, 300), "minor_mass_add": (0, 0)})
    assert value(metrics, "guardline_consumer_lag_records", topic="in", partition="0") == 12
    assert value(
        metrics, "guardline_watermark_timestamp_seconds", stage="route", partition="1"
    ) == ((T0 + 1000) / 1000)
    assert value(metrics, "guardline_state_keys", detector="new_contact_burst") == 3
    assert value(metrics, "guardline_state_bytes", detector="new_contact_burst") == 300
    metrics.forget_partitions("in", "route", [0])
    got = samples(metrics)
    assert ("guardline_consumer_lag_records", (("partition", "0"), ("topic", "in"))) not in got
    assert ("guardline_consumer_lag_records", (("partition", "1"), ("topic", "in"))) in got
    metrics.forget_partitions("in", "route", [7])  # unknown partition: nothing to drop, no error


def test_input_partitions_offsets_and_states_and_a_revoked_one_disappears() -> None:
    metrics = WorkerMetrics(DETECTORS, process=False)
    offsets = {"handed_on": 100, "fetched": 100, "committed": 90, "end": 160}
    metrics.set_input_partitions(
        {0: {**offsets, "fetched": None}, 1: offsets}, {0: {"held"}, 1: {"unfetched", "stalled"}}
    )
    got = samples(metrics)
    assert value(metrics, "guardline_input_offset", partition="1", position="end") == 160
    assert value(metrics, "guardline_input_offset", partition="1", position="committed") == 90
    assert ("guardline_input_offset", (("partition", "0"), ("position", "fetched"))) not in got
    states = {
        (dict(labels)["partition"], dict(labels)["state"]): v
        for (name, labels), v in got.items()
        if name == "guardline_input_fetch_state"
    }
    assert {k for k, v in states.items() if v == 1} == {
        ("0", "held"),
        ("1", "unfetched"),
        ("1", "stalled"),
    }
    assert len(states) == 2 * 6  # every state of every partition, 0 when not in it
    metrics.set_input_partitions({1: offsets}, {1: {"fetching"}})  # 0 revoked
    assert not any(dict(labels).get("partition") == "0" for _, labels in samples(metrics))


def test_process_metrics_are_included_by_default() -> None:
    names = {name for name, _ in samples(WorkerMetrics(DETECTORS))}
    assert "process_cpu_seconds_total" in names


def test_router_counts_valid_events_by_type_for_the_metrics() -> None:
    config = load_config(None)
    router: Router[int] = Router(config.active(), 4)
    events = [message(adult(), minor(f"m-{i}"), T0 + i) for i in range(3)]
    records = [(i, None, encode_event(e), i) for i, e in enumerate(events)]
    records.append((3, None, b"junk", 3))
    out: RouterOutput[int] = RouterOutput()
    router.route(0, records, out)
    assert out.by_type == {"MESSAGE_SENT": 3}
    assert [r.error.code for r in out.rejected] == ["undecodable"]


def test_family_sums_adds_label_sets_and_skips_comments() -> None:
    text = (
        "# HELP x_total help\n# TYPE x_total counter\n"
        'x_total{a="1"} 2.0\nx_total{a="2",b="x y"} 3.5\ny 7\n'
    )
    assert family_sums(text) == {"x_total": 5.5, "y": 7.0}


def test_every_checked_family_is_exported() -> None:
    assert set(CHECKED_FAMILIES) <= exported_series()


def test_decisions_and_suppressed_findings_are_counted_per_detector() -> None:
    from streams.model import Action, Decision

    metrics = WorkerMetrics(DETECTORS, process=False)
    subject = Subject(SubjectKind.ACCOUNT, "u-1")
    decisions = [
        Decision("d-1", "c", "new_contact_burst", subject, Action.CLEAR, T0, T0),
        Decision("d-2", "c", "new_contact_burst", subject, Action.CONFIRM, T0, T0),
        Decision("d-3", "c", "not_running_here", subject, Action.CONFIRM, T0, T0),
    ]
    metrics.record_decisions(decisions)
    metrics.record_suppressed({"minor_mass_add": 3})
    text = metrics.exposition().decode()
    assert 'guardline_decisions_total{action="CLEAR",detector="new_contact_burst"} 1.0' in text
    assert 'guardline_decisions_total{action="CONFIRM",detector="other"} 1.0' in text
    assert 'guardline_decisions_total{action="ESCALATE",detector="minor_mass_add"} 0.0' in text
    assert 'guardline_suppressed_findings_total{detector="minor_mass_add"} 3.0' in text
