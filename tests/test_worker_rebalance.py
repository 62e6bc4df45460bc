"""The worker's rebalance bookkeeping, without a broker (issue 7).

A flush that a rebalance interrupts leaves the records it took before alone: `_flush` awaits
(alert delivery) while it works through a batch; a rebalance can revoke the batch's partitions
meanwhile. Those records are then someone else's: handling them would make a fresh runtime for
a partition this worker no longer owns (it would write that partition's changelog) and ack them
into the new generation. Unacked, they are read again by the owner.

Offsets Faust lost track of in a rebalance (`streams/worker/commits.py`) are read again.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

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
    worker = GuardlineWorker(dataclasses.replace(settings, lost_grace_s=0.0))
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


@dataclasses.dataclass
class _Message:
    tp: TP
    offset: int
    acked: bool = False


class _Consumer:
    """Faust's consumer as `_reread_lost` sees it: its offset bookkeeping and `seek`."""

    def __init__(self, committed: int, read: int, acked: list[int], held: list[int]) -> None:
        self.tp = TP(topics.EVENTS.name, 2)
        self._committed_offset = {self.tp: committed}
        self._read_offset = {self.tp: read}
        self._acked = {self.tp: acked}
        self.unacked = [_Message(self.tp, offset) for offset in held]
        self.flow_active = True
        self.seeks: list[tuple[TP, int]] = []

    def assignment(self) -> set[TP]:
        return {self.tp, TP("guardline-state-changelog", 2)}

    async def seek(self, tp: TP, offset: int) -> None:
        self.seeks.append((tp, offset))


def reread(worker: GuardlineWorker, consumer: Any) -> list[tuple[TP, int]]:
    worker.app._consumer = consumer
    asyncio.run(worker._reread_lost())
    return list(consumer.seeks)


def test_offsets_faust_lost_track_of_are_read_again(worker: GuardlineWorker) -> None:
    """Seen after a rebalance: committed 248 in Faust's memory, 256.. acked, 248..255 gone."""
    lost = _Consumer(committed=248, read=391, acked=list(range(256, 392)), held=[])
    assert reread(worker, lost) == [(lost.tp, 248)]


def test_offsets_still_being_worked_on_or_moving_are_left_alone(worker: GuardlineWorker) -> None:
    held = _Consumer(committed=248, read=391, acked=list(range(256, 392)), held=[250])
    assert reread(worker, held) == []
    moving = _Consumer(committed=248, read=391, acked=list(range(248, 392)), held=[])
    assert reread(worker, moving) == []
    waiting = _Consumer(committed=248, read=247, acked=[], held=[])  # head not fetched yet
    assert reread(worker, waiting) == []
