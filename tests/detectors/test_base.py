"""The shared detector parts: the generic base (config and state life cycle), dict-backed
state and its stored form, and the time-ordered expiry helpers."""

from __future__ import annotations

import json
from typing import ClassVar

from streams.config import load_config, parse_config
from streams.detectors import REGISTRY
from streams.detectors.new_contact_burst import (
    BurstState,
    NewContactBurstConfig,
    NewContactBurstDetector,
)
from streams.detectors.state import DictState
from streams.detectors.windows import drop_before, drop_idle
from streams.simulate import SimulationConfig, simulate


class TwoDicts(DictState):
    __slots__ = ("counts", "seen")
    json_names: ClassVar = {"counts": "c", "seen": "s"}
    counts: dict[str, int]
    seen: dict[str, tuple[int, str]]


def test_dict_state_round_trips_in_order_with_scalar_and_tuple_values() -> None:
    state = TwoDicts()
    assert state.counts == {} and state.seen == {}
    state.counts.update({"b": 2, "a": 1})
    state.seen.update({"m-2": (20, "e-2"), "m-1": (10, "e-1")})
    stored = state.dump()
    assert stored == {"c": [["b", 2], ["a", 1]], "s": [["m-2", 20, "e-2"], ["m-1", 10, "e-1"]]}
    back = TwoDicts.load(json.loads(json.dumps(stored)))
    assert back.counts == state.counts and list(back.counts) == ["b", "a"]
    assert back.seen == state.seen and list(back.seen) == ["m-2", "m-1"]


def test_a_fresh_dict_state_owns_its_dicts() -> None:
    one, two = TwoDicts(), TwoDicts()
    one.counts["x"] = 1
    assert two.counts == {}


def test_base_gives_the_default_config_or_keeps_the_one_given_and_builds_its_state() -> None:
    assert NewContactBurstDetector().config == NewContactBurstConfig()
    custom = NewContactBurstConfig(fast_high=3)
    detector = NewContactBurstDetector(custom)
    assert detector.config is custom
    assert isinstance(detector.new_state(), BurstState)


def test_registry_takes_each_config_class_from_the_detector() -> None:
    for name, (detector_cls, config_cls) in REGISTRY.items():
        assert detector_cls.name == name
        assert isinstance(detector_cls().config, config_cls)


def test_a_candidate_subclass_keeps_its_base_config_type() -> None:
    config = parse_config({"candidates": {"ncb_next": {"base": "new_contact_burst"}}})
    candidate = next(d for d in config.active() if d.name == "ncb_next")
    assert isinstance(candidate.config, NewContactBurstConfig)
    assert isinstance(candidate.new_state(), BurstState)


def test_every_detectors_stored_state_loads_back_to_the_same_stored_state() -> None:
    """Over a default simulation: dump -> JSON -> load -> dump is the identity, for all six."""
    events = simulate(SimulationConfig(seed=3, events_target=10_000)).events
    engine = load_config().new_engine()
    engine.process_all(sorted(events, key=lambda e: (e.ts_ms, e.event_id)))
    checked = set()
    for state in engine.subjects.values():
        for name, det_state in state.detector_states.items():
            detector = engine._by_name[name]
            stored = json.loads(json.dumps(detector.dump(det_state)))
            assert detector.dump(detector.load(stored)) == stored, name
            checked.add(name)
    assert checked == set(REGISTRY)


def test_drop_before_and_drop_idle_pop_only_the_stale_front() -> None:
    entries = {"a": (10, "e-1"), "b": (20, "e-2"), "c": (30, "e-3")}
    drop_before(entries, 20)
    assert list(entries) == ["c"]

    class Seen:
        def __init__(self, last_ms: int) -> None:
            self.last_ms = last_ms

    idle = {"x": Seen(5), "y": Seen(50), "z": Seen(7)}  # z is stale but behind a live entry
    drop_idle(idle, 10)
    assert list(idle) == ["y", "z"]
