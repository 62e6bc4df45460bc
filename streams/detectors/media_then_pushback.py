"""media_then_pushback: minors who sent an account images early in a new chat, then blocked
or reported it: the trace a sextortion leaves on the victims' side, whoever wrote first.

Sextortion runs fast: within the hour of a new chat the offender gets an image from the child
(asking for it, or sending one first), then threatens, and the child blocks or reports. The
other detectors follow the contacts an account *started*; an offender who lures children into
writing first (a profile, a post, a "rate me" game: threat model B19) is not starting anything,
and its victims are, to them, friends who came to it. What it cannot hide is the children's
own sequence: an image within `media_window_ms` of the chat's first message, then a block or
report within `pushback_window_ms`. One child doing that is a falling-out worth a look
(MEDIUM); two within `window_ms` is HIGH at any declared age; `critical_minors`, CRITICAL.
Teens swap pictures with new friends and block people, but hardly ever both with the same new
contact, and two children doing it to one account in a week is what an extortion campaign
looks like (measured on the benchmark's background: `docs/detectors/media_then_pushback.md`).

Treatment of missing data (the contract leaves these open):
- A chat is new when the platform's `first_contact` flag says so on its first message we see;
  without the flag, when the pair is not in this account's memory of chats (`pair_memory_ms`
  after the last message, at most `max_pairs`). A chat forgotten by that memory looks new
  again: the flag-less platform's blind spot, as in the other detectors.
- Only declared minors' images, blocks and reports count; `UNKNOWN` is not a minor. The
  account's own band, anonymity and age only colour the reason. Group messages are not chats.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar, Final

from streams.detectors.contract import CHANGED, UNCHANGED, DetectorBase, Finding, Outcome
from streams.detectors.state import (
    DictState,
    forget_pairs,
    is_first_contact,
    remember_pair,
    touch,
)
from streams.detectors.subjects import account_key
from streams.detectors.windows import DAY_MS, HOUR_MS, drop_before
from streams.detectors.wording import about_account, capped, duration_words
from streams.model import MINOR_BANDS, Account, Event, EventType, Severity, Subject

MSG: Final = EventType.MESSAGE_SENT
_PUSHBACK: Final = frozenset({EventType.BLOCKED, EventType.REPORTED})
_TYPES: Final = frozenset({MSG}) | _PUSHBACK


@dataclass(frozen=True, slots=True)
class MediaThenPushbackConfig:
    media_window_ms: int = HOUR_MS
    pushback_window_ms: int = 3 * DAY_MS
    window_ms: int = 7 * DAY_MS
    pair_memory_ms: int = 3 * DAY_MS
    medium_minors: int = 1
    high_minors: int = 2
    critical_minors: int = 4
    max_pairs: int = 32
    max_minors: int = 32
    evidence_cap: int = 50


class TrailState(DictState):
    """Per-account memory, each dict ordered by its time and expiring from the front.
    `chats`: minor -> day of the last message between them; `fresh`: minor -> (first message
    time, its event id) of a new chat, for `media_window_ms`; `shown`: minor -> (time, event
    id) of its first image in a new chat, for `pushback_window_ms`; `trail`: minor -> (time of
    its block or report, image event id, block or report event id), for `window_ms`."""

    __slots__ = ("chats", "fresh", "shown", "trail")
    json_names: ClassVar = {"chats": "c", "fresh": "f", "shown": "s", "trail": "t"}
    chats: dict[str, int]
    fresh: dict[str, tuple[int, str]]
    shown: dict[str, tuple[int, str]]
    trail: dict[str, tuple[int, str, str]]


class MediaThenPushbackDetector(DetectorBase[MediaThenPushbackConfig, TrailState]):
    name: ClassVar[str] = "media_then_pushback"
    version: ClassVar[str] = "1.0.0"
    counterpart_role: ClassVar[str] = "minor_who_sent_media_then_blocked_or_reported"
    event_types: ClassVar[frozenset[EventType]] = _TYPES
    minor_party_only: ClassVar[frozenset[EventType]] = _TYPES

    def subject_keys(self, event: Event) -> Iterable[str]:
        """A private message to the minor's counterpart (both, when both are minors); a minor's
        block or report to the account it pushed away."""
        target = event.target
        if target is None or target.id == event.actor.id:
            return ()
        if event.type is MSG:
            if event.group_id is not None or (event.first_contact is False and not event.has_media):
                return ()  # a room, or words in a chat the platform says is not new
            keys = []
            if event.actor.age_band in MINOR_BANDS:
                keys.append(account_key(target.id))
            if target.age_band in MINOR_BANDS:
                keys.append(account_key(event.actor.id))
            return keys
        if event.type in _PUSHBACK and event.actor.age_band in MINOR_BANDS:
            return (account_key(target.id),)
        return ()

    def horizon_ms(self) -> int:
        cfg = self.config
        return max(cfg.window_ms, cfg.pair_memory_ms, cfg.media_window_ms + cfg.pushback_window_ms)

    def step(self, state: TrailState, subject: Subject, event: Event) -> Outcome:
        target = event.target
        if target is None:
            return UNCHANGED
        if event.ts_ms >= state.due_ms:  # before then nothing falls out of any memory
            self.expire(state, event.ts_ms)
            state.due_ms = self._due(state, event.ts_ms)
        inbound = target.id == subject.id and event.actor.age_band in MINOR_BANDS
        if event.type is not MSG:
            return self._pushback(state, event, target) if inbound else UNCHANGED
        if inbound:
            minor = event.actor.id
        elif event.actor.id == subject.id and target.age_band in MINOR_BANDS:
            minor = target.id
        else:
            return UNCHANGED
        return self._message(state, event, minor, from_minor=inbound)

    def _message(self, state: TrailState, event: Event, minor: str, *, from_minor: bool) -> Outcome:
        cfg = self.config
        now = event.ts_ms
        last_day = remember_pair(state.chats, minor, now, cfg.max_pairs)
        changed = last_day != now // DAY_MS
        fresh = state.fresh.get(minor)
        if fresh is None and is_first_contact(event, last_day):  # a new chat, either side first
            fresh = (now, event.event_id)
            touch(state.fresh, minor, fresh, cfg.max_pairs)
            state.due_ms = min(state.due_ms, now + cfg.media_window_ms)
            changed = True
        # An entry stays in `fresh` (and `shown`, `trail`) only inside its window: `expire`
        # runs before any step at or after the earliest end (`due_ms`).
        if from_minor and event.has_media and fresh is not None and minor not in state.shown:
            touch(state.shown, minor, (now, event.event_id), cfg.max_minors)
            state.due_ms = min(state.due_ms, now + cfg.pushback_window_ms)
            changed = True
        return CHANGED if changed else UNCHANGED

    def _pushback(self, state: TrailState, event: Event, account: Account) -> Outcome:
        minor = event.actor.id
        shown = state.shown.get(minor)
        if shown is None or minor in state.trail:
            return UNCHANGED
        touch(state.trail, minor, (event.ts_ms, shown[1], event.event_id), self.config.max_minors)
        state.due_ms = min(state.due_ms, event.ts_ms + self.config.window_ms)
        return Outcome(changed=True, finding=self._assess(state, account, event.ts_ms))

    def _assess(self, state: TrailState, account: Account, now: int) -> Finding | None:
        cfg = self.config
        count = len(state.trail)
        if count < cfg.medium_minors:
            return None
        if count >= cfg.critical_minors:
            severity = Severity.CRITICAL
        elif count >= cfg.high_minors:
            severity = Severity.HIGH
        else:
            severity = Severity.MEDIUM
        about, who = about_account(account, now)
        items = list(state.trail.items())
        start = items[0][1][0]
        features = {
            "minors_media_then_pushback": float(count),
            "minors_sent_media_early": float(len(state.shown)),
            "threshold_medium_minors": float(cfg.medium_minors),
            "threshold_high_minors": float(cfg.high_minors),
            "media_window_minutes": cfg.media_window_ms / 60_000,
            "pushback_window_hours": cfg.pushback_window_ms / HOUR_MS,
            "window_days": cfg.window_ms / DAY_MS,
            **about,
        }
        minutes = cfg.media_window_ms // 60_000
        if count == 1:
            what = (
                f"{who} was sent images by a minor within {minutes} min of their new chat's "
                "first message, and the minor then blocked or reported it"
            )
        else:
            what = (
                f"{who} was sent images by {count} minors, each within {minutes} min of a new "
                f"chat's first message, and each then blocked or reported it, over "
                f"{duration_words(now - start)}"
            )
        reason = f"{what} (HIGH from {cfg.high_minors} minors)."
        return Finding(
            severity=severity,
            score=round(min(1.0, count / (2 * cfg.high_minors)), 4),
            window_start_ms=start,
            window_end_ms=now,
            features=features,
            counterparts=capped((minor for minor, _ in items), cfg.evidence_cap),
            minors_exposed=count,
            evidence_event_ids=capped(
                (eid for _, (_, media, push) in items for eid in (media, push)), cfg.evidence_cap
            ),
            reason=reason,
            magnitude=float(count),
        )

    def _due(self, state: TrailState, now_ms: int) -> int:
        """The earliest event time at which `expire` drops anything: each dict's front entry's
        end, or for a chat noted from `now_ms` on, the end of a memory that starts today (the
        shorter memories lower it as they gain entries)."""
        cfg = self.config
        ends = [now_ms // DAY_MS * DAY_MS + cfg.pair_memory_ms]
        if state.chats:
            ends.append(next(iter(state.chats.values())) * DAY_MS + cfg.pair_memory_ms)
        if state.fresh:
            ends.append(next(iter(state.fresh.values()))[0] + cfg.media_window_ms)
        if state.shown:
            ends.append(next(iter(state.shown.values()))[0] + cfg.pushback_window_ms)
        if state.trail:
            ends.append(next(iter(state.trail.values()))[0] + cfg.window_ms)
        return min(ends)

    def expire(self, state: TrailState, now_ms: int) -> bool:
        """Called before a step once something is due (`_due`), so results never depend on
        when cleanup ran."""
        cfg = self.config
        forget_pairs(state.chats, now_ms, cfg.pair_memory_ms)
        drop_before(state.fresh, now_ms - cfg.media_window_ms)
        drop_before(state.shown, now_ms - cfg.pushback_window_ms)
        drop_before(state.trail, now_ms - cfg.window_ms)
        return not state.chats and not state.fresh and not state.shown and not state.trail
