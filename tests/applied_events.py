"""A worker that writes down every (subject, event) its engine applies or skips, for tests only.

The skip counter (`guardline_skipped_events_total`) cannot tell a redelivered event (applied
before, skipped again by its subject's high-water mark: harmless) from a late one (behind the
mark although never applied: lost). This list can: a pair with no "applied" line was never
applied. Lines are `applied|skipped <TAB> subject key <TAB> event id`, appended to the file
named by `GUARDLINE_TEST_APPLIED`, one write each (nothing lost when the worker is stopped).
Nothing in `streams/` imports this, and it is not packaged.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from streams.detectors.contract import Detector
from streams.engine.core import Engine
from streams.model import Alert, Event

APPLIED_ENV = "GUARDLINE_TEST_APPLIED"


def record_to(path: Path) -> None:
    original = Engine.apply
    out = path.open("a", buffering=1)  # line-buffered: each line written as it comes

    def apply(self: Engine, key: str, detectors: Iterable[Detector], event: Event) -> list[Alert]:
        before = self.stats.applied
        alerts = original(self, key, detectors, event)
        outcome = "applied" if self.stats.applied > before else "skipped"
        out.write(f"{outcome}\t{key}\t{event.event_id}\n")
        return alerts

    Engine.apply = apply  # type: ignore[method-assign]


def read_outcomes(path: Path) -> dict[tuple[str, str], Counter[str]]:
    """(subject key, event id) -> how often it was applied and skipped."""
    found: dict[tuple[str, str], Counter[str]] = {}
    for line in path.read_text().splitlines():
        outcome, key, event_id = line.split("\t")
        found.setdefault((key, event_id), Counter())[outcome] += 1
    return found


if __name__ == "__main__":
    from streams.cli import main

    record_to(Path(os.environ[APPLIED_ENV]))
    raise SystemExit(main(sys.argv[1:]))
