"""minor_group_rooms: an account filling a group with minors who never say a word there.

`minor_mass_add` counts, per account, the minors it adds to groups; a teacher, a coach or a
student organiser adds as many, so the count alone stops at MEDIUM there. What tells a class
or a team from a stranger's audience is what happens *in the room*: classmates and players
talk in their group, children added by someone they do not know mostly do not (or leave,
which the contract does not show). So this detector keeps state per GROUP: who added which
minor when, and which of them (and who else) posted there since. Its findings are about the
adding ACCOUNT (`Finding.subject`): a room is evidence, the account is what a moderator acts
on.

HIGH, for the account that added them (a declared age is a claim):
- **media to a silent room**: it posts an image or video into a room where at least
  `media_high` of the minors it added have been there `quiet_ms` or longer without a word, and
  hardly anyone has spoken there (`spoke_share`). Images first, to children who have not said
  a word, as `minor_exposure` weighs a first direct message with media: from an adult or
  unknown-age account, in a room with no adult added (a coach adds parents); from a declared
  minor only when its account is new or unverified (`anonymous`): a verified teen's flyer to
  its schoolmates is not this (1.1.0; an unverified organiser's flyer still is, see the doc).
- **filling a dead room**: at any declared age, it keeps adding minors to a room where at least
  `long_high` of the minors it added have been silent for `long_quiet_ms` (a day), and hardly
  anyone has spoken: an adder pacing itself under every per-account window still leaves a
  room of children nobody talks in. MEDIUM from `long_medium`.

A room is an audience, not a community, while those who spoke there since the adder's first
add (its added minors, and anyone else but the adder) are at most `spoke_share` of the minors
it added.

Treatment of missing data: `UNKNOWN` targets are not minors; an 18-20 adding a 16-17 is a
near-peer add and not counted (as in `minor_mass_add`); a group post by an account never added
and never adding is a voice; a post to a group with no tracked adds changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar

from streams.detectors.contract import CHANGED, UNCHANGED, DetectorBase, Finding, Outcome
from streams.detectors.state import DictState, touch
from streams.detectors.subjects import group_key
from streams.detectors.windows import DAY_MS, HOUR_MS, drop_before
from streams.detectors.wording import capped, describe_age, span_words
from streams.model import MINOR_BANDS, AgeBand, Event, EventType, Severity, Subject, SubjectKind

_GROUP_ADD = EventType.GROUP_MEMBER_ADDED
_MESSAGE = EventType.MESSAGE_SENT


@dataclass(frozen=True, slots=True)
class MinorGroupRoomsConfig:
    window_ms: int = 14 * DAY_MS
    quiet_ms: int = HOUR_MS
    long_quiet_ms: int = DAY_MS
    media_high: int = 5
    long_medium: int = 4
    long_high: int = 6
    spoke_share: float = 0.1
    new_account_ms: int = 7 * DAY_MS
    critical_factor: float = 3.0
    max_minors: int = 64
    max_voices: int = 8
    evidence_cap: int = 50


class RoomState(DictState):
    """Per-group memory of the window, each dict in event-time order (expiry pops the front):
    minors added (time, adder, event), those of them who posted since (time), other voices
    (time), adults added (time)."""

    __slots__ = ("adds", "adults", "spoke", "voices")
    json_names: ClassVar = {"adds": "a", "spoke": "s", "voices": "v", "adults": "x"}
    adds: dict[str, tuple[int, str, str]]
    spoke: dict[str, int]
    voices: dict[str, int]
    adults: dict[str, int]


class MinorGroupRoomsDetector(DetectorBase[MinorGroupRoomsConfig, RoomState]):
    name: ClassVar[str] = "minor_group_rooms"
    version: ClassVar[str] = "1.1.0"
    counterpart_role: ClassVar[str] = "minor_added"
    event_types: ClassVar[frozenset[EventType]] = frozenset({_GROUP_ADD, _MESSAGE})
    targetless_only: ClassVar[frozenset[EventType]] = frozenset({_MESSAGE})  # rooms only

    def subject_keys(self, event: Event) -> Iterable[str]:
        group = event.group_id
        if group is None:
            return ()
        if event.type is _MESSAGE:
            return (group_key(group),) if event.target is None else ()
        if event.type is _GROUP_ADD and (_adds_minor(event) or _adds_adult(event)):
            return (group_key(group),)
        return ()

    def horizon_ms(self) -> int:
        return self.config.window_ms

    def step(self, state: RoomState, subject: Subject, event: Event) -> Outcome:
        cfg = self.config
        actor = event.actor.id
        now = event.ts_ms
        if event.type is _GROUP_ADD:
            target = event.target
            assert target is not None
            self.expire(state, now)
            if _adds_adult(event):
                if not state.adds:
                    return UNCHANGED  # only rooms with minors in them are remembered
                touch(state.adults, target.id, now, cfg.max_voices)
                return CHANGED
            if not _adds_minor(event):
                return UNCHANGED
            touch(state.adds, target.id, (now, actor, event.event_id), cfg.max_minors)
            state.spoke.pop(target.id, None)  # added again: silent again until it speaks
            finding = self._assess(state, event, media=False)
            return Outcome(changed=True, finding=finding) if finding else CHANGED
        if not state.adds or self.expire(state, now):
            return UNCHANGED  # a room no one filled with minors (lately): nothing to remember
        if actor in state.adds:  # one of the minors added: it spoke
            if actor in state.spoke:
                return UNCHANGED
            touch(state.spoke, actor, now, cfg.max_minors)
            return CHANGED
        if any(adder == actor for _, adder, _ in state.adds.values()):
            if not event.has_media:
                return UNCHANGED
            finding = self._assess(state, event, media=True)
            return Outcome(changed=False, finding=finding) if finding else UNCHANGED
        if actor in state.voices:
            return UNCHANGED
        touch(state.voices, actor, now, cfg.max_voices)
        return CHANGED

    def _assess(self, state: RoomState, event: Event, *, media: bool) -> Finding | None:
        cfg = self.config
        now = event.ts_ms
        adder = event.actor
        mine = [(m, ts, eid) for m, (ts, who, eid) in state.adds.items() if who == adder.id]
        if not mine:
            return None
        first_ts = mine[0][1]
        spoke = sum(1 for m, _, _ in mine if m in state.spoke)
        voices = sum(1 for ts in state.voices.values() if ts >= first_ts)
        audience = spoke + voices <= cfg.spoke_share * len(mine)
        if not audience:
            return None
        silent = [m for m, ts, _ in mine if m not in state.spoke and ts <= now - cfg.quiet_ms]
        dead = [m for m, ts, _ in mine if m not in state.spoke and ts <= now - cfg.long_quiet_ms]
        created = adder.created_ts_ms
        is_new = created is not None and now - created < cfg.new_account_ms
        # Images first, to children who have not said a word: from an adult or unknown-age
        # account (as `minor_exposure` weighs a first DM with media), in a room it added no
        # adult to (a coach adds parents: as `minor_mass_add`'s count alone); a declared
        # minor's flyer to its schoolmates counts only from a new or unverified account.
        eligible = not state.adults and (
            adder.age_band not in MINOR_BANDS or is_new or adder.anonymous
        )
        media_hit = media and eligible and len(silent) >= cfg.media_high
        if media:  # the dead-room rule is for an adder still filling it (`step`)
            dead = []
        severity: Severity | None = None
        if media_hit or len(dead) >= cfg.long_high:
            severity = Severity.HIGH
            crit = media_hit and len(silent) >= cfg.media_high * cfg.critical_factor
            if crit or len(dead) >= cfg.long_high * cfg.critical_factor:
                severity = Severity.CRITICAL
        elif len(dead) >= cfg.long_medium:
            severity = Severity.MEDIUM
        if severity is None:
            return None
        age_days = (now - created) / DAY_MS if created is not None else None
        counted = silent if media_hit else dead
        threshold = cfg.media_high if media_hit else cfg.long_high
        score = min(1.0, len(counted) / (2 * threshold) + 0.1 * adder.anonymous + 0.1 * is_new)
        score = min(score, 0.45) if severity is Severity.MEDIUM else max(score, 0.5)
        features = {
            "minors_added_to_room": float(len(mine)),
            "minors_silent": float(len(silent)),
            "minors_silent_a_day": float(len(dead)),
            "minors_who_spoke": float(spoke),
            "other_voices": float(voices),
            "adults_added_to_room": float(len(state.adults)),
            "media_posted": 1.0 if media else 0.0,
            "quiet_hours": cfg.quiet_ms / HOUR_MS,
            "long_quiet_hours": cfg.long_quiet_ms / HOUR_MS,
            "threshold_media_high": float(cfg.media_high),
            "threshold_long_medium": float(cfg.long_medium),
            "threshold_long_high": float(cfg.long_high),
            "threshold_spoke_share": cfg.spoke_share,
            "window_hours": cfg.window_ms / HOUR_MS,
            "actor_anonymous": 1.0 if adder.anonymous else 0.0,
            "actor_new_account": 1.0 if is_new else 0.0,
        }
        if age_days is not None:
            features["actor_account_age_days"] = round(age_days, 3)
        evidence = [eid for m, _, eid in mine if m in counted]
        if media:
            evidence.append(event.event_id)
        return Finding(
            severity=severity,
            score=round(score, 4),
            window_start_ms=first_ts,
            window_end_ms=now,
            features=features,
            counterparts=capped(counted, cfg.evidence_cap),
            minors_exposed=len(mine),
            evidence_event_ids=capped(evidence, cfg.evidence_cap),
            reason=self._reason(event, age_days, len(mine), spoke + voices, counted, media_hit),
            magnitude=float(len(counted)),
            subject=Subject(SubjectKind.ACCOUNT, adder.id),
        )

    def _reason(
        self,
        event: Event,
        age_days: float | None,
        added: int,
        spoken: int,
        counted: list[str],
        media_hit: bool,
    ) -> str:
        cfg = self.config
        who = describe_age(event.actor.age_band, event.actor.anonymous, age_days)
        if media_hit:
            what = (
                f"posted an image or video to a group it had added {added} minors to; "
                f"{len(counted)} of them have said nothing there for {span_words(cfg.quiet_ms)} "
                f"or more (high at {cfg.media_high} with media)"
            )
        else:
            what = (
                f"keeps filling a group it has added {added} minors to; {len(counted)} of them "
                f"have said nothing there for {span_words(cfg.long_quiet_ms)} or more "
                f"(medium at {cfg.long_medium}, high at {cfg.long_high})"
            )
        return (
            f"{who[0].upper()}{who[1:]} {what}, and {spoken} account(s) spoke there since its "
            f"first add (a room, not an audience, above {cfg.spoke_share:.0%} of its minors)."
        )

    def expire(self, state: RoomState, now_ms: int) -> bool:
        """Also called before every change, so results never depend on when cleanup ran."""
        cutoff = now_ms - self.config.window_ms
        drop_before(state.adds, cutoff)
        if not state.adds:  # voices and adults only matter next to minors added
            state.spoke.clear()
            state.voices.clear()
            state.adults.clear()
            return True
        for times in (state.voices, state.adults):
            while times and times[next(iter(times))] <= cutoff:
                del times[next(iter(times))]
        if state.spoke:
            for minor in [m for m in state.spoke if m not in state.adds]:
                del state.spoke[minor]
        return False


def _adds_minor(event: Event) -> bool:
    """A group add of a declared minor by anyone else, but a near peer's (18-20 adding 16-17)."""
    target = event.target
    if target is None or target.age_band not in MINOR_BANDS or target.id == event.actor.id:
        return False
    return not (event.actor.age_band is AgeBand.AGE_18_20 and target.age_band is AgeBand.AGE_16_17)


def _adds_adult(event: Event) -> bool:
    target = event.target
    return target is not None and target.age_band.is_adult and target.id != event.actor.id
