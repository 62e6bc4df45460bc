"""Shadow candidates: a detector's new settings tried beside it without touching enforcement."""

from __future__ import annotations

from typing import Any

import pytest

from streams.backtest import run_backtest
from streams.config import ConfigError, Mode, parse_config
from streams.model import Event, Severity
from tests.factories import MIN, T0, adult, message, minor

CANDIDATE = {"base": "new_contact_burst", "fast_medium": 3, "fast_high": 5}
# minor_exposure also sees these bursts (and would escalate the base's cases): off here, so
# each test is about the candidate and its base alone.
ALONE = {"minor_exposure": {"mode": "off"}}


def config_with(candidates: dict[str, Any]) -> Any:
    return parse_config({"detectors": ALONE, "candidates": candidates})


def burst(n: int) -> list[Event]:
    actor = adult(anonymous=True)
    return [message(actor, minor(f"m-{i}"), T0 + i * MIN, first=True) for i in range(n)]


def test_a_candidate_runs_in_shadow_beside_its_base() -> None:
    config = config_with({"ncb_next": CANDIDATE})
    assert config.mode_of("ncb_next") is Mode.SHADOW
    assert config.mode_of("new_contact_burst") is Mode.ENFORCE
    names = [d.name for d in config.active()]
    assert names.count("ncb_next") == 1 and "new_contact_burst" in names


def test_candidate_alerts_carry_its_name_and_fire_on_its_own_thresholds() -> None:
    alerts = run_backtest(burst(6), config_with({"ncb_next": CANDIDATE}))
    by_detector = {a.detector for a in alerts}
    assert by_detector == {"ncb_next"}, "6 minors: the candidate's HIGH is 5, the base's MEDIUM 8"
    assert max(a.severity.rank for a in alerts) == Severity.HIGH.rank


def test_a_shadow_case_never_escalates_an_enforced_alert() -> None:
    """The base reaches HIGH while the candidate holds an open HIGH case on the same account:
    enforced output must be exactly what it is without the candidate."""
    events = burst(20)
    plain = [a for a in run_backtest(events, parse_config({"detectors": ALONE}))]
    with_candidate = run_backtest(events, config_with({"ncb_next": CANDIDATE}))
    enforced = [a for a in with_candidate if a.detector == "new_contact_burst"]
    key = [(a.alert_id, a.revision, a.severity) for a in plain]
    assert key and key == [(a.alert_id, a.revision, a.severity) for a in enforced]
    assert all(a.severity is not Severity.CRITICAL for a in enforced)
    shadow = [a for a in with_candidate if a.detector == "ncb_next"]
    assert shadow[-1].severity is Severity.CRITICAL, "a shadow case may see enforced ones"
    assert shadow[-1].detectors_on_subject == ("new_contact_burst",)


@pytest.mark.parametrize(
    ("candidates", "message"),
    [
        ({"new_contact_burst": CANDIDATE}, "candidates.new_contact_burst: a candidate needs"),
        ({"Bad-Name": CANDIDATE}, "candidates.Bad-Name: a candidate needs its own name"),
        ({"x": {"base": "nope"}}, "candidates.x.base: 'nope' is not a detector"),
        ({"x": {**CANDIDATE, "mode": "enforce"}}, "candidates.x.mode: 'enforce': a candidate"),
        ({"x": {**CANDIDATE, "fast_hihg": 3}}, "candidates.x.fast_hihg: unknown key"),
        ({"x": {**CANDIDATE, "fast_high": -1}}, "candidates.x.fast_high: -1 must be >= 0"),
        ({"x": 3}, "candidates.x: must be a table"),
    ],
)
def test_bad_candidates_are_refused_naming_the_key(
    candidates: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError) as err:
        config_with(candidates)
    assert message in str(err.value)


def test_an_off_candidate_does_not_run() -> None:
    config = config_with({"x": {**CANDIDATE, "mode": "off"}})
    assert "x" not in [d.name for d in config.active()]
