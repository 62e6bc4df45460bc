"""The hostile corpus through a real worker: every message dead-lettered once, with its rule's
reason; the good events between them still alert exactly as the backtest (issues 7, 18).

The corpus (`tests/hostile_corpus.py`, 12,000+ distinct messages, each breaking one contract
rule, its reason known from how it was built) is mixed into a small simulation's good events
and sent, all of it, to a running `guardline worker` without a schema registry (so every
Confluent-framed message is `unknown_schema`; `tests/test_hostile_corpus.py` checks those
against a registry). The guarantees: the worker stays up, the dead-letter topic holds each bad
message once with the rule's reason code and field and the original key and bytes, every
alert topic equals the backtest of the good events, and the worker's counters add up (records
read = valid + dead-lettered, rejections per reason code = the corpus's).
"""

from __future__ import annotations

import random
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka import KafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from streams import topics
from streams.backtest import run_backtest
from streams.broker import EmbeddedBroker
from streams.codec import encode_event
from streams.config import load_config
from streams.ops.launcher import free_port, start_worker, stop_worker, wait_ready
from streams.simulate import simulate
from tests.hostile_corpus import build_corpus
from tests.streaming import assert_same_outputs, message_count, wait_drained
from tests.test_resilience import SMALL

pytestmark = [pytest.mark.broker, pytest.mark.slow]


def metric_samples(port: int) -> list[tuple[str, dict[str, str], float]]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    return [
        (s.name, s.labels, s.value)
        for family in text_string_to_metric_families(text)
        for s in family.samples
    ]


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[str]:
    with EmbeddedBroker(data_dir=tmp_path / "broker") as b:
        topics.ensure_topics(b.bootstrap)
        yield b.bootstrap


def test_every_hostile_message_is_dead_lettered_with_its_reason_and_good_ones_still_alert(
    broker: str, tmp_path: Path
) -> None:
    bad = build_corpus()
    good = simulate(SMALL).events
    config = load_config()
    expected = run_backtest(good, config)
    # Bad messages land between good ones at random places; good ones keep their order.
    rng = random.Random(7)
    slots = sorted(rng.randrange(len(good) + 1) for _ in bad)

    port = free_port()
    proc, ready, log = start_worker(broker, tmp_path, app_id="fuzz", metrics_port=port)
    try:
        wait_ready(proc, ready, log, timeout_s=60)
        producer = KafkaProducer(
            bootstrap_servers=broker, acks="all", linger_ms=20, max_request_size=4 << 20
        )
        b = 0
        for i, event in enumerate([*good, None]):
            while b < len(bad) and slots[b] == i:
                producer.send(topics.EVENTS.name, key=bad[b].key, value=bad[b].value)
                b += 1
            if event is not None:
                producer.send(
                    topics.EVENTS.name, key=event.actor.id.encode(), value=encode_event(event)
                )
        producer.flush()
        producer.close()
        total = len(good) + len(bad)
        assert message_count(broker, topics.EVENTS.name) == total
        got = wait_drained(broker, "fuzz", timeout_s=300)
        samples = metric_samples(port)
        assert proc.poll() is None, "the worker died"
    finally:
        stop_worker(proc)
    text = log.read_text(errors="replace")
    assert "Traceback" not in text
    # Privacy: the log names partitions and counts, never an id, a device or an IP hash.
    raw_ids = {e.event_id for e in good} | {e.actor.id for e in good}
    raw_ids |= {h for e in good for h in (e.device_hash, e.ip_hash, e.group_id) if h}
    assert not [i for i in raw_ids if i in text]

    # Each bad message once, with its rule's reason and field, its original key and bytes;
    # every alert topic as the backtest of the good events.
    letters = Counter(
        (m.key, m.value or b"", *m.expected(registry=False)) for m in bad
    )  # fmt: skip
    assert_same_outputs(got, expected, config, letters)
    assert all(d.reason and d.source_topic == topics.EVENTS.name for d in got.dead_letters)
    # The worker's own books: in = processed + dead-lettered, and per reason code.
    rejected = Counter(m.expected(registry=False)[0] for m in bad)
    counted = {
        labels["reason"]: value
        for name, labels, value in samples
        if name == "guardline_rejected_events_total"
    }
    assert {code: n for code, n in counted.items() if n} == rejected
    read = sum(
        value
        for name, labels, value in samples
        if name == "guardline_batch_records_sum" and labels["stage"] == "route"
    )
    valid = sum(value for name, _l, value in samples if name == "guardline_input_events_total")
    assert (read, valid) == (total, len(good))
    distinct = len({m.value for m in bad})
    print(
        f"\nfuzz: {total} in = {len(good)} valid + {len(bad)} hostile ({distinct} distinct"
        f" values) dead-lettered {len(got.dead_letters)}; {len(got.alerts)} alerts ="
        f" backtest; rejected by reason {dict(sorted(rejected.items()))}"
    )
