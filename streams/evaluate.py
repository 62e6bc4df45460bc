"""`guardline eval`: score a backtest's alerts against a simulation's ground truth.

Per planted subject: detected or not, the highest severity, time to detect (event time from the
attack's start, its first contact of a minor, to its first HIGH+ alert) and the minors the
subject had reached by then (the detector's own count on that alert). Overall: recall and
precision at HIGH+. Recall counts the planted attack subjects. For precision, a HIGH+ subject
is a true alarm when it is an attack subject or one of the attacker's own accounts (a churn
device's throwaways, a ban evader's deleted account: the truth lists them); every other HIGH+
subject, look-alike or background, is a false alarm.
"""

from __future__ import annotations

from dataclasses import dataclass

from streams.model import Alert, Severity
from streams.simulate import TruthEntry

HIGH_RANK = Severity.HIGH.rank


@dataclass(frozen=True, slots=True)
class SubjectScore:
    truth: TruthEntry
    max_severity: Severity | None
    detected_high: bool
    detect_delay_ms: int | None
    minors_at_detection: int | None
    detectors: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class EvalReport:
    subjects: tuple[SubjectScore, ...]
    recall_high: float
    precision_high: float
    false_alarm_subjects: tuple[str, ...]
    attacker_accounts_flagged: tuple[str, ...] = ()  # HIGH+ beyond the planted subjects


def evaluate(truth: list[TruthEntry], alerts: list[Alert]) -> EvalReport:
    by_subject: dict[tuple[str, str], list[Alert]] = {}
    for alert in alerts:
        key = (alert.subject.kind.value, alert.subject.id)
        by_subject.setdefault(key, []).append(alert)
    scores = []
    for entry in truth:
        mine = by_subject.get((entry.subject_kind.value, entry.subject_id), [])
        high = sorted(
            (a for a in mine if a.severity.rank >= HIGH_RANK), key=lambda a: a.trigger_ts_ms
        )
        first = high[0] if high else None
        scores.append(
            SubjectScore(
                truth=entry,
                max_severity=max((a.severity for a in mine), key=lambda s: s.rank, default=None),
                detected_high=first is not None,
                detect_delay_ms=first.trigger_ts_ms - entry.attack_start_ts_ms if first else None,
                minors_at_detection=first.minors_exposed if first else None,
                detectors=tuple(sorted({a.detector for a in mine})),
            )
        )
    attacks = {
        (s.truth.subject_kind.value, s.truth.subject_id) for s in scores if s.truth.kind == "attack"
    }
    controlled = {
        ("ACCOUNT", account)
        for s in scores
        if s.truth.kind == "attack"
        for account in s.truth.attacker_accounts
    } - attacks
    flagged = {k for k, v in by_subject.items() if any(a.severity.rank >= HIGH_RANK for a in v)}
    attack_scores = [s for s in scores if s.truth.kind == "attack"]
    recall = (
        sum(s.detected_high for s in attack_scores) / len(attack_scores) if attack_scores else 1.0
    )
    true_alarms = flagged & (attacks | controlled)
    precision = len(true_alarms) / len(flagged) if flagged else 1.0
    false_alarms = tuple(sorted(f"{k}:{i}" for k, i in flagged - true_alarms))
    extra = tuple(sorted(f"{k}:{i}" for k, i in flagged & controlled))
    return EvalReport(tuple(scores), recall, precision, false_alarms, extra)


def format_report(report: EvalReport) -> str:
    lines = [
        f"{'kind':<9} {'scenario':<22} {'subject':<24} {'max':<8} {'HIGH+':<5} "
        f"{'detect after':>12} {'minors then':>11}  detectors"
    ]
    for s in report.subjects:
        delay = f"{s.detect_delay_ms / 60_000:.0f} min" if s.detect_delay_ms is not None else "-"
        minors = str(s.minors_at_detection) if s.minors_at_detection is not None else "-"
        sev = s.max_severity.value if s.max_severity else "-"
        subject = f"{s.truth.subject_kind.value}:{s.truth.subject_id}"
        lines.append(
            f"{s.truth.kind:<9} {s.truth.scenario:<22} {subject:<24} {sev:<8} "
            f"{'yes' if s.detected_high else 'no':<5} {delay:>12} {minors:>11}  "
            f"{','.join(s.detectors) or '-'}"
        )
    lines.append(
        f"recall@HIGH+ {report.recall_high:.2f}  precision@HIGH+ {report.precision_high:.2f}  "
        f"false-alarm subjects: {len(report.false_alarm_subjects)}  "
        f"attacker-controlled accounts also flagged: {len(report.attacker_accounts_flagged)}"
    )
    delays = sorted(s.detect_delay_ms for s in report.subjects if s.detect_delay_ms is not None)
    reached = sorted(
        s.minors_at_detection for s in report.subjects if s.minors_at_detection is not None
    )
    if delays:
        lines.append(
            f"time to detect (attack start -> first HIGH+): median {_median(delays) / 60_000:.0f}"
            f" min, max {delays[-1] / 60_000:.0f} min; minors reached by then: median "
            f"{_median(reached):g}, max {reached[-1]}"
        )
    lines.extend(f"  false alarm: {s}" for s in report.false_alarm_subjects)
    return "\n".join(lines)


def _median(values: list[int]) -> float:
    """Of a sorted, non-empty list."""
    mid = len(values) // 2
    return float(values[mid]) if len(values) % 2 else (values[mid - 1] + values[mid]) / 2
