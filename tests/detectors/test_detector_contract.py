"""The detector contract: the generic base gives each detector its config (the defaults when
none is given) and builds its state; the registry and candidates keep those types."""

from __future__ import annotations

from streams.config import parse_config
from streams.detectors import REGISTRY
from streams.detectors.new_contact_burst import (
    BurstState,
    NewContactBurstConfig,
    NewContactBurstDetector,
)


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
