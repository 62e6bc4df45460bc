"""The worker's re-read of offsets Faust lost track of in a rebalance (issue 7), wired as in
production: it reads Faust's own bookkeeping and asks Faust to seek (`streams/worker/commits.py`).
"""

from __future__ import annotations

import asyncio
import dataclasses
from types import SimpleNamespace
from typing import Any

import pytest
from faust.types import TP

from streams import topics
from streams.config import load_config
from streams.worker.app import GuardlineWorker, WorkerSettings
from streams.worker.consumer import HeadGuardConsumer
from streams.worker.envelope import Packet, pack
from tests.factories import T0, adult, message, minor


@pytest.fixture
def worker() -> GuardlineWorker:
    """A worker never started (no broker) that re-reads without a grace period."""
    settings = WorkerSettings(
        bootstrap="127.0.0.1:9", config=load_config(), store="memory://", metrics_port=None
    )
    return GuardlineWorker(dataclasses.replace(settings, lost_grace_s=0.0))


def test_the_worker_consumes_through_the_head_guard(worker: GuardlineWorker) -> None:
    """Faust's own consumer commits past a held head record (tests/test_commits.py)."""
    assert isinstance(worker.app.consumer, HeadGuardConsumer)


@dataclasses.dataclass
class _Message:
    tp: TP
    offset: int
    acked: bool = False
    generation_id: int = 0  # a never-started app's current generation


class _Consumer:
    """Faust's consumer as `_reread_lost` sees it: its offset bookkeeping and `reread`."""

    def __init__(self, committed: int, read: int, acked: list[int], held: list[int]) -> None:
        self.tp = TP(topics.EVENTS.name, 2)
        self._committed_offset = {self.tp: committed}
        self._read_offset = {self.tp: read}
        self._acked = {self.tp: acked}
        self.unacked = [_Message(self.tp, offset) for offset in held]
        self.flow_active = True
        self.seeks = 0

    def assignment(self) -> set[TP]:
        return {self.tp, TP("guardline-state-changelog", 2)}

    async def reread(self) -> bool:  # every partition to the broker's committed offset
        self.seeks += 1
        return True


def reread(worker: GuardlineWorker, consumer: Any) -> int:
    worker.app._consumer = consumer
    asyncio.run(worker._reread_lost())
    return int(consumer.seeks)


def test_offsets_faust_lost_track_of_are_read_again(worker: GuardlineWorker) -> None:
    """Seen after a rebalance: committed 248 in Faust's memory, 256.. acked, 248..255 gone."""
    lost = _Consumer(committed=248, read=391, acked=list(range(256, 392)), held=[])
    assert reread(worker, lost) == 1


def test_offsets_still_being_worked_on_or_moving_are_left_alone(worker: GuardlineWorker) -> None:
    held = _Consumer(committed=248, read=391, acked=list(range(256, 392)), held=[250])
    assert reread(worker, held) == 0
    moving = _Consumer(committed=248, read=391, acked=list(range(248, 392)), held=[])
    assert reread(worker, moving) == 0
    waiting = _Consumer(committed=248, read=247, acked=[], held=[])  # head not fetched yet
    assert reread(worker, waiting) == 0


def test_a_flush_outliving_a_revoke_makes_no_runtime_for_the_revoked_partition(
    worker: GuardlineWorker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A flush awaits deliveries; a rebalance may revoke its routed partitions meanwhile.
    A runtime made after the revoke would keep stale state if the partition came back."""
    monkeypatch.setattr(worker, "_count_assigned", lambda: None)  # needs a running consumer
    routed = TP(topics.ROUTED.name, 3)

    async def scenario() -> None:
        await worker._on_assigned(worker.app, {routed})
        await worker._detect(3, [])
        assert 3 in worker.runtimes
        await worker._on_revoked(worker.app, {routed})
        await worker._detect(3, [])  # the rest of a flush begun before the revoke
        assert 3 not in worker.runtimes

    asyncio.run(scenario())


def test_records_from_before_a_rebalance_never_reach_the_new_runtime(
    worker: GuardlineWorker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Seen in the rebalance test: packets fetched before the rebalance were applied by the new
    runtime ahead of the records before them, read again from the committed offset; an event
    still waiting for the watermark there came late and was skipped (an alert's content
    differed from the backtest's)."""
    monkeypatch.setattr(worker, "_count_assigned", lambda: None)  # needs a running consumer
    routed = TP(topics.ROUTED.name, 3)
    event = message(adult(), minor("u-m"), T0)
    packet = pack(Packet(source_partition=0, watermark_ms=T0, items=[("ACCOUNT:u-adult", event)]))

    def record(generation: int) -> tuple[int, None, bytes, Any]:
        token = SimpleNamespace(message=SimpleNamespace(generation_id=generation))
        return (7, None, packet, token)

    async def scenario() -> None:
        worker.app.consumer_generation_id = 1
        await worker._on_assigned(worker.app, {routed})
        await worker._on_revoked(worker.app, {routed})
        worker.app.consumer_generation_id = 2  # the partition comes back
        await worker._on_assigned(worker.app, {routed})
        await worker._detect(3, [record(1)])  # a flush begun before the rebalance
        assert len(worker.runtimes[3].buffer) == 0
        await worker._detect(3, [record(1), record(2)])
        assert len(worker.runtimes[3].buffer) == 1  # the copy read again after the seek

    asyncio.run(scenario())
