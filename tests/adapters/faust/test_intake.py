"""The input intake's bookkeeping, against a stand-in for the part of Faust's consumer it uses.

The end-to-end path (real broker, real Faust worker, offsets committed after processing) is
covered by test_stream.py; here: what each fetched batch turns into, record for record.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from types import SimpleNamespace
from typing import Any

from aiokafka.structs import TopicPartition
from faust.transport.consumer import Consumer as FaustConsumer
from faust.types import TP
from hypothesis import given, settings
from hypothesis import strategies as st
from intervaltree import IntervalTree

from streams.adapters.faust.intake import Intake

TOPIC = "guardline-events"


class FakeConsumer:
    def __init__(self, app: Any) -> None:
        self.app = app
        self._read_offset: defaultdict[TP, int | None] = defaultdict(lambda: None)
        self._committed_offset: defaultdict[TP, int | None] = defaultdict(lambda: None)
        self.tracked: list[Any] = []
        self.full: set[TP] = set()
        self.gaps: list[tuple[TP, int, int]] = []
        self.flow_active = True
        # As in Faust: fetched and delivered partitions; a full buffer moves one to `buffered`.
        self._active_partitions: set[TP] = {TP(TOPIC, p) for p in range(4)}
        self._buffered_partitions: set[TP] = set()
        self._paused_partitions: set[TP] = set()  # Faust's: a rebalance

    def _get_active_partitions(self) -> set[TP]:
        return self._active_partitions

    def _to_message(self, tp: Any, record: Any) -> Any:
        return SimpleNamespace(
            tp=tp,
            offset=record.offset,
            key=record.key,
            value=record.value,
            generation_id=self.app.consumer_generation_id,
        )

    def track_message(self, message: Any) -> None:
        self.tracked.append(message)

    def on_buffer_full(self, tp: TP) -> None:
        assert isinstance(tp, TP)  # Faust asserts this on its partition sets
        self.full.add(tp)
        self._active_partitions.discard(tp)
        self._buffered_partitions.add(tp)

    def on_buffer_drop(self, tp: TP) -> None:
        assert isinstance(tp, TP)
        self.full.discard(tp)
        if tp in self._buffered_partitions:
            self._buffered_partitions.discard(tp)
            self._active_partitions.add(tp)

    async def _add_gap(self, tp: TP, start: int, end: int) -> None:
        self.gaps.append((tp, start, end))


def make(batch_size: int = 100) -> tuple[Intake, FakeConsumer]:
    app = SimpleNamespace(consumer_generation_id=1)
    consumer = FakeConsumer(app)
    app.consumer = consumer  # type: ignore[attr-defined]
    return Intake(app, TOPIC, batch_size), consumer


def records(partition: int, offsets: list[int], topic: str = TOPIC) -> list[Any]:
    return [
        SimpleNamespace(topic=topic, partition=partition, offset=o, key=b"k", value=b"v%d" % o)
        for o in offsets
    ]


def tp(partition: int, topic: str = TOPIC) -> TopicPartition:
    return TopicPartition(topic, partition)  # what fetched batches are keyed by


def test_input_records_are_kept_and_other_topics_pass_through() -> None:
    intake, consumer = make()
    other = records(0, [5], topic="guardline-routed")
    rest = intake.divert({tp(0): records(0, [0, 1]), tp(0, "guardline-routed"): other})
    assert rest == {tp(0, "guardline-routed"): other}
    taken = asyncio.run(intake.take())
    assert [(o, k, v) for o, k, v, _ in taken[0]] == [(0, b"k", b"v0"), (1, b"k", b"v1")]
    assert [m for *_, m in taken[0]] == consumer.tracked  # pending until the worker acks them


def test_redelivered_offsets_are_dropped_and_gaps_registered() -> None:
    intake, consumer = make()
    intake.divert({tp(1): records(1, [3, 4])})
    intake.divert({tp(1): records(1, [2, 3, 8])})  # 2, 3 again; 5-7 never fetched
    taken = asyncio.run(intake.take())
    assert [r[0] for r in taken[1]] == [3, 4, 8]
    assert consumer.gaps == [(tp(1), 5, 7)]  # never fetched; 8 is delivered (and acked)


def test_a_full_partition_stops_being_fetched_until_taken() -> None:
    intake, consumer = make(batch_size=3)
    intake.divert({tp(2): records(2, [0, 1, 2])})
    assert consumer.full == {TP(TOPIC, 2)} and intake.ready.is_set()
    asyncio.run(intake.take())
    assert consumer.full == set() and not intake.ready.is_set()


def test_a_held_partition_stays_unfetched_across_takes_until_released() -> None:
    """Held (ahead in event time, `alignment.py`), a partition is not fetched even once its
    full buffer is taken; its records already fetched are still taken."""
    intake, consumer = make(batch_size=3)
    intake.divert({tp(2): records(2, [0, 1, 2])})  # full: paused until taken
    intake.hold({1, 2})
    assert consumer.full == {TP(TOPIC, 1), TP(TOPIC, 2)}
    intake.divert({tp(1): records(1, [0])})  # fetched before the hold took effect
    taken = asyncio.run(intake.take())
    assert sorted(taken) == [1, 2]
    assert consumer.full == {TP(TOPIC, 1), TP(TOPIC, 2)}  # the take resumed neither
    intake.hold({2})
    assert consumer.full == {TP(TOPIC, 2)}
    intake.forget(2)  # revoked while held: not left in Faust's buffered set
    assert TP(TOPIC, 2) not in consumer._buffered_partitions
    intake.hold(set())
    assert consumer.full == {TP(TOPIC, 2)}  # forgotten, so not resumed by this intake either
    assert consumer._active_partitions == {TP(TOPIC, p) for p in (0, 1, 3)}


def test_pending_records_wait_while_the_flow_is_stopped_and_old_generations_are_dropped() -> None:
    intake, consumer = make()
    intake.divert({tp(0): records(0, [0])})
    consumer.flow_active = False
    assert asyncio.run(intake.take()) == {}
    consumer.flow_active = True
    intake.divert({tp(0): records(0, [1])})
    consumer.app.consumer_generation_id = 2
    intake.divert({tp(0): records(0, [2])})
    assert [r[0] for r in asyncio.run(intake.take())[0]] == [2]


def test_a_fetch_faust_discards_is_left_to_faust_and_moves_no_read_offset() -> None:
    """Fetched while the flow is stopped (Faust then seeks back to the committed offsets), or
    for a partition no longer fetched: taking it would mark offsets read that are fetched
    again after the seek, and those would be skipped for good."""
    intake, consumer = make()
    stopped = {tp(0): records(0, [5, 6])}
    consumer.flow_active = False
    assert intake.divert(stopped) == stopped
    consumer.flow_active = True
    consumer._active_partitions.discard(TP(TOPIC, 1))  # paused by Faust (a rebalance)
    paused = {tp(1): records(1, [7])}
    assert intake.divert({**paused, tp(2): records(2, [0])}) == paused
    assert consumer._read_offset[tp(0)] is None and consumer._read_offset[tp(1)] is None
    assert consumer.tracked == [m for *_, m in asyncio.run(intake.take())[2]]
    intake.divert({tp(0): records(0, [5, 6])})  # after the seek: fetched again, delivered
    assert [r[0] for r in asyncio.run(intake.take())[0]] == [5, 6]


def test_a_partition_paused_by_its_full_buffer_is_still_delivered() -> None:
    intake, consumer = make(batch_size=2)
    intake.divert({tp(3): records(3, [0, 1])})
    assert TP(TOPIC, 3) not in consumer._active_partitions  # fetching stops
    intake.divert({tp(3): records(3, [2])})  # already in flight when it stopped
    assert [r[0] for r in asyncio.run(intake.take())[3]] == [0, 1, 2]
    assert TP(TOPIC, 3) in consumer._active_partitions


def test_resync_puts_back_only_a_partition_nothing_keeps_from_being_fetched() -> None:
    """Issue 18's stall: a partition in none of Faust's fetch sets is never fetched again.
    Resync puts it back unless this intake holds it, its buffer is full, or Faust paused it."""
    intake, consumer = make(batch_size=2)
    lost, held, full, paused = (TP(TOPIC, p) for p in range(4))
    intake.hold({1})
    intake.divert({tp(2): records(2, [0, 1])})  # full
    consumer._active_partitions.discard(lost)  # fell out of every set
    consumer._active_partitions.discard(paused)
    consumer._paused_partitions.add(paused)
    consumer._buffered_partitions.add(lost)  # delivered but never fetched: same stall
    assert held in consumer._buffered_partitions and full in consumer._buffered_partitions
    intake.resync({0, 1, 2, 3})
    assert consumer._active_partitions == {lost}
    assert consumer._buffered_partitions == {held, full}
    assert intake.waiting() == ({1}, {2})


def test_a_revoked_partition_is_forgotten() -> None:
    intake, consumer = make(batch_size=2)
    intake.divert({tp(0): records(0, [0]), tp(1): records(1, [0, 1])})
    assert TP(TOPIC, 1) in consumer._buffered_partitions  # full: fetching stopped
    consumer._active_partitions.discard(TP(TOPIC, 1))  # Faust's revocation
    intake.forget(1)
    assert intake.count == 1
    assert TP(TOPIC, 1) not in consumer._buffered_partitions  # no longer delivered
    assert intake.divert({tp(1): records(1, [2])}) == {tp(1): records(1, [2])}
    assert list(asyncio.run(intake.take())) == [0]


@settings(deadline=None)  # a loaded CI machine is no failure (no timing asserted)
@given(st.lists(st.lists(st.integers(0, 3), max_size=6), max_size=8))
def test_every_fetched_offset_is_delivered_in_order(steps: list[list[int]]) -> None:
    """Fetches that overlap (a re-fetch) or jump ahead lose nothing and never go backwards."""
    intake, _ = make(batch_size=1000)
    nxt, new, fetched = 0, set(), set()
    for step in steps:
        offsets = sorted({max(0, nxt - 2) + i for i in step})  # may re-read up to 2 behind
        intake.divert({tp(0): records(0, offsets)})
        new.update(o for o in offsets if o >= nxt)  # never fetched before: must arrive
        fetched.update(offsets)
        if offsets:
            nxt = max(nxt, offsets[-1] + 1)
    seen = [r[0] for box in asyncio.run(intake.take()).values() for r in box]
    assert seen == sorted(seen)  # in order (Faust, too, may hand the last offset twice)
    assert new <= set(seen) <= fetched


class Message(SimpleNamespace):
    __hash__ = object.__hash__  # Faust keeps pending messages in a set


class CommitBookkeeping(FakeConsumer):
    """The stand-in, with Faust's own ack, gap and commit-offset code (faust-streaming 0.15)."""

    ack = FaustConsumer.ack
    _add_gap = FaustConsumer._add_gap  # type: ignore[assignment]
    _new_offset = FaustConsumer._new_offset

    def __init__(self, app: Any) -> None:
        super().__init__(app)
        self._acked: defaultdict[TP, list[int]] = defaultdict(list)
        self._acked_index: defaultdict[TP, set[int]] = defaultdict(set)
        self._gap: defaultdict[TP, IntervalTree] = defaultdict(IntervalTree)
        self._unacked_messages: set[Any] = set()
        self._n_acked = 0
        self._waiting_for_ack = None
        app.topics = SimpleNamespace(acks_enabled_for=lambda topic: True)

    def _to_message(self, tp: Any, record: Any) -> Any:
        return Message(**vars(super()._to_message(tp, record)), topic=tp.topic, acked=False)

    def seek(self, partition: int, committed: int) -> None:
        """`perform_seek`: read and committed offsets both become the committed one."""
        self._read_offset[tp(partition)] = self._committed_offset[tp(partition)] = committed

    def process(self, intake: Intake) -> None:
        for box in asyncio.run(intake.take()).values():
            for *_, message in box:
                self.ack(message)

    def commit(self, partition: int) -> int | None:
        offset = self._new_offset(tp(partition))
        if offset is not None and offset > (self._committed_offset[tp(partition)] or 0):
            self._committed_offset[tp(partition)] = offset
        return self._committed_offset[tp(partition)]


def make_committing() -> tuple[Intake, CommitBookkeeping]:
    app = SimpleNamespace(consumer_generation_id=1)
    consumer = CommitBookkeeping(app)
    app.consumer = consumer  # type: ignore[attr-defined]
    return Intake(app, TOPIC, 10_000), consumer


def test_a_second_seek_while_the_fetcher_goes_on_does_not_stall_the_commit() -> None:
    """Seen after a broker restart: two seeks to the committed offset 348; between them the
    intake took 348..424, after the second the fetcher went on at 425. Registered from Faust's
    read offset alone, a gap 349..425 put those offsets twice into Faust's acked list, and
    its commit then advanced one offset per commit interval (lag 238 for 180 s)."""
    intake, consumer = make_committing()
    consumer.seek(0, 348)
    intake.divert({tp(0): records(0, list(range(348, 425)))})
    consumer.process(intake)
    consumer.seek(0, 348)  # the second seek: read offset back, fetch position not
    intake.divert({tp(0): records(0, list(range(425, 443)))})
    consumer.process(intake)
    assert consumer.commit(0) == 443  # in one commit
    assert consumer._acked[tp(0)] == []


def test_offsets_never_fetched_are_committed_past_and_delivered_ones_only_once() -> None:
    intake, consumer = make_committing()
    consumer.seek(0, 10)
    intake.divert({tp(0): records(0, [10, 11, 15, 16])})  # 12-14: transaction markers
    consumer.process(intake)
    assert consumer.commit(0) == 17
