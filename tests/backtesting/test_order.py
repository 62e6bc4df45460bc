"""Release in (ts, event_id, input order), whatever the batches: or say that it cannot.

Items carry their input position (`seq`, the line number), so Python's `sorted` over them is
the in-memory backtest's stable sort by (ts, event_id): equal keys keep input order.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.backtesting.order import ExternalSort, InOrder, Item, OutOfOrder
from tests.factories import adult, message, minor

EVENT = message(adult(), minor("u-1"), 1_000)  # never compared: (ts, id, seq) is unique
LATENESS_MS = 250

keys = st.lists(st.tuples(st.integers(0, 3_000), st.sampled_from("abc")), max_size=300)


def items(pairs: list[tuple[int, str]]) -> list[Item]:
    return [(ts, event_id, seq, EVENT, []) for seq, (ts, event_id) in enumerate(pairs, start=1)]


def in_batches(rng: random.Random, its: list[Item]) -> list[list[Item]]:
    cuts = sorted(rng.sample(range(len(its) + 1), min(len(its) + 1, 4)))
    return [its[a:b] for a, b in zip([0, *cuts], [*cuts, len(its)], strict=True)]


@settings(max_examples=100, deadline=None)
@given(keys, st.integers(1, 50), st.randoms())
def test_external_sort_is_sorted_in_any_run_size(
    tmp_path_factory: pytest.TempPathFactory,
    pairs: list[tuple[int, str]],
    run_items: int,
    rng: random.Random,
) -> None:
    its = items(pairs)
    sorter = ExternalSort(tmp_path_factory.mktemp("runs"), run_items)
    for batch in in_batches(rng, its):
        sorter.push(batch)
    assert len(sorter.runs) == len(its) // run_items
    assert [i[:3] for i in sorter.merged()] == [i[:3] for i in sorted(its)]


@settings(max_examples=100, deadline=None)
@given(keys, st.randoms())
def test_disorder_within_the_lateness_is_released_in_order(
    pairs: list[tuple[int, str]], rng: random.Random
) -> None:
    jitter = [ts + rng.randrange(LATENESS_MS) for ts, _ in pairs]
    arrival = items([p for _, p in sorted(zip(jitter, pairs, strict=True), key=lambda x: x[0])])
    order = InOrder(LATENESS_MS)
    out = [i for batch in in_batches(rng, arrival) for i in order.push(batch)] + order.drain()
    assert [i[:3] for i in out] == [i[:3] for i in sorted(arrival)]


@settings(max_examples=150, deadline=None)
@given(keys, st.randoms())
def test_any_disorder_is_released_in_order_or_refused(
    pairs: list[tuple[int, str]], rng: random.Random
) -> None:
    arrival = items(pairs)  # any order: hypothesis draws the pairs in any order
    order = InOrder(LATENESS_MS)
    out: list[Item] = []
    try:
        for batch in in_batches(rng, arrival):
            out += order.push(batch)
        out += order.drain()
    except OutOfOrder as late:
        assert late.behind_ms >= 0
        assert out == sorted(out)  # what was released before is still in order
        return
    assert [i[:3] for i in out] == [i[:3] for i in sorted(arrival)]


def test_an_item_behind_the_release_bound_is_refused_with_how_far(tmp_path: Path) -> None:
    order = InOrder(LATENESS_MS)
    assert [i[0] for i in order.push(items([(0, "a"), (1_000, "b")]))] == [0]
    with pytest.raises(OutOfOrder, match="older than an event already applied") as late:
        order.push([(-40, "z", 9, EVENT, [])])
    assert late.value.behind_ms == 40
