"""The pipeline's contract, held against every adapter: in memory (milliseconds) and Faust on a
real broker (a worker process on a noida-db of its own, seconds).

- Alerts are the backtest's, content and all (but `emitted_at_ms`), whatever the adapter.
- Fan-out: HIGH and CRITICAL alerts also on the priority topic, nothing else there; a shadow
  detector's alerts on the shadow topic only.
- Routing: each routed packet sits in the partition of its subjects (crc32(subject) % N).
- Dead letters: each refused record once, with its key, bytes and reason code; good records
  around it still alert.
- At the end every input and routed record is committed.
"""

from __future__ import annotations

import dataclasses
import zlib
from collections import Counter
from pathlib import Path

import pytest

import streams
from streams import topics
from streams.backtest import run_backtest
from streams.codec import decode_alert, decode_dead_letter, encode_event
from streams.config import Mode, load_config
from streams.model import Alert, Event, Severity
from streams.pipeline.envelope import unpack
from tests.contract.harness import ADAPTERS, Inputs, Outcome
from tests.factories import MIN, T0, adult, message, minor

DEMO = Path(streams.__file__).parent / "defaults" / "demo.toml"  # + a shadow candidate
PARTITIONS = topics.DEFAULT_PARTITIONS

adapters = pytest.mark.parametrize(
    "adapter",
    ["memory", pytest.param("faust", marks=[pytest.mark.broker, pytest.mark.slow])],
)


def inputs(events: list[Event]) -> Inputs:
    return [(e.actor.id.encode(), encode_event(e)) for e in events]


def content(alert: Alert) -> Alert:
    return dataclasses.replace(alert, emitted_at_ms=0)


def ids(alerts: list[Alert]) -> Counter[tuple[str, int]]:
    return Counter((a.alert_id, a.revision) for a in alerts)


def attack() -> list[Event]:
    """An anonymous adult first-contacting 20 minors within 20 minutes (HIGH), another one
    contacting 8 (only the tighter shadow candidate alerts), and adults chatting among
    themselves: ~130 events from ~40 actors, so every input partition carries some."""
    attacker, lurker = adult("u-attacker", anonymous=True), adult("u-lurker")
    events = [message(attacker, minor(f"m-{i}"), T0 + i * MIN, eid=f"c-{i}") for i in range(20)]
    events += [message(lurker, minor(f"n-{i}"), T0 + i * 90_000, eid=f"l-{i}") for i in range(8)]
    for i in range(100):
        a, b = adult(f"a-{i % 40}"), adult(f"a-{(i * 7 + 1) % 40}")
        events.append(message(a, b, T0 + i * 17_000, eid=f"n-{i}"))
    return events


def check_common(outcome: Outcome) -> None:
    assert outcome.lag == {topics.EVENTS.name: 0, topics.ROUTED.name: 0}
    for partition, _key, value in outcome.records[topics.ROUTED.name]:
        packet = unpack(value)
        assert all(
            zlib.crc32(subject.encode()) % PARTITIONS == partition
            for subject, _e, _names in packet.items
        )


@adapters
def test_alerts_are_the_backtests_and_fan_out_by_severity_and_mode(
    adapter: str, tmp_path: Path
) -> None:
    events = attack()
    config = load_config(DEMO)
    expected = [content(a) for a in run_backtest(events, config)]
    shadow = [a for a in expected if config.mode_of(a.detector) is Mode.SHADOW]
    enforced = [a for a in expected if config.mode_of(a.detector) is not Mode.SHADOW]
    assert shadow and any(a.severity.rank >= Severity.HIGH.rank for a in enforced)

    outcome = ADAPTERS[adapter](inputs(events), DEMO, tmp_path)

    check_common(outcome)
    alerts = [content(decode_alert(v)) for v in outcome.values(topics.ALERTS.name)]
    assert sorted(alerts, key=repr) == sorted(enforced, key=repr)
    priority = [content(decode_alert(v)) for v in outcome.values(topics.PRIORITY.name)]
    high = [a for a in enforced if a.severity.rank >= Severity.HIGH.rank]
    assert ids(priority) == ids(high)
    got_shadow = [content(decode_alert(v)) for v in outcome.values(topics.SHADOW.name)]
    assert sorted(got_shadow, key=repr) == sorted(shadow, key=repr)
    keys = {v: k for _p, k, v in outcome.records[topics.ALERTS.name]}
    assert all(k == f"{decode_alert(v).subject.kind.value}:{decode_alert(v).subject.id}".encode()
               for v, k in keys.items())  # fmt: skip
    assert not outcome.records[topics.DEAD_LETTER.name]


BAD = {
    b"not avro at all": "undecodable",
    b"\xc3\x01" + b"\x00" * 8 + b"body": "unknown_schema",
}


@adapters
def test_refused_records_are_dead_lettered_once_and_good_ones_still_alert(
    adapter: str, tmp_path: Path
) -> None:
    attacker = adult("u-attacker", anonymous=True)
    good = [message(attacker, minor(f"m-{i}"), T0 + i * MIN, eid=f"d-{i}") for i in range(20)]
    truncated = encode_event(good[0])[:-3]
    bad = {**BAD, truncated: "bad_avro"}
    records = inputs(good)
    mixed = records[:5] + [(b"u-x", v) for v in bad] + records[5:]

    outcome = ADAPTERS[adapter](mixed, None, tmp_path)

    check_common(outcome)
    letters = [
        (key, decode_dead_letter(value))
        for _p, key, value in outcome.records[topics.DEAD_LETTER.name]
    ]
    assert sorted((d.original_value, d.reason_code) for _k, d in letters) == sorted(bad.items())
    assert all(key == d.original_key == b"u-x" for key, d in letters)
    assert all(d.reason and d.source_topic == topics.EVENTS.name for _k, d in letters)
    expected = [content(a) for a in run_backtest(good, load_config())]
    alerts = [content(decode_alert(v)) for v in outcome.values(topics.ALERTS.name)]
    assert expected and sorted(alerts, key=repr) == sorted(expected, key=repr)


def test_the_in_memory_runs_take_well_under_a_second(tmp_path: Path) -> None:
    outcome = ADAPTERS["memory"](inputs(attack()), DEMO, tmp_path)
    assert outcome.seconds < 0.25, outcome.seconds
