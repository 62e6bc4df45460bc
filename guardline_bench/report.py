"""The bench's one table and its JSON: every figure, the ratios, the targets. Pure."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from guardline_bench.cpu import CpuUse
from guardline_bench.file_backtest import FileBacktest

MB = 1 << 20
BACKTEST_RSS_MB = 500  # peak memory of a file backtest, whatever the file's size

QUIX_INSTALL = "pip install -e '.[bench]'"
# Flat: the state after the whole run is at most this much bigger than the state of an engine
# fed only the last longest-memory's worth of the same events (nothing older survives).
FLAT_RATIO = 1.05
IDLE_CORES = 0.05  # issue 17: an idle worker and an idle alerts tail, each


@dataclass(slots=True)
class Rate:
    """Events handled between the first and the last one a consumer saw."""

    events: int
    seconds: float

    @property
    def per_s(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


@dataclass(slots=True)
class BenchResult:
    events: int
    partitions: int
    workers: int
    broker: str
    ceiling: Rate | None = None
    bare_faust: Rate | None = None
    worker: Rate | None = None
    # Scaling (`scaling.py`): 1 worker, then `workers` workers together, on the same fresh
    # traffic sent once each group holds its partitions.
    worker_scale_one: Rate | None = None
    worker_multi: Rate | None = None
    worker_multi_note: str = ""  # why it is missing
    scale_assignment: list[list[int]] = field(default_factory=list)  # partitions per worker
    scale_send_s: list[float] = field(default_factory=list)  # sending each group's traffic
    backtest: Rate | None = None
    backtest_cpu_s: float = 0.0  # the backtest's process CPU time (the machine is shared)
    quix: Rate | None = None
    quix_note: str = ""
    latency_rate: float = 0.0
    latency_half_rate: bool = True  # False: a rate given with --latency-rate (no target)
    latency_events: int = 0
    latency_alerts: int = 0
    latency_ms: dict[str, float] = field(default_factory=dict)  # p50 / p95 / p99
    latency_lateness_ms: int = 0  # the detect stage's allowed lateness: a floor, by design
    # Figure 5 (guardline_bench/state.py): bytes the worker writes per active account.
    state_events: int = 0
    state_days: float = 0.0  # event time the state run covered
    state_horizon_days: float = 0.0  # the longest detector memory
    state_accounts: int = 0
    state_subjects: int = 0
    state_stored_per_account: float = 0.0
    state_memory_per_account: float | None = None  # in-memory deep size, secondary
    state_steady_from_day: float = 0.0  # the slope is fitted from here to the end
    state_slope_per_day: float = 0.0  # B per active account per day of event time
    state_slope_per_million: float = 0.0  # the same per 1M events of that window
    # Final state / state of an engine fed only the last `state_horizon_days`; None when the
    # run was shorter than that memory.
    state_recent_ratio: float | None = None
    # Cores each process used over a phase's timed window ("worker", "scale_1", "scale_multi",
    # "bare_faust", "quix"), and the whole machine's busy cores (`cpu.py`).
    cpu: dict[str, CpuUse] = field(default_factory=dict)
    # Figure 7 (file_backtest.py): `guardline backtest` end to end, next to json.loads.
    json_loads: Rate | None = None
    json_loads_cpu_s: float = 0.0  # the machine is shared: CPU seconds beside the wall clock
    file_backtests: list[FileBacktest] = field(default_factory=list)  # --jobs 1, then 2
    # What each stage counted: they must add up (the CI test checks it, never the timings).
    counts: dict[str, int] = field(default_factory=dict)

    def ratios(self) -> dict[str, float | None]:
        def ratio(a: Rate | None, b: Rate | None) -> float | None:
            return a.per_s / b.per_s if a and b and b.per_s else None

        return {
            "worker/bare_faust (3/2)": ratio(self.worker, self.bare_faust),
            "worker/ceiling (3/1)": ratio(self.worker, self.ceiling),
            "backtest/ceiling (4/1)": ratio(self.backtest, self.ceiling),
            "worker/quix (3/6)": ratio(self.worker, self.quix),
            f"{self.workers} workers/1 worker": ratio(self.worker_multi, self.worker_scale_one),
            f"{self.workers} workers/1 worker, per worker core": self.scaling_per_core(),
            **self.file_backtest_ratios(),
        }

    def file_backtest_best_ratio(self) -> float | None:
        """The fastest file backtest (any number of jobs) over the json.loads floor."""
        if not self.file_backtests or not self.json_loads or not self.json_loads.per_s:
            return None
        return max(b.per_s for b in self.file_backtests) / self.json_loads.per_s

    def file_backtest_ratios(self) -> dict[str, float | None]:
        floor = self.json_loads.per_s if self.json_loads else 0.0
        out: dict[str, float | None] = {
            f"file backtest {b.jobs} job(s)/json.loads (7)": b.per_s / floor if floor else None
            for b in self.file_backtests
        }
        if len(self.file_backtests) == 2 and self.file_backtests[0].per_s:
            out["file backtest 2 jobs/1 job (7)"] = (
                self.file_backtests[1].per_s / self.file_backtests[0].per_s
            )
        return out

    def scaling_per_core(self) -> float | None:
        """The scaling ratio with CPU taken out: events per worker CPU-second, W workers over
        one. Near 1.0 means the work per event did not grow, so a ratio below W is cores the
        workers did not get (the broker's, the bench's, other processes'), not overhead."""
        one, multi = self.cpu.get("scale_1"), self.cpu.get("scale_multi")
        if not (self.worker_scale_one and self.worker_multi and one and multi):
            return None
        one_cores, multi_cores = one.total("worker"), multi.total("worker")
        if not one_cores or not multi_cores or not self.worker_scale_one.per_s:
            return None
        return (self.worker_multi.per_s / multi_cores) / (self.worker_scale_one.per_s / one_cores)

    def targets(self) -> list[tuple[str, bool | None]]:
        r = self.ratios()

        def at_least(value: float | None, floor: float) -> bool | None:
            return None if value is None else value >= floor

        p99 = self.latency_ms.get("p99")
        idle = self.cpu.get("idle")
        return [
            ("full suite >= 1.0x Quix peer", at_least(r["worker/quix (3/6)"], 1.0)),
            ("full suite >= 1.0x bare Faust", at_least(r["worker/bare_faust (3/2)"], 1.0)),
            ("backtest >= 100k events/s", at_least(_per_s(self.backtest), 100_000)),
            (
                "p99 event-to-alert < 1 s",
                None if p99 is None or not self.latency_half_rate else p99 < 1000,
            ),
            (
                "state <= 1 KiB per active account",
                None if not self.state_accounts else self.state_stored_per_account <= 1024,
            ),
            (
                f"state flat (<= {FLAT_RATIO}x the last memory's own)",
                None if self.state_recent_ratio is None else self.state_recent_ratio <= FLAT_RATIO,
            ),
            (
                f"idle worker and alerts tail <= {IDLE_CORES} core each",
                None
                if idle is None
                else max(idle.total("worker"), idle.total("alerts tail")) <= IDLE_CORES,
            ),
            (
                "file backtest >= 0.4x json.loads",
                at_least(self.file_backtest_best_ratio(), 0.4),
            ),
            (
                f"file backtest peak memory <= {BACKTEST_RSS_MB} MB",
                None
                if not self.file_backtests
                else max(b.peak_rss_bytes for b in self.file_backtests) <= BACKTEST_RSS_MB * MB,
            ),
            (
                "file backtest --jobs 2 >= 1.6x one",
                at_least(r.get("file backtest 2 jobs/1 job (7)"), 1.6),
            ),
            (
                f"{self.workers} workers >= 1.6x one",
                at_least(r[f"{self.workers} workers/1 worker"], 1.6) if self.workers > 1 else None,
            ),
        ]

    def to_json(self) -> dict[str, Any]:
        doc = asdict(self)
        rates = ("ceiling", "bare_faust", "worker", "worker_scale_one", "worker_multi")
        for name in (*rates, "backtest", "quix", "json_loads"):
            rate = getattr(self, name)
            doc[name] = None if rate is None else {**asdict(rate), "per_s": rate.per_s}
        doc["ratios"] = self.ratios()
        doc["targets"] = {name: ok for name, ok in self.targets()}
        return doc


def _per_s(rate: Rate | None) -> float | None:
    return None if rate is None else rate.per_s


def _rate_row(
    label: str, rate: Rate | None, missing: str = "not run", cpu: CpuUse | None = None
) -> tuple[str, str, str]:
    if rate is None:
        return (label, "-", missing)
    detail = f"{rate.events:,} events in {rate.seconds:.2f} s"
    if cpu is not None:
        detail += f"; {cpu.describe()}"
    return (label, f"{rate.per_s:,.0f} events/s", detail)


def format_table(result: BenchResult) -> str:
    r = result
    rows: list[tuple[str, str, str]] = [
        _rate_row("1 ceiling: aiokafka + Avro decode", r.ceiling),
        _rate_row("2 bare Faust agent: decode + count", r.bare_faust, cpu=r.cpu.get("bare_faust")),
        _rate_row("3 Guardline worker, full suite", r.worker, cpu=r.cpu.get("worker")),
    ]
    if r.workers > 1:
        note = r.worker_multi_note
        rows += [
            _rate_row("3 scaling: 1 worker, fresh traffic", r.worker_scale_one, note,
                      r.cpu.get("scale_1")),
            _rate_row(f"3 scaling: {r.workers} workers, same traffic", r.worker_multi, note,
                      r.cpu.get("scale_multi")),
        ]  # fmt: skip
    if r.latency_ms:
        lat = r.latency_ms
        rows.append(
            (
                "3 event-to-alert latency p50/p95/p99",
                f"{lat['p50']:,.0f} / {lat['p95']:,.0f} / {lat['p99']:,.0f} ms",
                f"{r.latency_alerts} alerts, {r.latency_events:,} events "
                f"at {r.latency_rate:,.0f}/s "
                f"({'half rate' if r.latency_half_rate else 'given rate'}); allowed lateness "
                f"{r.latency_lateness_ms:,} ms",
            )
        )
    else:
        rows.append(("3 event-to-alert latency", "-", "no alerts measured"))
    idle = r.cpu.get("idle")
    if idle is not None:
        rows.append(
            (
                "3 idle: worker / alerts tail",
                f"{idle.total('worker'):.3f} / {idle.total('alerts tail'):.3f} cores",
                f"CPU-seconds per wall-second over {idle.seconds:.1f} s, lag 0, no input; "
                + idle.describe(),
            )
        )
    backtest = _rate_row("4 backtest engine (events from a file)", r.backtest)
    if r.backtest is not None and r.backtest_cpu_s > 0:
        cpu_rate = r.backtest.events / r.backtest_cpu_s
        backtest = (*backtest[:2], f"{backtest[2]}; {cpu_rate:,.0f} events per CPU second")
    rows.append(backtest)
    if r.state_accounts:
        rows += _state_rows(r)
    rows.append(
        _rate_row("6 peer: Quix Streams, new_contact_burst", r.quix, r.quix_note, r.cpu.get("quix"))
    )
    if r.json_loads is not None:
        floor = _rate_row("7 floor: json.loads over the file", r.json_loads)
        rows.append((*floor[:2], f"{floor[2]}; {r.json_loads_cpu_s:.2f} CPU s"))
    for b in r.file_backtests:
        cpu = " + ".join(f"{s:.1f}" for s in b.cpu_s)
        rows.append(
            (
                f"7 guardline backtest --jobs {b.jobs} (end to end)",
                f"{b.per_s:,.0f} events/s",
                f"{b.events:,} events in {b.seconds:.2f} s ({cpu} CPU s); peak memory "
                f"{b.peak_rss_bytes / MB:,.0f} MB; {b.order}",
            )
        )
    for name, value in r.ratios().items():
        if value is not None:
            rows.append((f"ratio {name}", f"{value:.2f}x", ""))
    for name, ok in r.targets():
        rows.append((f"target: {name}", {True: "met", False: "NOT met", None: "-"}[ok], ""))
    for name, n in r.counts.items():
        rows.append((f"count: {name}", f"{n:,}", ""))
    head = (
        f"guardline bench: {r.events:,} events, {r.partitions} partitions, "
        f"{r.workers} worker(s), broker {r.broker}"
    )
    w0 = max(len(row[0]) for row in rows)
    w1 = max(len(row[1]) for row in rows)
    lines = [head, "-" * len(head)]
    lines += [f"{a:<{w0}}  {b:>{w1}}  {c}".rstrip() for a, b, c in rows]
    return "\n".join(lines)


def _state_rows(r: BenchResult) -> list[tuple[str, str, str]]:
    memory = (
        ""
        if r.state_memory_per_account is None
        else f"{r.state_memory_per_account:,.0f} B in memory; "
    )
    steady = r.state_steady_from_day >= r.state_horizon_days
    window = f"days {r.state_steady_from_day:.1f}-{r.state_days:.1f}"
    if not steady:
        window += f", second half: run < {r.state_horizon_days:.0f}-day memory"
    percent = r.state_slope_per_day / max(r.state_stored_per_account, 1.0)
    if r.state_recent_ratio is None:
        recent = ("5 state kept past the memory", "-", "run shorter than the longest memory")
    else:
        recent = (
            "5 state kept past the memory",
            f"{r.state_recent_ratio:.3f}x",
            f"final state / state of an engine fed only the last {r.state_horizon_days:.0f} days",
        )
    return [
        (
            "5 state per active account (serialised)",
            f"{r.state_stored_per_account:,.0f} B",
            f"{memory}{r.state_accounts:,} accounts active in the last 24 h, "
            f"{r.state_subjects:,} subjects; "
            f"{r.state_events:,} events over {r.state_days:.1f} days",
        ),
        (
            f"5 state slope ({window})",
            f"{r.state_slope_per_day:+,.1f} B/day",
            f"{percent:+.2%}/day; {r.state_slope_per_million:+,.0f} B per 1M events",
        ),
        recent,
    ]


def write_json(result: BenchResult, path: Path) -> None:
    path.write_text(json.dumps(result.to_json(), indent=2) + "\n")


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]
