"""Per-subject state: dict-backed state and its stored form, and every detector's stored state
loading back to itself."""

from __future__ import annotations

import json
from typing import ClassVar

from streams.config import load_config
from streams.detectors import REGISTRY
from streams.detectors.state import DictState
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
