"""Baseline 6, the peer: new_contact_burst's fast window written the obvious way in Quix Streams.

Distinct minors first-contacted by an adult per account, in a one-hour event-time tumbling
window, kept in Quix's RocksDB state; an account at 15 or more is flagged. This is what a user
would write instead of Guardline (one feature, no cases, no evidence). Run as its own process
(`python -m guardline_bench.quix_peer STATS_FILE GROUP EXPECTED`); needs the `bench` extra.
"""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from quixstreams import Application
from quixstreams.kafka.configuration import ConnectionConfig
from quixstreams.models.serializers import Deserializer

from guardline_bench.stats import Counter
from streams import topics
from streams.broker import BOOTSTRAP_ENV
from streams.codec import decode_event
from streams.detectors.contacts import adult_reaches_minor
from streams.kafka_settings import current
from streams.model import Event, EventType
from streams.validation import InvalidEvent

FAST_HIGH = 15


class AvroEvents(Deserializer):  # type: ignore[misc,unused-ignore]  # Any when not installed
    def __call__(self, value: bytes, ctx: Any) -> Event | None:
        try:
            return decode_event(value)
        except InvalidEvent:
            return None


def is_burst_contact(event: Event | None) -> bool:
    return (
        event is not None
        and event.target is not None
        and event.type in (EventType.MESSAGE_SENT, EventType.CONTACT_ADDED)
        and bool(event.first_contact)
        and adult_reaches_minor(event.actor.age_band, event.target.age_band)
    )


def add_distinct(seen: list[str], target: str) -> list[str]:
    return seen if target in seen else [*seen, target]


def main(stats_path: str, group: str, expected: int) -> None:
    counter = Counter(Path(stats_path))
    connection = {"bootstrap.servers": os.environ[BOOTSTRAP_ENV], **current().librdkafka()}
    app = Application(
        broker_address=ConnectionConfig.from_librdkafka_dict(connection),
        consumer_group=group,
        auto_offset_reset="earliest",
        state_dir=str(Path(stats_path).parent / group),
        loglevel="WARNING",
    )
    topic = app.topic(
        topics.EVENTS.name,
        value_deserializer=AvroEvents(),  # type: ignore[no-untyped-call,unused-ignore]
        timestamp_extractor=lambda value, *_: value.ts_ms if value is not None else 0,
    )

    def count(_: Any) -> None:
        counter.add()
        if counter.count >= expected:
            counter.flush()
            app.stop()

    sdf = app.dataframe(topic)
    sdf = sdf.update(count)
    sdf = sdf.filter(is_burst_contact)
    sdf = sdf.apply(lambda event: event.target.id)
    sdf = (
        sdf.tumbling_window(timedelta(hours=1))
        .reduce(reducer=add_distinct, initializer=lambda target: [target])
        .current()
    )
    sdf = sdf.filter(lambda window: len(window["value"]) >= FAST_HIGH)
    app.run()
    counter.flush()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
