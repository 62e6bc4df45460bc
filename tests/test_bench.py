"""`guardline bench`: the table and JSON hold every figure, and every stage's counts add up.

Never timings: they are noise on shared machines. The pure parts (ratios, percentiles, state
sampling) get unit tests; one tiny end-to-end run checks the wiring on a broker of its own.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from guardline_bench.file_backtest import FileBacktest
from guardline_bench.report import MB, BenchResult, Rate, format_table, percentile
from guardline_bench.state import StateReport, StateSample, deep_size, measure_state, state_bytes
from streams.cli import main
from streams.config import load_config
from streams.simulate import DAY_MS, SimulationConfig, iter_events


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50
    assert percentile(values, 99) == 99
    assert percentile([7.0], 95) == 7


def test_ratios_and_targets_follow_the_figures() -> None:
    result = BenchResult(events=1000, partitions=4, workers=2, broker="test")
    result.ceiling = Rate(1000, 0.01)  # 100k/s
    result.bare_faust = Rate(1000, 0.1)  # 10k/s
    result.worker = Rate(1000, 0.05)  # 20k/s
    result.worker_scale_one = Rate(1000, 0.05)  # 20k/s: the scaling run's own single worker
    result.worker_multi = Rate(1000, 0.04)  # 25k/s
    result.backtest = Rate(1000, 0.02)  # 50k/s
    ratios = result.ratios()
    assert ratios["worker/bare_faust (3/2)"] == pytest.approx(2.0)
    assert ratios["worker/ceiling (3/1)"] == pytest.approx(0.2)
    assert ratios["backtest/ceiling (4/1)"] == pytest.approx(0.5)
    assert ratios["worker/quix (3/6)"] is None  # the peer did not run
    assert ratios["2 workers/1 worker"] == pytest.approx(1.25)
    targets = dict(result.targets())
    assert targets["full suite >= 1.0x bare Faust"] is True
    assert targets["backtest >= 100k events/s"] is False
    assert targets["2 workers >= 1.6x one"] is False
    assert targets["full suite >= 1.0x Quix peer"] is None
    table = format_table(result)
    assert "2.00x" in table and "NOT met" in table


def test_file_backtest_ratios_and_targets_follow_the_figures() -> None:
    result = BenchResult(events=1000, partitions=4, workers=1, broker="test")
    assert result.file_backtest_best_ratio() is None
    assert dict(result.targets())["file backtest >= 0.4x json.loads"] is None
    result.json_loads = Rate(1000, 0.01)  # 100k/s
    result.file_backtests = [
        FileBacktest(1, 1000, 0.04, 300 * MB, "in order"),  # 25k/s
        FileBacktest(2, 1000, 0.02, 600 * MB, "in order"),  # 50k/s
    ]
    ratios = result.ratios()
    assert ratios["file backtest 1 job(s)/json.loads (7)"] == pytest.approx(0.25)
    assert ratios["file backtest 2 jobs/1 job (7)"] == pytest.approx(2.0)
    targets = dict(result.targets())
    assert targets["file backtest >= 0.4x json.loads"] is True  # 2 jobs: 0.5x
    assert targets["file backtest --jobs 2 >= 1.6x one"] is True
    assert targets["file backtest peak memory <= 500 MB"] is False  # 2 jobs: 600 MB
    assert "7 guardline backtest --jobs 2 (end to end)" in format_table(result)


def test_deep_size_counts_shared_objects_once() -> None:
    shared = "x" * 1000
    assert deep_size([shared, shared]) < 2 * deep_size(shared)
    assert deep_size({"a": [1, 2, 3]}) > deep_size({"a": []})


def test_state_is_sampled_in_event_time_and_measures_what_the_worker_writes() -> None:
    sim = SimulationConfig(seed=3, duration_ms=3 * DAY_MS, normal_users=300)
    events = list(iter_events(sim))
    report, engine = measure_state(events, load_config(), start_ms=sim.start_ms, deep=True)
    samples = report.samples
    assert len(samples) == 6  # every 12 h of event time, then once at the end
    assert [round(s.day * 2) for s in samples[:-1]] == [1, 2, 3, 4, 5]
    assert samples[-1].events == len(events)
    assert samples[-1].stored_bytes == state_bytes(engine) > 0
    assert samples[-1].stored_bytes == sum(
        len(key) + len(engine.dump(key) or b"") for key in engine.subjects
    )
    assert samples[-1].memory_bytes is not None and samples[-1].memory_bytes > 0
    assert all(s.memory_bytes is None for s in samples[:-1])  # the deep walk is costly
    assert all(s.active_accounts > 0 for s in samples)
    accounts = {e.actor.id for e in events} | {e.target.id for e in events if e.target}
    assert samples[-1].active_accounts <= len(accounts)
    assert report.horizon_ms == 14 * DAY_MS
    # Shorter than the longest memory: no steady state, so the slope is over the second half.
    assert report.steady() == [s for s in samples if s.day >= samples[-1].day / 2]


def _sample(day: float, per_account: float) -> StateSample:
    return StateSample(day, round(day * 1000), 100, 10, round(per_account * 100))


def test_state_slope_is_fitted_past_the_longest_memory() -> None:
    # Warm-up rises 50 B/day to day 14, then 2 B/day: the slope must see only the latter.
    days = [d / 2 for d in range(1, 41)]
    report = StateReport(
        14 * DAY_MS, [_sample(d, 50 * min(d, 14) + 2 * max(d - 14, 0)) for d in days]
    )
    assert report.steady()[0].day == 14 and report.steady()[-1].day == 20
    assert report.slope_per_day() == pytest.approx(2.0)
    assert report.slope_per_million() == pytest.approx(2000.0)  # 1000 events per day


def test_state_targets_follow_the_figures() -> None:
    result = BenchResult(events=0, partitions=4, workers=1, broker="test")
    small, flat = "state <= 1 KiB per active account", "state flat (<= 1.05x the last memory's own)"
    assert dict(result.targets())[small] is None
    result.state_accounts, result.state_stored_per_account = 500, 900.0
    result.state_horizon_days, result.state_days, result.state_steady_from_day = 14.0, 6.0, 3.0
    result.state_slope_per_day = 1.0
    targets = dict(result.targets())
    assert targets[small] is True
    assert targets[flat] is None  # the run ended before anything could expire
    table = format_table(result)
    assert "second half: run < 14-day memory" in table
    assert "run shorter than the longest memory" in table
    result.state_days, result.state_steady_from_day = 24.0, 14.0
    result.state_recent_ratio = 1.02
    assert dict(result.targets())[flat] is True
    result.state_recent_ratio = 1.3  # 30% of the state is older than any memory: a leak
    result.state_stored_per_account, result.state_slope_per_day = 1100.0, 20.0
    targets = dict(result.targets())
    assert targets[flat] is False and targets[small] is False
    table = format_table(result)
    assert "5 state per active account (serialised)" in table and "1.300x" in table
    assert "5 state slope (days 14.0-24.0)" in table and "+20.0 B/day" in table


@pytest.mark.broker
@pytest.mark.slow
def test_tiny_bench_run_prints_every_figure_and_counts_add_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("GUARDLINE_BOOTSTRAP_SERVERS", raising=False)  # a broker of its own
    out = tmp_path / "bench.json"
    args = ["bench", "--events", "3000", "--state-events", "3000", "--latency-seconds", "1"]
    assert main([*args, "--json", str(out)]) == 0
    table = capsys.readouterr().out
    for label in (
        "1 ceiling",
        "2 bare Faust",
        "3 Guardline worker",
        "latency",
        "4 backtest",
        "5 state per active account",
        "6 peer: Quix Streams",
        "7 floor: json.loads",
        "7 guardline backtest --jobs 2",
        "ratio worker/bare_faust",
        "3 idle: worker / alerts tail",
    ):
        assert label in table, label  # fmt: skip
    doc = json.loads(out.read_text())
    counts = doc["counts"]
    produced = counts["events produced"]
    assert produced == doc["events"] == 3000
    assert counts["ceiling decoded"] == produced
    assert counts["bare Faust counted"] == produced
    assert counts["worker events in"] == produced
    assert counts["worker pairs applied"] == counts["(event, subject) pairs expected"]
    assert counts["worker dead letters"] == 0
    assert counts["backtest events"] == produced
    assert counts["file backtest events"] == produced == doc["json_loads"]["events"]
    assert [b["jobs"] for b in doc["file_backtests"]] == [1, 2]
    assert all(b["peak_rss_bytes"] > 0 for b in doc["file_backtests"])
    if doc["quix"] is None:
        assert "pip install" in doc["quix_note"]
    else:
        assert counts["Quix counted"] == produced
    for name in ("ceiling", "bare_faust", "worker", "backtest"):
        assert doc[name]["events"] == produced and doc[name]["per_s"] > 0
    assert doc["latency_events"] > 0
    idle = doc["cpu"]["idle"]["cores"]  # measured (no bound asserted: the machine is shared)
    assert {"worker", "alerts tail", "broker"} <= set(idle) and idle["worker"] > 0
    assert "idle worker and alerts tail <= 0.05 core each" in doc["targets"]
    for phase, consumer in (("worker", "worker"), ("bare_faust", "bare-faust")):
        assert doc["cpu"][phase]["cores"][consumer] > 0, phase  # CPU seconds were counted
        assert {"broker", "bench"} <= set(doc["cpu"][phase]["cores"])
    assert set(doc["ratios"]) >= {"worker/bare_faust (3/2)", "worker/ceiling (3/1)",
                                  "backtest/ceiling (4/1)", "worker/quix (3/6)"}  # fmt: skip
    assert doc["state_events"] == 3000 and doc["state_accounts"] > 0
    assert 0 < doc["state_stored_per_account"] < doc["state_memory_per_account"]
    assert doc["state_recent_ratio"] is None  # hours, not the 14 days of the longest memory
