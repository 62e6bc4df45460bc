"""A flush's steps as metrics (`streams/ops/pipeline_metrics.py`), on the in-memory adapter:
what is counted is what was fed in and what was published."""

from __future__ import annotations

from streams import topics
from streams.adapters.memory import run_now
from streams.codec import decode_alert
from streams.config import load_config
from streams.model import EventType
from streams.ops.metrics import WorkerMetrics
from streams.ops.pipeline_metrics import StepMetrics, record_gauges
from streams.pipeline.flush import flush
from tests.ops.test_metrics import value
from tests.pipeline.test_stage import attack, loaded

EVENTS, ROUTED = topics.EVENTS.name, topics.ROUTED.name


def test_route_and_detect_steps_are_counted() -> None:
    events = attack()  # 20 first contacts with minors: alerts once released
    adapter = loaded(events)
    adapter.log.append(EVENTS, b"k", b"not avro")  # one refused record
    names = [d.name for d in load_config().active()]
    metrics = WorkerMetrics(names, process=False)
    observer = StepMetrics(metrics)
    pipeline = adapter.pipeline
    for heartbeats in (False, False, True, False):  # route, detect, idle heartbeat, release
        batches = {name: adapter._take(name) for name in (EVENTS, ROUTED)}
        run_now(
            flush(
                pipeline,
                batches,
                adapter,
                revocations=pipeline.revocations,
                heartbeats=heartbeats,
                caught_up=adapter._caught_up,
                observer=observer,
            )
        )
    alerts = [decode_alert(v) for _k, v in adapter.log.records(topics.ALERTS.name)]
    assert alerts
    sent = EventType.MESSAGE_SENT.value
    assert value(metrics, "guardline_input_events_total", type=sent) == len(events)
    assert value(metrics, "guardline_rejected_events_total", reason="undecodable") == 1
    assert value(metrics, "guardline_batch_records_sum", stage="route") == len(events) + 1
    counted = sum(
        value(metrics, "guardline_alerts_total", detector=a.detector, severity=a.severity.value)
        + value(
            metrics, "guardline_case_updates_total", detector=a.detector, severity=a.severity.value
        )
        for a in {(a.detector, a.severity): a for a in alerts}.values()
    )
    assert counted == len(alerts)
    record_gauges(metrics, pipeline, {EVENTS: {0: 3}}, state=True)
    assert value(metrics, "guardline_consumer_lag_records", topic=EVENTS, partition="0") == 3
    held = [s for rt in pipeline.runtimes.values() for s in rt.engine.subjects.values()]
    keys = sum(value(metrics, "guardline_state_keys", detector=name) for name in names)
    assert keys == sum(len(state.detector_states) for state in held) > 0
