"""Every path of the streaming backtest gives the in-memory backtest's alerts, byte for byte.

The oracle is `streams.backtest.run_backtest` (every event in memory, one sort) over the same
events; the files are written from the simulation in the order each path needs: in time
order, disordered by less than the allowed lateness (the reorder buffer), shuffled (the
external sort, with runs of a few hundred events), gzip and zstd, one job and two.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import random
from pathlib import Path

import pytest
import zstandard

from streams.backtest import backtest_file, run_backtest
from streams.backtesting.run import Clock, backtest_source
from streams.backtesting.source import FileEvents
from streams.config import load_config
from streams.jsonl import alert_from_json, alert_to_json, event_to_json, json_line, read_events
from streams.model import Action, Decision, Event
from streams.simulate import SimulationConfig, simulate
from tests.poison import failing_step

CONFIG = load_config()
EVENTS = simulate(SimulationConfig(seed=1, events_target=20_000)).events[:12_000]


def oracle(events: list[Event]) -> str:
    """`run_backtest`'s alerts as written by the backtest, emitted at 0 (it uses the wall clock)."""
    alerts = [dataclasses.replace(a, emitted_at_ms=0) for a in run_backtest(events, CONFIG)]
    return "".join(json_line(alert_to_json(a)) for a in alerts)


ORACLE = oracle(EVENTS)


def write(path: Path, events: list[Event], extra: dict[int, str] | None = None) -> Path:
    """Events as JSON Lines; `extra` inserts raw lines before the event at that index."""
    lines = []
    for i, event in enumerate(events):
        if extra and i in extra:
            lines.append(extra[i])
        lines.append(json_line(event_to_json(event)))
    text = "".join(lines).encode()
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text))
    elif path.suffix == ".zst":
        path.write_bytes(zstandard.ZstdCompressor().compress(text))
    else:
        path.write_bytes(text)
    return path


def backtest(src: Path, tmp_path: Path, jobs: int = 1, **kw: int) -> tuple[str, str, list[str]]:
    dst = tmp_path / f"alerts-{src.name}-{jobs}.jsonl"
    report = backtest_source(lambda: FileEvents(src), dst, CONFIG, jobs=jobs, clock=Clock(0), **kw)
    assert report.alerts == len(dst.read_text().splitlines())
    return dst.read_text(), report.order, report.errors


def jittered(events: list[Event], within_ms: int, seed: int) -> list[Event]:
    """Disordered the way a producer does: each event late by up to `within_ms`."""
    rng = random.Random(seed)
    keyed = [(e.ts_ms + rng.randrange(within_ms), i, e) for i, e in enumerate(events)]
    return [e for _k, _i, e in sorted(keyed)]


def test_the_simulation_reaches_alerts_for_these_tests_to_mean_anything() -> None:
    assert ORACLE.count("\n") > 10


@pytest.mark.parametrize("name", ["in-order.jsonl", "in-order.jsonl.gz", "in-order.jsonl.zst"])
def test_a_file_in_time_order_goes_through_the_reorder_buffer(tmp_path: Path, name: str) -> None:
    alerts, order, errors = backtest(write(tmp_path / name, EVENTS), tmp_path)
    assert alerts == ORACLE
    assert order.startswith("in order (reorder buffer") and not errors


def test_disorder_within_the_allowed_lateness_needs_no_sort(tmp_path: Path) -> None:
    lateness = CONFIG.engine.allowed_lateness_ms
    events = jittered(EVENTS, lateness - 10, seed=3)
    assert events != EVENTS
    alerts, order, _ = backtest(write(tmp_path / "jitter.jsonl", events), tmp_path)
    assert alerts == ORACLE
    assert order.startswith("in order")


def test_one_job_expiring_state_every_minute_gives_the_same_alerts(tmp_path: Path) -> None:
    """Expiry between the events of a batch, never after them (see test_shard.py)."""
    alerts, _, _ = backtest(
        write(tmp_path / "in-order.jsonl", EVENTS), tmp_path, expire_every_ms=60_000
    )
    assert alerts == ORACLE


def test_a_shuffled_file_falls_back_to_the_external_sort_and_says_why(tmp_path: Path) -> None:
    events = random.Random(5).sample(EVENTS, len(EVENTS))
    src = write(tmp_path / "shuffled.jsonl", events)
    alerts, order, _ = backtest(src, tmp_path, run_items=700)
    assert alerts == ORACLE
    runs = -(-len(EVENTS) // 700)
    assert order.startswith(f"external sort ({runs} sorted runs): {src}:"), order
    assert "older than an event already applied" in order


def test_two_jobs_give_one_jobs_alerts_in_its_order(tmp_path: Path) -> None:
    alerts, order, _ = backtest(write(tmp_path / "in-order.jsonl", EVENTS), tmp_path, jobs=2)
    assert alerts == ORACLE
    assert order.startswith("in order (job 0: reorder buffer")


def test_two_jobs_on_a_shuffled_file_sort_externally_and_expire_state(tmp_path: Path) -> None:
    events = random.Random(6).sample(EVENTS, len(EVENTS))
    src = write(tmp_path / "shuffled.jsonl.zst", events)
    alerts, order, _ = backtest(src, tmp_path, jobs=2, run_items=900, expire_every_ms=60_000)
    assert alerts == ORACLE
    assert order.startswith("external sort (job 0: ")


def test_bad_lines_are_reported_as_the_contract_reader_words_them_and_skipped(
    tmp_path: Path,
) -> None:
    bad = {
        5: '{"event_id": "x", "type": "MESSAGE_SENT"}\n',
        900: "not json\n",
        901: "\n",  # blank: skipped, not an error
        4000: '{"event_id": "e", "type": "NOPE", "ts": 1, "actor": {}}\n',
    }
    src = write(tmp_path / "bad.jsonl", EVENTS, bad)
    expected = [f"{src}:{n}: {item}" for n, item in read_events(src) if not isinstance(item, Event)]
    assert len(expected) == 3
    for jobs in (1, 2):
        alerts, _, errors = backtest(src, tmp_path, jobs=jobs)
        assert errors == expected
        assert alerts == ORACLE


def test_a_failing_detector_sends_the_file_backtest_to_the_in_memory_path(tmp_path: Path) -> None:
    """A detector raising on an event: its subject is rebuilt from every earlier event, which
    only the in-memory backtest keeps. The streamed run notices, starts again in memory and says
    so; its alerts are the in-memory backtest's under the same failure."""
    src = write(tmp_path / "events.jsonl", EVENTS)
    poisoned = {e.event_id for e in EVENTS[2_000:12_000:997]}
    with failing_step("minor_exposure", poisoned):
        expected = [dataclasses.replace(a, emitted_at_ms=0) for a in run_backtest(EVENTS, CONFIG)]
        report = backtest_file(src, tmp_path / "a.jsonl", CONFIG)
    got = [
        alert_from_json(json.loads(line))
        for line in (tmp_path / "a.jsonl").read_text().splitlines()
    ]
    assert [dataclasses.replace(a, emitted_at_ms=0) for a in got] == expected
    assert "a detector failed" in report.order
    plain = backtest_file(src, tmp_path / "b.jsonl", CONFIG)
    assert plain.order.startswith("in order")  # without the failure: streamed
    assert (tmp_path / "b.jsonl").read_text() != (tmp_path / "a.jsonl").read_text()


def test_a_decisions_file_backtests_in_memory_with_the_decisions_applied(tmp_path: Path) -> None:
    src = write(tmp_path / "events.jsonl", EVENTS)
    first = next(a for a in run_backtest(EVENTS, CONFIG) if a.detector == "minor_exposure")
    clear = Decision(
        "d-1", first.alert_id, first.detector, first.subject, Action.CLEAR, first.trigger_ts_ms, 1
    )
    expected = [
        dataclasses.replace(a, emitted_at_ms=0) for a in run_backtest(EVENTS, CONFIG, [clear])
    ]
    report = backtest_file(src, tmp_path / "a.jsonl", CONFIG, [clear])
    got = [
        alert_from_json(json.loads(line))
        for line in (tmp_path / "a.jsonl").read_text().splitlines()
    ]
    assert [dataclasses.replace(a, emitted_at_ms=0) for a in got] == expected
    assert "moderator decisions" in report.order
