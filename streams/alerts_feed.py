"""Read alert topics: a live, human-readable tail and a JSON Lines export."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from kafka import KafkaConsumer

from streams import kafka_settings, topics
from streams.codec import SchemaResolver, decode_alert
from streams.fetch_pacing import FetchPacer
from streams.jsonl import alert_to_json, write_jsonl
from streams.model import Alert

SEVERITY_MARK = {"LOW": " ", "MEDIUM": "!", "HIGH": "!!", "CRITICAL": "!!!"}


def iter_alerts(
    bootstrap: str,
    topic: str = topics.ALERTS.name,
    *,
    from_beginning: bool = True,
    idle_timeout_s: float | None = None,
    stop: Callable[[], bool] = lambda: False,
    resolver: SchemaResolver | None = None,
) -> Iterator[Alert]:
    """Alerts as they arrive; ends after `idle_timeout_s` without any, or when `stop()`.

    Reads both framings; Confluent-framed alerts need `resolver` (the schema registry)."""
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest" if from_beginning else "latest",
        enable_auto_commit=False,
        **kafka_settings.current().kafka_python(),
    )
    # kafka-python's poll fetches again as soon as a fetch is answered, for its whole timeout:
    # on a broker that answers empty fetches at once (noida-db) an idle tail spun a core. So
    # each poll only collects what has arrived, and once polls have come back empty for a
    # while, the next waits as `FetchPacer` says (at most 0.1 s, on any broker: a person
    # reading a tail does not see it; a poll costs the tail more than a fetch the worker).
    pacer = FetchPacer(max_wait_s=float("inf"), cap_s=0.1)
    last = time.monotonic()
    try:
        while not stop():
            batch = consumer.poll(timeout_ms=0)
            for records in batch.values():
                for record in records:
                    last = time.monotonic()
                    yield decode_alert(record.value, resolver)
            if idle_timeout_s is not None and time.monotonic() - last > idle_timeout_s:
                return
            time.sleep(pacer.after_fetch(0.0, bool(batch), time.monotonic()))
    finally:
        consumer.close()


def format_alert(alert: Alert) -> str:
    when = datetime.fromtimestamp(alert.trigger_ts_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")
    rev = f" rev {alert.revision}" if alert.revision > 1 else ""
    return (
        f"{when}Z {alert.severity.value:<8} {SEVERITY_MARK[alert.severity.value]:<3} "
        f"{alert.detector:<20} {alert.subject.kind.value}:{alert.subject.id}{rev} "
        f"minors={alert.minors_exposed} score={alert.score:.2f}\n"
        f"    {alert.reason}"
    )


def export_alerts(
    bootstrap: str,
    dst: Path,
    topic: str,
    idle_timeout_s: float = 3.0,
    resolver: SchemaResolver | None = None,
) -> int:
    alerts = list(iter_alerts(bootstrap, topic, idle_timeout_s=idle_timeout_s, resolver=resolver))
    write_jsonl(dst, (alert_to_json(a) for a in alerts))
    return len(alerts)
