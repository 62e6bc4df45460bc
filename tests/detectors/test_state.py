"""Per-subject state: dict-backed state and its stored form, and every detector's stored state
loading back to itself."""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

from streams.config import load_config
from streams.detectors import REGISTRY
from streams.detectors.state import DictState, Row
from streams.simulate import SimulationConfig, simulate

# Stored states written by main at 174e76f, before the stored forms were declared (seed 3).
BEFORE = Path(__file__).resolve().parent.parent / "data" / "stored_states.json"


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


class Visit(Row):
    __slots__ = ("flagged", "gone", "seen", "ts_ms")
    row: ClassVar = ("ts_ms", "flagged", "gone", "seen")
    ts_ms: int
    flagged: bool
    gone: tuple[int, str] | None
    seen: dict[str, tuple[int, str]]

    def __init__(self) -> None:
        self.ts_ms, self.flagged, self.gone, self.seen = 0, False, None, {}


class Visits(DictState):
    __slots__ = ("current", "names", "past")
    json_names: ClassVar = {"current": "c", "past": "p", "names": "n"}
    shared: ClassVar = {"past": "current"}
    current: dict[str, Visit]
    past: dict[str, Visit]
    names: set[str]


def test_rows_sets_and_shared_values_round_trip() -> None:
    state = Visits()
    assert state.names == set()
    one, two = Visit(), Visit()
    one.ts_ms, one.flagged, one.gone, one.seen = 5, True, (9, "e-9"), {"m": (1, "e-1")}
    two.ts_ms = 7
    state.current["a"] = one
    state.past.update({"a": one, "b": two})  # "a" is the same object in both
    state.names.update({"y", "x"})
    stored = state.dump()
    assert stored == {
        "c": [["a", 5, 1, [9, "e-9"], "m", 1, "e-1"]],
        "p": [["a"], ["b", 7, 0, None]],
        "n": ["x", "y"],
    }
    back = Visits.load(json.loads(json.dumps(stored)))
    assert back.past["a"] is back.current["a"]
    assert (back.current["a"].flagged, back.current["a"].gone) == (True, (9, "e-9"))
    assert back.current["a"].seen == {"m": (1, "e-1")} and back.names == {"x", "y"}
    assert back.dump() == stored


def test_state_stored_before_the_declarations_loads_and_stores_the_same() -> None:
    """Compatibility: every detector reads the stored form main wrote and writes it back
    unchanged, key order included (what a worker restarted on a new release reads). A slot
    added since (minor_exposure 1.2's `claims`) is written empty after the old ones; a
    detector added since (minor_group_rooms) has no old form."""
    before = json.loads(BEFORE.read_text())
    assert set(before) <= set(REGISTRY) and len(before) >= 7
    detectors = {d.name: d for d in load_config().new_engine().detectors}
    for name, stored_states in before.items():
        for stored in stored_states:
            again = detectors[name].dump(detectors[name].load(stored))
            old = {k: v for k, v in again.items() if k in stored}
            assert json.dumps(old) == json.dumps(stored), name
            assert all(not again[k] for k in again if k not in stored), name
