"""Settings valid alone that clash together are refused at start, every problem at once."""

from __future__ import annotations

import dataclasses

import pytest

from streams.config import ConfigError, load_config, parse_config
from streams.config_checks import cross_check
from streams.detectors import REGISTRY
from streams.engine.core import EngineConfig


def problems(raw: dict[str, object]) -> list[str]:
    with pytest.raises(ConfigError) as err:
        parse_config(raw)
    return err.value.problems


def test_the_issues_examples_are_refused_together() -> None:
    """From issue 17: critical_factor 0.0 made every finding CRITICAL, a MEDIUM above HIGH
    and a zero window were accepted."""
    found = problems(
        {
            "detectors": {
                "new_contact_burst": {"critical_factor": 0.0, "fast_medium": 20},
                "minor_mass_add": {"window_ms": 0},
            }
        }
    )
    assert found == [
        "detectors.new_contact_burst.critical_factor: 0.0 must be >= 1 "
        "(CRITICAL starts at HIGH x critical_factor)",
        "detectors.new_contact_burst.fast_medium: 20 is above fast_high (15): "
        "MEDIUM must come at or before HIGH",
        "detectors.minor_mass_add.window_ms: 0 must be > 0 (a duration or window)",
    ]


def test_windows_go_short_to_long_and_fractions_stay_in_range() -> None:
    found = problems(
        {
            "detectors": {
                "minor_exposure": {"day_window_ms": 7_200_000, "slow_window_ms": 3_600_000},
                "anonymous_churn": {"ring_ip_shared_fraction": 1.5, "max_accounts": 0},
            },
            "engine": {"cooldown_ms": 0},
        }
    )
    assert len(found) == 4
    assert "engine.cooldown_ms: 0 must be > 0 (a duration or window)" in found
    assert (
        "detectors.minor_exposure.day_window_ms: 7200000 is longer than slow_window_ms "
        "(3600000): windows go short to long"
    ) in found
    assert "detectors.anonymous_churn.ring_ip_shared_fraction: 1.5 must be in (0, 1]" in found


def test_zero_lateness_is_allowed() -> None:
    assert parse_config({"engine": {"allowed_lateness_ms": 0}}).engine.allowed_lateness_ms == 0


def test_the_shipped_configs_pass() -> None:
    load_config()
    load_config("streams/defaults/demo.toml")


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_detectors_thresholds_windows_and_factor_are_checked(name: str) -> None:
    """For every detector (new ones too): each duration set to 0, each MEDIUM set above its
    HIGH, and a critical_factor below 1 is named, alone, by the check."""
    defaults = REGISTRY[name][1]()
    names = {f.name for f in dataclasses.fields(defaults)}
    where = f"detectors.{name}"
    cases: list[tuple[str, object]] = [(k, 0) for k in names if k.endswith("_ms")]
    for key in names:
        if key == "medium" or key.endswith("_medium"):
            high = key.removesuffix("medium") + "high"
            if high in names:
                cases.append((key, getattr(defaults, high) + 1))
    if "critical_factor" in names:
        cases.append(("critical_factor", 0.5))
    assert cases, f"{name} has no setting the checks cover"
    for key, value in cases:
        found = cross_check(dataclasses.replace(defaults, **{key: value}), where)
        assert [p.split(":")[0] for p in found] == [f"{where}.{key}"], (key, found)


def test_the_engine_defaults_pass() -> None:
    assert cross_check(EngineConfig(), "engine") == []
