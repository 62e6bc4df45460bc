"""`guardline bench`: the table and JSON hold every figure, and every stage's counts add up.

Never timings: they are noise on shared machines. The pure parts (ratios, percentiles, state
sampling) get unit tests; one tiny end-to-end run checks the wiring on a broker of its own.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from streams.bench.report import BenchResult, Rate, format_table, percentile
from streams.bench.state import deep_size, measure_state
from streams.cli import main
from streams.config import load_config
from streams.simulate import SimulationConfig, simulate


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


def test_deep_size_counts_shared_objects_once() -> None:
    shared = "x" * 1000
    assert deep_size([shared, shared]) < 2 * deep_size(shared)
    assert deep_size({"a": [1, 2, 3]}) > deep_size({"a": []})


def test_state_is_sampled_over_the_run() -> None:
    events = simulate(SimulationConfig(seed=3, events_target=10_000)).events
    report = measure_state(events, len(events), load_config(), samples=5)
    assert [s.events for s in report.samples][-1] == len(events)
    assert len(report.samples) >= 5
    assert all(s.active_accounts > 0 and s.memory_bytes > s.stored_bytes for s in report.samples)
    assert report.last.active_accounts <= len({e.actor.id for e in events})


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
        "ratio worker/bare_faust",
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
    if doc["quix"] is None:
        assert "pip install" in doc["quix_note"]
    else:
        assert counts["Quix counted"] == produced
    for name in ("ceiling", "bare_faust", "worker", "backtest"):
        assert doc[name]["events"] == produced and doc[name]["per_s"] > 0
    assert doc["latency_events"] > 0
    assert set(doc["ratios"]) >= {"worker/bare_faust (3/2)", "worker/ceiling (3/1)",
                                  "backtest/ceiling (4/1)", "worker/quix (3/6)"}  # fmt: skip
    assert doc["state_events"] == 3000 and doc["state_accounts"] > 0
