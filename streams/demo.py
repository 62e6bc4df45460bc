"""`guardline demo`: the whole pipeline on one machine, narrated, and stopped by itself.

Broker -> topics -> a real worker process -> simulated traffic paced over the run (plus a few
malformed records, to show the dead-letter path) -> alerts printed live from the alert topic ->
a summary against the simulation's ground truth and a check of the worker's metrics.
With `prometheus=True` a local Prometheus scrapes the worker so the graphs can be watched live.
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
from streams.ops.launcher import free_port, start_worker, stop_worker, wait_ready
from streams.ops.metrics import CHECKED_FAMILIES, scrape
from streams.ops.prometheus_local import LocalPrometheus, prometheus_binary
from streams.produce import make_producer, send_events
from streams.progress import Progress
from streams.simulate import SimulationConfig, TruthEntry, simulate

# One of each kind of broken input: each lands on the dead-letter topic with its reason code.
CATCH_UP_CAP_S = 600.0  # the longest the demo waits for the worker after sending
DEMO_CONFIG = Path(__file__).parent / "defaults" / "demo.toml"  # defaults + a shadow candidate
MALFORMED = (b"not avro at all", b"\xc3\x01" + b"\x00" * 8 + b"body")


def say(text: str) -> None:
    print(f"[demo] {text}", flush=True)


def run_demo(
    duration_s: float = 90.0,
    seed: int = 7,
    *,
    prometheus: bool = False,
    config: Path | None = None,
    cases: bool = False,
) -> int:
    """With `cases`, the case view serves the demo's cases at the end, until Ctrl-C."""
    started = time.monotonic()
    if prometheus:
        try:
            prometheus_binary()  # fail before anything starts, with the install hint
        except RuntimeError as err:
            raise SystemExit(f"error: {err}") from None
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
            port = free_port()
            extra = ("--config", str(config or DEMO_CONFIG))
            proc, ready, log_path = start_worker(
                bootstrap, work, app_id=app_id, extra=extra, metrics_port=port
            )
            prom: LocalPrometheus | None = None
            metrics_url = f"http://127.0.0.1:{port}/metrics"
            try:
                wait_ready(proc, ready, log_path, timeout_s=60)
                say(f"worker ready ({time.monotonic() - started:.1f}s since start); streaming")
                say(f"worker metrics: {metrics_url} (also /healthz and /readyz)")
                if prometheus:
                    target = [f"127.0.0.1:{port}"]
                    prom = LocalPrometheus(target, work / "prometheus", scrape_interval_s=2.0)
                    prom.start()
                    say(f"Prometheus: {prom.url}/graph scrapes the worker every 2 s; try")
                    say("  sum by (detector, severity) (rate(guardline_alerts_total[1m])) * 60")
                watch = _LagWatch(metrics_url)
                watch.start()
                alerts = _stream_and_watch(bootstrap, app_id, sim.events, duration_s, started)
                watch.stop()
                _metrics_check(metrics_url, watch.peak)
                _summary(alerts, attackers, time.monotonic() - started)
                if cases:
                    _serve_cases(bootstrap, work / "cases.db")
                else:
                    say("the case view: run `./dev demo` in a terminal (or pass --cases) to browse")
                    say(
                        "these cases afterwards, or `guardline cases serve` next to your own worker"
                    )
            finally:
                if prom is not None:
                    prom.stop()
                    say("Prometheus stopped")
                stop_worker(proc)
    return 0


def _serve_cases(bootstrap: str, db: Path) -> None:
    """The case view over the demo's alerts, fed live (decisions reach the running worker)."""
    from streams.cases.bundle import bundle_zip
    from streams.cases.commands import DEFAULT_PORT, decision_sender
    from streams.cases.feed import CaseFeed
    from streams.cases.store import CaseStore
    from streams.cases.web import CaseServer

    store = CaseStore.open(db)
    feed = CaseFeed(store, bootstrap)
    feed.catch_up()
    send = decision_sender(bootstrap)
    try:
        server = CaseServer("127.0.0.1", DEFAULT_PORT, store, decide=send)
    except OSError:  # the default port is taken: any free one
        server = CaseServer("127.0.0.1", 0, store, decide=send)
    server.bundle = lambda alert_id: bundle_zip(store, alert_id, bootstrap)
    server.start()
    say(f"case view: {server.url} ({len(store.list_cases())} open cases); Ctrl-C to stop")
    try:
        while True:
            feed.poll_once()
    except KeyboardInterrupt:
        say("stopping the case view")
    finally:
        server.shutdown()
        feed.close()
        store.close()


class _LagWatch(threading.Thread):
    """Samples the worker's lag gauge while the demo runs: it drains to 0 by the end."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.peak = 0.0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(0.5):
            try:
                lag = scrape(self.url).get("guardline_consumer_lag_records", 0.0)
            except OSError:
                continue
            self.peak = max(self.peak, lag)

    def stop(self) -> None:
        self._done.set()
        self.join(5)


def _metrics_check(url: str, lag_peak: float) -> None:
    """Every series family the worker reports, non-zero after a run (lag: its peak)."""
    sums = scrape(url)
    sums["guardline_consumer_lag_records"] = lag_peak
    zero = [name for name in CHECKED_FAMILIES if not sums.get(name)]
    say(f"metrics check ({url}): {len(CHECKED_FAMILIES) - len(zero)}/{len(CHECKED_FAMILIES)} "
        "series families non-zero")  # fmt: skip
    for name in CHECKED_FAMILIES:
        note = {
            "guardline_consumer_lag_records": " (peak during the run)",
            "guardline_watermark_timestamp_seconds": " (summed over partitions)",
        }.get(name, "")
        say(f"  {name:<42} {sums.get(name, 0.0):>14,.1f}{note}")


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
    rate = len(events) / send_window
    # A few malformed records early in the stream: they go to the dead-letter topic.
    head = len(events) // 10
    send_events(producer, events[:head], rate_per_s=rate, progress=progress)
    for value in MALFORMED:
        producer.send(topics.EVENTS.name, key=b"demo-malformed", value=value)
    send_events(producer, events[head:], rate_per_s=rate, progress=progress)
    progress.close()
    producer.close()
    say(f"all events sent, and {len(MALFORMED)} malformed records (-> {topics.DEAD_LETTER.name})")
    say("waiting for the worker to catch up...")
    # The stream is the point of the demo: wait for it on a slow or busy machine, within reason.
    deadline = started + max(duration_s, CATCH_UP_CAP_S)
    lag, before, since = -1, -1, time.monotonic()
    while time.monotonic() < deadline:
        lag = sum(
            sum(topics.consumer_lag(bootstrap, app_id, spec.name).values())
            for spec in (topics.EVENTS, topics.ROUTED)
        )
        now = time.monotonic()
        drain = f", draining {(before - lag) / (now - since):,.0f}/s" if before > lag else ""
        say(f"worker lag: {lag:,} records (input + routed){drain}")
        if lag == 0:
            break
        before, since = lag, now
        time.sleep(3.0)
    time.sleep(2.0)  # the last batch's alerts are in flight
    if lag != 0:
        say("gave up waiting for the worker: the summary covers what it processed")
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
