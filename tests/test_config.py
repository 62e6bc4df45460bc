"""Loading the configuration (`streams/config.py`): defaults, a file overriding a subset, the
environment variable, modes, and every problem reported at once. The cross-field rules are in
test_config_checks.py, candidates in test_candidates.py, unreadable files in
test_hostile_files.py."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from streams.config import CONFIG_ENV, DEFAULTS_PATH, ConfigError, Mode, load_config, parse_config
from streams.detectors import REGISTRY


def test_the_defaults_run_every_registered_detector_as_the_shipped_file_says() -> None:
    shipped = tomllib.loads(DEFAULTS_PATH.read_text())
    config = load_config(None)
    assert {d.detector.name for d in config.detectors} == set(REGISTRY)
    assert config.engine.allowed_lateness_ms == shipped["engine"]["allowed_lateness_ms"]
    for setup in config.detectors:
        section = shipped["detectors"].get(setup.detector.name, {})
        assert setup.mode is Mode(section.get("mode", "enforce"))


def test_a_file_overrides_only_what_it_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    path = tmp_path / "mine.toml"
    path.write_text('[detectors.new_contact_burst]\nfast_high = 9\nmode = "shadow"\n')
    config = load_config(path)
    defaults = load_config(None)
    burst = next(d for d in config.detectors if d.detector.name == "new_contact_burst")
    assert burst.detector.config.fast_high == 9  # type: ignore[attr-defined]
    assert burst.mode is Mode.SHADOW and config.mode_of("new_contact_burst") is Mode.SHADOW
    before = next(d for d in defaults.detectors if d.detector.name == "new_contact_burst")
    assert burst.detector.config.fast_medium == before.detector.config.fast_medium  # type: ignore[attr-defined]
    assert config.engine == defaults.engine and config.source == str(path)


def test_the_environment_names_the_file_when_no_path_is_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "env.toml"
    path.write_text("[engine]\nallowed_lateness_ms = 42\n")
    monkeypatch.setenv(CONFIG_ENV, str(path))
    assert load_config(None).engine.allowed_lateness_ms == 42


def test_a_detector_turned_off_is_not_run() -> None:
    config = parse_config({"detectors": {"ban_evasion": {"mode": "off"}}})
    assert "ban_evasion" not in {d.name for d in config.active()}
    assert "ban_evasion" not in {d.name for d in config.new_engine().detectors}
    assert len(config.active()) == len(REGISTRY) - 1


def test_corroborate_takes_only_pairs_of_two_different_known_detectors() -> None:
    pairs = "minor_exposure + cold_outreach, cold_outreach+nope, a+b+c, ban_evasion+ban_evasion"
    with pytest.raises(ConfigError) as err:
        parse_config({"engine": {"corroborate": pairs}})
    assert sorted(err.value.problems) == sorted(
        [
            "engine.corroborate: 'cold_outreach+nope': 'nope' is not a detector",
            "engine.corroborate: 'a+b+c' is not a pair (write two detectors as 'a+b')",
            "engine.corroborate: 'ban_evasion+ban_evasion' pairs a detector with itself",
        ]
    )
    spaced = parse_config({"engine": {"corroborate": "minor_exposure + cold_outreach"}})
    partners = spaced.new_engine()._partners
    assert partners == {
        "minor_exposure": frozenset({"cold_outreach"}),
        "cold_outreach": frozenset({"minor_exposure"}),
    }


def test_every_problem_is_reported_at_once_naming_key_and_value() -> None:
    raw = {
        "engine": {"cooldown_ms": "soon"},
        "detectors": {
            "new_contact_burst": {"fast_high": -3, "colour": 1},
            "nope": {},
            "ban_evasion": {"mode": "loud"},
        },
        "extra": {},
    }
    with pytest.raises(ConfigError) as err:
        parse_config(raw)
    problems = err.value.problems
    assert len(problems) == 6, problems
    needles = ("engine.cooldown_ms: 'soon'", "fast_high: -3", "colour: unknown key",
               "detectors.nope: unknown", "mode: 'loud'", "extra: unknown section")  # fmt: skip
    for needle in needles:
        assert any(needle in p for p in problems), needle
