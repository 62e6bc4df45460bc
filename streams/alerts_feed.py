"""Read alert topics: a live tail (for people or, with JSON, for a script) and an export.

The tail is what a moderation queue sees: the priority topic by default, each case once per
revision (`Dedupe`: a redelivered copy of an `(alert_id, revision)` is shown once), with its
id and revision so a ticket can be found and updated.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
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
        if topic not in consumer.topics():  # subscribing would wait for it silently, forever
            raise topics.UnknownTopic(topic, bootstrap)
        consumer.subscribe([topic])
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


class Dedupe:
    """Each `(alert_id, revision)` once, as the README asks of every consumer: a worker that
    crashed between publishing an alert and committing its input publishes it again. Keeps
    the highest revision seen per case, for the most recent `max_cases` cases."""

    def __init__(self, max_cases: int = 100_000) -> None:
        self.max_cases = max_cases
        self._revision: OrderedDict[str, int] = OrderedDict()

    def fresh(self, alert: Alert) -> bool:
        seen = self._revision.get(alert.alert_id, 0)
        if alert.revision <= seen:
            return False
        self._revision[alert.alert_id] = alert.revision
        self._revision.move_to_end(alert.alert_id)
        if len(self._revision) > self.max_cases:
            self._revision.popitem(last=False)
        return True


def format_alert(alert: Alert) -> str:
    when = datetime.fromtimestamp(alert.trigger_ts_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")
    return (
        f"{when}Z {alert.severity.value:<8} {SEVERITY_MARK[alert.severity.value]:<3} "
        f"{alert.detector:<20} {alert.subject.kind.value}:{alert.subject.id} "
        f"minors={alert.minors_exposed} score={alert.score:.2f} "
        f"case {alert.alert_id} rev {alert.revision}\n"
        f"    {alert.reason}"
    )


def format_json(alert: Alert) -> str:
    """One line of JSON, the fields of `alerts export` and `backtest -o`."""
    return json.dumps(alert_to_json(alert), separators=(",", ":"))


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
