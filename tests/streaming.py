"""Helpers for tests that run real workers against a real broker."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from streams import topics
from streams.codec import DeadLetter, decode_alert, decode_dead_letter
from streams.model import Alert
from streams.ops.launcher import start_worker, stop_worker, wait_ready


@contextmanager
def running_worker(bootstrap: str, work_dir: Path, app_id: str, *extra: str) -> Iterator[Path]:
    """A `guardline worker` process, ready (partitions assigned); yields its log path."""
    proc, ready, log_path = start_worker(bootstrap, work_dir, app_id=app_id, extra=extra)
    try:
        wait_ready(proc, ready, log_path, timeout_s=60)
        yield log_path
    finally:
        stop_worker(proc)


def _drain(bootstrap: str, topic: str) -> list[bytes]:
    consumer = KafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None,
        enable_auto_commit=False, consumer_timeout_ms=1500,
    )  # fmt: skip
    try:
        return [record.value for record in consumer]
    finally:
        consumer.close()


def read_alerts(bootstrap: str, topic: str = topics.ALERTS.name) -> list[Alert]:
    return [decode_alert(v) for v in _drain(bootstrap, topic)]


def read_dead_letters(bootstrap: str) -> list[DeadLetter]:
    return [decode_dead_letter(v) for v in _drain(bootstrap, topics.DEAD_LETTER.name)]


def wait_for(predicate, timeout_s: float, what: str, interval_s: float = 1.0):  # type: ignore[no-untyped-def]
    """Poll until `predicate()` returns something truthy; fail with `what` on timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")
        time.sleep(interval_s)


def committed_total(bootstrap: str, group_id: str, topic: str) -> int:
    """Sum of the group's committed offsets on `topic` (0 where nothing is committed)."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        count = len(admin.describe_topics([topic])[0]["partitions"])
        tps = [TopicPartition(topic, p) for p in range(count)]
        committed = admin.list_group_offsets({group_id: tps}).get(group_id, {})
    finally:
        admin.close()
    return sum(max(0, meta.offset) for meta in committed.values())


def message_count(bootstrap: str, topic: str) -> int:
    """Messages on `topic` (sum of end offsets): a cheap progress probe, no consumer needed."""
    return next(
        (t["end_offsets"] for t in topics.describe_topics(bootstrap) if t["name"] == topic), 0
    )


def drained(bootstrap: str, group_id: str) -> bool:
    """Whether the worker group has committed everything on the input and routed topics."""
    return all(
        sum(topics.consumer_lag(bootstrap, group_id, spec.name).values()) == 0
        for spec in (topics.EVENTS, topics.ROUTED)
    )


def final_cases(alerts: list[Alert]) -> dict[str, int]:
    """What a moderation queue keeps: each case (alert_id) at its highest revision."""
    cases: dict[str, int] = {}
    for alert in alerts:
        cases[alert.alert_id] = max(cases.get(alert.alert_id, 0), alert.revision)
    return cases


def redeliveries(alerts: list[Alert]) -> int:
    """Extra copies of an (alert_id, revision) already published (at-least-once redelivery)."""
    return len(alerts) - len({(a.alert_id, a.revision) for a in alerts})
