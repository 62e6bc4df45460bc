"""`guardline bench`: one run, one broker, the same events for every figure.

Order: simulate and pre-produce N events; then each consumer reads the whole topic on its own
(ceiling, bare Faust, the Quix peer, Guardline with one worker, with W workers), one after the
other so they never share the CPU; then latency at half of Guardline's rate on fresh traffic
(later event times) through the still-running worker; then backtest and state on the pure engine.

A stream rate is events / (wall time of the last event handled - of the first one): group
joins and start-up are excluded alike for all. Guardline's end is exact: the detect stage has
applied every (event, subject) pair the router was expected to produce.
"""

from __future__ import annotations

import asyncio
import importlib.util
import itertools
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import msgspec

from guardline_bench import file_backtest, scaling
from guardline_bench.cpu import CpuMeter, CpuUse
from guardline_bench.report import QUIX_INSTALL, BenchResult, Rate, percentile
from guardline_bench.state import measure_state, state_bytes
from streams import kafka_settings, topics
from streams.backtest import run_backtest
from streams.broker import BOOTSTRAP_ENV, broker_session, external_bootstrap
from streams.codec import decode_alert, decode_event, encode_event
from streams.config import GuardlineConfig, load_config
from streams.engine.core import routes
from streams.jsonl import event_to_json, read_events, write_jsonl
from streams.model import Event
from streams.ops.launcher import start_worker, stop_worker, wait_ready
from streams.ops.totals import read_stats
from streams.produce import make_producer, send_events
from streams.progress import Progress
from streams.simulate import DAY_MS, HOUR_MS, SimulationConfig, iter_events, simulate


@dataclass(frozen=True, slots=True)
class BenchSettings:
    events: int = 100_000
    partitions: int = topics.DEFAULT_PARTITIONS
    workers: int = 1
    state_events: int = 1_000_000
    state_days: float = 24.0  # event time of the state run: past the 14-day memories
    state_only: bool = False  # figure 5 alone: no broker
    latency_s: float = 20.0  # how long the half-rate latency run lasts
    latency_rate: float | None = None  # events/s instead of half the saturated rate
    idle_s: float = 5.0  # how long the idle worker and alerts tail are measured
    seed: int = 7
    timeout_s: float = 900.0  # per consuming phase
    # Figure 7: the file backtest end to end, over the bench's events or a file of its own.
    backtest_events: int | None = None  # None: the bench's events
    backtest_days: float = 4.0  # event time of a file of its own
    backtest_only: bool = False  # figure 7 alone: no broker


def say(text: str) -> None:
    print(f"[bench] {text}", file=sys.stderr, flush=True)


def run_bench(settings: BenchSettings, config: GuardlineConfig | None = None) -> BenchResult:
    config = config or load_config()
    if settings.backtest_only:
        result = BenchResult(0, settings.partitions, settings.workers, "none (backtest only)")
        with tempfile.TemporaryDirectory(prefix="guardline-bench-") as tmp:
            _file_backtest_phase(settings, Path(tmp), None, result)
        return result
    if settings.state_only:
        result = BenchResult(0, settings.partitions, settings.workers, "none (state only)")
        _state_phase(settings, config, result)
        return result
    with tempfile.TemporaryDirectory(prefix="guardline-bench-") as tmp:
        work = Path(tmp)
        say(f"simulating {settings.events:,} events (seed {settings.seed})...")
        # The simulator's smallest population makes ~10k events; tiny runs take the first N.
        target = max(settings.events, 10_000)
        sim = simulate(SimulationConfig(seed=settings.seed, events_target=target))
        events = sim.events[: settings.events]
        pairs = sum(len(routes(config.active(), e)) for e in events)
        with broker_session() as bootstrap:
            result = BenchResult(
                len(events), settings.partitions, settings.workers, _broker_name(bootstrap)
            )
            result.counts["events produced"] = len(events)
            result.counts["(event, subject) pairs expected"] = pairs
            _prepare_topics(bootstrap, settings.partitions)
            producer = make_producer(bootstrap)
            progress = Progress("[bench] pre-producing", len(events))
            send_events(producer, events, progress=progress)
            progress.close()
            producer.close()
            _stream_phases(bootstrap, work, settings, result, events, pairs, sim.config)
        _backtest_phase(work, events, config, result)
        _state_phase(settings, config, result)
        _file_backtest_phase(settings, work, work / "events.jsonl", result)
    return result


def _broker_name(bootstrap: str) -> str:
    return f"external {bootstrap}" if external_bootstrap() else f"embedded noida-db {bootstrap}"


def _prepare_topics(bootstrap: str, partitions: int) -> None:
    topics.ensure_topics(bootstrap, partitions=partitions)
    for row in topics.describe_topics(bootstrap):
        if row["name"] == topics.EVENTS.name and row["messages"]:
            raise SystemExit(
                f"error: {topics.EVENTS.name} already holds {row['messages']:,} messages; the "
                "bench needs an empty cluster (unset GUARDLINE_BOOTSTRAP_SERVERS to use the "
                "embedded broker)"
            )


def _stream_phases(
    bootstrap: str,
    work: Path,
    settings: BenchSettings,
    result: BenchResult,
    events: list[Event],
    pairs: int,
    sim_config: SimulationConfig,
) -> None:
    n = len(events)
    say("1/6 ceiling: raw aiokafka consume + Avro decode")
    result.ceiling, decoded = asyncio.run(_ceiling(bootstrap, n, settings.timeout_s))
    result.counts["ceiling decoded"] = decoded

    say("2/6 bare Faust agent: decode + count")
    cmd = [sys.executable, "-m", "guardline_bench.bare_faust"]
    result.bare_faust, result.cpu["bare_faust"] = _subprocess_rate(
        bootstrap, work, "bare-faust", cmd, n, settings
    )
    result.counts["bare Faust counted"] = result.bare_faust.events

    if importlib.util.find_spec("quixstreams") is None:
        result.quix_note = f"Quix Streams not installed: {QUIX_INSTALL}"
        say(f"6/6 peer skipped: {result.quix_note}")
    else:
        say("6/6 peer: Quix Streams, new_contact_burst's fast window")
        cmd = [sys.executable, "-m", "guardline_bench.quix_peer"]
        result.quix, result.cpu["quix"] = _subprocess_rate(
            bootstrap, work, "quix-peer", cmd, n, settings, str(n)
        )
        result.counts["Quix counted"] = result.quix.events

    say("3/6 Guardline worker, full detector suite, at saturation")
    procs = _start_workers(bootstrap, work, "guardline-bench-1", 1, settings)
    try:
        pids = [proc.pid for proc, _stats in procs]
        with CpuMeter(lambda: scaling.roles(pids, bench="bench")) as meter:
            result.worker, totals = _await_workers(procs, n, pairs, settings, "1 worker")
        result.cpu["worker"] = meter.use(*_window(procs))
        result.counts["worker events in"] = totals["in"]
        result.counts["worker pairs applied"] = totals["applied"]
        result.counts["worker dead letters"] = totals["dead_letters"]
        say(f"3/6 idle cost: the worker and an alerts tail, lag 0, no input, {settings.idle_s} s")
        result.cpu["idle"] = _idle_cost(bootstrap, [proc.pid for proc, _ in procs], settings)
        say("3/6 latency at half the saturated rate (fresh traffic, later event times)")
        applied = totals["applied"]
        _latency(bootstrap, settings, result, sim_config, lambda: _applied(procs) - applied)
    finally:
        for proc, _stats in procs:
            stop_worker(proc)
    if settings.workers > 1:
        try:
            _scaling_phase(bootstrap, work, settings, result, sim_config)
        except (TimeoutError, RuntimeError) as err:
            result.worker_multi_note = f"failed: {str(err).splitlines()[0]}"
            say(f"scaling: {result.worker_multi_note}")


def _scaling_phase(
    bootstrap: str,
    work: Path,
    settings: BenchSettings,
    result: BenchResult,
    first: SimulationConfig,
) -> None:
    """1 worker, then W, each in a fresh group on the same fresh traffic (`scaling.py`)."""
    n = settings.events
    # After every event time so far, the latency run's included (it stamps wall-clock times).
    start_ms = max(first.end_ms + HOUR_MS, int(time.time() * 1000)) + HOUR_MS
    events = _later_traffic(settings.seed + 100, start_ms, max(n, 10_000))[:n]
    say(f"3/6 scaling: simulating and encoding {n:,} fresh events")
    detectors = load_config().active()
    pairs = sum(len(routes(detectors, e)) for e in events)
    values = scaling.encode_all(events)
    result.counts["scaling events"] = len(events)
    result.counts["scaling pairs expected"] = pairs
    runs = []
    for count in (1, settings.workers):
        say(f"3/6 scaling: {count} worker(s), {len(events):,} fresh events sent once they settle")
        run = scaling.run_group(
            bootstrap, work, workers=count, partitions=settings.partitions, values=values,
            pairs=pairs, timeout_s=settings.timeout_s,
        )  # fmt: skip
        result.counts[f"scaling {count} worker(s) pairs applied"] = run.applied
        result.scale_send_s.append(run.send_s)
        say(
            f"scaling: {count} worker(s) {run.rate.per_s:,.0f} events/s over "
            f"{run.rate.seconds:.2f} s (traffic sent in {run.send_s:.2f} s); partitions "
            f"{run.assignment}; "
            f"{run.cpu.describe()}"
        )
        runs.append(run)
    one, multi = runs
    result.worker_scale_one, result.cpu["scale_1"] = one.rate, one.cpu
    result.worker_multi, result.cpu["scale_multi"] = multi.rate, multi.cpu
    result.scale_assignment = multi.assignment


async def _ceiling(bootstrap: str, n: int, timeout_s: float) -> tuple[Rate, int]:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **kafka_settings.current().kafka_python(),
    )
    await consumer.start()
    progress = Progress("[bench] ceiling", n)
    try:
        parts = consumer.partitions_for_topic(topics.EVENTS.name) or set()
        consumer.assign([TopicPartition(topics.EVENTS.name, p) for p in sorted(parts)])
        await consumer.seek_to_beginning()
        count = decoded = 0
        first = last = 0.0
        deadline = time.monotonic() + timeout_s
        while count < n and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            for records in batches.values():
                if not first:
                    first = time.perf_counter()
                for record in records:
                    decode_event(record.value)
                decoded += len(records)
                count += len(records)
                progress.advance(len(records))
            last = time.perf_counter()
    finally:
        progress.close()
        await consumer.stop()
    return Rate(count, last - first), decoded


def _subprocess_rate(
    bootstrap: str,
    work: Path,
    name: str,
    cmd: list[str],
    n: int,
    settings: BenchSettings,
    *extra: str,
) -> tuple[Rate, CpuUse]:
    stats = work / f"{name}.json"
    log = work / f"{name}.log"
    env = {**_env(), BOOTSTRAP_ENV: bootstrap}
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [*cmd, str(stats), f"bench-{name}", *extra],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        with CpuMeter(lambda: scaling.roles([proc.pid], name, bench="bench")) as meter:
            done = _poll(
                lambda: read_stats(stats).get("count", 0), n, f"[bench] {name}", settings, proc, log
            )
    finally:
        stop_worker(proc)
    data = read_stats(stats)
    first, last = float(data.get("first_s", 0.0)), float(data.get("last_s", 0.0))
    return Rate(int(done), last - first), meter.use(first, last)


def _env() -> dict[str, str]:
    return dict(os.environ)


def _poll(
    count: Callable[[], float],
    target: float,
    label: str,
    settings: BenchSettings,
    proc: subprocess.Popen[bytes] | None = None,
    log: Path | None = None,
) -> float:
    progress = Progress(label, int(target))
    deadline = time.monotonic() + settings.timeout_s
    done = 0.0
    try:
        while done < target:
            now_done = count()
            progress.advance(int(now_done - done))
            done = now_done
            if done >= target:
                break
            if proc is not None and proc.poll() is not None:
                tail = log.read_text(errors="replace")[-2000:] if log else ""
                raise RuntimeError(f"{label} exited with {proc.returncode}:\n{tail}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{label}: {done:,.0f} of {target:,.0f} after the timeout")
            time.sleep(0.2)
    finally:
        progress.close()
    return done


Workers = list[tuple[subprocess.Popen[bytes], Path]]


def _start_workers(
    bootstrap: str, work: Path, group: str, count: int, settings: BenchSettings
) -> Workers:
    """All at once, so they join the group together (a late joiner forces a rebalance, and
    noida-db sometimes never completes one: see README, embedded broker). Default store
    (RocksDB), as deployed."""
    procs: Workers = []
    started = []
    for i in range(count):
        name = f"{group}-w{i + 1}"
        stats = work / f"{name}.stats.json"
        extra = ("--partitions", str(settings.partitions), "--stats-file", str(stats))
        proc, ready, log = start_worker(bootstrap, work, app_id=group, name=name, extra=extra)
        procs.append((proc, stats))
        started.append((proc, ready, log))
    try:
        for proc, ready, log in started:
            wait_ready(proc, ready, log, timeout_s=120)
    except (TimeoutError, RuntimeError):
        for proc, _stats in procs:
            stop_worker(proc)
        raise
    return procs


def _await_workers(
    procs: Workers, n: int, pairs: int, settings: BenchSettings, label: str
) -> tuple[Rate, dict[str, int]]:
    def totals() -> dict[str, float]:
        out: dict[str, float] = {"in": 0, "applied": 0, "dead_letters": 0}
        firsts, lasts = [], []
        for _proc, stats in procs:
            data = read_stats(stats)
            for key in out:
                out[key] += data.get(key, 0)
            if data.get("first_in_s"):
                firsts.append(data["first_in_s"])
            lasts.append(data.get("last_applied_s", 0.0))
        out["first"] = min(firsts, default=0.0)
        out["last"] = max(lasts, default=0.0)
        return out

    _poll(lambda: totals()["applied"], pairs, f"[bench] {label} (pairs applied)", settings)
    final = totals()
    rate = Rate(n, final["last"] - final["first"])
    return rate, {k: int(v) for k, v in final.items() if k in ("in", "applied", "dead_letters")}


IDLE_SETTLE_S = 5.0  # the tail starts (imports, joins: seconds on a busy machine); the
# worker's last batch, commit and gauges are done


def _idle_cost(bootstrap: str, worker_pids: list[int], settings: BenchSettings) -> CpuUse:
    """Cores an idle worker (lag 0) and an idle `guardline alerts tail` use.

    Issue 17's bound is 0.05 core each. Right after, the latency run sends fresh traffic: its
    percentiles include the resume from idle.
    """
    cmd = [sys.executable, "-m", "streams", "alerts", "tail", "--topic", topics.ALERTS.name]
    tail = subprocess.Popen(
        [*cmd, "--bootstrap", bootstrap],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=_env(),
    )
    try:
        time.sleep(IDLE_SETTLE_S)
        roles = {**scaling.roles(worker_pids, bench="bench"), "alerts tail": [tail.pid]}
        with CpuMeter(lambda: roles, every_s=0.5) as meter:
            start = time.time()
            time.sleep(settings.idle_s)
            end = time.time()
        return meter.use(start, end)
    finally:
        stop_worker(tail)


def _window(procs: Workers) -> tuple[float, float]:
    return scaling.stats_window([stats for _proc, stats in procs])


def _applied(procs: Workers) -> int:
    return scaling.applied_pairs([stats for _proc, stats in procs])


def _latency(
    bootstrap: str,
    settings: BenchSettings,
    result: BenchResult,
    first: SimulationConfig,
    applied: Callable[[], int],
) -> None:
    """Fresh traffic after the first run's event times, paced at half the measured rate.

    Latency is from the triggering event's send to the alert arriving at a consumer of the
    alert topic. Each event's time is stamped as it is sent (event time runs at wall-clock
    speed, as in production): replayed simulation times would run thousands of times faster
    than the wall clock and hide the detect stage's allowed-lateness hold (docs/performance.md).
    """
    from kafka import KafkaConsumer

    assert result.worker is not None
    config = load_config()
    rate = settings.latency_rate or max(result.worker.per_s / 2, 1.0)
    result.latency_half_rate = settings.latency_rate is None
    target = max(int(rate * settings.latency_s), 500)
    events = _later_traffic(settings.seed, first.end_ms + HOUR_MS, max(target, 10_000))[:target]
    result.counts["latency pairs"] = sum(len(routes(config.active(), e)) for e in events)
    result.latency_lateness_ms = config.engine.allowed_lateness_ms
    sent_at: dict[int, float] = {}  # event time (ms) -> wall clock of its send
    received: list[tuple[float, int]] = []
    stop = threading.Event()
    consumer = KafkaConsumer(
        topics.ALERTS.name, bootstrap_servers=bootstrap, auto_offset_reset="latest",
        group_id=None, enable_auto_commit=False, fetch_max_wait_ms=20,
        **kafka_settings.current().kafka_python(),
    )  # fmt: skip
    consumer.poll(timeout_ms=500)  # join and position at the end before anything is sent

    def watch() -> None:
        while not stop.is_set():
            for records in consumer.poll(timeout_ms=100).values():
                now = time.time()
                received.extend((now, decode_alert(r.value).trigger_ts_ms) for r in records)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    producer = make_producer(bootstrap, linger_ms=0)  # each event leaves as it is sent

    progress = Progress("[bench] latency run", len(events))
    base_ms = first.end_ms + HOUR_MS  # after every event of the saturated run
    start = time.monotonic()
    for i, event in enumerate(events):
        ahead = i / rate - (time.monotonic() - start)
        if ahead > 0:
            time.sleep(ahead)
        sent = time.monotonic()
        ts_ms = base_ms + int((sent - start) * 1000)  # non-decreasing: order kept
        event = msgspec.structs.replace(event, ts_ms=ts_ms)
        producer.send(topics.EVENTS.name, key=event.actor.id.encode(), value=encode_event(event))
        sent_at.setdefault(ts_ms, time.time())
        progress.advance()
    producer.flush()
    producer.close()
    progress.close()
    # Every alert counts, however late: wait until the worker has applied every pair (a worker
    # that fell behind would otherwise lose its slowest alerts from the percentiles).
    _poll(applied, result.counts["latency pairs"], "[bench] latency run (pairs applied)", settings)
    time.sleep(1.0)  # the last alerts reach the consumer
    stop.set()
    watcher.join(5)
    consumer.close()
    delays = [(at - sent_at[ts]) * 1000 for at, ts in received if ts in sent_at]
    result.latency_rate = rate
    result.latency_events = len(events)
    result.latency_alerts = len(delays)
    if delays:
        result.latency_ms = {f"p{q}": percentile(delays, q) for q in (50, 95, 99)}


def _later_traffic(seed: int, start_ms: int, n: int) -> list[Event]:
    """Other accounts, later event times. Small populations may lack the people a scenario
    needs for some seeds (the simulator refuses them): try the next seed."""
    for offset in range(1, 20):
        try:
            cfg = SimulationConfig(seed=seed + offset, start_ms=start_ms, events_target=n)
            return simulate(cfg).events
        except ValueError:
            continue
    raise RuntimeError(f"no simulation of {n} events after seed {seed}")


def _backtest_phase(
    work: Path, events: list[Event], config: GuardlineConfig, result: BenchResult
) -> None:
    say("4/6 backtest engine on the same events, from a file")
    path = work / "events.jsonl"
    write_jsonl(path, (event_to_json(e) for e in events))
    loaded = [item for _line, item in read_events(path) if isinstance(item, Event)]
    start, cpu_start = time.perf_counter(), time.process_time()
    alerts = run_backtest(loaded, config)
    result.backtest = Rate(len(loaded), time.perf_counter() - start)
    result.backtest_cpu_s = time.process_time() - cpu_start
    result.counts["backtest events"] = len(loaded)
    result.counts["backtest alerts"] = len(alerts)


def _file_backtest_phase(
    settings: BenchSettings, work: Path, bench_file: Path | None, result: BenchResult
) -> None:
    """Figure 7: `guardline backtest` over a file, 1 job and 2, next to `json.loads` on it."""
    src = bench_file
    if settings.backtest_events is not None or src is None:
        n, days = settings.backtest_events or settings.events, settings.backtest_days
        say(f"7/7 writing {n:,} simulated events over {days} days for the file backtest")
        src = work / "backtest-events.jsonl"
        file_backtest.write_events(src, n, days, settings.seed)
    say(f"7/7 json.loads over {src.name}, then guardline backtest --jobs 1 and --jobs 2")
    lines, seconds, result.json_loads_cpu_s = file_backtest.json_loads_seconds(src)
    result.json_loads = Rate(lines, seconds)
    result.file_backtests = [file_backtest.run_backtest_command(src, work, j) for j in (1, 2)]
    result.counts["file backtest events"] = result.file_backtests[0].events


def _state_phase(settings: BenchSettings, config: GuardlineConfig, result: BenchResult) -> None:
    """Figure 5: `state_events` events spread over `state_days` of event time (the population
    is sized to fit), so the run outlasts the longest detector memory; tiny runs take a prefix."""
    n, days = settings.state_events, settings.state_days
    say(f"5/6 state per active account over {n:,} events, {days} simulated days (pure engine)")
    progress = Progress("[bench] state", n)
    sim = SimulationConfig(
        seed=settings.seed, duration_ms=round(days * DAY_MS), events_target=max(n, 10_000)
    )
    events = itertools.islice(iter_events(sim), n)
    report, engine = measure_state(
        events, config, start_ms=sim.start_ms, deep=True, on_progress=progress.advance
    )
    progress.close()
    if report.end_ms - sim.start_ms > report.horizon_ms:
        days_kept = report.horizon_ms / DAY_MS
        say(f"5/6 again on the last {days_kept:.0f} days only: is anything older still kept?")
        progress = Progress("[bench] state, recent only", report.last.events)
        _recent, recent_engine = measure_state(
            itertools.islice(iter_events(sim), n),
            config,
            start_ms=report.end_ms - report.horizon_ms,
            on_progress=progress.advance,
        )
        progress.close()
        result.state_recent_ratio = state_bytes(engine) / max(state_bytes(recent_engine), 1)
    last = report.last
    result.state_events = last.events
    result.state_days = last.day
    result.state_horizon_days = report.horizon_ms / DAY_MS
    result.state_accounts = last.active_accounts
    result.state_subjects = last.subjects
    result.state_stored_per_account = last.stored_per_account
    result.state_memory_per_account = last.memory_per_account
    result.state_steady_from_day = report.steady()[0].day
    result.state_slope_per_day = report.slope_per_day()
    result.state_slope_per_million = report.slope_per_million()
