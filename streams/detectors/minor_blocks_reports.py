"""minor_blocks_reports: one account blocked or reported by several distinct minors.

Children rarely block or report anyone; when several different ones do it to the same account
within a day, that account is very likely contacting children in a way they do not want. The
state is keyed by the blocked or reported account (the event's target), not by the actor.

Each distinct minor counts once, with the weight of the strongest thing it did: a report
(`report_weight`) says more than a block (`block_weight`). The weighted sum is compared to the
thresholds, and at least `min_minors` distinct minors are needed for any finding, so one
upset child who blocks and reports cannot raise a case alone.

Treatment of missing data (the contract leaves these open):
- Only actors that declare a minor band count. `UNKNOWN` (or adult) blockers are ignored:
  the signal is children pushing someone away, and an adult's blocks are other detectors' job.
- The subject's own age band: adult or `UNKNOWN` counts in full. A subject declaring a minor
  band still counts (adults pose as teens), but its sum is multiplied by
  `minor_subject_factor`, because teens also block each other in ordinary fallings-out, and
  it stays at MEDIUM here: a popular teen's fans block it without it ever having written to
  them. `minor_exposure` counts the blocks and reports that follow a contact the account
  itself started, so an adult posing as a teen is still raised by what it did.
- `created_ts` and `anonymous` on the subject only colour the reason and the score, never
  the severity. `device_hash` and `ip_hash` are not used.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar

from streams.detectors.contract import UNCHANGED, DetectorBase, Finding, Outcome, severity_for
from streams.detectors.state import DictState
from streams.detectors.subjects import account_key
from streams.detectors.windows import DAY_MS, HOUR_MS, drop_before
from streams.detectors.wording import about_account, capped
from streams.model import MINOR_BANDS, Account, Event, EventType, Severity, Subject

BLOCK = 1  # flag bits of what one minor did to the subject
REPORT = 2


@dataclass(frozen=True, slots=True)
class MinorBlocksReportsConfig:
    window_ms: int = DAY_MS
    min_minors: int = 3
    medium: float = 3.0
    high: float = 5.0
    critical_factor: float = 3.0
    report_weight: float = 1.5
    block_weight: float = 1.0
    minor_subject_factor: float = 0.75
    max_minors: int = 64
    evidence_cap: int = 50


class BlocksState(DictState):
    """Per-account memory: minor -> (event time, BLOCK|REPORT flags, event id) in the window.

    Kept in event-time order (a minor acting again is re-inserted), so expiry pops the front.
    """

    __slots__ = ("minors",)
    json_names: ClassVar = {"minors": "m"}
    minors: dict[str, tuple[int, int, str]]


_FLAG = {EventType.BLOCKED: BLOCK, EventType.REPORTED: REPORT}


class MinorBlocksReportsDetector(DetectorBase[MinorBlocksReportsConfig, BlocksState]):
    name: ClassVar[str] = "minor_blocks_reports"
    version: ClassVar[str] = "1.1.0"
    counterpart_role: ClassVar[str] = "minor_who_blocked_or_reported"
    event_types: ClassVar[frozenset[EventType]] = frozenset(_FLAG)

    def subject_keys(self, event: Event) -> Iterable[str]:
        target = event.target
        if target is None or event.type not in _FLAG or event.actor.age_band not in MINOR_BANDS:
            return ()
        if target.id == event.actor.id:
            return ()
        return (account_key(target.id),)

    def horizon_ms(self) -> int:
        return self.config.window_ms

    def step(self, state: BlocksState, subject: Subject, event: Event) -> Outcome:
        target = event.target
        flag = _FLAG.get(event.type)
        if target is None or flag is None or target.id != subject.id:
            return UNCHANGED
        if not event.actor.age_band.is_minor:
            return UNCHANGED
        cfg = self.config
        self.expire(state, event.ts_ms)
        minor = event.actor.id
        before = state.minors.get(minor)
        if before is not None and before[1] | flag == before[1]:
            return UNCHANGED  # the same minor doing the same thing again adds nothing
        flags = flag | (before[1] if before else 0)
        state.minors.pop(minor, None)
        state.minors[minor] = (event.ts_ms, flags, event.event_id)
        if len(state.minors) > cfg.max_minors:
            del state.minors[next(iter(state.minors))]
        return Outcome(changed=True, finding=self._assess(state, target, event))

    def _assess(self, state: BlocksState, subject: Account, event: Event) -> Finding | None:
        cfg = self.config
        now = event.ts_ms
        count = len(state.minors)
        if count < cfg.min_minors:
            return None
        reports = sum(1 for _, flags, _ in state.minors.values() if flags & REPORT)
        blocks_only = count - reports
        factor = cfg.minor_subject_factor if subject.age_band.is_minor else 1.0
        weighted = round((reports * cfg.report_weight + blocks_only * cfg.block_weight) * factor, 3)
        severity = severity_for(weighted, cfg.medium, cfg.high, cfg.critical_factor)
        if severity is None:
            return None
        if subject.age_band in MINOR_BANDS and severity.rank > Severity.MEDIUM.rank:
            # Fans of a popular teen block it without it ever writing to them; whether the
            # account started those contacts is minor_exposure's to judge (its pushback signal).
            severity = Severity.MEDIUM
        about, who = about_account(subject, now)
        score = min(1.0, weighted / (2 * cfg.high))
        if subject.anonymous:
            score = min(1.0, score + 0.1)
        if about.get("subject_account_age_days", 7) < 7:
            score = min(1.0, score + 0.1)
        features = {
            "distinct_minors": float(count),
            "minors_reported": float(reports),
            "minors_blocked_only": float(blocks_only),
            "weighted_score": weighted,
            "threshold_medium": cfg.medium,
            "threshold_high": cfg.high,
            "threshold_min_minors": float(cfg.min_minors),
            "window_hours": cfg.window_ms / HOUR_MS,
            **about,
        }
        discount = f", x{factor:g} as it declares a minor age" if factor != 1.0 else ""
        reason = (
            f"{who} was blocked or reported by {count} different minors "
            f"within {cfg.window_ms // HOUR_MS} h ({reports} reports, {blocks_only} blocks only; "
            f"weighted {weighted:g}{discount}, high at {cfg.high:g})."
        )
        items = list(state.minors.items())
        return Finding(
            severity=severity,
            score=round(score, 4),
            window_start_ms=max(now - cfg.window_ms + 1, items[0][1][0]),
            window_end_ms=now,
            features=features,
            counterparts=capped((minor for minor, _ in items), cfg.evidence_cap),
            minors_exposed=count,
            evidence_event_ids=capped((eid for _, (_, _, eid) in items), cfg.evidence_cap),
            reason=reason,
            magnitude=weighted,
        )

    def expire(self, state: BlocksState, now_ms: int) -> bool:
        """Also called before every step, so results never depend on when cleanup ran."""
        drop_before(state.minors, now_ms - self.config.window_ms)
        return not state.minors
