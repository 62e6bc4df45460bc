"""A routed partition's records reach the detect stage only in unbroken offset order
(`streams/pipeline/routed_holes.py`): never past a hole, and again once it is read again."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from streams import topics
from streams.adapters.memory import MemoryToken
from streams.pipeline.ports import Record
from streams.pipeline.routed_holes import RoutedHoles


def records(offsets: list[int]) -> list[Record[MemoryToken]]:
    return [Record(o, None, b"", MemoryToken(topics.ROUTED.name, 0, o, 0.0)) for o in offsets]


def offsets(taken: list[Record[MemoryToken]]) -> list[int]:
    return [record.offset for record in taken]


def test_consecutive_offsets_are_all_taken_across_batches() -> None:
    holes: RoutedHoles[MemoryToken] = RoutedHoles()
    assert offsets(holes.admit(3, records([40, 41, 42]), start=40)) == [40, 41, 42]
    assert offsets(holes.admit(3, records([43, 44]))) == [43, 44]
    assert holes.holes == {} and holes.take_new() == set()


def test_a_jump_sets_the_rest_aside_until_the_hole_comes_again() -> None:
    """Faust's race as seen in a broker-kill run: 72-90 handed on to nobody, 91 on arrive."""
    holes: RoutedHoles[MemoryToken] = RoutedHoles()
    assert offsets(holes.admit(3, records([70, 71, 91, 92]), start=70)) == [70, 71]
    assert holes.holes == {3: range(72, 91)} and holes.take_new() == {3}
    assert offsets(holes.admit(3, records([93, 94]))) == []  # fetched before the seek
    assert holes.take_new() == set()  # one hole, one re-read
    assert offsets(holes.admit(3, records([0, 1, 2]))) == [0, 1, 2]  # from the committed offset
    assert holes.holes == {}
    assert offsets(holes.admit(3, records([3, 4]))) == [3, 4]


def test_a_generation_starting_past_its_committed_offset_is_a_hole_at_the_head() -> None:
    """Right after a seek to the committed offset 72, the race hands on 91 first."""
    holes: RoutedHoles[MemoryToken] = RoutedHoles()
    assert offsets(holes.admit(3, records([91, 92]), start=72)) == []
    assert holes.holes == {3: range(72, 91)} and holes.take_new() == {3}
    assert offsets(holes.admit(3, records([72, 73]), start=72)) == [72, 73]


def test_a_generation_whose_start_is_not_known_yet_takes_nothing_and_is_read_again() -> None:
    """Handed on after a revoke, before Faust's seek (it forgets a revoked partition's committed
    offset): seen in a broker-kill run, routed 687 and on applied, 512-686 never handed on."""
    holes: RoutedHoles[MemoryToken] = RoutedHoles()
    assert offsets(holes.admit(0, records([687, 688]), start=None)) == []
    assert holes.take_new() == {0}
    assert offsets(holes.admit(0, records([689]), start=None)) == []
    assert holes.take_new() == set()  # one re-read asked for
    assert offsets(holes.admit(0, records([687]), start=512)) == []  # the seek raced: a hole
    assert holes.holes == {0: range(512, 687)} and holes.take_new() == {0}
    assert offsets(holes.admit(0, records([512, 513]), start=512)) == [512, 513]
    assert holes.holes == {}


def test_the_same_head_hole_after_its_reread_is_the_log_start() -> None:
    """Retention deleted the committed offset's segment: the broker has no 10-19 to hand on."""
    holes: RoutedHoles[MemoryToken] = RoutedHoles()
    assert offsets(holes.admit(0, records([20]), start=10)) == []
    assert holes.take_new() == {0}
    assert offsets(holes.admit(0, records([20, 21]), start=10)) == [20, 21]
    assert holes.holes == {} and holes.take_new() == set()
    assert offsets(holes.admit(0, records([23]), start=10)) == []  # not at the head: a hole


def test_other_partitions_and_a_new_generation_are_unaffected() -> None:
    holes: RoutedHoles[MemoryToken] = RoutedHoles()
    holes.admit(1, records([5]), start=5)
    holes.admit(2, records([5]), start=5)
    assert offsets(holes.admit(1, records([9]))) == []
    assert offsets(holes.admit(2, records([6]))) == [6]
    holes.forget([1])  # revoked or assigned again: Faust seeks to the committed offset
    assert offsets(holes.admit(1, records([9]), start=9)) == [9] and holes.take_new() == set()


def test_the_routed_topic_has_no_legitimate_offset_gaps() -> None:
    """The rule's assumption: no compaction (nor transactions: `cluster.py`)."""
    assert topics.ROUTED.configs["cleanup.policy"] == "delete"


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.lists(st.integers(0, 30), max_size=8), max_size=12),
)
def test_nothing_is_ever_taken_past_an_offset_not_taken_before(
    batches: list[list[int]],
) -> None:
    """Whatever order offsets arrive in: every offset taken has each offset from the first one
    taken up to it taken before it (the definition of "not past a hole")."""
    holes: RoutedHoles[MemoryToken] = RoutedHoles()
    taken: list[int] = []
    start = next((batch[0] for batch in batches if batch), None)  # any first offset
    for batch in batches:
        taken += offsets(holes.admit(0, records(batch), start))
    for i, offset in enumerate(taken):
        assert set(range(taken[0], offset)) <= set(taken[:i])


@settings(max_examples=300, deadline=None)
@given(
    st.integers(1, 40),
    st.lists(st.tuples(st.integers(0, 39), st.integers(1, 10)), max_size=4),
    st.integers(1, 7),
)
def test_a_log_read_with_dropped_ranges_and_reread_on_request_is_applied_whole(
    end: int, drops: list[tuple[int, int]], batch: int
) -> None:
    """A model of Faust: it hands on a log's offsets from the committed one, dropping each
    given range the first time; on a hole it seeks back to the committed offset (the first
    offset never taken: the commit cannot pass it). A drop at the very end has no later record
    to show it: the lost-offset watch (`commits.py`) re-reads it, modelled as the same seek.
    The detect stage gets every offset once, in order."""
    holes: RoutedHoles[MemoryToken] = RoutedHoles()
    dropped_once = {o for start, length in drops for o in range(start, start + length)}
    taken: list[int] = []
    position = 0
    for _ in range(4 * end + 10):  # bounded: each drop costs one seek
        if position >= end:
            if len(taken) == end:
                break
            position = len(taken)  # the lost-offset watch, ~10 s later
        handed = [o for o in range(position, min(end, position + batch))]
        position += len(handed)
        delivered = [o for o in handed if o not in dropped_once]
        dropped_once -= set(handed)
        taken += offsets(holes.admit(0, records(delivered), start=0))
        if holes.take_new():
            position = len(taken)  # committed = first offset never taken
    assert taken == list(range(end))
