"""state_footprint: exact key counts, byte estimate exact when the sample covers every key."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.config import load_config
from streams.engine.core import Engine
from streams.engine.footprint import open_cases, state_footprint
from streams.model import Action, Decision
from tests.cases.builders import attack
from tests.factories import MIN, T0, adult, message, minor


def engine_with(senders: int, per_sender: int) -> Engine:
    config = load_config(None)
    engine = Engine(config.active(), config.engine)
    for s in range(senders):
        for i in range(per_sender):
            engine.process(message(adult(f"u-{s}"), minor(f"m-{s}-{i}"), T0 + i * MIN))
    return engine


def exact_bytes(engines: list[Engine], name: str) -> int:
    total = 0
    for engine in engines:
        detector = next(d for d in engine.detectors if d.name == name)
        for state in engine.subjects.values():
            if name in state.detector_states:
                dumped = detector.dump(state.detector_states[name])
                total += len(json.dumps(dumped, separators=(",", ":")))
    return total


def test_every_detector_is_listed_even_without_state() -> None:
    empty = Engine(load_config(None).active())
    sizes = state_footprint([empty])
    assert set(sizes) == {d.name for d in empty.detectors}
    assert set(sizes.values()) == {(0, 0)}


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 12), st.integers(1, 4), st.integers(1, 3))
def test_keys_are_exact_and_bytes_exact_with_a_full_sample(
    senders: int, per_sender: int, engines_n: int
) -> None:
    engines = [engine_with(senders, per_sender) for _ in range(engines_n)]
    sizes = state_footprint(engines, sample=10_000)
    for name, (keys, size) in sizes.items():
        expected_keys = sum(
            1 for e in engines for s in e.subjects.values() if name in s.detector_states
        )
        assert keys == expected_keys
        assert size == exact_bytes(engines, name)
    assert sizes["new_contact_burst"][0] == senders * engines_n


def test_a_small_sample_still_counts_every_key_and_estimates_bytes() -> None:
    engine = engine_with(200, 2)
    sizes = state_footprint([engine], sample=8)
    keys, size = sizes["new_contact_burst"]
    assert keys == 200
    exact = exact_bytes([engine], "new_contact_burst")
    assert 0.5 * exact <= size <= 2 * exact


def test_open_cases_by_detector_and_severity_and_a_clear_closes_one() -> None:
    config = load_config()
    engine = config.new_engine()
    alerts = engine.process_all(attack("u-open", 20))
    final = {a.alert_id: a for a in alerts}  # emission order: the last revision wins
    # All within a cooldown of the last event: every case is open, at its last severity.
    expected: dict[tuple[str, str], int] = {}
    for a in final.values():
        expected[(a.detector, a.severity.value)] = (
            expected.get((a.detector, a.severity.value), 0) + 1
        )
    assert open_cases([engine]) == expected
    case = alerts[-1]
    engine.decide(
        f"ACCOUNT:{case.subject.id}",
        Decision(
            "d", case.alert_id, case.detector, case.subject, Action.CLEAR, case.trigger_ts_ms, 0
        ),
    )
    expected[(case.detector, final[case.alert_id].severity.value)] -= 1
    assert open_cases([engine]) == {k: v for k, v in expected.items() if v}
