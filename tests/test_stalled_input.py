"""An input partition that stops being fetched is read again (issue 18's stall).

Seen once under load after a broker restart: input partition 1 kept 60 records unread for four
minutes, the worker alive and idle. Here a worker (`tests/unfetched_partition.py`) takes one
input partition out of Faust's fetch sets mid-stream. Before the stall watch it was never
fetched again: the group's lag stayed and the test timed out. Now the worker sees records left
and no progress, says so in /metrics, puts the partition back and reads it again from its
committed offset: every output topic equals the backtest.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.backtest import run_backtest
from streams.broker import EmbeddedBroker
from streams.ops.launcher import free_port, start_worker, stop_worker, wait_ready
from streams.ops.metrics import scrape
from streams.simulate import simulate
from tests.streaming import CONFIG, WITH_CONFIG, assert_same_outputs, wait_drained
from tests.test_resilience import SMALL, PacedProducer
from tests.test_resilience import broker as broker
from tests.unfetched_partition import AFTER_ENV, PARTITION_ENV

pytestmark = [pytest.mark.broker, pytest.mark.slow]


def test_an_input_partition_left_out_of_every_fetch_set_is_read_again(
    broker: EmbeddedBroker,
    tmp_path: Path,
) -> None:
    events = simulate(SMALL).events
    bootstrap, app_id, port = broker.bootstrap, "unfetched", free_port()
    proc, ready, log = start_worker(
        bootstrap, tmp_path, app_id=app_id, metrics_port=port, extra=WITH_CONFIG,
        module="tests.unfetched_partition", env={PARTITION_ENV: "1", AFTER_ENV: "100"},
    )  # fmt: skip
    try:
        wait_ready(proc, ready, log, timeout_s=60)
        producer = PacedProducer(bootstrap, events, rate_per_s=500)
        producer.start()
        producer.finish()
        got = wait_drained(bootstrap, app_id, timeout_s=120, metrics_port=port)
        rereads = scrape(f"http://127.0.0.1:{port}/metrics").get("guardline_input_rereads_total")
    finally:
        stop_worker(proc)
    text = log.read_text()
    assert "input partition 1 taken out of Faust's fetch sets" in text, "the fault never struck"
    assert "input partitions [1]: records left but nothing read" in text
    assert rereads is not None and rereads >= 1
    assert_same_outputs(got, run_backtest(events, CONFIG), CONFIG)
