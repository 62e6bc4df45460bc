"""The worker's re-read of offsets Faust lost track of in a rebalance (issue 7), wired as in
production: it reads Faust's own bookkeeping and asks Faust to seek
(`streams/adapters/faust/commits.py`).
"""

from __future__ import annotations

import asyncio
import dataclasses
from types import SimpleNamespace
from typing import Any

import pytest
from faust.types import TP

from streams import topics
from streams.adapters.faust.app import GuardlineWorker, WorkerSettings
from streams.adapters.faust.consumer import HeadGuardConsumer
from streams.config import load_config
from streams.pipeline.envelope import Packet, pack
from streams.pipeline.flush import detect
from tests.factories import T0, adult, message, minor


@pytest.fixture
def worker() -> GuardlineWorker:
    """A worker never started (no broker) that re-reads without a grace period."""
    settings = WorkerSettings(
        bootstrap="127.0.0.1:9", config=load_config(), store="memory://", metrics_port=None
    )
    return GuardlineWorker(dataclasses.replace(settings, lost_grace_s=0.0))


def test_the_worker_consumes_through_the_head_guard(worker: GuardlineWorker) -> None:
    """Faust's own consumer commits past a held head record (test_commits.py)."""
    assert isinstance(worker.app.consumer, HeadGuardConsumer)


@dataclasses.dataclass
class _Message:
    tp: TP
    offset: int
    acked: bool = False
    generation_id: int = 0  # a never-started app's current generation


class _Consumer:
    """Faust's consumer as `_reread_lost` sees it: its offset bookkeeping and `reread`."""

    def __init__(
        self,
        committed: int | None,
        read: int,
        acked: list[int],
        held: list[int],
        start: int | None = None,  # where the last seek put it, nothing committed
    ) -> None:
        self.tp = TP(topics.EVENTS.name, 2)
        self._committed_offset = {self.tp: committed}
        self.start = start
        self._read_offset = {self.tp: read}
        self._acked = {self.tp: acked}
        self.unacked = [_Message(self.tp, offset) for offset in held]
        self.flow_active = True
        self.seeks = 0

    def assignment(self) -> set[TP]:
        return {self.tp, TP("guardline-state-changelog", 2)}

    def commit_base(self, tp: TP) -> int | None:
        committed = self._committed_offset[tp]
        return committed if committed is not None else self.start

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


def test_offsets_lost_before_anything_is_committed_are_read_again(worker: GuardlineWorker) -> None:
    """Nothing committed, the partition sought to 0; 0..87 handed on, then 88.. acked."""
    lost = _Consumer(committed=None, start=0, read=120, acked=list(range(88, 121)), held=[])
    assert reread(worker, lost) == 1
    unknown = _Consumer(committed=None, read=120, acked=list(range(88, 121)), held=[])
    assert reread(worker, unknown) == 0  # not sought since assigned: the seek is on its way


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
        await detect(worker.pipeline, 3, [], worker.port, worker.revocations)
        assert 3 in worker.runtimes
        flush_began = worker.revocations
        await worker._on_revoked(worker.app, {routed})
        # The rest of a flush begun before the revoke:
        await detect(worker.pipeline, 3, [], worker.port, flush_began)
        assert 3 not in worker.runtimes

    asyncio.run(scenario())


def routed_record(partition: int, offset: int) -> tuple[int, None, bytes, Any]:
    """A routed packet with one event, as the detect stage's agent collects it."""
    event = message(adult(), minor("u-m"), T0 + offset)
    packet = pack(
        Packet(
            source_partition=0,
            watermark_ms=T0,
            items=[("ACCOUNT:u-adult", event, ("new_contact_burst",))],
        )
    )
    at = SimpleNamespace(topic=topics.ROUTED.name, partition=partition, offset=offset)
    return (offset, None, packet, SimpleNamespace(key=None, value=packet, message=at))


def test_records_collected_before_a_revoke_never_reach_the_new_runtime(
    worker: GuardlineWorker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Seen in the rebalance test: after a broker restart gave the same partitions back (same
    generation number: noida-db starts again at 1), the new runtime applied packets collected
    before the revoke ahead of the records before them, read again from the committed offset;
    an event still waiting for the watermark there came late and was skipped (an alert's
    content differed from the backtest's)."""
    monkeypatch.setattr(worker, "_count_assigned", lambda: None)  # needs a running consumer
    routed = TP(topics.ROUTED.name, 3)

    async def scenario() -> None:
        await worker._on_assigned(worker.app, {routed})
        flush_began = worker.revocations
        await worker._on_revoked(worker.app, {routed})
        await worker._on_assigned(worker.app, {routed})  # the partition comes back
        await detect(worker.pipeline, 3, [routed_record(3, 7)], worker.port, flush_began)
        assert 3 not in worker.runtimes  # nothing applied, no runtime made
        read_again = [routed_record(3, 7)]
        await detect(worker.pipeline, 3, read_again, worker.port, worker.revocations)
        assert len(worker.runtimes[3].buffer) == 1

    asyncio.run(scenario())


class _Stream:
    """A Faust stream as `_agent` reads it: `noack().events()` yields the fetched records."""

    def __init__(self, records: list[tuple[int, None, bytes, Any]]) -> None:
        self.records = records

    def noack(self) -> _Stream:
        return self

    async def events(self) -> Any:
        for _offset, _key, _value, event in self.records:
            yield event


def test_routed_records_delivered_between_a_revoke_and_the_assignment_are_not_collected(
    worker: GuardlineWorker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Faust's stream buffers can still hand on records fetched before a revoke; collected, a
    flush after the assignment would apply them ahead of the committed offset's records."""
    monkeypatch.setattr(worker, "_count_assigned", lambda: None)  # needs a running consumer
    worker.settings = dataclasses.replace(worker.settings, batch_size=10_000)  # no flush

    async def scenario() -> None:
        await worker._on_assigned(worker.app, {TP(topics.ROUTED.name, 3)})
        await worker._agent(_Stream([routed_record(3, 1), routed_record(4, 2)]))

    asyncio.run(scenario())
    collected = worker.inbox.records[topics.ROUTED.name]
    assert {p: [r[0] for r in rs] for p, rs in collected.items()} == {3: [1]}
    assert worker.inbox.count == 1
