"""minor_exposure: one account reaching many minors it never spoke to, through any channel,
judged by how the minors respond rather than by the age the account declares.

The cases this project exists for are adults posing as older teenagers, so the declared band
is the offender's own claim: this detector watches every account, minors included. Per
account it remembers each minor it has a conversation with, who started it, through which
channels the account reached the minor (first direct message, contact add, group add), and
what the minor did back (replied, sent media soon after, blocked or reported). It adds the
minors the account *started* contact with over three event-time windows (short ~1 h, a day,
slow ~14 days), each minor weighted by the evidence:

- reached by direct message or contact add: 1; only by a group add: `group_only_weight`, and
  `mixed_group_weight` when the account also added adults to groups (a coach adding parents),
  and minors reached only by group adds add at most `group_only_cap` in all: a teacher adding
  a class to a room is not this pattern (bulk group adds are `minor_mass_add`'s), but they
  add to what the account does through private channels;
- no reply after `reply_grace_ms`: x `unanswered_factor`; a reply: x `replied_factor`
  (`peer_replied_factor` when the account declares a minor band: replies both ways are what
  peers do); still waiting: x1 (x `pending_minor_factor` for a declared minor);
- the minor sent media within `media_window_ms` of the first contact: `media_weight`
  (`peer_media_weight` when the account declares a minor band no older than the minor); the minor
  blocked or reported the account after a contact it started: `pushback_weight`;
- an under-13 reached by an account declaring 16+ or unknown: x `under13_factor`; an 18-20
  account reaching a 16-17 (a near peer by claim): x `near_peer_factor`.

The sum is multiplied by the account's risk signs (anonymous, created within `new_account_ms`,
using several devices) and, for an account declaring a minor band, by `declared_minor_factor`;
minors who started chats with the account themselves make it look like a peer
(`peer_relief`). Each window has its own HIGH threshold, MEDIUM at `medium_fraction` of it.

Treatment of missing data (the contract leaves these open):
- `first_contact` when present decides whether an outbound contact is new; when absent, a minor
  this account has no memory of is new, unless the minor wrote first (then the account's
  message is a reply). Memory lasts `slow_window_ms` after the pair's last activity (day
  granularity, so an ongoing chat costs one state write a day), at most `max_minors` pairs.
- `UNKNOWN` on the account is judged like an adult claim; `UNKNOWN` targets are not minors.
- Blocks and reports by minors the account did not contact first (fans of a popular teen)
  are not counted here: they are `minor_blocks_reports`' job.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar, Final

from streams.detectors.base import (
    CHANGED,
    DAY_MS,
    HOUR_MS,
    MINUTE_MS,
    UNCHANGED,
    DetectorBase,
    DictState,
    Finding,
    Outcome,
    account_key,
    capped,
    describe_age,
    span_words,
    touch,
)
from streams.model import MINOR_BANDS, Account, AgeBand, Event, EventType, Severity, Subject

# What one contact the account started with a minor has shown, as bits of one int.
DM: Final = 4  # the account reached the minor by direct message
ADD: Final = 8  # ... by contact add
GADD: Final = 16  # ... by adding it to a group
REPLIED: Final = 32  # the minor wrote back (or added the account back)
MEDIA_IN: Final = 64  # the minor sent media soon after a contact the account started
PUSHBACK: Final = 128  # the minor blocked or reported the account after it started contact
UNDER_13: Final = 256  # the minor declares under 13
NEAR_PEER: Final = 512  # an 18-20 account and a 16-17 minor
YOUNGER: Final = 1024  # the minor declares a younger band than the (minor-declaring) account

MSG, CADD, GROUP_ADD = EventType.MESSAGE_SENT, EventType.CONTACT_ADDED, EventType.GROUP_MEMBER_ADDED
BLOCKED, REPORTED = EventType.BLOCKED, EventType.REPORTED
_CHANNEL: Final = {MSG: DM, CADD: ADD, GROUP_ADD: GADD}
_INBOUND: Final = frozenset({MSG, CADD, BLOCKED, REPORTED})
_YOUNG_PEERS: Final = frozenset({AgeBand.UNDER_13, AgeBand.AGE_13_15})


@dataclass(frozen=True, slots=True)
class MinorExposureConfig:
    short_window_ms: int = HOUR_MS
    day_window_ms: int = DAY_MS
    slow_window_ms: int = 14 * DAY_MS
    short_high: float = 5.0
    day_high: float = 8.0
    slow_high: float = 14.0
    medium_fraction: float = 0.6
    critical_factor: float = 2.5
    group_only_weight: float = 0.15
    mixed_group_weight: float = 0.05
    group_only_cap: float = 3.0
    mixed_group_adults: int = 2
    reply_grace_ms: int = 30 * MINUTE_MS
    media_window_ms: int = HOUR_MS
    unanswered_factor: float = 1.25
    replied_factor: float = 0.75
    peer_replied_factor: float = 0.3
    pending_minor_factor: float = 0.6
    media_weight: float = 3.0
    peer_media_weight: float = 1.0
    pushback_weight: float = 3.0
    under13_factor: float = 1.5
    near_peer_factor: float = 0.5
    anonymous_factor: float = 1.3
    new_account_factor: float = 1.3
    new_account_ms: int = 7 * DAY_MS
    devices_factor: float = 1.2
    many_devices: int = 3
    declared_minor_factor: float = 0.7
    peer_relief: float = 1.0
    min_minors: int = 3
    max_minors: int = 128
    max_adults: int = 32
    max_devices: int = 8
    evidence_cap: int = 50


class ExposureState(DictState):
    """Per-account memory.

    `pairs`: minor the account started contact with -> (first event time, day of last
    activity, flags, id of the first event); `known`: minor who wrote or added first -> day of
    last activity (all a peer's chat needs). Both are re-inserted when their day or flags
    change, so they are ordered by last activity and expiry pops from the front.
    `adults`: adults the account added to groups -> event time. `devices`: device hashes the
    account used -> day last seen.
    """

    __slots__ = ("adults", "devices", "known", "pairs")
    json_names: ClassVar = {"pairs": "p", "known": "k", "adults": "a", "devices": "d"}
    pairs: dict[str, tuple[int, int, int, str]]
    known: dict[str, int]
    adults: dict[str, int]
    devices: dict[str, int]


@dataclass(frozen=True, slots=True)
class _Window:
    name: str
    span_ms: int
    high: float


class MinorExposureDetector(DetectorBase[MinorExposureConfig, ExposureState]):
    name: ClassVar[str] = "minor_exposure"
    version: ClassVar[str] = "1.0.0"
    event_types: ClassVar[frozenset[EventType]] = frozenset(
        {MSG, CADD, GROUP_ADD, BLOCKED, REPORTED}
    )

    def __init__(self, config: MinorExposureConfig | None = None) -> None:
        super().__init__(config)
        cfg = self.config
        self._windows = (
            _Window("short", cfg.short_window_ms, cfg.short_high),
            _Window("day", cfg.day_window_ms, cfg.day_high),
            _Window("slow", cfg.slow_window_ms, cfg.slow_high),
        )

    def subject_keys(self, event: Event) -> Iterable[str]:
        """Outbound contacts of minors (and group adds of adults) to the actor; what minors do
        to an account (write, add, block, report) to that account."""
        target = event.target
        if target is None:
            return ()
        actor = event.actor
        if target.id == actor.id:
            return ()
        etype = event.type
        out = account_key(actor.id) if etype in _CHANNEL else None
        if out is not None and target.age_band not in MINOR_BANDS and etype is not GROUP_ADD:
            out = None
        inbound = etype in _INBOUND and actor.age_band in MINOR_BANDS
        if inbound:
            return (account_key(target.id),) if out is None else (out, account_key(target.id))
        return () if out is None else (out,)

    def horizon_ms(self) -> int:
        return self.config.slow_window_ms

    def step(self, state: ExposureState, subject: Subject, event: Event) -> Outcome:
        target = event.target
        if target is None:
            return UNCHANGED
        self.expire(state, event.ts_ms)
        if event.actor.id == subject.id:
            return self._outbound(state, event)
        if target.id == subject.id:
            return self._inbound(state, event)
        return UNCHANGED

    def _outbound(self, state: ExposureState, event: Event) -> Outcome:
        cfg = self.config
        target = event.target
        assert target is not None
        now = event.ts_ms
        day = now // DAY_MS
        changed = self._note_device(state, event, day)
        channel = _CHANNEL.get(event.type)
        if channel is None:
            return _outcome(changed)
        if target.age_band not in MINOR_BANDS:
            if event.type is GROUP_ADD and target.id not in state.adults:
                touch(state.adults, target.id, now, cfg.max_adults)
                return CHANGED
            return _outcome(changed)
        minor = target.id
        entry = state.pairs.get(minor)
        if entry is None:
            if minor in state.known:  # a reply in a chat the minor started
                if state.known[minor] == day:
                    return _outcome(changed)
                touch(state.known, minor, day, cfg.max_minors)
                return CHANGED
            if event.first_contact is False:
                return _outcome(changed)  # the platform says they talked before our memory
            flags = channel | _target_bits(event.actor.age_band, target.age_band)
            touch(state.pairs, minor, (now, day, flags, event.event_id), cfg.max_minors)
            return Outcome(changed=True, finding=self._assess(state, event))
        first_ts, last_day, flags, eid = entry
        # A message to a minor who already wrote to it (say after a group add) is a reply.
        new_flags = flags if channel == DM and flags & REPLIED else flags | channel
        if new_flags == flags and last_day == day:
            return _outcome(changed)
        touch(state.pairs, minor, (first_ts, day, new_flags, eid), cfg.max_minors)
        if new_flags != flags:  # a new channel to a minor it started with: weights change
            return Outcome(changed=True, finding=self._assess(state, event))
        return CHANGED

    def _inbound(self, state: ExposureState, event: Event) -> Outcome:
        cfg = self.config
        now = event.ts_ms
        day = now // DAY_MS
        minor = event.actor.id
        entry = state.pairs.get(minor)
        etype = event.type
        if entry is None:
            if etype in (BLOCKED, REPORTED) or event.first_contact is False:
                return UNCHANGED  # not a contact this account started: not counted here
            if state.known.get(minor) == day:
                return UNCHANGED
            touch(state.known, minor, day, cfg.max_minors)
            return CHANGED
        first_ts, last_day, flags, eid = entry
        if etype in (BLOCKED, REPORTED):
            new_flags = flags | PUSHBACK
        else:
            new_flags = flags | REPLIED
            private = flags & (DM | ADD)  # media after a group add alone is not this pattern
            if (
                event.has_media
                and private
                and etype is MSG
                and now - first_ts <= cfg.media_window_ms
            ):
                new_flags |= MEDIA_IN
        if new_flags == flags and last_day == day:
            return UNCHANGED
        touch(state.pairs, minor, (first_ts, day, new_flags, eid), cfg.max_minors)
        raised = (new_flags & ~flags) & (MEDIA_IN | PUSHBACK)
        if raised:
            return Outcome(changed=True, finding=self._assess(state, event, subject_side=False))
        return CHANGED

    def _note_device(self, state: ExposureState, event: Event, day: int) -> bool:
        device = event.device_hash
        if device is None or state.devices.get(device) == day:
            return False
        touch(state.devices, device, day, self.config.max_devices)
        return True

    def _assess(
        self, state: ExposureState, event: Event, *, subject_side: bool = True
    ) -> Finding | None:
        """Score every window; the worst decides. `subject_side`: the event is the account's own
        (its own Account record describes it); else the account is the event's target."""
        cfg = self.config
        now = event.ts_ms
        account = event.actor if subject_side else event.target
        assert account is not None
        declared_minor = account.age_band in MINOR_BANDS
        mixed = sum(1 for ts in state.adults.values() if ts > now - cfg.day_window_ms)
        group_weight = (
            cfg.mixed_group_weight if mixed >= cfg.mixed_group_adults else cfg.group_only_weight
        )
        minor_started = len(state.known)
        rows: list[tuple[int, float, int, str, str]] = []  # (first ts, weight, flags, minor, eid)
        for minor, (first_ts, _day, flags, eid) in state.pairs.items():
            rows.append(
                (
                    first_ts,
                    self._weight(flags, first_ts, now, declared_minor, group_weight),
                    flags,
                    minor,
                    eid,
                )
            )
        started = len(rows)
        if started < cfg.min_minors:
            return None
        factor, signs = self._actor_factor(state, account, now, declared_minor)
        if minor_started and cfg.peer_relief:
            relief = started / (started + cfg.peer_relief * minor_started)
            factor *= relief
            signs["peer_relief"] = round(relief, 3)
        best: tuple[int, float, _Window, list[tuple[int, float, int, str, str]]] | None = None
        for window in self._windows:
            inside = [r for r in rows if r[0] > now - window.span_ms]
            if len(inside) < cfg.min_minors:
                continue
            private = sum(r[1] for r in inside if r[2] & (DM | ADD | MEDIA_IN | PUSHBACK))
            rooms = sum(r[1] for r in inside if not r[2] & (DM | ADD | MEDIA_IN | PUSHBACK))
            score = round((private + min(rooms, cfg.group_only_cap)) * factor, 3)
            severity = _ladder(score, window.high, cfg)
            rank = severity.rank if severity else -1
            if best is None or (rank, score / window.high) > (best[0], best[1] / best[2].high):
                best = (rank, score, window, inside)
        if best is None or best[0] < 0:
            return None
        _, score, window, inside = best
        severity = _ladder(score, window.high, cfg)
        assert severity is not None
        return self._finding(
            state,
            account,
            event,
            severity,
            score,
            window,
            inside,
            factor,
            signs,
            minor_started,
            group_weight,
        )

    def _weight(
        self, flags: int, first_ts: int, now: int, declared_minor: bool, group_weight: float
    ) -> float:
        cfg = self.config
        if flags & PUSHBACK:
            return cfg.pushback_weight
        if flags & MEDIA_IN:
            # Teens swap pictures with teens of their own age: from a declared peer of the
            # same band, media is weak evidence; from a younger child, or to an adult, strong.
            if (declared_minor and not flags & YOUNGER) or flags & NEAR_PEER:
                return cfg.peer_media_weight
            return cfg.media_weight
        weight = 1.0 if flags & (DM | ADD) else group_weight
        if flags & REPLIED:
            weight *= cfg.peer_replied_factor if declared_minor else cfg.replied_factor
        elif now - first_ts >= cfg.reply_grace_ms:
            if flags & (DM | ADD):
                weight *= cfg.unanswered_factor
        elif declared_minor:
            weight *= cfg.pending_minor_factor
        if flags & UNDER_13:
            weight *= cfg.under13_factor
        if flags & NEAR_PEER:
            weight *= cfg.near_peer_factor
        return weight

    def _actor_factor(
        self, state: ExposureState, account: Account, now: int, declared_minor: bool
    ) -> tuple[float, dict[str, float]]:
        cfg = self.config
        factor = 1.0
        signs: dict[str, float] = {}
        if account.anonymous:
            factor *= cfg.anonymous_factor
            signs["actor_anonymous"] = 1.0
        if account.created_ts_ms is not None and now - account.created_ts_ms < cfg.new_account_ms:
            factor *= cfg.new_account_factor
            signs["actor_new_account"] = 1.0
        devices = len(state.devices)
        if devices >= cfg.many_devices:
            factor *= cfg.devices_factor
            signs["devices_used_last_day"] = float(devices)
        if declared_minor:
            factor *= cfg.declared_minor_factor
            signs["actor_declared_minor"] = 1.0
        return factor, signs

    def _finding(
        self,
        state: ExposureState,
        account: Account,
        event: Event,
        severity: Severity,
        score: float,
        window: _Window,
        inside: list[tuple[int, float, int, str, str]],
        factor: float,
        signs: dict[str, float],
        minor_started: int,
        group_weight: float,
    ) -> Finding:
        cfg = self.config
        now = event.ts_ms
        dms = sum(1 for r in inside if r[2] & DM)
        adds = sum(1 for r in inside if r[2] & ADD)
        gadds = sum(1 for r in inside if r[2] & GADD)
        replied = sum(1 for r in inside if r[2] & REPLIED)
        media = sum(1 for r in inside if r[2] & MEDIA_IN)
        pushback = sum(1 for r in inside if r[2] & PUSHBACK)
        under13 = sum(1 for r in inside if r[2] & UNDER_13)
        unanswered = sum(
            1 for r in inside if not r[2] & REPLIED and now - r[0] >= cfg.reply_grace_ms
        )
        count = len(inside)
        features = {
            "distinct_minors_started": float(count),
            "window_hours": window.span_ms / HOUR_MS,
            "via_direct_message": float(dms),
            "via_contact_add": float(adds),
            "via_group_add": float(gadds),
            "minors_replied": float(replied),
            "minors_unanswered": float(unanswered),
            "minors_sent_media_soon": float(media),
            "minors_blocked_or_reported": float(pushback),
            "minors_under_13": float(under13),
            "minors_who_started_chats": float(minor_started),
            "group_add_weight": group_weight,
            "risk_factor": round(factor, 3),
            "risk_weighted_score": score,
            "threshold_high": window.high,
            "threshold_medium": round(window.high * cfg.medium_fraction, 3),
            **signs,
        }
        age_days = (now - account.created_ts_ms) / DAY_MS if account.created_ts_ms else None
        if age_days is not None:
            features["actor_account_age_days"] = round(age_days, 3)
        who = describe_age(account.age_band, account.anonymous, age_days)
        channels = ", ".join(
            f"{n} by {what}"
            for n, what in ((dms, "direct message"), (adds, "contact add"), (gadds, "group add"))
            if n
        )
        responses = (
            f"{replied} replied, {unanswered} never answered, {media} sent it media soon after, "
            f"{pushback} blocked or reported it"
        )
        reason = (
            f"{who[0].upper()}{who[1:]} started contact with {count} minors within "
            f"{span_words(window.span_ms)} ({channels}); {responses} "
            f"(risk-weighted {score:g}, high at {window.high:g})."
        )
        inside.sort(key=lambda r: r[0])
        return Finding(
            severity=severity,
            score=round(min(1.0, score / (2 * window.high)), 4),
            window_start_ms=now - window.span_ms + 1,
            window_end_ms=now,
            features=features,
            counterparts=capped((r[3] for r in inside), cfg.evidence_cap),
            minors_exposed=count,
            evidence_event_ids=capped((r[4] for r in inside), cfg.evidence_cap),
            reason=reason,
            magnitude=score,
        )

    def expire(self, state: ExposureState, now_ms: int) -> bool:
        """Also called before every step, so results never depend on when cleanup ran."""
        cfg = self.config
        cutoff_day = (now_ms - cfg.slow_window_ms) // DAY_MS
        pairs, known = state.pairs, state.known
        while pairs:
            oldest = next(iter(pairs))
            if pairs[oldest][1] > cutoff_day:
                break
            del pairs[oldest]
        while known and known[next(iter(known))] <= cutoff_day:
            del known[next(iter(known))]
        adults = state.adults
        while adults:
            oldest = next(iter(adults))
            if adults[oldest] > now_ms - cfg.day_window_ms:
                break
            del adults[oldest]
        devices = state.devices
        while devices:
            oldest = next(iter(devices))
            if devices[oldest] > (now_ms - cfg.day_window_ms) // DAY_MS:
                break
            del devices[oldest]
        return not (pairs or known or adults or devices)


_BAND_ORDER: Final = {AgeBand.UNDER_13: 0, AgeBand.AGE_13_15: 1, AgeBand.AGE_16_17: 2}


def _target_bits(actor: AgeBand, target: AgeBand) -> int:
    bits = 0
    if actor in _BAND_ORDER and _BAND_ORDER[target] < _BAND_ORDER[actor]:
        bits |= YOUNGER
    if target is AgeBand.UNDER_13 and actor not in _YOUNG_PEERS:
        bits |= UNDER_13
    if actor is AgeBand.AGE_18_20 and target is AgeBand.AGE_16_17:
        bits |= NEAR_PEER
    return bits


def _ladder(score: float, high: float, cfg: MinorExposureConfig) -> Severity | None:
    if score >= high * cfg.critical_factor:
        return Severity.CRITICAL
    if score >= high:
        return Severity.HIGH
    if score >= high * cfg.medium_fraction:
        return Severity.MEDIUM
    return None


def _outcome(changed: bool) -> Outcome:
    return CHANGED if changed else UNCHANGED
