"""sextortion_velocity: a new adult or unknown-age contact of several minors escalating fast.

The pattern: a first message to a child, then a flood of messages and images or videos
within minutes, repeated with one child after another. A pair *escalates* when the account
sends at least `min_messages` direct messages, `min_media` of them with media, within
`escalation_window_ms` of its first message to that minor. Escalated minors are counted over
`window_ms` (a day) and over `slow_window_ms` (a week: offenders work through victims day
after day, a few at a time); an under-13 weighs `under13_weight`, any other minor 1. Only
the account's own (outbound) messages are seen: the detector runs in the sender's state.

Treatment of missing data (the contract leaves these open):
- `UNKNOWN` age on the actor counts as adult: hiding one's age must not hide the behaviour.
  `UNKNOWN` on the target does not count as a minor: only declared minors are counted.
- An 18-20-year-old writing to a 16-17-year-old is a near-peer chat and is not counted.
- First contact: the `first_contact` flag when present; when absent, the detector's own
  bounded memory of the minors this account messaged (`pair_memory_ms`, at most `max_pairs`,
  at day granularity); a pair forgotten by then counts as new again. Contact adds and group
  messages do not start the clock: escalation is measured from the first direct message.
- A missing `has_media` means no media.
- `created_ts` and `anonymous` only colour the reason and the score, never the severity.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar

from streams.detectors.contacts import adult_to_minor
from streams.detectors.contract import (
    CHANGED,
    UNCHANGED,
    DetectorBase,
    Finding,
    Outcome,
    severity_for,
)
from streams.detectors.state import DictState, Row, forget_pairs, is_first_contact, remember_pair
from streams.detectors.subjects import account_key
from streams.detectors.windows import DAY_MS, HOUR_MS, MINUTE_MS
from streams.detectors.wording import capped, describe_age, span_words
from streams.model import AgeBand, Event, EventType, Severity, Subject

NEW_ACCOUNT_DAYS = 7  # only colours the score, as in the reason's "n-day-old account"


@dataclass(frozen=True, slots=True)
class SextortionVelocityConfig:
    escalation_window_ms: int = 30 * MINUTE_MS
    min_messages: int = 10
    min_media: int = 2
    window_ms: int = 24 * HOUR_MS
    slow_window_ms: int = 7 * DAY_MS
    slow_high: float = 4.0
    under13_weight: float = 2.0
    medium: float = 2.0
    high: float = 3.0
    critical_factor: float = 3.0
    pair_memory_ms: int = 14 * DAY_MS
    max_pairs: int = 256
    max_open: int = 32
    max_escalated: int = 64
    evidence_cap: int = 50


class Chat(Row):
    """One new chat with a minor, from the account's first message to it."""

    __slots__ = (
        "escalated_event_id",
        "escalated_ts_ms",
        "first_event_id",
        "first_ts_ms",
        "media",
        "messages",
        "u13",
    )
    row: ClassVar = (
        "first_ts_ms",
        "first_event_id",
        "u13",
        "messages",
        "media",
        "escalated_ts_ms",
        "escalated_event_id",
    )
    first_ts_ms: int
    first_event_id: str
    u13: bool
    messages: int
    media: int
    escalated_ts_ms: int
    escalated_event_id: str

    def __init__(self, first_ts_ms: int = 0, first_event_id: str = "", u13: bool = False) -> None:
        self.first_ts_ms = first_ts_ms
        self.first_event_id = first_event_id
        self.u13 = u13
        self.messages = 0
        self.media = 0
        self.escalated_ts_ms = 0  # 0 while the chat has not escalated
        self.escalated_event_id = ""


class VelocityState(DictState):
    """Per-account memory: minors messaged (by day of last message), new chats still inside
    their escalation window, and chats that escalated inside the counting window.

    `open` is ordered by first message and `escalated` by escalation time, so expiry pops
    from the front of each. An escalated chat still open is stored once (`shared`).
    """

    __slots__ = ("escalated", "open", "pairs")
    json_names: ClassVar = {"pairs": "p", "open": "o", "escalated": "e"}
    shared: ClassVar = {"escalated": "open"}
    pairs: dict[str, int]
    open: dict[str, Chat]
    escalated: dict[str, Chat]


_MESSAGES = frozenset({EventType.MESSAGE_SENT})


class SextortionVelocityDetector(DetectorBase[SextortionVelocityConfig, VelocityState]):
    name: ClassVar[str] = "sextortion_velocity"
    version: ClassVar[str] = "1.1.0"
    counterpart_role: ClassVar[str] = "minor_messaged"
    event_types: ClassVar[frozenset[EventType]] = _MESSAGES
    minor_targets_only: ClassVar[frozenset[EventType]] = _MESSAGES
    adult_actors_only: ClassVar[frozenset[EventType]] = _MESSAGES

    def subject_keys(self, event: Event) -> Iterable[str]:
        return (account_key(event.actor.id),) if adult_to_minor(event, _MESSAGES) else ()

    def horizon_ms(self) -> int:
        cfg = self.config
        span = max(cfg.window_ms, cfg.slow_window_ms)
        return max(span + cfg.escalation_window_ms, cfg.pair_memory_ms)

    def step(self, state: VelocityState, subject: Subject, event: Event) -> Outcome:
        target = event.target
        if target is None or event.actor.id != subject.id or not adult_to_minor(event, _MESSAGES):
            return UNCHANGED
        cfg = self.config
        now = event.ts_ms
        self.expire(state, now)
        last_day = remember_pair(state.pairs, target.id, now, cfg.max_pairs)
        changed = last_day != now // DAY_MS
        chat = state.open.get(target.id)
        if chat is None:
            if not is_first_contact(event, last_day) or target.id in state.escalated:
                return CHANGED if changed else UNCHANGED
            chat = Chat(now, event.event_id, target.age_band is AgeBand.UNDER_13)
            state.open[target.id] = chat
            if len(state.open) > cfg.max_open:
                del state.open[next(iter(state.open))]
        chat.messages += 1
        chat.media += 1 if event.has_media else 0
        if chat.escalated_ts_ms or chat.messages < cfg.min_messages or chat.media < cfg.min_media:
            return CHANGED
        chat.escalated_ts_ms, chat.escalated_event_id = now, event.event_id
        state.escalated[target.id] = chat
        if len(state.escalated) > cfg.max_escalated:
            del state.escalated[next(iter(state.escalated))]
        return Outcome(changed=True, finding=self._assess(state, event))

    def _assess(self, state: VelocityState, event: Event) -> Finding | None:
        cfg = self.config
        now = event.ts_ms
        # (window, MEDIUM, HIGH): the day's count decides unless the week's is more severe
        best: tuple[Severity, dict[str, Chat], float, int, float] | None = None
        for span, medium, high in (
            (cfg.window_ms, cfg.medium, cfg.high),
            (cfg.slow_window_ms, cfg.slow_high, cfg.slow_high),  # a few a day, day after day
        ):
            inside = {k: c for k, c in state.escalated.items() if now - c.escalated_ts_ms < span}
            weight = len(inside) + (cfg.under13_weight - 1) * sum(c.u13 for c in inside.values())
            severity = severity_for(weight, medium, high, cfg.critical_factor)
            if severity is not None and (best is None or severity.rank > best[0].rank):
                best = (severity, inside, weight, span, high)
        if best is None:
            return None
        severity, chats, weight, window_ms, high = best
        u13 = sum(1 for c in chats.values() if c.u13)
        actor = event.actor
        created = actor.created_ts_ms
        age_days = (now - created) / DAY_MS if created is not None else None
        is_new = age_days is not None and age_days < NEW_ACCOUNT_DAYS
        score = min(1.0, weight / (2 * high) + 0.1 * actor.anonymous + 0.1 * is_new)
        fastest = min(c.escalated_ts_ms - c.first_ts_ms for c in chats.values())
        features = {
            "escalated_minors": float(len(chats)),
            "escalated_under_13": float(u13),
            "weighted_escalations": float(weight),
            "under13_weight": cfg.under13_weight,
            "threshold_medium": cfg.medium,
            "threshold_high": cfg.high,
            "max_messages_to_one_minor": float(max(c.messages for c in chats.values())),
            "media_sent": float(sum(c.media for c in chats.values())),
            "fastest_escalation_minutes": round(fastest / MINUTE_MS, 2),
            "threshold_min_messages": float(cfg.min_messages),
            "threshold_min_media": float(cfg.min_media),
            "escalation_window_minutes": cfg.escalation_window_ms / MINUTE_MS,
            "window_hours": window_ms / HOUR_MS,
            "threshold_slow_high": cfg.slow_high,
            "slow_window_hours": cfg.slow_window_ms / HOUR_MS,
            "actor_anonymous": 1.0 if actor.anonymous else 0.0,
        }
        if age_days is not None:
            features["actor_account_age_days"] = round(age_days, 3)
        who = describe_age(actor.age_band, actor.anonymous, age_days)
        reason = (
            f"{who[0].upper()}{who[1:]} sent {cfg.min_messages}+ messages and {cfg.min_media}+ "
            f"images or videos within {cfg.escalation_window_ms // MINUTE_MS} min of first "
            f"contact to {len(chats)} minors ({u13} under 13) within {span_words(window_ms)} "
            f"(weighted {weight:g}, an under-13 counts {cfg.under13_weight:g}; high at "
            f"{high:g})."
        )
        evidence = (e for c in chats.values() for e in (c.first_event_id, c.escalated_event_id))
        return Finding(
            severity=severity,
            score=round(score, 4),
            window_start_ms=min(c.first_ts_ms for c in chats.values()),
            window_end_ms=now,
            features=features,
            counterparts=capped(chats, cfg.evidence_cap),
            minors_exposed=len(chats.keys() | state.open.keys()),
            evidence_event_ids=capped(evidence, cfg.evidence_cap),
            reason=reason,
            magnitude=float(weight),
        )

    def expire(self, state: VelocityState, now_ms: int) -> bool:
        """Also called before every step, so results never depend on when cleanup ran."""
        cfg = self.config
        open_chats = state.open
        while open_chats:
            oldest = next(iter(open_chats))
            if now_ms - open_chats[oldest].first_ts_ms <= cfg.escalation_window_ms:
                break
            del open_chats[oldest]
        escalated = state.escalated
        while escalated:
            oldest = next(iter(escalated))
            if now_ms - escalated[oldest].escalated_ts_ms < max(cfg.window_ms, cfg.slow_window_ms):
                break
            del escalated[oldest]
        forget_pairs(state.pairs, now_ms, cfg.pair_memory_ms)
        return not state.pairs and not open_chats and not escalated
