"""The soak (`guardline bench --soak`): its verdict on made-up samples, and a short real run."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from guardline_bench.soak import Sample, SoakResult, SoakSettings, judge, run_soak
from streams.adapters.faust.settings import WorkerSettings
from streams.config import CONFIG_ENV, load_config
from streams.simulate import DAY_MS

MIB = 1024 * 1024
SHORT_MEMORY = Path(__file__).parent / "data" / "soak_short_memory.toml"


def samples(
    state: list[float], *, day_per_sample: float = 0.5, active: list[int] | None = None
) -> list[Sample]:
    """One sample a second, after the restart, event time moving `day_per_sample` each; the
    state split 3:1 between two detectors."""
    return [
        Sample(
            float(i),
            int(i * day_per_sample * DAY_MS),
            i * 100,
            1,
            100.0,
            0.5,
            s,
            0,
            active_accounts=active[i] if active else 2000,
            state_by_detector={"a": 0.75 * s, "b": 0.25 * s},
        )
        for i, s in enumerate(state)
    ]


def verdict(state: list[float], **kw: Any) -> SoakResult:
    result = SoakResult(SoakSettings(minutes=1), horizon_ms=DAY_MS, drain_s=1.0)
    result.samples = samples(state, **kw)
    judge(result)
    return result


def test_state_that_levels_off_after_the_horizon_passes() -> None:
    assert verdict([1e6 * min(i, 4) for i in range(20)]).ok


def test_state_that_keeps_growing_past_the_horizon_fails() -> None:
    result = verdict([1e6 + 4e5 * i for i in range(20)])  # +800 kB a day (the horizon)
    assert [p for p in result.problems if p.startswith("state_bytes grows without bound")]


def test_state_growth_is_reported_per_detector() -> None:
    result = verdict([1e6 + 4e5 * i for i in range(20)])  # +800 kB per horizon: 600 + 200
    growth = {t.measure: round(t.growth_per_horizon) for t in result.by_detector}
    assert growth == {"a": 600_000, "b": 200_000}


def test_a_population_that_keeps_growing_makes_the_run_inconclusive() -> None:
    """Flat state over a growing population would hide a leak per account; state growing with
    it would look like one: either way the traffic, not the worker, is what was measured."""
    result = verdict([1e6] * 20, active=[2000 + 20 * i for i in range(20)])  # +40 a day: 2%
    assert result.ok
    result = verdict([1e6] * 20, active=[2000 + 200 * i for i in range(20)])  # +400: 20%
    assert [p for p in result.problems if p.startswith("inconclusive: the traffic is not")]


def test_growth_is_judged_on_the_event_time_the_worker_applied() -> None:
    """+100 kB a sample is +200 kB per day of events sent (under the 256 KiB floor), but the
    worker applies half a day's events per day sent: +400 kB per day of state, over it."""
    growing = [1e6 + 1e5 * i for i in range(24)]
    assert verdict(growing).ok
    result = SoakResult(SoakSettings(minutes=1), horizon_ms=DAY_MS, drain_s=1.0)
    result.samples = [replace(s, applied_ms=s.event_ms // 2) for s in samples(growing)]
    judge(result)
    assert [p for p in result.problems if p.startswith("state_bytes grows without bound")]


def test_growth_below_the_noise_floor_passes() -> None:
    assert verdict([1e4 + 1e3 * i for i in range(20)]).ok  # a few KB: +2 kB per horizon


def test_a_run_shorter_than_the_horizon_is_inconclusive_not_a_pass() -> None:
    result = verdict([1e6] * 20, day_per_sample=0.01)
    assert not result.ok and result.problems[0].startswith("inconclusive")


def test_a_worker_that_never_drains_its_lag_fails() -> None:
    result = SoakResult(SoakSettings(minutes=1), horizon_ms=DAY_MS, drain_s=None)
    result.samples = samples([1e6] * 20)
    judge(result)
    assert [p for p in result.problems if p.startswith("falling behind")]


@pytest.mark.broker
@pytest.mark.slow
def test_short_soak_with_a_worker_kill_keeps_memory_and_state_bounded(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """CI's form: 27 s at 500 events/s, memories shortened to 3.5 h: event time passes ~5
    horizons (under a day: the active accounts are not judged); the worker is killed at 7 s.
    What it proves: the kill and restart, the samples, the drain and RSS levelling off; its
    state (~30 kB) is under the noise floor, so state growth is judged only by long runs.
    The memory probe runs too (cheap form): every buffer it reads is found, within its bound
    (the settings', not the code's: 4 partitions)."""
    monkeypatch.setenv(CONFIG_ENV, str(SHORT_MEMORY))
    settings = SoakSettings(
        minutes=0.45,
        rate=500,
        sample_s=1.5,
        kill_at=0.25,
        users=300,
        out_dir=tmp_path,
        probe_every_s=3,
        probe_sites=False,
    )
    result = run_soak(settings, load_config(SHORT_MEMORY))
    assert result.restart_s is not None, "the worker was never killed"
    assert {s.incarnation for s in result.samples} == {0, 1}
    assert result.ok, result.problems
    worker = WorkerSettings(bootstrap="", config=load_config(SHORT_MEMORY))
    probed = [
        json.loads(line)["sizes"]
        for n in (0, 1)
        for line in (tmp_path / f"memory-{n}.jsonl").read_text().splitlines()
    ]
    assert len(probed) >= 4 and (tmp_path / "worker-1.log").exists()
    assert max(sizes["rocksdb.open_dbs"] for sizes in probed) == 4  # opened as used
    for sizes in probed:
        assert not [k for k in sizes if k.startswith("error.")], sizes
        assert sizes["rocksdb.memtables_bytes"] <= 4 * 2 * worker.rocksdb_write_buffer_mib * MIB
        # A full partition stops being fetched; one poll past that at most.
        assert sizes["pipeline.intake_peak"] <= 4 * worker.batch_size + worker.max_poll_records
    print("\n" + "\n".join(f"{t.measure}: {t}" for t in result.trends))
