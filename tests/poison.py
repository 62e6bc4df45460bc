"""A detector that fails on purpose ("poison events"), for tests only.

Nothing in `streams/` imports this, and it is not packaged: a deployment cannot turn it on. The
real-broker test starts its worker as `python -m tests.poison worker ...` with the detector and
the event ids to fail on in `GUARDLINE_TEST_POISON` ("new_contact_burst=e-1,e-7").
"""

from __future__ import annotations

import os
import sys
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from typing import Any

from streams.detectors import REGISTRY
from streams.detectors.contract import Outcome
from streams.model import Event, Subject

POISON_ENV = "GUARDLINE_TEST_POISON"


class PlantedFailure(RuntimeError):
    """The planted bug; its message holds an id, which must never reach a log."""


@contextmanager
def failing_step(detector: str, event_ids: Collection[str]) -> Iterator[None]:
    """Make a registered detector raise on these events, after its real step has changed the
    subject's state (and perhaps found something): the worst case for a rollback."""
    cls: Any = REGISTRY[detector][0]
    original = cls.step
    poisoned = frozenset(event_ids)

    def step(self: Any, state: Any, subject: Subject, event: Event) -> Outcome:
        outcome: Outcome = original(self, state, subject, event)
        if event.event_id in poisoned:
            raise PlantedFailure(f"planted failure on {subject.id}")
        return outcome

    cls.step = step
    try:
        yield
    finally:
        cls.step = original


if __name__ == "__main__":
    from streams.cli import main

    name, _, ids = os.environ[POISON_ENV].partition("=")
    with failing_step(name, ids.split(",")):
        raise SystemExit(main(sys.argv[1:]))
