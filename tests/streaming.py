"""Helpers for tests that run real workers against a real broker."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kafka import KafkaConsumer

from streams import topics
from streams.codec import DeadLetter, decode_alert, decode_dead_letter
from streams.model import Alert
from streams.worker.launcher import start_worker, stop_worker, wait_ready


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
