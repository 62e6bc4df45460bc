"""The worker consumer's seek (`streams/adapters/faust/consumer.py`): a partition with nothing
committed is put back where reading starts, and its commit moves only from there.

Issue 18, traced live: after a broker restart, a fetch answered while Faust's flow was stopped
moved the fetch position of every input partition past records nobody handed on; Faust
discarded the batch and sought "to the committed offsets", which aiokafka does only for
partitions that have one. These tests run Faust's own `perform_seek` on the worker's consumer,
with the consumer thread (aiokafka) replaced by a stand-in that records the seeks.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import faust
import pytest
from faust.types import TP

from streams.adapters.faust.consumer import install

EVENTS = TP("guardline.events.v1", 0)
ROUTED = TP("guardline.internal.routed.v1", 1)
CHANGELOG = TP("guardline-guardline-state-changelog", 0)


class FakeThread:
    """aiokafka behind Faust's consumer thread: committed offsets, the log's start and end."""

    def __init__(self, committed: Mapping[TP, int | None], start: int, end: int) -> None:
        self.committed, self.start, self.end = dict(committed), start, end
        self.sought: dict[TP, int] = {}

    async def seek_to_committed(self) -> Mapping[TP, int | None]:
        for tp, offset in self.committed.items():
            if offset:  # aiokafka: only partitions with a committed offset > 0 move
                self.sought[tp] = offset
        return dict(self.committed)

    async def earliest_offsets(self, *tps: TP) -> Mapping[TP, int]:
        return dict.fromkeys(tps, self.start)

    async def highwaters(self, *tps: TP) -> Mapping[TP, int]:
        return dict.fromkeys(tps, self.end)

    async def seek_wait(self, offsets: Mapping[TP, int]) -> None:
        self.sought.update(offsets)


def worker_consumer(
    monkeypatch: pytest.MonkeyPatch, thread: FakeThread, reset: str = "earliest"
) -> Any:
    app = faust.App(
        f"test-consumer-{reset}", broker="kafka://127.0.0.1:9", consumer_auto_offset_reset=reset
    )
    install(app)
    consumer = app.consumer
    consumer._thread = thread
    # Agents' topics are acked; the table's changelog is not (recovery seeks it itself).
    monkeypatch.setattr(app.topics, "acks_enabled_for", lambda topic: topic != CHANGELOG.topic)
    return consumer


def test_a_partition_with_nothing_committed_is_sought_to_the_log_start(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    thread = FakeThread({EVENTS: None, ROUTED: 40, CHANGELOG: None}, start=5, end=300)
    consumer = worker_consumer(monkeypatch, thread)
    consumer._read_offset[EVENTS] = 87  # the fetcher got this far before the rebalance
    with caplog.at_level(logging.DEBUG, logger="guardline.consumer"):
        asyncio.run(consumer.perform_seek())
    # At debug level, offsets per partition (what issue 18 was traced with), nothing else.
    assert caplog.messages == [
        "seek: committed offsets guardline-guardline-state-changelog[0]=None, "
        "guardline.internal.routed.v1[1]=40; none committed, sought to the start: "
        "guardline.events.v1[0]=5"
    ]
    assert thread.sought == {EVENTS: 5, ROUTED: 40}  # the changelog is left to recovery
    assert consumer._read_offset[EVENTS] is None  # every record from 5 is taken again
    assert consumer.commit_base(EVENTS) == 5
    assert consumer.commit_base(ROUTED) == 40
    assert consumer.commit_base(CHANGELOG) is None


def test_latest_reset_puts_it_at_the_end(monkeypatch: pytest.MonkeyPatch) -> None:
    thread = FakeThread({EVENTS: None}, start=5, end=300)
    consumer = worker_consumer(monkeypatch, thread, reset="latest")
    asyncio.run(consumer.perform_seek())
    assert thread.sought == {EVENTS: 300}
    assert consumer.commit_base(EVENTS) == 300


def test_a_committed_offset_replaces_the_start(monkeypatch: pytest.MonkeyPatch) -> None:
    thread = FakeThread({EVENTS: None}, start=0, end=300)
    consumer = worker_consumer(monkeypatch, thread)
    asyncio.run(consumer.perform_seek())
    assert consumer.commit_base(EVENTS) == 0
    thread.committed[EVENTS] = 120  # the worker committed, then a rebalance
    asyncio.run(consumer.perform_seek())
    assert consumer.commit_base(EVENTS) == 120
    assert thread.sought == {EVENTS: 120}


def test_a_revoked_partition_has_no_start_until_it_is_sought_again(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    thread = FakeThread({EVENTS: None, ROUTED: None}, start=0, end=300)
    consumer = worker_consumer(monkeypatch, thread)

    async def app_revoked(revoked: Any) -> None:  # the app's handler: not under test here
        return None

    consumer._on_partitions_revoked = app_revoked
    asyncio.run(consumer.perform_seek())
    consumer._acked[EVENTS] = [3, 4, 7]
    consumer._read_offset[EVENTS] = 9
    with caplog.at_level(logging.DEBUG, logger="guardline.consumer"):
        asyncio.run(consumer.on_partitions_revoked({EVENTS}))
    assert caplog.messages == [
        "revoked; read offsets guardline.events.v1[0]=9, committed guardline.events.v1[0]=None,"
        " acked guardline.events.v1[0]=3..7 (3)"
    ]
    assert consumer.commit_base(EVENTS) is None  # no commit until the next seek
    assert consumer.commit_base(ROUTED) == 0


class _Records:
    """aiokafka's partition records, as `FetchResult` iterates them."""

    def __init__(self, offsets: list[int]) -> None:
        self.next_fetch_offset = offsets[0]
        self._left = list(offsets)

    def __iter__(self) -> _Records:
        return self

    def __next__(self) -> int:
        if not self._left:
            raise StopIteration
        self.next_fetch_offset = self._left[0] + 1
        return self._left.pop(0)


def drained(partitions: Any) -> dict[Any, list[int]]:
    """What aiokafka's own `Fetcher.fetched_records` drains of one fetched partition (ev, 0)
    when given `partitions`."""
    from types import SimpleNamespace

    from aiokafka.consumer.fetcher import Fetcher, FetchResult
    from aiokafka.structs import TopicPartition

    tp = TopicPartition("ev", 0)
    records = _Records([5, 6])
    state = SimpleNamespace(paused=False, position=5, consumed_to=lambda offset: None)
    assignment = SimpleNamespace(active=True, state_value=lambda _tp: state)
    result = FetchResult(tp, assignment=assignment, partition_records=records, backoff=0)
    fetcher = SimpleNamespace(
        _subscriptions=SimpleNamespace(reassignment_in_progress=False, is_assigned=bool),
        _records={tp: result},
        _notify=lambda future: None,
        _wait_consume_future=None,
    )
    got: dict[Any, list[int]] = asyncio.run(Fetcher.fetched_records(fetcher, partitions))
    return got


def test_aiokafka_drains_only_partitions_faust_delivers_even_when_none_is_left() -> None:
    """aiokafka reads an empty partition set as "all of them"; Faust hands it its live set of
    active partitions, which a rebalance empties while a fetch waits: the paused partitions'
    records were drained (position past them) and dropped by Faust."""
    from streams.adapters.faust.consumer import Deliverable

    assert drained(set()) == {("ev", 0): [5, 6]}  # the quirk, in aiokafka itself
    assert drained(Deliverable(set())) == {}
    assert drained(Deliverable({TP("ev", 0)})) == {("ev", 0): [5, 6]}
    assert drained(Deliverable({TP("ev", 1)})) == {}
