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
from tests.fault_runs import run_with_fault
from tests.streaming import CONFIG, assert_same_outputs
from tests.test_resilience import broker as broker
from tests.unfetched_partition import AFTER_ENV, PARTITION_ENV

pytestmark = [pytest.mark.broker, pytest.mark.slow]


def test_an_input_partition_left_out_of_every_fetch_set_is_read_again(
    broker: EmbeddedBroker,
    tmp_path: Path,
) -> None:
    run = run_with_fault(
        broker, tmp_path, "unfetched", "tests.unfetched_partition",
        {PARTITION_ENV: "1", AFTER_ENV: "100"}, "guardline_input_rereads_total",
    )  # fmt: skip
    assert "input partition 1 taken out of Faust's fetch sets" in run.log, "the fault never struck"
    assert "input partitions [1]: records left but nothing read" in run.log
    assert run.metric is not None and run.metric >= 1
    assert_same_outputs(run.outputs, run_backtest(run.events, CONFIG), CONFIG)
