"""`guardline bench --soak MINUTES`: steady traffic for a long time, with a worker kill inside.

Why: a stream processor can be right for five minutes and still leak. Detector state is meant
to be bounded by the detectors' own memory horizon (the longest event-time span any of them
remembers, `horizon_ms()`: 14 days by default): once the stream has run longer than that in
event time, over traffic whose working set stays the same size, state bytes and worker memory
should stop growing. The soak sends a steady simulation (`SimulationConfig.steady`: as many
accounts leave as join, friendships and group memberships fade, so the accounts active in a
day and their partners in 14 days stay flat; event time moving on) at a steady rate to one
worker on the embedded broker (or `GUARDLINE_BOOTSTRAP_SERVERS`), SIGKILLs the worker a third
of the way in and restarts it (same `--instance-id`, same disk), and samples every few seconds:
worker RSS, CPU, estimated state bytes per detector (`guardline_state_bytes`), input lag, and
the accounts active in the trailing day of the traffic sent.

Verdict, per measure, on the samples of the restarted worker once event time is a full horizon
past the start and past the restart (state should have levelled off there; the restarted
worker loads subjects' state as they come back): the least-squares slope, projected over
one more horizon of traffic, must add less than GROWTH_LIMIT of the level where that stretch
began, or less than GROWTH_FLOOR ("grows without bound" otherwise: linear growth from zero adds
~100%). Total state is judged, not state per active account: on steady traffic the two say the
same, and a total cannot hide a leak behind a growing divisor. The traffic itself is checked
the same way: if the active accounts grow past that bound, the run is inconclusive (a growing
working set makes state grow without any leak; the first soaks ran on such traffic). The lag
must fall to zero within DRAIN_S once the traffic stops (lag swings with load on a shared
machine; a worker that cannot keep up never drains). A run too short to pass the horizon fails
as inconclusive: raise the minutes or the rate, or shorten the memories (`--config`).

To find what grows: `--soak-out DIR` keeps the worker logs and turns on the worker's memory
probe (`streams/ops/memory_probe.py`, one JSON line per sample and incarnation in
DIR/memory-N.jsonl); `--soak-restart-delay S` restarts the killed worker S seconds later, so it
comes back to a backlog (how issue 18's RSS growth was reproduced in 8 minutes).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from guardline_bench.cpu import process_cpu_s
from streams import topics
from streams.broker import broker_session
from streams.config import GuardlineConfig
from streams.model import Event
from streams.ops.launcher import free_port, start_worker, stop_worker, wait_ready
from streams.ops.memory_probe import EVERY_ENV, PROBE_ENV, TRACE_ENV
from streams.produce import make_producer, send_events
from streams.simulate import DAY_MS, SimulationConfig, iter_events

GROWTH_LIMIT = 0.10  # of the level, over one more memory horizon at the measured slope
# Growth per horizon below these is noise, whatever the level (a small population's state is a
# few KB; allocator and import warm-up move RSS by a few MiB; a population of a few hundred
# accounts active in a day moves by a few dozen).
GROWTH_FLOOR = {"rss_mib": 4.0, "state_bytes": 256 * 1024.0, "active_accounts": 50.0}
JUDGED = ("rss_mib", "state_bytes")  # must stay bounded
STEADY = ("active_accounts",)  # must stay flat, or the traffic cannot tell a leak from growth
DRAIN_S = 120.0  # after the traffic stops, the worker must have read everything within this


@dataclass(frozen=True, slots=True)
class SoakSettings:
    minutes: float
    rate: float = 2500.0  # events/s, steady
    sample_s: float = 5.0
    kill_at: float = 1 / 3  # of the run
    seed: int = 7
    users: int = 2000  # the simulated population (steady: state must level off)
    # The worker comes back this long after its kill: a backlog to catch up on (diagnosis).
    restart_delay_s: float = 0.0
    # Set: the worker logs and, every `probe_every_s`, its memory probe (`memory_probe.py`)
    # are kept here, one file per incarnation.
    out_dir: Path | None = None
    probe_every_s: float = 60.0
    probe_sites: bool = True  # the probe traces allocation sites (tracemalloc: costs CPU)


@dataclass(frozen=True, slots=True)
class Sample:
    wall_s: float
    event_ms: int  # event time of the last event sent
    sent: int
    incarnation: int  # 0 before the kill, 1 after
    rss_mib: float
    cpu_cores: float  # the worker's CPU since the previous sample
    state_bytes: float
    lag: int  # input and routed records not yet committed
    active_accounts: int = 0  # accounts in the events sent over the trailing day of event time
    state_by_detector: dict[str, float] = field(default_factory=dict)  # sums to state_bytes
    applied_ms: int = 0  # the worker's lowest detect watermark (0: not known yet)
    load1: float = 0.0  # the machine's 1-minute load average (the worker shares its cores)

    @property
    def state_ms(self) -> int:
        """The event time the worker's state reflects: behind what was sent when it lags."""
        return self.applied_ms or self.event_ms


@dataclass(frozen=True, slots=True)
class Trend:
    measure: str  # a Sample field, or a detector's name (its part of state_bytes)
    level: float  # mean over the first quarter of the samples past the horizon
    growth_per_horizon: float  # slope x wall seconds per horizon of event time

    @property
    def ok(self) -> bool:
        floor = GROWTH_FLOOR.get(self.measure, GROWTH_FLOOR["state_bytes"])
        return self.growth_per_horizon <= max(GROWTH_LIMIT * self.level, floor)


@dataclass(slots=True)
class SoakResult:
    settings: SoakSettings
    horizon_ms: int
    samples: list[Sample] = field(default_factory=list)
    restart_s: float | None = None
    drain_s: float | None = None  # from the end of traffic to lag 0
    trends: list[Trend] = field(default_factory=list)
    by_detector: list[Trend] = field(default_factory=list)  # state_bytes' parts, reported only
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def horizon_ms(config: GuardlineConfig) -> int:
    """The longest event-time span any active detector's state can matter for."""
    return max(detector.horizon_ms() for detector in config.active())


def traffic(settings: SoakSettings, minutes_margin: float = 2.0) -> Iterator[Event]:
    """A simulation long enough for the run at its rate (a population, event time moving on)."""
    per_day = 42 * settings.users  # measured: ~12.5k events a day for 300 users
    days = settings.rate * 60 * (settings.minutes + minutes_margin) / per_day + 2
    cfg = SimulationConfig(
        seed=settings.seed,
        normal_users=settings.users,
        groups=settings.users // 10,
        duration_ms=int(days * DAY_MS),
        steady=True,  # a working set that stays the same size: state must level off
    )
    return iter_events(cfg)


class _Producer(threading.Thread):
    def __init__(self, bootstrap: str, events: Iterator[Event], rate: float) -> None:
        super().__init__(daemon=True)
        self.bootstrap, self.rate = bootstrap, rate
        self.stop = threading.Event()
        self.sent = 0
        self.last_ms = 0
        self.seen: dict[str, int] = {}  # account id -> event time it was last actor or target
        self.error: BaseException | None = None
        self._events = events

    def _until_stopped(self) -> Iterator[Event]:
        for event in self._events:
            if self.stop.is_set():
                return
            self.sent += 1
            self.last_ms = event.ts_ms
            self.seen[event.actor.id] = event.ts_ms
            if event.target is not None:
                self.seen[event.target.id] = event.ts_ms
            yield event

    def active_accounts(self) -> int:
        """Accounts seen as actor or target within a day of event time before the last event
        sent (as `guardline_bench.state` counts them)."""
        seen, since = self.seen.copy(), self.last_ms - DAY_MS  # copy: the thread writes on
        return sum(1 for ts in seen.values() if ts > since)

    def run(self) -> None:
        try:
            send_events(make_producer(self.bootstrap), self._until_stopped(), rate_per_s=self.rate)
        except BaseException as exc:  # reported by the soak
            self.error = exc


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _worker_metrics(port: int) -> tuple[dict[str, float], int]:
    """The worker's `guardline_state_bytes` per detector, and its lowest detect watermark (ms;
    0 before it has one)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    samples = [s for family in text_string_to_metric_families(text) for s in family.samples]
    state = {s.labels["detector"]: s.value for s in samples if s.name == "guardline_state_bytes"}
    watermarks = [
        s.value
        for s in samples
        if s.name == "guardline_watermark_timestamp_seconds" and s.labels["stage"] == "detect"
    ]
    return state, int(min(watermarks) * 1000) if watermarks else 0


def _lag(bootstrap: str, group: str) -> int:
    return sum(
        sum(topics.consumer_lag(bootstrap, group, spec.name).values())
        for spec in (topics.EVENTS, topics.ROUTED)
    )


def run_soak(
    settings: SoakSettings, config: GuardlineConfig, *, say: Callable[[str], object] = print
) -> SoakResult:
    """Run the soak (the worker reads its config from $GUARDLINE_CONFIG, as `bench` sets it)."""
    result = SoakResult(settings, horizon_ms(config))
    app_id, port, extra = "guardline-soak", free_port(), ("--instance-id", "soak-w1")
    with (
        tempfile.TemporaryDirectory(prefix="guardline-soak-") as tmp,
        broker_session(data_dir=Path(tmp) / "broker") as bootstrap,
    ):
        work = Path(tmp)
        if settings.out_dir is not None:
            settings.out_dir.mkdir(parents=True, exist_ok=True)
        topics.ensure_topics(bootstrap)

        def launch(incarnation: int) -> tuple[subprocess.Popen[bytes], Path, Path]:
            env = {}
            if settings.out_dir is not None:
                probe = settings.out_dir / f"memory-{incarnation}.jsonl"
                env = {
                    PROBE_ENV: str(probe),
                    EVERY_ENV: str(settings.probe_every_s),
                    TRACE_ENV: "1" if settings.probe_sites else "0",
                }
            return start_worker(
                bootstrap, work, app_id=app_id, extra=extra, metrics_port=port, env=env
            )

        proc, ready, log = launch(0)
        producer: _Producer | None = None
        try:
            wait_ready(proc, ready, log, timeout_s=60)
            producer = _Producer(bootstrap, traffic(settings), settings.rate)
            start = time.monotonic()
            producer.start()
            incarnation, cpu_before, at_before = 0, process_cpu_s(proc.pid) or 0.0, start
            end = start + settings.minutes * 60
            while (now := time.monotonic()) < end:
                time.sleep(max(0.0, min(settings.sample_s, end - now)))
                if incarnation == 0 and time.monotonic() - start >= settings.kill_at * (
                    end - start
                ):
                    proc.kill()
                    proc.wait()
                    killed = time.monotonic()
                    time.sleep(settings.restart_delay_s)
                    restarted = time.monotonic()
                    proc, ready, log = launch(1)
                    wait_ready(proc, ready, log, timeout_s=60)
                    result.restart_s = time.monotonic() - restarted
                    incarnation, cpu_before, at_before = 1, 0.0, killed
                    say(f"soak: worker killed at {killed - start:.0f} s, back in"
                        f" {result.restart_s:.1f} s")  # fmt: skip
                    continue
                now = time.monotonic()
                cpu = process_cpu_s(proc.pid) or cpu_before
                by_detector, applied_ms = _worker_metrics(port)
                sample = Sample(
                    wall_s=now - start,
                    event_ms=producer.last_ms,
                    sent=producer.sent,
                    incarnation=incarnation,
                    rss_mib=_rss_mib(proc.pid),
                    cpu_cores=(cpu - cpu_before) / max(1e-9, now - at_before),
                    state_bytes=sum(by_detector.values()),
                    lag=_lag(bootstrap, app_id),
                    active_accounts=producer.active_accounts(),
                    state_by_detector=by_detector,
                    applied_ms=applied_ms,
                    load1=os.getloadavg()[0],
                )
                cpu_before, at_before = cpu, now
                result.samples.append(sample)
                say(_line(sample, result.samples[0].event_ms))
            producer.stop.set()
            producer.join(30)
            stopped = time.monotonic()
            while _lag(bootstrap, app_id) and time.monotonic() - stopped < DRAIN_S:
                time.sleep(1)
            if not _lag(bootstrap, app_id):
                result.drain_s = time.monotonic() - stopped
            if proc.poll() is not None:
                result.problems.append(f"the worker exited with code {proc.returncode}")
        finally:
            if producer is not None:
                producer.stop.set()
                producer.join(30)
            stop_worker(proc)
            if settings.out_dir is not None:
                shutil.copy(log, settings.out_dir / log.name)
    if producer is not None and producer.error is not None:
        result.problems.append(f"the producer failed: {producer.error!r}")
    judge(result)
    return result


def _line(s: Sample, first_ms: int) -> str:
    return (
        f"soak: {s.wall_s:6.0f} s  event day {(s.event_ms - first_ms) / DAY_MS:5.1f}"
        f"  sent {s.sent:>9,}  RSS {s.rss_mib:6.1f} MiB  CPU {s.cpu_cores:4.2f}"
        f"  state {s.state_bytes / 1e6:6.2f} MB  active {s.active_accounts:>6,}  lag {s.lag:>6,}"
        f"  load {s.load1:4.1f}"
    )


def slope(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope of ys over xs."""
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var if var else 0.0


def judge(result: SoakResult) -> None:
    """Fill `trends` and `problems` from the samples (see the module docstring)."""
    samples = result.samples
    if not samples:
        result.problems.append("no samples")
        return
    after = [s for s in samples if s.incarnation == 1]
    # On the event time the worker has applied: a worker behind the producer holds the state
    # of an earlier moment than the last event sent.
    first_ms = samples[0].event_ms
    resumed_ms = next(
        (s.applied_ms for s in after if s.applied_ms), after[0].event_ms if after else first_ms
    )
    settled_ms = max(first_ms, resumed_ms) + result.horizon_ms
    window = [s for s in after if s.state_ms >= settled_ms]
    if len(window) < 4:
        covered = (samples[-1].event_ms - first_ms) / result.horizon_ms
        result.problems.append(
            f"inconclusive: event time covered {covered:.1f} memory horizons"
            f" ({result.horizon_ms / DAY_MS:.2f} days each); {len(window)} samples of the"
            " restarted worker lie a horizon past the start and the restart; run longer or"
            " faster, or shorten the memories"
        )
        return
    walls = [s.wall_s for s in window]
    event_per_wall = (window[-1].state_ms - window[0].state_ms) / (walls[-1] - walls[0])
    if event_per_wall <= 0:
        result.problems.append("stalled: the worker applied no event time past the horizon")
        return
    wall_per_horizon = result.horizon_ms / event_per_wall

    def trend(measure: str, ys: list[float]) -> Trend:
        first = ys[: max(1, len(ys) // 4)]
        return Trend(measure, sum(first) / len(first), slope(walls, ys) * wall_per_horizon)

    # Accounts active in the trailing day mean something once a day of traffic was sent (the
    # CI form's memories are hours long: its whole run is under a day of event time).
    steady = STEADY if window[0].event_ms - first_ms >= DAY_MS else ()
    for measure in steady + JUDGED:
        t = trend(measure, [float(getattr(s, measure)) for s in window])
        result.trends.append(t)
        if t.ok:
            continue
        if measure in STEADY:
            result.problems.append(
                f"inconclusive: the traffic is not steady, {measure} grew"
                f" +{t.growth_per_horizon:,.1f} per memory horizon (level {t.level:,.1f}): a"
                " growing working set makes state grow without any leak"
            )
        else:
            result.problems.append(
                f"{measure} grows without bound: +{t.growth_per_horizon:,.1f} per memory"
                f" horizon at the last stretch's slope, over {GROWTH_LIMIT:.0%} of its level"
                f" {t.level:,.1f} and over {GROWTH_FLOOR[measure]:,.0f}"
            )
    names = sorted({name for s in window for name in s.state_by_detector})
    result.by_detector = [
        trend(name, [s.state_by_detector.get(name, 0.0) for s in window]) for name in names
    ]
    if result.drain_s is None:
        result.problems.append(
            f"falling behind: lag {samples[-1].lag:,} at the end of traffic, not read within"
            f" {DRAIN_S:.0f} s after it"
        )


def format_soak(result: SoakResult) -> str:
    lines = [
        f"soak: {result.settings.minutes:g} min at {result.settings.rate:,.0f} events/s,"
        f" memory horizon {result.horizon_ms / DAY_MS:.1f} days, worker restarted in"
        f" {result.restart_s or float('nan'):.1f} s after its kill; peak lag"
        f" {max((s.lag for s in result.samples), default=0):,}, drained"
        f" {result.drain_s or float('nan'):.1f} s after the traffic",
    ]
    for t in result.trends:
        lines.append(
            f"  {t.measure}: level {t.level:,.1f}, {t.growth_per_horizon:+,.1f} per horizon"
            f" at the final slope ({'ok' if t.ok else 'GROWING'})"
        )
    for t in result.by_detector:
        lines.append(
            f"    state of {t.measure}: level {t.level:,.0f} B,"
            f" {t.growth_per_horizon:+,.0f} B per horizon"
        )
    lines += [f"  FAIL: {p}" for p in result.problems] or ["  OK: bounded, keeping up"]
    return "\n".join(lines)


def as_json(result: SoakResult) -> dict[str, object]:
    return {
        "settings": {
            k: str(v) if isinstance(v, Path) else v
            for k, v in dataclasses.asdict(result.settings).items()
        },
        "horizon_ms": result.horizon_ms,
        "restart_s": result.restart_s,
        "samples": [dataclasses.asdict(s) for s in result.samples],
        "trends": [dataclasses.asdict(t) | {"ok": t.ok} for t in result.trends],
        "state_by_detector": [dataclasses.asdict(t) for t in result.by_detector],
        "problems": result.problems,
        "ok": result.ok,
    }
