"""A flush that a rebalance interrupts leaves the records it took before alone (issue 7).

`_flush` awaits (alert delivery) while it works through a batch; a rebalance can revoke the
batch's partitions meanwhile. Those records are then someone else's: handling them would make
a fresh runtime for a partition this worker no longer owns (it would write that partition's
changelog) and ack them into the new generation. Unacked, they are read again by the owner.
"""

from __future__ import annotations

import asyncio

import pytest
from faust.types import TP

from streams import topics
from streams.config import load_config
from streams.worker.app import GuardlineWorker, WorkerSettings


@pytest.fixture
def worker(monkeypatch: pytest.MonkeyPatch) -> GuardlineWorker:
    """A worker never started: no broker, only its bookkeeping."""
    settings = WorkerSettings(
        bootstrap="127.0.0.1:9", config=load_config(), store="memory://", metrics_port=None
    )
    worker = GuardlineWorker(settings)
    monkeypatch.setattr(worker, "_count_assigned", lambda: None)  # asks the (absent) consumer
    return worker


def test_records_taken_before_a_revocation_make_no_runtime(worker: GuardlineWorker) -> None:
    async def scenario() -> None:
        taken = worker._epoch  # what `_flush` notes when it takes its batch
        await worker._detect(0, [], taken)
        assert list(worker.runtimes) == [0]
        revoked = {TP(topics.ROUTED.name, p) for p in range(worker.settings.partitions)}
        await worker._on_revoked(worker.app, revoked)
        assert worker.runtimes == {}
        await worker._detect(0, [], taken)  # the rest of that batch, after the await
        assert worker.runtimes == {}, "a runtime was made for a revoked partition"
        await worker._detect(0, [], worker._epoch)  # a batch taken after the rebalance
        assert list(worker.runtimes) == [0]

    asyncio.run(scenario())
