"""Detector registry: every detector Guardline can run, by name.

Detectors are pure (no Kafka, no Faust, no clock); see `base.py` for the contract they share.
A name clash is an error at import time, so two modules can never claim one detector name.
"""

from __future__ import annotations

from typing import Any

from streams.detectors.new_contact_burst import NewContactBurstConfig, NewContactBurstDetector

REGISTRY: dict[str, tuple[Any, Any]] = {}


def register(detector_cls: Any, config_cls: Any) -> None:
    name = detector_cls.name
    if name in REGISTRY:
        raise ValueError(f"detector name {name!r} registered twice")
    if not detector_cls.version:
        raise ValueError(f"detector {name!r} has no version")
    REGISTRY[name] = (detector_cls, config_cls)


register(NewContactBurstDetector, NewContactBurstConfig)
