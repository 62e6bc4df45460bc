"""cold_outreach: an account that keeps opening private chats with minors, most of whom never
answer, while no minor ever comes to it.

A second, differently built path beside `minor_exposure`. That detector weighs every contact
(by channel, declared bands, answers, networks, media) into windowed scores, so an offender who
learns its weights can stay just under them: a claimed teen whose first messages weigh little,
an adult pacing a few contacts a day. This one weighs nothing: it counts, per account and at
any declared age, the minors it opened a private chat with (a first direct message or a contact
add) over `window_ms`, and asks two questions of the minors themselves:
- did most of them stay silent? An answer is any message or contact add back from that minor,
  at any time; an opening counts as unanswered once its grace has passed without one
  (`grace_ms` for a message; `add_grace_ms` for a contact add, as a friend request is accepted
  whenever the friend next looks, and accepting it shows only when they write or add back).
- did any minor come to it? A minor writing to it in a chat it did not open in the window (a
  first message, a friend writing, a reply to its question in a chat the minor started).
Friends and classmates answer and write first; a stranger working through a list of children
does not get either. So, only while nobody came to it (at most `sought_max` minors) and at
most `answer_share` of the settled openings were answered: MEDIUM from `medium_minors` opened
with `silent_medium` unanswered, HIGH from `high_minors` opened with `silent_high` unanswered,
CRITICAL from `high_minors x critical_factor` opened. An account declaring an adult or unknown
age has a lower bar (`adult_minors` opened for MEDIUM and HIGH, `adult_answer_share`): a
teen says hello to new teens and they answer, but an adult has few reasons to open private
chats with children it does not know, and children answer an adult stranger's hello too.

Group adds are not counted as openings (rooms a teacher or coach fills are
`minor_group_rooms`' to judge by whether anyone speaks there), but a minor added to a group who
then writes to the account is answering it, not coming to it. Beyond the answer share, declared
bands, anonymity and account age only colour the reason.

Treatment of missing data (the contract leaves these open):
- `first_contact` when present decides: False is an existing chat, never an opening. When
  absent, a contact is an opening unless the minor is in this account's memory of minors who
  wrote to it (a reply to a chat the minor started is not a first contact).
- `UNKNOWN` targets are not minors; a minor's message to `UNKNOWN`/adult accounts is routed
  like any other (the account's band is its own claim).
- Memory lasts `window_ms`: an opened or group-added minor from the last `window_ms` (at most
  `max_minors` each), minors who wrote to it by day of last message (at most `max_heard`).
  While more than `sought_max` minors are in that memory no finding is possible, so openings
  are neither kept nor counted (the state of a teen with friends stays small); counting starts
  again once they leave it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar, Final

from streams.detectors.contract import CHANGED, UNCHANGED, DetectorBase, Finding, Outcome
from streams.detectors.state import DictState, forget_pairs, touch
from streams.detectors.subjects import account_key
from streams.detectors.windows import DAY_MS, MINUTE_MS, drop_before
from streams.detectors.wording import about_account, capped, duration_words
from streams.model import MINOR_BANDS, Account, Event, EventType, Severity, Subject

MSG, CADD, GADD = EventType.MESSAGE_SENT, EventType.CONTACT_ADDED, EventType.GROUP_MEMBER_ADDED
_TYPES: Final = frozenset({MSG, CADD, GADD})
ANSWERED: Final = 1  # the opened minor wrote or added back
BY_ADD: Final = 2  # opened by a contact add (else by a direct message)


@dataclass(frozen=True, slots=True)
class ColdOutreachConfig:
    window_ms: int = 14 * DAY_MS
    grace_ms: int = 30 * MINUTE_MS
    add_grace_ms: int = DAY_MS
    add_silence_weight: float = 0.5
    medium_minors: int = 6
    silent_medium: float = 2.0
    high_minors: int = 6
    silent_high: float = 4.0
    critical_factor: float = 3.0
    answer_share: float = 0.4
    adult_answer_share: float = 0.6
    adult_minors: int = 5
    sought_max: int = 0
    max_minors: int = 128
    max_heard: int = 4
    evidence_cap: int = 50


class ColdState(DictState):
    """Per-account memory. `opened`: minor -> (open time, ANSWERED|BY_ADD, opening event id),
    ordered by open time; `grouped`: minor it added to a group -> time of the add; `heard`:
    minor who wrote to it in a chat it did not open -> day of its last message. Each is
    ordered by its time and expires from the front."""

    __slots__ = ("grouped", "heard", "opened")
    json_names: ClassVar = {"opened": "o", "grouped": "g", "heard": "h"}
    opened: dict[str, tuple[int, int, str]]
    grouped: dict[str, int]
    heard: dict[str, int]


@dataclass(frozen=True, slots=True)
class _Bar:
    """What a finding needs, by the account's claim (a teen's or an adult's)."""

    medium_minors: int
    high_minors: int
    answer_share: float


class ColdOutreachDetector(DetectorBase[ColdOutreachConfig, ColdState]):
    name: ClassVar[str] = "cold_outreach"
    version: ClassVar[str] = "1.2.0"
    counterpart_role: ClassVar[str] = "minor_contacted"
    event_types: ClassVar[frozenset[EventType]] = _TYPES
    minor_party_only: ClassVar[frozenset[EventType]] = _TYPES

    def __init__(self, config: ColdOutreachConfig | None = None) -> None:
        super().__init__(config)
        cfg = self.config
        self._minor_bar = _Bar(cfg.medium_minors, cfg.high_minors, cfg.answer_share)
        self._adult_bar = _Bar(cfg.adult_minors, cfg.adult_minors, cfg.adult_answer_share)

    def subject_keys(self, event: Event) -> Iterable[str]:
        """Openings (and group adds) to the actor when the target is a minor; a minor's words
        to the target."""
        target = event.target
        if target is None or target.id == event.actor.id or event.type not in _TYPES:
            return ()
        out = target.age_band in MINOR_BANDS
        inbound = event.actor.age_band in MINOR_BANDS and event.type is not GADD
        if out and inbound:
            return (account_key(event.actor.id), account_key(target.id))
        if out:
            return (account_key(event.actor.id),)
        return (account_key(target.id),) if inbound else ()

    def horizon_ms(self) -> int:
        return self.config.window_ms

    def step(self, state: ColdState, subject: Subject, event: Event) -> Outcome:
        target = event.target
        if target is None:
            return UNCHANGED
        if event.ts_ms >= state.due_ms:  # before then nothing falls out of the window
            self.expire(state, event.ts_ms)
            state.due_ms = self._due(state, event.ts_ms)
        if event.actor.id == subject.id and target.age_band in MINOR_BANDS:
            return self._outbound(state, event, target)
        if target.id == subject.id and event.actor.age_band in MINOR_BANDS:
            return self._inbound(state, event)  # never a group add: not routed here
        return UNCHANGED

    def _outbound(self, state: ColdState, event: Event, minor: Account) -> Outcome:
        if event.type is GADD:
            if minor.id in state.grouped:
                return UNCHANGED
            touch(state.grouped, minor.id, event.ts_ms, self.config.max_minors)
            return CHANGED
        if minor.id in state.opened or minor.id in state.heard or event.first_contact is False:
            return UNCHANGED  # an opened chat going on, a reply, or a chat older than memory
        if len(state.heard) > self.config.sought_max:
            return UNCHANGED  # minors come to it: no finding while that lasts, nothing to keep
        flags = BY_ADD if event.type is CADD else 0
        touch(state.opened, minor.id, (event.ts_ms, flags, event.event_id), self.config.max_minors)
        return Outcome(changed=True, finding=self._assess(state, event.actor, event.ts_ms))

    def _inbound(self, state: ColdState, event: Event) -> Outcome:
        minor = event.actor.id
        entry = state.opened.get(minor)
        if entry is not None:
            if entry[1] & ANSWERED:
                return UNCHANGED
            state.opened[minor] = (entry[0], entry[1] | ANSWERED, entry[2])  # order kept
            return CHANGED
        if minor in state.grouped:
            return UNCHANGED  # a minor it added to a group, answering: not coming to it
        day = event.ts_ms // DAY_MS
        if state.heard.get(minor) == day:
            return UNCHANGED  # the same friend again today: nothing new to remember
        touch(state.heard, minor, day, self.config.max_heard)
        if len(state.heard) > self.config.sought_max:
            state.opened.clear()  # spared while minors come to it; it starts again after
        return CHANGED

    def _assess(self, state: ColdState, account: Account, now: int) -> Finding | None:
        cfg = self.config
        bar = self._minor_bar if account.age_band in MINOR_BANDS else self._adult_bar
        opened = len(state.opened)
        if opened < bar.medium_minors:
            return None
        sought = len(state.heard)  # at most `sought_max`: else no opening is kept
        answered = unanswered = by_add = 0
        silence = 0.0
        for first_ts, flags, _ in state.opened.values():
            if flags & ANSWERED:
                answered += 1
            elif flags & BY_ADD:
                if now - first_ts >= cfg.add_grace_ms:
                    unanswered += 1
                    silence += cfg.add_silence_weight
            elif now - first_ts >= cfg.grace_ms:
                unanswered += 1
                silence += 1.0
            if flags & BY_ADD:
                by_add += 1
        settled = answered + unanswered
        if silence < cfg.silent_medium or answered > bar.answer_share * settled:
            return None
        if opened >= bar.high_minors * cfg.critical_factor and silence >= cfg.silent_high:
            severity = Severity.CRITICAL
        elif opened >= bar.high_minors and silence >= cfg.silent_high:
            severity = Severity.HIGH
        else:
            severity = Severity.MEDIUM
        about, who = about_account(account, now)
        items = list(state.opened.items())
        start = items[0][1][0]
        features = {
            "minors_opened": float(opened),
            "minors_opened_by_message": float(opened - by_add),
            "minors_opened_by_contact_add": float(by_add),
            "minors_answered": float(answered),
            "minors_unanswered": float(unanswered),
            "minors_pending": float(opened - settled),
            "silence_weighted": silence,
            "minors_who_wrote_to_it": float(sought),
            "threshold_medium_minors": float(bar.medium_minors),
            "threshold_high_minors": float(bar.high_minors),
            "threshold_silent_medium": cfg.silent_medium,
            "threshold_silent_high": cfg.silent_high,
            "threshold_add_silence_weight": cfg.add_silence_weight,
            "threshold_answer_share": bar.answer_share,
            "threshold_sought_max": float(cfg.sought_max),
            "window_days": cfg.window_ms / DAY_MS,
            **about,
        }
        reason = (
            f"{who} opened private chats with {opened} minors in "
            f"{duration_words(now - start)} ({opened - by_add} by message, {by_add} by contact "
            f"add); "
            f"{unanswered} never answered and {answered} did, and no minor wrote to it first "
            f"(HIGH from {bar.high_minors} opened and {cfg.silent_high} silent while at most "
            f"{bar.answer_share:.0%} answer)."
        )
        return Finding(
            severity=severity,
            score=round(min(1.0, opened / (2 * bar.high_minors)), 4),
            window_start_ms=start,
            window_end_ms=now,
            features=features,
            counterparts=capped((minor for minor, _ in items), cfg.evidence_cap),
            minors_exposed=opened,
            evidence_event_ids=capped((eid for _, (_, _, eid) in items), cfg.evidence_cap),
            reason=reason,
            magnitude=float(opened),
        )

    def _due(self, state: ColdState, now_ms: int) -> int:
        """The earliest event time at which `expire` drops anything: the end of each dict's
        front (oldest) entry, or for an entry added from `now_ms` on, the end of a day-granular
        memory that starts today."""
        window = self.config.window_ms
        ends = [now_ms // DAY_MS * DAY_MS + window]
        if state.opened:
            ends.append(next(iter(state.opened.values()))[0] + window)
        if state.grouped:
            ends.append(next(iter(state.grouped.values())) + window)
        if state.heard:
            ends.append(next(iter(state.heard.values())) * DAY_MS + window)
        return min(ends)

    def expire(self, state: ColdState, now_ms: int) -> bool:
        """Called before a step once something is due (`_due`), so results never depend on
        when cleanup ran."""
        cutoff = now_ms - self.config.window_ms
        drop_before(state.opened, cutoff)
        while state.grouped and next(iter(state.grouped.values())) <= cutoff:
            del state.grouped[next(iter(state.grouped))]
        forget_pairs(state.heard, now_ms, self.config.window_ms)
        return not state.opened and not state.grouped and not state.heard
