"""Detector registry: every detector Guardline can run, by name.

Detectors are pure (no Kafka, no Faust, no clock); see `base.py` for the contract they share.
A name clash is an error at import time, so two modules can never claim one detector name.
"""

from __future__ import annotations

from typing import Any

from streams.detectors.anonymous_churn import AnonymousChurnConfig, AnonymousChurnDetector
from streams.detectors.ban_evasion import BanEvasionConfig, BanEvasionDetector
from streams.detectors.minor_blocks_reports import (
    MinorBlocksReportsConfig,
    MinorBlocksReportsDetector,
)
from streams.detectors.minor_mass_add import MinorMassAddConfig, MinorMassAddDetector
from streams.detectors.new_contact_burst import NewContactBurstConfig, NewContactBurstDetector
from streams.detectors.sextortion_velocity import (
    SextortionVelocityConfig,
    SextortionVelocityDetector,
)

REGISTRY: dict[str, tuple[Any, Any]] = {}


def register(detector_cls: Any, config_cls: Any) -> None:
    name = detector_cls.name
    if name in REGISTRY:
        raise ValueError(f"detector name {name!r} registered twice")
    if not detector_cls.version:
        raise ValueError(f"detector {name!r} has no version")
    REGISTRY[name] = (detector_cls, config_cls)


register(NewContactBurstDetector, NewContactBurstConfig)
register(MinorMassAddDetector, MinorMassAddConfig)
register(SextortionVelocityDetector, SextortionVelocityConfig)
register(MinorBlocksReportsDetector, MinorBlocksReportsConfig)
register(AnonymousChurnDetector, AnonymousChurnConfig)
register(BanEvasionDetector, BanEvasionConfig)
