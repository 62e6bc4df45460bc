"""streams.evaluate: time to detect counts from the attack's start, and precision counts the
attacker's own extra accounts as true alarms but look-alikes and background as false ones."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from streams.evaluate import evaluate, format_report
from streams.model import Alert, Severity, Subject, SubjectKind
from streams.simulate import TruthEntry, read_truth

T0 = 1_700_000_000_000
MIN = 60_000
HOUR = 60 * MIN

ATTACK = TruthEntry(
    scenario="fast_contact_burst",
    kind="attack",
    subject_kind=SubjectKind.ACCOUNT,
    subject_id="u-x",
    expected_detectors=("new_contact_burst",),
    first_event_ts_ms=T0,  # account created ...
    minors_targeted=("m-1", "m-2"),
    description="burst",
    attack_start_ts_ms=T0 + 5 * HOUR,  # ... five hours before its first message to a minor
    attacker_accounts=("u-x",),
)
CHURN = TruthEntry(
    scenario="anonymous_churn",
    kind="attack",
    subject_kind=SubjectKind.DEVICE,
    subject_id="d-1",
    expected_detectors=("anonymous_churn",),
    first_event_ts_ms=T0,
    minors_targeted=("m-3",),
    description="churn",
    attack_start_ts_ms=T0 + 10 * MIN,
    attacker_accounts=("u-t1", "u-t2"),
)
TEACHER = TruthEntry(
    scenario="teacher_class_group",
    kind="lookalike",
    subject_kind=SubjectKind.ACCOUNT,
    subject_id="u-teacher",
    expected_detectors=(),
    first_event_ts_ms=T0,
    minors_targeted=("m-4",),
    description="teacher",
    attack_start_ts_ms=T0,
)


def alert(kind: SubjectKind, subject: str, ts: int, severity: Severity, minors: int = 3) -> Alert:
    return Alert(
        alert_id=f"a-{subject}-{ts}",
        detector="new_contact_burst",
        detector_version="1",
        severity=severity,
        score=0.5,
        subject=Subject(kind, subject),
        window_start_ms=ts - HOUR,
        window_end_ms=ts,
        trigger_ts_ms=ts,
        features={},
        counterparts=(),
        minors_exposed=minors,
        evidence_event_ids=(),
        reason="r",
    )


ACC, DEV = SubjectKind.ACCOUNT, SubjectKind.DEVICE


def test_time_to_detect_counts_from_the_attack_start_not_the_first_event() -> None:
    alerts = [
        alert(ACC, "u-x", T0 + 5 * HOUR + 10 * MIN, Severity.MEDIUM, 8),
        alert(ACC, "u-x", T0 + 5 * HOUR + 40 * MIN, Severity.HIGH, 15),
        alert(ACC, "u-x", T0 + 6 * HOUR, Severity.CRITICAL, 45),
    ]
    report = evaluate([ATTACK], alerts)
    (score,) = report.subjects
    assert score.detected_high and score.max_severity is Severity.CRITICAL
    assert score.detect_delay_ms == 40 * MIN
    assert score.minors_at_detection == 15
    assert report.recall_high == 1.0
    assert "median 40 min, max 40 min; minors reached by then: median 15, max 15" in (
        format_report(report)
    )


def test_attacker_accounts_are_true_alarms_look_alikes_and_background_are_false() -> None:
    alerts = [
        alert(DEV, "d-1", T0 + HOUR, Severity.HIGH),
        alert(ACC, "u-t2", T0 + HOUR, Severity.HIGH),  # a throwaway caught by ban_evasion
        alert(ACC, "u-teacher", T0 + HOUR, Severity.HIGH),  # look-alike at HIGH: false
        alert(ACC, "u-bystander", T0 + HOUR, Severity.CRITICAL),  # background: false
        alert(ACC, "u-quiet", T0 + HOUR, Severity.MEDIUM),  # below HIGH: not counted
    ]
    report = evaluate([ATTACK, CHURN, TEACHER], alerts)
    assert report.recall_high == 0.5  # u-x was never flagged
    assert report.precision_high == 2 / 4
    assert report.false_alarm_subjects == ("ACCOUNT:u-bystander", "ACCOUNT:u-teacher")
    assert report.attacker_accounts_flagged == ("ACCOUNT:u-t2",)
    text = format_report(report)
    assert "precision@HIGH+ 0.50" in text and "also flagged: 1" in text


def test_truth_files_without_the_new_fields_still_read(tmp_path: Path) -> None:
    """Older truth files: the attack starts at the first event, no extra attacker accounts."""
    doc = asdict(ATTACK)
    del doc["attack_start_ts_ms"], doc["attacker_accounts"]
    doc["subject_kind"] = "ACCOUNT"
    path = tmp_path / "truth.jsonl"
    path.write_text(json.dumps(doc) + "\n")
    (entry,) = read_truth(path)
    assert entry.attack_start_ts_ms == T0 and entry.attacker_accounts == ()
