"""A shard expires state where the detect stage does: never ahead of an event still to apply.

The engine is replaced by one that only records what it is asked, so the order of applies and
expiries is checked against the items themselves: an expiry at `t` comes after every event at
or before `t` and before every later one, whatever the batches the items come in.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.backtesting.order import Item
from streams.backtesting.shard import DetectorCode, Router, Shard
from streams.config import load_config
from streams.model import Alert
from streams.pipeline.partition import partition_for
from streams.simulate import SimulationConfig, simulate
from tests.factories import adult, message, minor

EXPIRE_EVERY_MS = 1_000


class RecordingEngine:
    """What a shard asks of an engine, in order: ("apply", ts) per event, ("expire", now)."""

    def __init__(self) -> None:
        self.log: list[tuple[str, int]] = []
        self.failures: list[Any] = []
        self.dirty: set[str] = set()

    def process_all(self, events: Iterable[Any]) -> list[Alert]:
        self.log += [("apply", event.ts_ms) for event in events]
        return []

    def apply(self, key: str, detectors: Any, event: Any) -> list[Alert]:
        self.log.append(("apply", event.ts_ms))
        return []

    def expire(self, now_ms: int) -> int:
        self.log.append(("expire", now_ms))
        return 0


def shard_logging() -> tuple[Shard, RecordingEngine]:
    shard = Shard(load_config(), clock_ms=lambda: 0, expire_every_ms=EXPIRE_EVERY_MS)
    engine = RecordingEngine()
    shard.engine = engine  # type: ignore[assignment]
    return shard, engine


def items(times: list[int]) -> list[Item]:
    """One route per item, so `apply_routes` applies each event once, as `apply_all` does."""
    return [
        (ts, f"e-{seq}", seq, message(adult(), minor("u-1"), ts), [(0, "ACCOUNT:u-1", 0)])
        for seq, ts in enumerate(times, start=1)
    ]


def batches(rng: random.Random, its: list[Item]) -> list[list[Item]]:
    cuts = sorted(rng.sample(range(len(its) + 1), min(len(its) + 1, 5)))
    return [its[a:b] for a, b in zip([0, *cuts], [*cuts, len(its)], strict=True)]


def assert_expiries_in_place(log: list[tuple[str, int]], times: list[int]) -> None:
    applied = [ts for what, ts in log if what == "apply"]
    assert applied == times  # every event once, in order
    done = 0
    for what, ts in log:
        if what == "apply":
            done += 1
        else:  # every event at or before the expiry time applied, none after it
            assert all(t <= ts for t in times[:done])
            assert all(t > ts for t in times[done:])


def stage_log(times: list[int]) -> list[tuple[str, int]]:
    """The detect stage's rule, event by event: when an event later than the last one
    applied comes, and that last time is `EXPIRE_EVERY_MS` past the last expiry (or there was
    none), expire at that last time first."""
    log: list[tuple[str, int]] = []
    last, expired = -1, None
    for ts in times:
        if ts > last:
            if expired is None or last - expired >= EXPIRE_EVERY_MS:
                log.append(("expire", last))
                expired = last
            last = ts
        log.append(("apply", ts))
    return log


# Steps between event times: any, and some that land on or next to an expiry falling due.
time_steps = st.integers(0, 700) | st.sampled_from([0, 1, EXPIRE_EVERY_MS - 1, EXPIRE_EVERY_MS])


@settings(max_examples=100, deadline=None)
@given(st.lists(time_steps, min_size=1, max_size=200), st.randoms())
def test_expiry_never_runs_ahead_of_the_events_of_a_batch(
    steps: list[int], rng: random.Random
) -> None:
    times = [sum(steps[: i + 1]) for i in range(len(steps))]
    its = items(times)
    for apply_routes in (False, True):
        shard, engine = shard_logging()
        for batch in batches(rng, its):
            if apply_routes:
                shard.apply_routes(batch, lambda tag, alert: None)
            else:
                shard.apply_all(batch)
        assert_expiries_in_place(engine.log, times)
        assert engine.log == stage_log(times)
        if times[-1] - times[0] > 2 * EXPIRE_EVERY_MS + 700:  # some expiry among the events
            assert any(what == "expire" and ts >= times[0] for what, ts in engine.log)


def test_the_keys_a_state_store_would_save_are_dropped_at_every_expiry() -> None:
    """No store in a backtest: the engine's dirty keys, evicted subjects' included, would
    otherwise grow with every subject the file ever had."""
    events = simulate(SimulationConfig(seed=2, events_target=10_000)).events[:5_000]
    shard = Shard(load_config(), clock_ms=lambda: 0, expire_every_ms=60_000)
    shard.apply_all([(e.ts_ms, e.event_id, seq, e, []) for seq, e in enumerate(events)])
    assert shard.engine.stats.evicted > 0
    assert shard.engine.dirty <= shard.engine.subjects.keys()


DETECTORS = load_config().new_engine().detectors


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, len(DETECTORS) - 1), max_size=6))
def test_a_detector_code_gives_back_the_detectors_in_order_with_repeats(places: list[int]) -> None:
    """A code is the detectors' places in the engine's order (from 1) as the digits of a
    number in base (detectors + 1), decoded in another process by an engine of its own
    built from the same config."""
    code = 0
    for place in places:
        code = code * (len(DETECTORS) + 1) + place + 1
    other = load_config().new_engine().detectors
    assert [d.name for d in DetectorCode(other).detectors(code)] == [
        DETECTORS[p].name for p in places
    ]


@pytest.mark.parametrize("jobs", [1, 2, 3])
def test_a_split_gives_each_job_the_routes_of_its_subjects_in_their_places(jobs: int) -> None:
    """Put back together, the jobs' routes are `Engine.routes` of each event, each route in the
    job `partition_for` gives its subject (the stream's partition)."""
    events = simulate(SimulationConfig(seed=3, events_target=10_000)).events[:3_000]
    engine = load_config().new_engine()
    codes = DetectorCode(engine.detectors)
    per_job = Router(load_config(), jobs).split(list(enumerate(events)))
    got: dict[int, list[tuple[int, str, list[str]]]] = {}
    for job, job_items in enumerate(per_job):
        for ts, event_id, seq, event, routes in job_items:
            assert (ts, event_id, event) == (event.ts_ms, event.event_id, events[seq])
            for place, key, code in routes:
                assert partition_for(key, jobs) == job
                got.setdefault(seq, []).append(
                    (place, key, [d.name for d in codes.detectors(code)])
                )
    for seq, event in enumerate(events):
        want = [
            (place, key, [d.name for d in detectors])
            for place, (key, detectors) in enumerate(engine.routes(event).items())
        ]
        assert sorted(got.get(seq, [])) == want
