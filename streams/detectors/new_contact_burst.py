"""new_contact_burst: an adult or unknown-age account first-contacting many distinct minors.

Two event-time windows catch both shapes seen in the cases: a fast burst (dozens of children
messaged within an hour) and a slow one spread over a day or more.

Treatment of missing data (the contract leaves these open):
- `UNKNOWN` age on the actor counts as adult: hiding one's age must not hide the behaviour.
  `UNKNOWN` on the target does not count as a minor: only declared minors are counted.
- A direct `MESSAGE_SENT` or a `CONTACT_ADDED` is a contact. When `first_contact` is absent the
  detector decides from its own bounded memory of this account's past counterparts
  (`pair_memory_ms`, at most `max_pairs`, kept at day granularity so that an ongoing chat
  costs no state write); a pair forgotten by then counts as new again.
- An 18-20-year-old reaching a 16-17-year-old is a near-peer contact and is not counted.
- `created_ts` and `anonymous` only colour the reason and the score, never the severity.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar

from streams.detectors.contacts import adult_reaches_minor, adult_to_minor
from streams.detectors.contract import (
    CHANGED,
    UNCHANGED,
    DetectorBase,
    Finding,
    Outcome,
    severity_for,
)
from streams.detectors.state import DictState, forget_pairs, is_first_contact, remember_pair, touch
from streams.detectors.subjects import account_key
from streams.detectors.windows import DAY_MS, HOUR_MS, drop_before
from streams.detectors.wording import capped, describe_age, span_words
from streams.model import Event, EventType, Subject


@dataclass(frozen=True, slots=True)
class NewContactBurstConfig:
    fast_window_ms: int = HOUR_MS
    fast_medium: int = 8
    fast_high: int = 15
    slow_window_ms: int = 48 * HOUR_MS
    slow_medium: int = 10
    slow_high: int = 14
    critical_factor: float = 3.0
    pair_memory_ms: int = 14 * DAY_MS
    max_pairs: int = 256
    max_firsts: int = 256
    evidence_cap: int = 50


class BurstState(DictState):
    """Per-account memory: counterparts (by day of last contact), and minors first-contacted
    in the slow window.

    Both dicts are kept in event-time order (insertion order), so expiry pops from the front.
    """

    __slots__ = ("firsts", "pairs")
    json_names: ClassVar = {"pairs": "p", "firsts": "f"}
    pairs: dict[str, int]
    firsts: dict[str, tuple[int, str]]


_CONTACTS = frozenset({EventType.MESSAGE_SENT, EventType.CONTACT_ADDED})


class NewContactBurstDetector(DetectorBase[NewContactBurstConfig, BurstState]):
    name: ClassVar[str] = "new_contact_burst"
    version: ClassVar[str] = "1.0.0"
    counterpart_role: ClassVar[str] = "minor_contacted"
    event_types: ClassVar[frozenset[EventType]] = _CONTACTS
    minor_targets_only: ClassVar[frozenset[EventType]] = _CONTACTS
    adult_actors_only: ClassVar[frozenset[EventType]] = _CONTACTS

    def subject_keys(self, event: Event) -> Iterable[str]:
        return (account_key(event.actor.id),) if adult_to_minor(event, _CONTACTS) else ()

    def horizon_ms(self) -> int:
        return max(self.config.slow_window_ms, self.config.pair_memory_ms)

    def step(self, state: BurstState, subject: Subject, event: Event) -> Outcome:
        target = event.target
        if target is None or event.actor.id != subject.id:
            return UNCHANGED
        if not adult_reaches_minor(event.actor.age_band, target.age_band):
            return UNCHANGED
        self.expire(state, event.ts_ms)
        last_day = remember_pair(state.pairs, target.id, event.ts_ms, self.config.max_pairs)
        changed = last_day != event.ts_ms // DAY_MS
        if not is_first_contact(event, last_day) or target.id in state.firsts:
            return CHANGED if changed else UNCHANGED
        touch(state.firsts, target.id, (event.ts_ms, event.event_id), self.config.max_firsts)
        return Outcome(changed=True, finding=self._assess(state, event))

    def _assess(self, state: BurstState, event: Event) -> Finding | None:
        cfg = self.config
        now = event.ts_ms
        fast_start = now - cfg.fast_window_ms
        slow = len(state.firsts)
        fast = sum(1 for ts, _ in reversed(state.firsts.values()) if ts > fast_start) if slow else 0
        fast_sev = severity_for(fast, cfg.fast_medium, cfg.fast_high, cfg.critical_factor)
        slow_sev = severity_for(slow, cfg.slow_medium, cfg.slow_high, cfg.critical_factor)
        if fast_sev is None and slow_sev is None:
            return None
        fast_rank = fast_sev.rank if fast_sev else -1
        slow_rank = slow_sev.rank if slow_sev else -1
        use_fast = fast_rank >= slow_rank
        severity = fast_sev if use_fast else slow_sev
        assert severity is not None
        window_ms = cfg.fast_window_ms if use_fast else cfg.slow_window_ms
        count = fast if use_fast else slow
        high = cfg.fast_high if use_fast else cfg.slow_high
        in_window = [
            (minor, eid) for minor, (ts, eid) in state.firsts.items() if ts > now - window_ms
        ]
        actor = event.actor
        age_days = (now - actor.created_ts_ms) / 86_400_000 if actor.created_ts_ms else None
        score = min(1.0, count / (2 * high))
        if actor.anonymous:
            score = min(1.0, score + 0.1)
        if age_days is not None and age_days < 7:
            score = min(1.0, score + 0.1)
        features = {
            "distinct_minors_first_contacted_fast": float(fast),
            "fast_window_minutes": cfg.fast_window_ms / 60_000,
            "threshold_fast_high": float(cfg.fast_high),
            "distinct_minors_first_contacted_slow": float(slow),
            "slow_window_hours": cfg.slow_window_ms / HOUR_MS,
            "threshold_slow_high": float(cfg.slow_high),
            "actor_anonymous": 1.0 if actor.anonymous else 0.0,
        }
        if age_days is not None:
            features["actor_account_age_days"] = round(age_days, 3)
        who = describe_age(actor.age_band, actor.anonymous, age_days)
        span = span_words(window_ms)
        reason = (
            f"{who[0].upper()}{who[1:]} first-contacted {count} minors it had never spoken to "
            f"within {span} (high at {high})."
        )
        return Finding(
            severity=severity,
            score=round(score, 4),
            window_start_ms=now - window_ms + 1,
            window_end_ms=now,
            features=features,
            counterparts=capped((minor for minor, _ in in_window), cfg.evidence_cap),
            minors_exposed=slow,
            evidence_event_ids=capped((eid for _, eid in in_window), cfg.evidence_cap),
            reason=reason,
            magnitude=float(count),
        )

    def expire(self, state: BurstState, now_ms: int) -> bool:
        """Also called before every step, so results never depend on when cleanup ran."""
        drop_before(state.firsts, now_ms - self.config.slow_window_ms)
        forget_pairs(state.pairs, now_ms, self.config.pair_memory_ms)
        return not state.pairs and not state.firsts
