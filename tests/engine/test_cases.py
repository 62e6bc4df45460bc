"""Cases, not floods (`streams/engine/cases.py`): one case per subject and detector inside
the cooldown, re-published only when it grows."""

from __future__ import annotations

import json
import re

import pytest

from streams.detectors.contract import Finding
from streams.engine.cases import Case, advance_case, case_id_for
from streams.model import Severity

COOLDOWN, GROWTH = 1000, 0.5


def finding(severity: Severity = Severity.HIGH, magnitude: float = 4.0) -> Finding:
    return Finding(
        severity=severity, score=0.5, window_start_ms=0, window_end_ms=0, features={},
        counterparts=(), minors_exposed=0, evidence_event_ids=(), reason="r",
        magnitude=magnitude,
    )  # fmt: skip


def advance(case: Case | None, f: Finding, now: int, event_id: str = "e-1") -> tuple[Case, bool]:
    return advance_case(
        case, f, detector="d", subject_key="ACCOUNT:u-1", event_id=event_id, now_ms=now,
        cooldown_ms=COOLDOWN, update_growth=GROWTH,
    )  # fmt: skip


def test_the_case_id_depends_on_detector_subject_and_opening_event_only() -> None:
    one = case_id_for("d", "ACCOUNT:u-1", "e-1")
    assert re.fullmatch(r"c-[0-9a-f]{24}", one)
    assert one == case_id_for("d", "ACCOUNT:u-1", "e-1")
    changed = [("x", "ACCOUNT:u-1", "e-1"), ("d", "ACCOUNT:u-2", "e-1"),
               ("d", "ACCOUNT:u-1", "e-2"), ("d", "ACCOUNT:u-1e", "-1")]  # fmt: skip
    others = {case_id_for(*parts) for parts in changed}
    assert len(others) == 4 and one not in others


def test_a_first_finding_opens_revision_one() -> None:
    case, publish = advance(None, finding(), 100)
    assert publish and case.revision == 1 and case.case_id == case_id_for("d", "ACCOUNT:u-1", "e-1")
    assert (case.opened_ts_ms, case.last_ts_ms, case.magnitude) == (100, 100, 4.0)


@pytest.mark.parametrize(
    ("severity", "magnitude", "publish"),
    [
        (Severity.HIGH, 5.0, False),  # +1 but below +50%
        (Severity.HIGH, 6.0, True),  # +50%
        (Severity.MEDIUM, 6.0, True),  # grows; the severity stays HIGH
        (Severity.CRITICAL, 4.0, True),  # rises
        (Severity.MEDIUM, 1.0, False),
    ],
)
def test_a_case_is_republished_only_when_it_grows(
    severity: Severity, magnitude: float, publish: bool
) -> None:
    case, _ = advance(None, finding(), 100)
    after, published = advance(case, finding(severity, magnitude), 600, "e-2")
    assert published is publish and after is case and after.case_id == case.case_id
    assert after.revision == (2 if publish else 1) and after.last_ts_ms == 600
    if publish:
        assert after.severity.rank == max(Severity.HIGH.rank, severity.rank)
        assert after.magnitude == max(4.0, magnitude)


def test_small_cases_need_one_more_not_half_a_minor() -> None:
    case, _ = advance(None, finding(magnitude=1.0), 100)
    assert not advance(case, finding(magnitude=1.5), 200)[1]  # +50% but not +1
    assert advance(case, finding(magnitude=2.0), 300)[1]


def test_the_cooldown_runs_from_the_last_finding_then_a_new_case_opens() -> None:
    case, _ = advance(None, finding(), 100)
    advance(case, finding(magnitude=4.0), 100 + COOLDOWN)  # at the edge: still open
    assert case.last_ts_ms == 100 + COOLDOWN
    new, publish = advance(case, finding(), 100 + 2 * COOLDOWN + 1, "e-3")
    assert publish and new is not case and new.revision == 1
    assert new.case_id == case_id_for("d", "ACCOUNT:u-1", "e-3")


def test_a_stored_case_loads_back() -> None:
    case, _ = advance(None, finding(Severity.CRITICAL, 2.5), 100)
    back = Case.load(json.loads(json.dumps(case.dump())))
    assert back == case
