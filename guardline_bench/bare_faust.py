"""Baseline 2: the framework floor, a bare Faust agent that only decodes and counts.

Run as its own process (`python -m guardline_bench.bare_faust STATS_FILE`), exactly like a
worker: same broker, same Avro events, same at-least-once app settings, no tables.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Any

import faust

from guardline_bench.stats import Counter
from streams import topics
from streams.adapters.faust.cluster import app_settings
from streams.broker import BOOTSTRAP_ENV
from streams.codec import decode_event
from streams.kafka_settings import current
from streams.validation import InvalidEvent


def main(stats_path: str, app_id: str) -> None:
    app = faust.App(
        app_id,
        broker=f"kafka://{os.environ[BOOTSTRAP_ENV]}",
        store="memory://",
        processing_guarantee="at_least_once",
        web_enabled=False,
        datadir=str(Path(stats_path).parent / app_id),
        **app_settings(current()),
    )
    topic = app.topic(
        topics.EVENTS.name,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
    )
    counter = Counter(Path(stats_path))

    @app.agent(topic)
    async def count(stream: Any) -> None:
        async for value in stream:
            with contextlib.suppress(InvalidEvent):
                decode_event(value)
            counter.add()

    async def flush() -> None:
        counter.flush()

    app.timer(interval=0.2)(flush)

    from faust.worker import Worker

    worker = Worker(app, loglevel="warning", quiet=True)
    worker.spinner = None  # as the Guardline worker does: the spinner turns on DEBUG logging
    worker.execute_from_commandline()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
