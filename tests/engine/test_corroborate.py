"""Corroboration: a MEDIUM from one detector of a configured pair, while the other holds an
open case on the same subject, is published at HIGH; nothing else changes severity."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import count
from typing import ClassVar

import pytest

from streams.config import ConfigError, load_config
from streams.detectors.contract import UNCHANGED, DetectorBase, Finding, Outcome
from streams.detectors.state import DictState
from streams.detectors.subjects import account_key
from streams.engine.core import Engine, EngineConfig, corroborating
from streams.model import Alert, Event, EventType, Severity, Subject
from tests.factories import HOUR, T0, adult, minor

_ids = count()


@dataclass(frozen=True, slots=True)
class SaysConfig:
    pass


class SaysState(DictState):
    __slots__ = ("seen",)
    json_names: ClassVar = {"seen": "s"}
    seen: dict[str, int]


class Says(DetectorBase[SaysConfig, SaysState]):
    """Finds what an event tells it to: a message whose group id is "<name>:<SEVERITY>"."""

    version: ClassVar[str] = "0"
    counterpart_role: ClassVar[str] = "minor_contacted"
    event_types: ClassVar[frozenset[EventType]] = frozenset({EventType.MESSAGE_SENT})

    def subject_keys(self, event: Event) -> Iterable[str]:
        return (account_key(event.actor.id),)

    def horizon_ms(self) -> int:
        return HOUR

    def expire(self, state: SaysState, now_ms: int) -> bool:
        return False

    def step(self, state: SaysState, subject: Subject, event: Event) -> Outcome:
        name, _, severity = (event.group_id or "").partition(":")
        if name != self.name:
            return UNCHANGED
        finding = Finding(Severity(severity), 0.5, event.ts_ms, event.ts_ms, {}, (), 1, (), "x", 1)
        return Outcome(changed=True, finding=finding)


class A(Says):
    name: ClassVar[str] = "a"


class B(Says):
    name: ClassVar[str] = "b"


def says(name: str, severity: str, ts: int) -> Event:
    who, kid = adult(), minor("m-1")
    return Event(f"e-{next(_ids):03d}", EventType.MESSAGE_SENT, ts, who, kid, f"{name}:{severity}")


def run(events: list[Event], corroborate: str = "a+b") -> list[Alert]:
    engine = Engine([A(), B()], EngineConfig(corroborate=corroborate))
    return engine.process_all(events)


def test_a_medium_backed_by_the_partners_open_case_is_high() -> None:
    first, second = run([says("a", "MEDIUM", T0), says("b", "MEDIUM", T0 + HOUR)])
    assert (first.detector, first.severity) == ("a", Severity.MEDIUM)
    assert (second.detector, second.severity) == ("b", Severity.HIGH)
    assert second.features["corroborated_by_open_cases"] == 1.0
    assert "a also holds an open case" in second.reason


def test_the_partner_raised_then_rises_too_but_never_to_critical() -> None:
    # b's MEDIUM is raised by a's case; a's next MEDIUM is raised by b's case (now HIGH), and
    # stays HIGH: two corroborated MEDIUMs are not two HIGH findings.
    alerts = run(
        [says("a", "MEDIUM", T0), says("b", "MEDIUM", T0 + 1), says("a", "MEDIUM", T0 + 2)]
    )
    assert [(a.detector, a.severity) for a in alerts] == [
        ("a", Severity.MEDIUM),
        ("b", Severity.HIGH),
        ("a", Severity.HIGH),
    ]


def test_a_closed_case_backs_nothing() -> None:
    # The default cooldown is 24 h: a's case is closed 25 h after its finding.
    _, second = run([says("a", "MEDIUM", T0), says("b", "MEDIUM", T0 + 25 * HOUR)])
    assert second.severity is Severity.MEDIUM


def test_unpaired_detectors_do_not_corroborate() -> None:
    _, second = run([says("a", "MEDIUM", T0), says("b", "MEDIUM", T0 + HOUR)], corroborate="")
    assert second.severity is Severity.MEDIUM


def test_a_shadow_partner_never_raises_an_enforced_case() -> None:
    engine = Engine([A(), B()], EngineConfig(corroborate="a+b"), shadow=("a",))
    _, second = engine.process_all([says("a", "MEDIUM", T0), says("b", "MEDIUM", T0 + HOUR)])
    assert (second.detector, second.severity) == ("b", Severity.MEDIUM)


def test_two_raw_highs_still_escalate_to_critical() -> None:
    _, second = run([says("a", "HIGH", T0), says("b", "HIGH", T0 + HOUR)])
    assert second.severity is Severity.CRITICAL


def test_pairs_are_parsed_both_ways() -> None:
    assert corroborating(" a+b, c + a ,") == {
        "a": frozenset({"b", "c"}),
        "b": frozenset({"a"}),
        "c": frozenset({"a"}),
    }


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("minor_exposure+nobody", "'nobody' is not a detector"),
        ("minor_exposure", "'minor_exposure' is not a pair"),
        ("minor_exposure+minor_exposure", "pairs a detector with itself"),
    ],
)
def test_the_config_refuses_pairs_it_cannot_use(
    tmp_path: pytest.TempPathFactory, value: str, problem: str
) -> None:
    path = tmp_path / "bad.toml"  # type: ignore[operator]
    path.write_text(f'[engine]\ncorroborate = "{value}"\n')
    with pytest.raises(ConfigError, match=problem):
        load_config(str(path))
