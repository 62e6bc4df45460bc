"""Cases, not floods: findings on one subject and detector inside a cooldown update one case.

A case is identified by the event that opened it, so its id is the same on every replay of the
same events. It is re-published (same id, next revision) only when it grows: a higher severity,
or a magnitude (usually distinct minors) at least `update_growth` above the last published one.
Everything here is event time; the cooldown is measured from the case's last finding.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from streams.detectors.contract import Finding
from streams.model import Severity


@dataclass(slots=True)
class Case:
    case_id: str
    opened_ts_ms: int
    last_ts_ms: int
    revision: int
    severity: Severity
    magnitude: float

    def is_open(self, now_ms: int, cooldown_ms: int) -> bool:
        return now_ms - self.last_ts_ms <= cooldown_ms

    def dump(self) -> list[object]:
        return [
            self.case_id,
            self.opened_ts_ms,
            self.last_ts_ms,
            self.revision,
            self.severity.value,
            self.magnitude,
        ]

    @classmethod
    def load(cls, data: list[object]) -> Case:
        case_id, opened, last, revision, severity, magnitude = data
        return cls(
            str(case_id),
            int(str(opened)),
            int(str(last)),
            int(str(revision)),
            Severity(str(severity)),
            float(str(magnitude)),
        )


def case_id_for(detector: str, subject_key: str, opening_event_id: str) -> str:
    """Deterministic id: same detector, subject and opening event give the same case."""
    digest = hashlib.sha256(f"{detector}\x1f{subject_key}\x1f{opening_event_id}".encode())
    return "c-" + digest.hexdigest()[:24]


def advance_case(
    case: Case | None,
    finding: Finding,
    *,
    detector: str,
    subject_key: str,
    event_id: str,
    now_ms: int,
    cooldown_ms: int,
    update_growth: float,
) -> tuple[Case, bool]:
    """Return the case after this finding, and whether it must be (re-)published."""
    if case is None or not case.is_open(now_ms, cooldown_ms):
        opened = Case(
            case_id=case_id_for(detector, subject_key, event_id),
            opened_ts_ms=now_ms,
            last_ts_ms=now_ms,
            revision=1,
            severity=finding.severity,
            magnitude=finding.magnitude,
        )
        return opened, True
    case.last_ts_ms = now_ms
    rises = finding.severity.rank > case.severity.rank
    grows = finding.magnitude >= max(case.magnitude * (1 + update_growth), case.magnitude + 1)
    if not (rises or grows):
        return case, False
    case.revision += 1
    case.severity = max(case.severity, finding.severity, key=lambda s: s.rank)
    case.magnitude = max(case.magnitude, finding.magnitude)
    return case, True
