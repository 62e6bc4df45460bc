"""One real worker with a planted fault (a test-only wrapper module such as
`tests/unfetched_partition.py`) over the small simulation, drained: what it published, one of
its metrics and its log, for the test to hold against the backtest."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from streams.broker import EmbeddedBroker
from streams.model import Event
from streams.ops.launcher import free_port, start_worker, stop_worker, wait_ready
from streams.ops.metrics import scrape
from streams.simulate import simulate
from tests.streaming import WITH_CONFIG, Outputs, wait_drained
from tests.test_resilience import SMALL, PacedProducer


@dataclass(frozen=True)
class FaultRun:
    events: list[Event]
    outputs: Outputs
    metric: float | None  # the named metric at the end, None if never exported
    log: str


def run_with_fault(
    broker: EmbeddedBroker,
    tmp_path: Path,
    app_id: str,
    module: str,
    env: dict[str, str],
    metric: str,
) -> FaultRun:
    events = simulate(SMALL).events
    bootstrap, port = broker.bootstrap, free_port()
    proc, ready, log = start_worker(
        bootstrap, tmp_path, app_id=app_id, metrics_port=port, extra=WITH_CONFIG,
        module=module, env=env,
    )  # fmt: skip
    try:
        wait_ready(proc, ready, log, timeout_s=60)
        producer = PacedProducer(bootstrap, events, rate_per_s=500)
        producer.start()
        producer.finish()
        outputs = wait_drained(bootstrap, app_id, timeout_s=120, metrics_port=port)
        value = scrape(f"http://127.0.0.1:{port}/metrics").get(metric)
    finally:
        stop_worker(proc)
    return FaultRun(events, outputs, value, log.read_text())
