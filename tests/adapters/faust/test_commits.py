"""Lost offsets (issue 7's stuck commit): what the worker re-reads is exactly what stops Faust.

The worker reads Faust's own bookkeeping (committed offset, read offset, acked offsets), so
these tests check `lost_offsets` against Faust's real `Consumer._new_offset`, the function that
decides how far a partition's commit may move.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

import faust
import pytest
from faust.transport.drivers.aiokafka import Consumer as FaustConsumer
from faust.types import TP, Message
from hypothesis import given
from hypothesis import strategies as st

from streams.adapters.faust.commits import StallWatch, held_offsets, lost_offsets
from streams.adapters.faust.consumer import install

PARTITION = TP("guardline.events.v1", 0)


@functools.cache
def faust_consumer() -> Any:
    """A Faust aiokafka consumer that never connects: only its bookkeeping is used."""
    return faust.App("test-commits", broker="kafka://127.0.0.1:9").consumer


@functools.cache
def guarded_consumer() -> Any:
    """The worker's consumer (`streams/adapters/faust/consumer.py`), never connected either."""
    app = faust.App("test-commits-guarded", broker="kafka://127.0.0.1:9")
    install(app)
    return app.consumer


@pytest.fixture(scope="module")
def consumer() -> Any:
    return faust_consumer()


@pytest.fixture(scope="module")
def guarded() -> Any:
    return guarded_consumer()


def faust_moves(consumer: object, committed: int, acked: list[int]) -> bool:
    """Whether Faust's commits of the partition get past `committed` with these acks.

    Each commit takes one run of consecutive acked offsets (older ones are just dropped).
    """
    consumer._committed_offset[PARTITION] = committed  # type: ignore[attr-defined]
    consumer._acked[PARTITION] = sorted(acked)  # type: ignore[attr-defined]
    consumer._acked_index[PARTITION] = set(acked)  # type: ignore[attr-defined]
    consumer._gap.pop(PARTITION, None)  # type: ignore[attr-defined]
    while consumer._acked[PARTITION]:  # type: ignore[attr-defined]
        offset = consumer._new_offset(PARTITION)  # type: ignore[attr-defined]
        if offset is None:
            return False
        if offset > committed:
            return True
    return False


def test_the_race_seen_stops_faust_and_redelivery_unsticks_it(consumer: object) -> None:
    """Records 80..99 were handed on during the seek after a rebalance and committed (100);
    the seek then wrote the committed offset it had fetched before (80), and the fetch loop
    dropped 80..99 when they came again. 100.. are acked; 80..99 never will be."""
    acked = list(range(100, 150))
    assert not faust_moves(consumer, 80, acked)  # stuck, however many more get acked
    assert not faust_moves(consumer, 80, acked + list(range(150, 400)))
    lost = lost_offsets(80, 149, acked, held=[])
    assert lost == range(80, 100)
    # Faust's seek to the broker's committed offsets: the commit that landed (100) is its
    # committed offset again, or, were it 80, 80..99 come again and are acked.
    assert faust_moves(consumer, 100, acked)
    assert faust_moves(consumer, 80, list(range(80, 150)))


def test_a_record_still_being_worked_on_is_not_lost() -> None:
    assert lost_offsets(80, 149, range(100, 150), held=[85]) is None
    assert lost_offsets(80, 149, range(100, 150), held=[79, 100]) == range(80, 100)


def test_nothing_is_lost_before_the_head_is_handed_on() -> None:
    assert lost_offsets(80, None, [], held=[]) is None
    assert lost_offsets(80, 79, [], held=[]) is None
    assert lost_offsets(80, 80, [], held=[]) is None  # one missing offset Faust tolerates
    assert lost_offsets(80, 81, [], held=[]) == range(80, 82)  # handed on, never acked
    assert lost_offsets(None, 81, [90], held=[]) is None  # where reading began: not known yet
    assert lost_offsets(0, 81, [90], held=[]) == range(0, 90)  # began at the log start


@given(
    committed=st.integers(0, 60),
    acked=st.sets(st.integers(0, 80), min_size=1),
    read_extra=st.integers(0, 5),
)
def test_lost_exactly_when_the_commit_cannot_move(
    guarded: object, committed: int, acked: set[int], read_extra: int
) -> None:
    read = max(acked) + read_extra  # acked records were all handed on
    lost = lost_offsets(committed, read, acked, held=[])
    ahead = [offset for offset in acked if offset >= committed]
    if ahead:
        assert (lost is not None) == (not faust_moves(guarded, committed, list(acked)))
    else:  # nothing to commit: lost once two or more records were handed on and never acked
        assert (lost is not None) == (read - committed >= 1)
    if lost is not None:
        assert lost.start == committed and lost.stop == min(ahead, default=read + 1)
        assert not set(lost) & acked


def test_stall_watch_reports_after_the_grace_then_again_every_grace() -> None:
    watch = StallWatch(grace_s=10)
    lost = range(80, 100)
    assert watch.check("p0", lost, now=0) is None
    assert watch.check("p0", lost, now=9.9) is None
    assert watch.check("p0", lost, now=10) == lost
    assert watch.check("p0", lost, now=15) is None  # the re-read gets its chance
    assert watch.check("p0", lost, now=20) == lost
    assert watch.check("p0", None, now=21) is None  # recovered: forgotten
    assert watch.check("p0", lost, now=22) is None


def test_stall_watch_restarts_the_grace_when_the_commit_moves() -> None:
    watch = StallWatch(grace_s=10)
    assert watch.check("p0", range(80, 100), now=0) is None
    assert watch.check("p0", range(90, 100), now=9) is None  # committed moved: new clock
    assert watch.check("p0", range(90, 100), now=18) is None
    assert watch.check("p0", range(90, 100), now=19) == range(90, 100)
    assert watch.check("p1", range(0, 5), now=19) is None  # partitions are independent


def held_message(offset: int, generation: int = 0) -> Message:
    """A record handed on in `generation` (0: a never-started app's current one)."""
    return Message(
        PARTITION.topic, PARTITION.partition, offset, 0.0, 0, None, None, b"", None,
        generation_id=generation,
    )  # fmt: skip


def prepare(
    consumer: object,
    committed: int | None,
    acked: list[int],
    held: list[Message],
    start: int | None = None,
) -> None:
    """The partition's bookkeeping; `start`: where the last seek put it, nothing committed."""
    consumer._committed_offset[PARTITION] = committed  # type: ignore[attr-defined]
    consumer._start_offset = {} if start is None else {PARTITION: start}  # type: ignore[attr-defined]
    consumer._acked[PARTITION] = sorted(acked)  # type: ignore[attr-defined]
    consumer._acked_index[PARTITION] = set(acked)  # type: ignore[attr-defined]
    consumer._gap.pop(PARTITION, None)  # type: ignore[attr-defined]
    consumer._unacked_messages.clear()  # type: ignore[attr-defined]
    for message in held:
        consumer.track_message(message)  # type: ignore[attr-defined]


def test_faust_alone_commits_past_a_held_head_record(consumer: object) -> None:
    """The defect: packet 80 waits in the reorder buffer, 81.. (watermark-only) are acked."""
    head = held_message(80)
    prepare(consumer, 80, list(range(81, 90)), [head])
    assert consumer._new_offset(PARTITION) == 90  # type: ignore[attr-defined]


def test_the_guard_holds_the_commit_until_the_head_is_acked(guarded: object) -> None:
    head = held_message(80)
    prepare(guarded, 80, list(range(81, 90)), [head])
    assert guarded._new_offset(PARTITION) is None  # type: ignore[attr-defined]
    head.acked = True  # applied at last: Faust's ack marks it, then lists its offset
    guarded._acked[PARTITION].insert(0, 80)  # type: ignore[attr-defined]
    guarded._acked_index[PARTITION].add(80)  # type: ignore[attr-defined]
    assert guarded._new_offset(PARTITION) == 90  # type: ignore[attr-defined]


def test_the_guard_still_tolerates_a_head_offset_that_never_arrives(guarded: object) -> None:
    later = held_message(95)  # held records elsewhere do not matter
    prepare(guarded, 80, list(range(81, 90)), [later])
    assert guarded._new_offset(PARTITION) == 90  # type: ignore[attr-defined]


def test_nor_past_a_held_first_record_before_anything_is_committed(guarded: object) -> None:
    first = held_message(0)
    prepare(guarded, None, list(range(1, 9)), [first], start=0)
    assert guarded._new_offset(PARTITION) is None  # type: ignore[attr-defined]


def test_nothing_committed_the_run_must_begin_where_reading_began(
    consumer: object, guarded: object
) -> None:
    """Issue 18, traced: nothing committed yet, the seek after a broker restart put the
    partition at 0 again, but offsets 86..87 were never handed on; 88.. were, and acked."""
    prepare(consumer, None, list(range(88, 100)), [])
    assert consumer._new_offset(PARTITION) == 100  # type: ignore[attr-defined]  # Faust: past 86
    prepare(guarded, None, list(range(88, 100)), [], start=0)
    assert guarded._new_offset(PARTITION) is None  # type: ignore[attr-defined]
    prepare(guarded, None, list(range(88, 100)), [])  # not sought since it was assigned
    assert guarded._new_offset(PARTITION) is None  # type: ignore[attr-defined]
    prepare(guarded, None, list(range(0, 100)), [], start=0)  # read again from 0, all acked
    assert guarded._new_offset(PARTITION) == 100  # type: ignore[attr-defined]


@given(
    committed=st.one_of(st.none(), st.integers(1, 40)),
    start=st.one_of(st.none(), st.integers(0, 40)),
    acked=st.sets(st.integers(0, 60)),
    held=st.sets(st.integers(0, 60)),
)
def test_the_guard_differs_from_faust_only_to_keep_a_held_or_unread_record(
    committed: int | None, start: int | None, acked: set[int], held: set[int]
) -> None:
    held -= acked
    messages = [held_message(offset) for offset in held]
    guarded, faust_alone = guarded_consumer(), faust_consumer()
    prepare(guarded, committed, list(acked), messages, start)
    offset = guarded._new_offset(PARTITION)
    prepare(faust_alone, committed, list(acked), messages)
    faust_offset = faust_alone._new_offset(PARTITION)
    base = committed if committed is not None else start
    if offset is not None:
        assert base is not None and offset == faust_offset
        passed = set(range(base, offset))
        assert not passed & held
        assert passed - acked <= {base}  # Faust's one tolerated head offset at most
    elif faust_offset is not None:
        assert base is None or min(acked) > base + 1 or any(base <= h < faust_offset for h in held)


class _FetchLoop:
    """Faust's fetch loop as the re-read sees it: a record in hand whose read offset is written
    once it has been handed on, then a wait for the next batch (parked while the flow is off)."""

    def __init__(self, consumer: Any, in_hand: int) -> None:
        self.consumer, self.in_hand = consumer, in_hand
        self.handed_on = asyncio.Event()

    async def run(self) -> None:
        await self.handed_on.wait()
        self.consumer._read_offset[PARTITION] = self.in_hand  # as `_drain_messages` does
        await self.consumer._wait_next_records(1.0)


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A guarded consumer for one event loop, its fetches and seeks replaced by fakes."""
    app = faust.App("test-commits-reread", broker="kafka://127.0.0.1:9")
    install(app)
    consumer = app.consumer

    async def next_records(self: Any, timeout: float) -> tuple[dict[Any, Any], set[Any]]:
        if not self.flow_active:
            await self.can_resume_flow.wait()
        return {}, set()

    async def seek_to_committed() -> None:  # what Faust's seek does to the read offset
        consumer._read_offset[PARTITION] = consumer._committed_offset[PARTITION]

    monkeypatch.setattr(FaustConsumer, "_wait_next_records", next_records)
    monkeypatch.setattr(consumer, "perform_seek", seek_to_committed)
    consumer._committed_offset[PARTITION] = 843
    return consumer


def test_a_reread_seeks_only_once_the_fetch_loop_has_handed_on_its_record(fresh: Any) -> None:
    """Seen in the rebalance test: a seek while record 1369 was being handed on; the loop then
    wrote 1369 as the read offset and dropped 843..1368 when they came again (lag stuck)."""

    async def scenario() -> None:
        loop = _FetchLoop(fresh, in_hand=1369)
        fetching = asyncio.create_task(loop.run())
        reread = asyncio.create_task(fresh.reread(park_timeout_s=5))
        await asyncio.sleep(0.05)
        assert not fresh.flow_active and not reread.done()  # flow off, waiting for the loop
        loop.handed_on.set()
        assert await reread
        assert fresh._read_offset[PARTITION] == 843  # 843.. are read again
        assert fresh.flow_active
        await asyncio.wait_for(fetching, 1)

    asyncio.run(scenario())


def test_a_reread_gives_up_and_resumes_if_the_fetch_loop_never_parks(fresh: Any) -> None:
    async def scenario() -> None:
        fresh._read_offset[PARTITION] = 1369
        assert not await fresh.reread(park_timeout_s=0.05)  # no fetch loop at all
        assert fresh._read_offset[PARTITION] == 1369  # no seek
        assert fresh.flow_active

    asyncio.run(scenario())


def test_a_reread_leaves_a_rebalance_the_flow_and_the_seek(fresh: Any) -> None:
    async def scenario() -> None:
        fresh.stop_flow()  # Faust's rebalance stopped it
        fresh._read_offset[PARTITION] = 1369
        assert not await fresh.reread(park_timeout_s=0.05)
        assert fresh._read_offset[PARTITION] == 1369 and not fresh.flow_active

    asyncio.run(scenario())


@pytest.fixture
def plain_guarded(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A guarded consumer of its own app (these tests change the app's generation)."""
    app = faust.App("test-commits-acks", broker="kafka://127.0.0.1:9")
    install(app)
    app.consumer_generation_id = 3
    monkeypatch.setattr(app.topics, "acks_enabled_for", lambda topic: True)  # as an agent's
    return app.consumer


def test_acks_during_a_rebalance_or_of_an_older_generation_do_not_count(
    plain_guarded: Any,
) -> None:
    """Faust acks what its streams skip in a rebalance; the worker never processed those."""
    consumer = plain_guarded
    prepare(consumer, 80, [], [])
    skipped, stale, done = held_message(80, 3), held_message(81, 2), held_message(82, 3)
    for message in (skipped, stale, done):
        consumer.track_message(message)
    consumer.app.rebalancing = True
    assert not consumer.ack(skipped)
    consumer.app.rebalancing = False
    assert not consumer.ack(stale)
    assert consumer.ack(done)
    assert consumer._acked[PARTITION] == [82]
    # Not counted, and no longer held either: they are read again after the seek.
    assert skipped.acked and stale.acked
    assert held_offsets(consumer._unacked_messages, 3) == {}


def test_an_older_generations_record_left_unacked_holds_nothing(plain_guarded: Any) -> None:
    """Seen after a hand-over: a dropped record kept alive (a coroutine's local) and unacked."""
    consumer = plain_guarded
    left = held_message(80, generation=2)
    prepare(consumer, 80, list(range(81, 90)), [left])
    assert consumer._new_offset(PARTITION) == 90
    assert held_offsets([left], 2) == {PARTITION: [80]}


def test_an_offset_acked_twice_does_not_slow_the_commit(plain_guarded: Any) -> None:
    """Faust takes one run of consecutive offsets per commit; a duplicate used to end it."""
    consumer = plain_guarded
    prepare(consumer, 80, [], [])
    consumer._acked[PARTITION] = [80, 81, 81, 82, 82, 83]  # a merged gap, then re-read
    consumer._acked_index[PARTITION] = {80, 81, 82, 83}
    assert consumer._new_offset(PARTITION) == 84
    faust_alone = faust_consumer()
    prepare(faust_alone, 80, [], [])
    faust_alone._acked[PARTITION] = [80, 81, 81, 82, 82, 83]
    assert faust_alone._new_offset(PARTITION) == 82  # Faust alone: one step
