"""`guardline demo`: the whole pipeline on one machine, narrated, and stopped by itself.

Broker -> topics -> a real worker process -> simulated traffic paced over the run -> alerts
printed live from the alert topic -> a summary against the simulation's ground truth.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from streams import topics
from streams.alerts_feed import format_alert, iter_alerts
from streams.broker import broker_session
from streams.model import Alert, Event, Severity
from streams.produce import make_producer, send_events
from streams.progress import Progress
from streams.simulate import SimulationConfig, TruthEntry, simulate
from streams.worker.launcher import start_worker, stop_worker, wait_ready


def say(text: str) -> None:
    print(f"[demo] {text}", flush=True)


def run_demo(duration_s: float = 90.0, seed: int = 7) -> int:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="guardline-demo-") as tmp:
        work = Path(tmp)
        say("starting the broker (set GUARDLINE_BOOTSTRAP_SERVERS to use your own Kafka)...")
        with broker_session() as bootstrap:
            say(f"broker ready at {bootstrap}")
            created = topics.ensure_topics(bootstrap)
            names = ", ".join(spec.name for spec in topics.ALL_TOPICS)
            say(f"topics ready ({len(created)} created): {names}")
            say("generating simulated traffic (normal users, look-alikes and attackers)...")
            # ~55k events over 48 h of event time: a size one worker streams in about a minute.
            sim = simulate(SimulationConfig(seed=seed, normal_users=600, groups=60))
            attackers = [t for t in sim.truth if t.kind == "attack"]
            say(
                f"{len(sim.events):,} events, {len(attackers)} attackers hidden among "
                f"{len(sim.truth) - len(attackers)} look-alikes and normal users"
            )
            say("starting a Guardline worker (Faust, at-least-once)...")
            app_id = f"guardline-demo-{seed}"
            proc, ready, log_path = start_worker(bootstrap, work, app_id=app_id)
            try:
                wait_ready(proc, ready, log_path, timeout_s=60)
                say(f"worker ready ({time.monotonic() - started:.1f}s since start); streaming")
                alerts = _stream_and_watch(bootstrap, app_id, sim.events, duration_s, started)
            finally:
                stop_worker(proc)
            _summary(alerts, attackers, time.monotonic() - started)
    return 0


def _stream_and_watch(
    bootstrap: str, app_id: str, events: list[Event], duration_s: float, started: float
) -> list[Alert]:
    alerts: list[Alert] = []
    done = threading.Event()

    def watch() -> None:
        for alert in iter_alerts(bootstrap, stop=done.is_set):
            alerts.append(alert)
            print(format_alert(alert), flush=True)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    send_window = max(5.0, duration_s * 0.5 - (time.monotonic() - started))
    producer = make_producer(bootstrap)
    progress = Progress("[demo] events sent", len(events))
    send_events(producer, events, rate_per_s=len(events) / send_window, progress=progress)
    progress.close()
    producer.close()
    say("all events sent; waiting for the worker to catch up...")
    deadline = started + duration_s
    lag = -1
    while time.monotonic() < deadline:
        lag = sum(
            sum(topics.consumer_lag(bootstrap, app_id, spec.name).values())
            for spec in (topics.EVENTS, topics.ROUTED)
        )
        say(f"worker lag: {lag:,} records (input + routed)")
        if lag == 0:
            break
        time.sleep(2.0)
    time.sleep(2.0)  # the last batch's alerts are in flight
    if lag != 0:
        say("duration reached before the worker caught up: the summary covers what it processed")
    done.set()
    watcher.join(5)
    return alerts


def _summary(alerts: list[Alert], attackers: list[TruthEntry], elapsed_s: float) -> None:
    by = Counter((a.detector, a.severity.value) for a in alerts)
    cases = {a.alert_id for a in alerts}
    high = {
        (a.subject.kind.value, a.subject.id)
        for a in alerts
        if a.severity.rank >= Severity.HIGH.rank
    }
    say(f"summary after {elapsed_s:.0f}s: {len(alerts)} alert messages, {len(cases)} cases")
    for (detector, severity), n in sorted(by.items()):
        say(f"  {detector:<22} {severity:<8} {n}")
    caught = [t for t in attackers if (t.subject_kind, t.subject_id) in high]
    say(f"attackers flagged HIGH or CRITICAL: {len(caught)}/{len(attackers)}")
    for t in attackers:
        mark = "caught " if t in caught else "missed "
        say(f"  {mark} {t.scenario:<22} {t.subject_kind}:{t.subject_id}")
