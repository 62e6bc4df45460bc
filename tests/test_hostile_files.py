"""Hostile files and configs: `produce` and `backtest` report bad lines, never crash (issue 7).

Behaviour (README, CLI tour): every bad line is reported as `FILE:LINE: field: reason`, every
good line is still sent (produce) or replayed (backtest), and the exit code is 1 when any line
was bad. A config with an unknown key or a bad value is refused before anything starts, every
problem at once, each naming its key; exit code 2.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams import topics
from streams.backtest import backtest_file, run_backtest
from streams.broker import EmbeddedBroker
from streams.cli import main
from streams.config import ConfigError, load_config, parse_config
from streams.jsonl import alert_from_json, event_to_json, read_events
from streams.produce import produce_file
from streams.simulate import simulate
from tests.streaming import message_count
from tests.test_resilience import SMALL

GOOD: dict[str, Any] = {
    "event_id": "f-1", "type": "MESSAGE_SENT", "ts": 1_795_000_000_000,
    "actor": {"id": "u-a", "age_band": "AGE_21_PLUS"},
    "target": {"id": "u-b", "age_band": "AGE_13_15"}, "first_contact": True,
}  # fmt: skip
FIELDS = ["event_id", "type", "ts", "actor", "target"]
junk = st.one_of(
    st.integers(),
    st.floats(allow_nan=False),
    st.booleans(),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
one_line = st.text(
    st.characters(
        exclude_categories=("Cs",), exclude_characters="\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
    )
)


@st.composite
def bad_line(draw: st.DrawFn) -> bytes:
    """One line that is not a valid event, in the ways files go wrong."""
    kind = draw(st.integers(0, 12))
    doc = json.loads(json.dumps(GOOD))
    if kind == 0:
        text = draw(one_line.filter(lambda t: t.strip() and not t.strip().startswith("{")))
        return text.encode()
    if kind == 1:
        return b"\xff\xfe" + draw(st.binary(max_size=30)).replace(b"\n", b"")
    if kind == 2:
        del doc[draw(st.sampled_from(FIELDS))]
    elif kind == 3:
        doc[draw(st.text(min_size=1, max_size=8).filter(lambda k: k not in GOOD))] = 1
    elif kind == 4:
        doc[draw(st.sampled_from(FIELDS))] = draw(junk)
    elif kind == 5:
        doc["type"] = draw(st.text(max_size=20).filter(lambda t: t != "MESSAGE_SENT"))
    elif kind == 6:
        doc[draw(st.sampled_from(["event_id", "device_hash"]))] = "x" * draw(st.integers(257, 5000))
    elif kind == 7:
        doc["ts"] = list(range(draw(st.integers(1000, 20000))))  # a huge array
    elif kind == 8:
        doc["ts"] = draw(
            st.one_of(st.integers(max_value=946_684_799_999), st.integers(4_102_444_800_000))
        )
    elif kind == 9:
        doc["ts"] = "2026-11-22T10:00:00"  # no zone
    elif kind == 10:
        doc["target"]["id"] = "u-a"  # self-contact
    elif kind == 11:
        doc[draw(st.sampled_from(["event_id", "group_id", "ip_hash"]))] = ""
    else:
        depth = draw(st.integers(2_000, 200_000))
        return b"[" * depth + b"]" * depth  # recursion bomb
    return json.dumps(doc).encode()


def hostile_file(path: Path, seed: int, bad_lines: int) -> tuple[list[int], int]:
    """SMALL's events as JSON Lines with `bad_lines` drawn bad lines at random places.

    Returns (line numbers of the bad lines, number of good lines)."""
    bad: list[bytes] = []

    @settings(max_examples=bad_lines // 20, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(st.lists(bad_line(), min_size=20, max_size=20))
    def draw(lines: list[bytes]) -> None:
        bad.extend(lines)

    draw()
    good = [json.dumps(event_to_json(e)).encode() for e in simulate(SMALL).events]
    rng = random.Random(seed)
    lines: list[tuple[bool, bytes]] = [(False, g) for g in good]
    for b in bad:
        lines.insert(rng.randrange(len(lines) + 1), (True, b))
    path.write_bytes(b"\n".join(line for _, line in lines) + b"\n")
    return [n for n, (is_bad, _) in enumerate(lines, start=1) if is_bad], len(good)


def reported_lines(errors: list[str], path: Path) -> list[int]:
    return [int(e.removeprefix(f"{path}:").split(":", 1)[0]) for e in errors]


def test_backtest_reports_every_bad_line_and_replays_the_good_ones(tmp_path: Path) -> None:
    path = tmp_path / "hostile.jsonl"
    bad, good = hostile_file(path, seed=1, bad_lines=2000)
    out = tmp_path / "alerts.jsonl"
    report = backtest_file(path, out, load_config())
    assert reported_lines(report.errors, path) == bad
    assert all(e.count(":") >= 2 for e in report.errors)  # FILE:LINE: reason
    assert report.events == good
    expected = run_backtest(simulate(SMALL).events, load_config())
    got = [alert_from_json(json.loads(line)) for line in out.read_text().splitlines()]
    assert [(a.alert_id, a.revision) for a in got] == [(a.alert_id, a.revision) for a in expected]
    assert main(["backtest", str(path), "-o", str(out)]) == 1


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[str]:
    with EmbeddedBroker(data_dir=tmp_path / "broker") as b:
        topics.ensure_topics(b.bootstrap)
        yield b.bootstrap


@pytest.mark.broker
def test_produce_reports_every_bad_line_and_sends_the_good_ones(
    broker: str, tmp_path: Path
) -> None:
    path = tmp_path / "hostile.jsonl"
    bad, good = hostile_file(path, seed=2, bad_lines=1000)
    report = produce_file(path, broker, show_progress=False)
    assert reported_lines(report.errors, path) == bad
    assert report.sent == good
    assert message_count(broker, topics.EVENTS.name) == good
    assert main(["produce", "--bootstrap", broker, str(path)]) == 1


def test_every_bad_line_kind_is_refused_with_a_reason_code(tmp_path: Path) -> None:
    """The strategy above really makes bad lines: the reader refuses each, none crashes."""
    path = tmp_path / "bad.jsonl"

    @settings(max_examples=300, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(bad_line())
    def check(line: bytes) -> None:
        path.write_bytes(line + b"\n")
        [(number, item)] = list(read_events(path))
        assert number == 1 and not isinstance(item, dict)
        assert getattr(item, "code", None), item

    check()


# --- Config files: unknown keys and bad values are refused at start, naming the key --------

BAD_CONFIGS = {
    "[engine]\nallowed_lateness_ms = -5\n": "engine.allowed_lateness_ms: -5 must be >= 0",
    "[engine]\nallowed_latenes_ms = 5\n": "engine.allowed_latenes_ms: unknown key",
    "[engine]\nupdate_growth = inf\n": "engine.update_growth: inf must be a finite number",
    "[engine]\nescalate_from = 'high'\n": "engine.escalate_from: 'high' is not one of LOW",
    "[engine]\ncooldown_ms = true\n": "engine.cooldown_ms: True must be an integer",
    "[enigne]\ncooldown_ms = 1\n": "enigne: unknown section",
    "[detectors.no_such]\nmode = 'off'\n": "detectors.no_such: unknown detector",
    "[detectors.new_contact_burst]\nmode = 'loud'\n": "detectors.new_contact_burst.mode: 'loud'",
    "[detectors]\nnew_contact_burst = 3\n": "detectors.new_contact_burst: must be a table",
    "detectors = 3\n": "detectors: must be a table",
    "[engine\n": "cannot read",
}


@pytest.mark.parametrize("text", list(BAD_CONFIGS))
def test_bad_config_is_refused_naming_the_key(text: str, tmp_path: Path) -> None:
    cfg = tmp_path / "guardline.toml"
    cfg.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(cfg)
    assert BAD_CONFIGS[text] in str(err.value)


def test_every_config_problem_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config({"engine": {"cooldown_ms": -1, "bogus": 1}, "extra": {}})
    assert len(err.value.problems) == 3


def test_worker_with_a_bad_config_fails_fast_before_touching_kafka(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[detectors.new_contact_burst]\nfast_hihg = 3\n")
    # Nothing listens on port 1: the worker must refuse the config before it tries Kafka.
    args = ["worker", "--bootstrap", "127.0.0.1:1", "--config", str(cfg)]
    assert main([*args, "--data-dir", str(tmp_path / "w")]) == 2
    assert "detectors.new_contact_burst.fast_hihg: unknown key" in capsys.readouterr().err
