"""Figure 7: `guardline backtest` end to end over a JSON Lines file, next to `json.loads`.

The backtest is the command itself (read, decode, order, detect, write), run in a fresh
process for each number of jobs so that its peak memory is its own; its floor is plain
`json.loads` over every line of the same file, timed in the same run.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from streams.jsonl import event_to_json, json_line
from streams.simulate import DAY_MS, SimulationConfig, iter_events


@dataclass(slots=True)
class FileBacktest:
    jobs: int
    events: int
    seconds: float
    peak_rss_bytes: int  # the reading process and every job process, added up
    order: str  # the path that put the events in order
    cpu_s: tuple[float, ...] = ()  # CPU seconds of the reading process, then of each job

    @property
    def per_s(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


def write_events(path: Path, events: int, days: float, seed: int) -> int:
    """`events` simulated events over `days` of event time, streamed to `path`.

    The traffic is steady (`SimulationConfig.steady`): a platform whose population stays the
    same size, as many accounts leaving as joining. A file 10x as long then holds 10x the
    events from the same working set, so its backtest's memory (state + reorder buffer) is
    comparable; the default simulation's population and friend lists grow for weeks, and its
    state with them (docs/backtest.md)."""
    cfg = SimulationConfig(
        seed=seed,
        duration_ms=round(days * DAY_MS),
        events_target=max(events, 10_000),
        steady=True,
    )
    written = 0
    with path.open("w", encoding="utf-8") as out:
        for event in iter_events(cfg):
            if written == events:
                break
            out.write(json_line(event_to_json(event)))
            written += 1
    return written


def json_loads_seconds(path: Path) -> tuple[int, float, float]:
    """Lines, seconds and CPU seconds for `json.loads` over each line of `path`: the floor."""
    loads = json.loads
    lines = 0
    start, cpu_start = time.perf_counter(), time.process_time()
    with path.open("rb") as fh:
        for line in fh:
            loads(line)
            lines += 1
    return lines, time.perf_counter() - start, time.process_time() - cpu_start


def run_backtest_command(src: Path, work: Path, jobs: int) -> FileBacktest:
    """`guardline backtest SRC --jobs N` in its own process; its figures from --summary-json."""
    summary = work / f"backtest-{jobs}.json"
    command = [sys.executable, "-m", "streams", "backtest", str(src), "-o"]
    command += [str(work / f"alerts-{jobs}.jsonl"), "--jobs", str(jobs)]
    subprocess.run([*command, "--summary-json", str(summary)], check=True, capture_output=True)
    doc = json.loads(summary.read_text())
    return FileBacktest(
        jobs=jobs,
        events=doc["events"],
        seconds=doc["wall_s"],
        peak_rss_bytes=doc["peak_rss_bytes"] + sum(doc["job_peak_rss_bytes"]),
        order=doc["order"],
        cpu_s=(doc["cpu_s"], *doc["job_cpu_s"]),
    )
