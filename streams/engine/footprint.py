"""How much live state each detector holds: keys counted exactly, bytes estimated by sampling.

Serialising every subject on every metrics update would cost as much as a changelog write per
subject; the serialised size of an evenly spread sample, scaled up, is what operators need to
see state grow or stay bounded.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from streams.engine.core import Engine


def state_footprint(engines: Iterable[Engine], sample: int = 64) -> dict[str, tuple[int, int]]:
    """Per detector: (subjects holding its state, estimated bytes of that state as JSON).

    Every detector of every engine is listed, with (0, 0) when it holds nothing. The sample is
    every k-th subject (k = keys // sample), so it spans old and new subjects alike.
    """
    engines = list(engines)
    detectors = {d.name: d for engine in engines for d in engine.detectors}
    keys = dict.fromkeys(detectors, 0)
    for engine in engines:
        for state in engine.subjects.values():
            for name in state.detector_states:
                keys[name] = keys.get(name, 0) + 1
    stride = {name: max(1, n // max(1, sample)) for name, n in keys.items()}
    seen = dict.fromkeys(keys, 0)
    picks: dict[str, list[Any]] = {name: [] for name in keys}
    for engine in engines:
        for state in engine.subjects.values():
            for name, det_state in state.detector_states.items():
                if seen[name] % stride[name] == 0 and len(picks[name]) < sample:
                    picks[name].append(det_state)
                seen[name] += 1
    out: dict[str, tuple[int, int]] = {}
    for name, count in keys.items():
        detector = detectors.get(name)
        if not picks[name] or detector is None:
            out[name] = (count, 0)
            continue
        size = sum(len(json.dumps(detector.dump(s), separators=(",", ":"))) for s in picks[name])
        out[name] = (count, round(size / len(picks[name]) * count))
    return out


def open_cases(engines: Iterable[Engine]) -> dict[tuple[str, str], int]:
    """Cases still open (inside their cooldown), by (detector, severity), at the latest event
    time any of them saw: what the queue has in front of it (cleared ones are closed)."""
    engines = list(engines)
    cases = [
        (name.partition("|")[0], case, engine.config.cooldown_ms)
        for engine in engines
        for state in engine.subjects.values()
        for name, case in state.cases.items()
    ]
    if not cases:
        return {}
    now = max(case.last_ts_ms for _, case, _ in cases)
    out: dict[tuple[str, str], int] = {}
    for detector, case, cooldown in cases:
        if case.is_open(now, cooldown):
            key = (detector, case.severity.value)
            out[key] = out.get(key, 0) + 1
    return out
