"""Detector registry: every detector Guardline can run, by name.

Detectors are pure (no Kafka, no Faust, no clock); see `contract.py` for the contract they share.
A name clash is an error at import time, so two modules can never claim one detector name.
"""

from __future__ import annotations

from typing import Any

from streams.detectors.anonymous_churn import AnonymousChurnDetector
from streams.detectors.ban_evasion import BanEvasionDetector
from streams.detectors.cold_outreach import ColdOutreachDetector
from streams.detectors.media_then_pushback import MediaThenPushbackDetector
from streams.detectors.minor_blocks_reports import MinorBlocksReportsDetector
from streams.detectors.minor_exposure import MinorExposureDetector
from streams.detectors.minor_group_rooms import MinorGroupRoomsDetector
from streams.detectors.minor_mass_add import MinorMassAddDetector
from streams.detectors.new_contact_burst import NewContactBurstDetector
from streams.detectors.sextortion_velocity import SextortionVelocityDetector

REGISTRY: dict[str, tuple[Any, Any]] = {}


def register(detector_cls: Any) -> None:
    """Add a detector class; its config class is the one it names in `DetectorBase[...]`."""
    name = detector_cls.name
    if name in REGISTRY:
        raise ValueError(f"detector name {name!r} registered twice")
    if not detector_cls.version:
        raise ValueError(f"detector {name!r} has no version")
    if not getattr(detector_cls, "counterpart_role", ""):
        raise ValueError(f"detector {name!r} does not say what its counterparts are")
    REGISTRY[name] = (detector_cls, detector_cls._config_type)


for _detector in (
    NewContactBurstDetector,
    MinorMassAddDetector,
    SextortionVelocityDetector,
    MinorBlocksReportsDetector,
    AnonymousChurnDetector,
    BanEvasionDetector,
    MinorExposureDetector,
    MinorGroupRoomsDetector,
    ColdOutreachDetector,
    MediaThenPushbackDetector,
):
    register(_detector)
