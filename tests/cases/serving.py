"""Run `guardline cases serve` as a real process for tests; read its store from outside."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kafka import KafkaProducer

from streams import topics
from streams.codec import encode_alert
from streams.model import Alert, Severity


def start_serve(
    bootstrap: str, db: Path, log: Path, *extra: str
) -> tuple[subprocess.Popen[bytes], str]:
    """The process and its URL (printed once the server listens)."""
    cmd = [sys.executable, "-m", "streams", "cases", "serve", "--db", str(db),
           "--bootstrap", bootstrap, "--port", "0", *extra]  # fmt: skip
    out = log.open("ab")
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=os.environ.copy())
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = re.search(r"cases: (http://\S+/)", log.read_text(errors="replace"))
        if found:
            return proc, found.group(1)
        if proc.poll() is not None:
            raise AssertionError(f"cases serve exited {proc.returncode}: {log.read_text()}")
        time.sleep(0.2)
    proc.kill()
    raise AssertionError(f"cases serve printed no URL: {log.read_text()}")


@contextmanager
def serving(bootstrap: str, db: Path | str, log: Path, *extra: str) -> Iterator[str]:
    proc, url = start_serve(bootstrap, db, log, *extra)
    try:
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def query(db: Path | str, sql: str) -> list[tuple[object, ...]]:
    """Rows from a store, read from outside the server ([] before its migrations)."""
    if str(db).startswith("postgresql://"):
        import psycopg

        with psycopg.connect(str(db)) as conn:
            try:
                return list(conn.execute(sql).fetchall())
            except psycopg.errors.UndefinedTable:
                return []
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        try:
            return list(conn.execute(sql).fetchall())
        except sqlite3.OperationalError:  # not migrated yet
            return []


def count(db: Path | str, table: str) -> int:
    rows = query(db, f"SELECT COUNT(*) FROM {table}")
    return int(str(rows[0][0])) if rows else 0


def publish(bootstrap: str, alerts: list[Alert]) -> None:
    """As a worker does: every alert on the alert topic, HIGH and CRITICAL also on priority."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    for a in alerts:
        key = f"{a.subject.kind.value}:{a.subject.id}".encode()
        producer.send(topics.ALERTS.name, key=key, value=encode_alert(a))
        if a.severity.rank >= Severity.HIGH.rank:
            producer.send(topics.PRIORITY.name, key=key, value=encode_alert(a))
    producer.flush()
    producer.close()
