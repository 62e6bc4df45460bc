"""The bench's CPU accounting and scaling bookkeeping: pure parts, plus /proc on real processes.

CPU seconds are counted, never compared with a time budget."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from guardline_bench.cpu import CpuMeter, Sample, descendants, process_cpu_s, window_use
from guardline_bench.report import BenchResult, Rate, format_table
from guardline_bench.scaling import read_assignment, settled


def _samples() -> list[Sample]:
    # Worker pid 1 burns 1 core, pid 2 half a core and starts at t=2; the machine is at 1.8.
    return [
        Sample(float(t), {1: float(t), **({2: (t - 2) / 2} if t >= 2 else {})}, 1.8 * t)
        for t in range(11)
    ]


def test_window_use_reads_cores_between_the_bracketing_samples() -> None:
    use = window_use(_samples(), {"w1": [1], "w2": [2], "gone": [9]}, 3.5, 7.5)
    assert use.seconds == 5.0  # samples at 3 and 8 bracket the window
    assert use.cores["w1"] == pytest.approx(1.0)
    assert use.cores["w2"] == pytest.approx(0.5)
    assert use.cores["gone"] == 0.0
    assert use.machine_busy == pytest.approx(1.8)
    assert use.total("w") == pytest.approx(1.5)
    text = use.describe()
    assert "w1 1.00" in text and "other processes 0.30" in text and "1.80" in text


def test_a_process_started_inside_the_window_counts_from_zero() -> None:
    use = window_use(_samples(), {"w2": [2]}, 0.0, 4.0)
    assert use.cores["w2"] == pytest.approx(1.0 / 4.0)  # 1 CPU second (t=2..4) over 4 s


def test_settled_means_every_worker_holds_distinct_partitions_covering_all() -> None:
    assert settled([[0, 1], [2, 3]], 4)
    assert not settled([[0, 1, 2, 3], []], 4)  # one worker alone: a rebalance is coming
    assert not settled([[0, 1], None], 4)  # the other has not joined yet
    assert not settled([[0, 1], [1, 2, 3]], 4)  # a partition held twice
    assert not settled([[0], [2, 3]], 4)  # partition 1 unassigned


def test_ready_file_lists_the_input_partitions(tmp_path: Path) -> None:
    ready = tmp_path / "w.ready"
    assert read_assignment(ready) is None
    ready.write_text("\n")
    assert read_assignment(ready) == []
    ready.write_text("3,1\n")
    assert read_assignment(ready) == [1, 3]


def test_scaling_per_core_takes_the_cpu_out_of_the_ratio() -> None:
    r = BenchResult(events=1000, partitions=4, workers=2, broker="test")
    r.worker_scale_one, r.worker_multi = Rate(1000, 1.0), Rate(1000, 0.8)  # 1.25x
    one = window_use(_samples(), {"worker": [1]}, 3.5, 7.5)  # 1.0 core
    two = window_use(_samples(), {"worker 1": [1], "worker 2": [2]}, 3.5, 7.5)  # 1.5 cores
    r.cpu = {"scale_1": one, "scale_multi": two}
    assert r.ratios()["2 workers/1 worker"] == pytest.approx(1.25)
    assert r.scaling_per_core() == pytest.approx((1250 / 1.5) / 1000)
    table = format_table(r)
    assert "3 scaling: 2 workers" in table and "worker 2 0.50" in table


def test_cpu_of_a_busy_child_and_the_machine_are_counted() -> None:
    code = "x = 0\nfor i in range(3_000_000): x += i\n"
    child = subprocess.Popen([sys.executable, "-c", code])
    with CpuMeter(lambda: {"child": [child.pid]}, every_s=0.05) as meter:
        assert child.pid in descendants(os.getpid(), named="python") or child.poll() is not None
        child.wait()
    spent = [s.cpu_s.get(child.pid) for s in meter.samples]
    seen = [c for c in spent if c is not None]
    assert seen and seen[-1] > 0  # the loop took CPU time; read before the child was reaped
    assert seen == sorted(seen)
    assert meter.samples[-1].machine_busy_s is not None
    own = process_cpu_s(os.getpid())
    assert own is not None and own > 0
