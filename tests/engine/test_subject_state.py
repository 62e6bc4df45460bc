"""A subject's detector states sit at their detectors' places in the engine (`SubjectState`):
stored state is by name, so an engine whose detectors come in another order loads each one's
state into its own place and goes on as the engine that stored it."""

from __future__ import annotations

import json

from streams.detectors.minor_blocks_reports import MinorBlocksReportsDetector
from streams.detectors.new_contact_burst import NewContactBurstDetector
from streams.engine.core import Engine
from streams.model import Alert, Event, EventType
from tests.factories import MIN, T0, adult, message, minor

GROWN_UP = adult("u-a")
# Twelve new minors messaged in twelve minutes (new_contact_burst: MEDIUM from 8 in an hour),
# and five of them blocking the adult in between (minor_blocks_reports: MEDIUM from 3 minors).
EVENTS = sorted(
    [message(GROWN_UP, minor(f"m-{i}"), T0 + i * MIN, first=True) for i in range(12)]
    + [
        Event(f"e-block-{i}", EventType.BLOCKED, T0 + i * MIN + 30_000, minor(f"m-{i}"), GROWN_UP)
        for i in range(1, 10, 2)
    ],
    key=lambda e: (e.ts_ms, e.event_id),
)
CUT = 9  # before it: 6 contacts (short of 8) and 3 blocks; after it, 6 contacts and 2 blocks


def _run(engine: Engine, events: list[Event]) -> list[Alert]:
    return [alert for event in events for alert in engine.process(event)]


def test_state_stored_by_one_order_of_detectors_loads_into_another() -> None:
    first = Engine([NewContactBurstDetector(), MinorBlocksReportsDetector()])
    head, rest = EVENTS[:CUT], EVENTS[CUT:]
    _run(first, head)
    saved = {k: v for k, v in first.take_dirty().items() if v is not None}
    assert "ACCOUNT:u-a" in saved

    swapped = Engine([MinorBlocksReportsDetector(), NewContactBurstDetector()], loader=saved.get)
    expected, got = _run(first, rest), _run(swapped, rest)

    assert swapped.failures == []
    assert [(a.detector, a.severity, a.evidence_event_ids) for a in got] == [
        (a.detector, a.severity, a.evidence_event_ids) for a in expected
    ]
    assert {a.detector for a in got} == {"new_contact_burst", "minor_blocks_reports"}
    for key in first.subjects:
        assert json.loads(swapped.dump(key) or b"null") == json.loads(first.dump(key) or b"")
    # Without the stored state the rest alone is short of new_contact_burst's threshold:
    # the alerts above came from what was loaded.
    fresh = _run(Engine([MinorBlocksReportsDetector(), NewContactBurstDetector()]), rest)
    assert "new_contact_burst" not in {a.detector for a in fresh}
