"""Checks across a settings section's fields: values each valid alone that make no sense together.

Every detector's settings follow one naming scheme, so the rules are written once, by name:
durations (`*_ms`) are positive (the engine's lateness may be 0), severity thresholds
(`medium`, `high`, `X_medium`, `X_high`) are positive and MEDIUM comes at or before HIGH,
`critical_factor` is at least 1 (CRITICAL above HIGH), fractions lie in (0, 1], caps
(`max_*`, `evidence_cap`) hold at least one entry, and windows of one family are ordered from
short to long. A new detector whose settings follow the scheme is checked with no code here.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

# Windows that must be ordered, shortest first, wherever a section has two or more of them.
WINDOW_ORDER = ("short_window_ms", "fast_window_ms", "day_window_ms", "slow_window_ms")
# Durations that may be zero: no lateness means input already in event-time order.
ZERO_ALLOWED = frozenset({"allowed_lateness_ms"})


def cross_check(settings: Any, where: str) -> list[str]:
    """Every problem with `settings` (a config dataclass), each naming the key, the value and
    what was expected; empty when the section makes sense."""
    values = {f.name: getattr(settings, f.name) for f in dataclasses.fields(settings)}
    problems: list[str] = []

    def bad(key: str, text: str) -> None:
        problems.append(f"{where}.{key}: {values[key]!r} {text}")

    for key, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if key.endswith("_ms") and key not in ZERO_ALLOWED and value <= 0:
            bad(key, "must be > 0 (a duration or window)")
        elif _is_threshold(key) and value <= 0:
            bad(key, "must be > 0 (a zero threshold flags every subject)")
        elif key == "critical_factor" and value < 1:
            bad(key, "must be >= 1 (CRITICAL starts at HIGH x critical_factor)")
        elif key.endswith("_fraction") and not 0 < value <= 1:
            bad(key, "must be in (0, 1]")
        elif (key.startswith("max_") or key == "evidence_cap") and value < 1:
            bad(key, "must be >= 1 (a cap of 0 remembers nothing)")
    for key in values:
        if _is_threshold(key) and key.endswith("medium"):
            high = key[: -len("medium")] + "high"
            if high in values and values[key] > values[high] > 0:
                bad(key, f"is above {high} ({values[high]!r}): MEDIUM must come at or before HIGH")
    windows = [w for w in WINDOW_ORDER if w in values]
    for shorter, longer in itertools.pairwise(windows):
        if values[shorter] > values[longer] > 0:
            bad(shorter, f"is longer than {longer} ({values[longer]!r}): windows go short to long")
    return problems


def _is_threshold(key: str) -> bool:
    return key in ("medium", "high") or key.endswith(("_medium", "_high"))
