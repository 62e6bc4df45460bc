"""`guardline backtest --from-topic` against the real broker: the alerts of a file backtest of
the same events, for the whole topic and for a time range (offsets for times)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from streams import topics
from streams.cli import main
from streams.jsonl import event_to_json, write_jsonl
from streams.produce import make_producer, send_events
from streams.simulate import SimulationConfig, simulate

pytestmark = pytest.mark.broker

EVENTS = simulate(SimulationConfig(seed=7, events_target=20_000)).events[:12_000]


def backtest(tmp_path: Path, name: str, *args: str) -> list[str]:
    out = tmp_path / f"{name}.jsonl"
    assert main(["backtest", *args, "-o", str(out), "--jobs", "1"]) == 0
    return [_without_emission_time(line) for line in out.read_text().splitlines()]


def _without_emission_time(line: str) -> str:
    head, _, tail = line.partition('"emitted_at":')
    return head + tail.partition(",")[2]


def test_a_topic_range_gives_the_alerts_of_a_file_of_its_events(
    bootstrap: str, unique_suffix: str, tmp_path: Path
) -> None:
    topic = f"backtest-replay-{unique_suffix}"
    topics.ensure_specs(bootstrap, [topics.TopicSpec(topic, -1, "actor.id", "test input")])
    early, late = EVENTS[:6_000], EVENTS[6_000:]
    producer = make_producer(bootstrap)
    send_events(producer, early, topic=topic)
    time.sleep(0.05)
    between_ms = int(time.time() * 1000)
    time.sleep(0.05)
    send_events(producer, late, topic=topic)
    producer.close()

    def from_file(name: str, events: list[object]) -> list[str]:
        src = tmp_path / f"{name}-events.jsonl"
        write_jsonl(src, (event_to_json(e) for e in events))  # type: ignore[arg-type]
        return backtest(tmp_path, f"{name}-file", str(src))

    common = ["--bootstrap", bootstrap, "--from-topic", topic]
    whole = backtest(tmp_path, "whole", *common)
    assert whole == from_file("whole", EVENTS) and len(whole) > 5
    after = backtest(tmp_path, "after", *common, "--since", str(between_ms))
    assert after == from_file("late", late)
    before = backtest(tmp_path, "before", *common, "--until", str(between_ms))
    assert before == from_file("early", early)
    assert after and before and after != whole and before != whole
