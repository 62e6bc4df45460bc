"""minor_exposure: one account reaching many minors it never spoke to, through any channel,
judged by how the minors respond rather than by the age the account declares.

The cases this project exists for are adults posing as older teenagers, so a declared band is
the account's own claim: this detector watches every account, minors included. Per account it
remembers each minor it started a conversation with (first direct message, contact add or
group add), through which channels, and what the minor did back: replied (and from which
network), sent media soon after, blocked or reported it. It adds those minors up over four
event-time windows (short ~1 h, a day, three days, slow ~14 days), each weighted by the
evidence, and the window that stands out most against its own HIGH threshold decides.

Contacts are weighed by what the two declared bands say, contact by contact (the full table is
in `docs/detectors/minor_exposure.md`):
- **Peer by claim** (a declared minor and a minor of its band or older) and **one band apart**
  (16-17 and 13-15, 13-15 and under-13, 18-20 and 16-17): teens add, message and swap pictures
  with teens, so such a contact weighs little while it waits for a reply and when answered
  from the minor's own network (a classmate on the school's line), more when a message goes
  unanswered, and fully when the minor blocks or reports the account. The declared band earns
  peer weights only while the account behaves like a peer (`_claim`: minors write to it in
  chats it did not start, come back on their own, or most of those it wrote to answer);
  otherwise its peers by claim are judged one band apart and a minor who never answers is
  cold outreach (`cold_unanswered_factor`); and while no minor backs the claim (none wrote
  to it first or came back on its own, and fewer than 75% of those who had the time to answer
  did), a minor who answers its first message weighs what any stranger's answer does
  (`unbacked_replied_factor`; an answered contact add is a friend request accepted and keeps
  the one-band-apart weight).
- **Everything else** (an adult or unknown-age account, a 16-17 that wrote to an under-13; its
  friend request alone is one band apart, a younger sibling's): every minor counts from the
  first contact, more when unanswered or under 13, and more again when the minor sends media
  soon after, when the account sends it images, or when the minor pushes back; the account's
  risk signs (anonymous, new, many devices) multiply this part.

Over the slow window a declared minor reaches HIGH only from `claim_slow_min_minors` private
contacts, or with `claim_slow_alarms` minors who pushed back, were flooded, swapped images or
are under 13 and met in private: a teen meeting a few new people a week is not a stranger
working through children.

A minor who sent media soon after the first contact and then blocked or reported the account
is the sextortion sequence seen from the victim's side: it weighs both, and one such minor
is enough for a finding (`extorted_min_minors`) where otherwise `min_minors` are needed.

A flood (`flood_messages` direct messages or more within the hour after first contact, images
among them, `flood_ratio` times what the minor sent back) weighs `flood_weight` at any declared
age but a teen claim other minors back, and never counts as the answer of a peer: the opening
of a sextortion one message short of `sextortion_velocity`'s escalation still shows here.

Within the hour, a first message to a minor of the account's own or a near band that nothing
has answered yet weighs `claim_burst_pending_factor` (a stranger's) while no minor backs the
claim: a teen's waiting messages weigh little because peers answer, so a burst of cold first
messages under a teen claim would otherwise only show once the grace ran out, and nothing
re-scores an account that went quiet after its burst.

A claim whose account opens later days' chats itself with minors it first messaged, while no
minor ever comes to it (`pursued_min`), is not backed by their answers: friends take turns.

A minor who comes back on its own on a later day weighs little whatever the bands (a tutor's
pupil, a friend). Minors who started chats with the account themselves make it look like a
peer (`peer_relief`). Reaching different minors through several channels at once multiplies
the private part (`channel_mix_factor`). Minors reached only by group adds add at most
`group_only_cap` (teachers and coaches add whole classes to rooms; bulk group adds are
`minor_mass_add`'s), and less when the account also added adults to groups (a coach adding
parents).

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

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar, Final

from streams.detectors.contract import CHANGED, UNCHANGED, DetectorBase, Finding, Outcome
from streams.detectors.state import DictState, forget_pairs, touch
from streams.detectors.subjects import account_key
from streams.detectors.windows import DAY_MS, HOUR_MS, MINUTE_MS
from streams.detectors.wording import capped, describe_age, span_words
from streams.model import (
    ADULT_BANDS,
    MINOR_BANDS,
    Account,
    AgeBand,
    Event,
    EventType,
    Severity,
    Subject,
)

# What one contact the account started with a minor has shown, as bits of one int.
DM: Final = 1  # the account reached the minor by direct message
ADD: Final = 2  # ... by contact add
GADD: Final = 4  # ... by adding it to a group
REPLIED: Final = 8  # the minor wrote back (or added the account back)
MEDIA_IN: Final = 16  # the minor sent media soon after a private contact the account started
PUSHBACK: Final = 32  # the minor blocked or reported the account after it started contact
UNDER_13: Final = 64  # an under-13 reached by an account declaring 16+ or unknown
PEER: Final = 128  # a peer by claim: the minor's band is the account's own or older
NEAR: Final = 256  # one band apart by claim: a 16-17 and a 13-15, an 18-20 and a 16-17
MEDIA_LATE: Final = 512  # the minor sent media later in a private contact the account started
RETURNS: Final = 1024  # the minor opened a later day's conversation itself
MEDIA_OUT: Final = 2048  # the account sent the minor media within the hour after first contact
SETTLED: Final = 4096  # the account was assessed after this contact's reply grace ran out
YOUNGER: Final = 8192  # a declared 16-17 reaching an under-13 (two bands apart by claim)
# Above the flags, two 4-bit counts (saturating at 15) of the direct messages within the hour
# after first contact: sent by the account, and by the minor. Many sent, few answered, images
# among them: the flood that opens a sextortion; a lively chat between new friends is even.
SENT_SHIFT: Final = 14
GOT_SHIFT: Final = 18
COUNT_MAX: Final = 15
# Above the counts (so that state written before it reads the same): the account opened a
# later day's conversation itself with a minor it first reached by a direct message (not a
# friend request or a room), the mirror of RETURNS.
PURSUED: Final = 1 << 22
FLAG_BITS: Final = ((1 << SENT_SHIFT) - 1) | PURSUED
PRIVATE: Final = DM | ADD
MEDIA_BACK: Final = MEDIA_IN | MEDIA_LATE
EXCHANGE: Final = MEDIA_IN | MEDIA_OUT  # "send me yours": images both ways with a new contact
STRONG: Final = PRIVATE | MEDIA_IN | MEDIA_LATE | PUSHBACK  # more than a room member

MSG, CADD, GROUP_ADD = EventType.MESSAGE_SENT, EventType.CONTACT_ADDED, EventType.GROUP_MEMBER_ADDED
BLOCKED, REPORTED = EventType.BLOCKED, EventType.REPORTED
CREATED, DELETED = EventType.ACCOUNT_CREATED, EventType.ACCOUNT_DELETED
_CHANNEL: Final = {MSG: DM, CADD: ADD, GROUP_ADD: GADD}
_INBOUND: Final = frozenset({MSG, CADD, BLOCKED, REPORTED})
_PUSH: Final = frozenset({BLOCKED, REPORTED})
_BAND_ORDER: Final = {AgeBand.UNDER_13: 0, AgeBand.AGE_13_15: 1, AgeBand.AGE_16_17: 2}
_PEER_CLAIMS: Final = frozenset({*_BAND_ORDER, AgeBand.AGE_18_20})  # bands with peers by claim

Pair = tuple[int, int, int, str, str]  # first ts, day of last activity, flags, first event, net


@dataclass(frozen=True, slots=True)
class MinorExposureConfig:
    short_window_ms: int = HOUR_MS
    day_window_ms: int = DAY_MS
    slow_window_ms: int = 14 * DAY_MS
    short_high: float = 4.5
    day_high: float = 6.0
    slow_high: float = 10.0
    mid_window_ms: int = 3 * DAY_MS  # between the day and the slow one (0: none)
    mid_high: float = 9.0
    medium_fraction: float = 0.6
    critical_factor: float = 2.5
    reply_grace_ms: int = 30 * MINUTE_MS
    peer_reply_grace_ms: int = 2 * HOUR_MS
    add_reply_grace_ms: int = 2 * HOUR_MS
    media_window_ms: int = HOUR_MS
    unanswered_factor: float = 1.25
    replied_factor: float = 1.0
    peer_pending_factor: float = 0.1
    peer_replied_factor: float = 0.3
    peer_unanswered_factor: float = 0.5
    near_pending_factor: float = 0.4
    near_replied_factor: float = 0.6
    near_unanswered_factor: float = 0.75
    near_media_weight: float = 1.25
    network_factor: float = 0.5
    media_weight: float = 1.4
    established_media_weight: float = 1.0
    peer_media_weight: float = 1.0
    late_media_factor: float = 0.67
    exchange_weight: float = 2.0
    flood_messages: int = 8
    flood_ratio: float = 3.0
    flood_weight: float = 3.0
    pushback_weight: float = 3.0
    returning_weight: float = 0.3
    under13_factor: float = 1.5
    group_only_weight: float = 0.15
    mixed_group_weight: float = 0.05
    mixed_group_adults: int = 2
    group_only_cap: float = 3.0
    anonymous_factor: float = 1.3
    anonymous_unbacked_factor: float = 1.3
    lowered_claim_factor: float = 1.3
    new_account_factor: float = 1.3
    new_account_ms: int = 7 * DAY_MS
    devices_factor: float = 1.2
    many_devices: int = 3
    peer_relief: float = 1.0
    peer_evidence_min: int = 2
    peer_answer_share: float = 0.75
    pursued_min: int = 2  # chased on later days, none came back: answers back nothing (0: off)
    cold_unanswered_factor: float = 1.0
    claim_burst_pending_factor: float = 1.0
    unbacked_replied_factor: float = 1.0
    channel_mix_factor: float = 1.5
    channel_mix_all_factor: float = 2.5
    channel_mix_min: int = 4
    mixed_reach_min: int = 2
    min_minors: int = 3
    extorted_min_minors: int = 1
    high_min_minors: int = 4
    claim_slow_min_minors: int = 12  # private contacts a declared minor's slow-window HIGH needs
    claim_slow_alarms: int = 2  # ... or this many minors who did what no peer's chat does
    ignored_min_minors: int = 2
    max_minors: int = 128
    max_adults: int = 32
    max_devices: int = 8
    max_ips: int = 8
    evidence_cap: int = 50


class ExposureState(DictState):
    """Per-account memory.

    `pairs`: minor the account started contact with -> `Pair` (net: the IP hash the minor
    first replied from, "" before); `known`: minor who wrote or added first -> day of last
    activity (all a peer's chat needs). Both are re-inserted when their day or flags change,
    so they are ordered by last activity and expiry pops from the front. `adults`: adults the
    account added to groups -> event time. `devices` and `ips`: device and IP hashes the
    account used -> day last seen (a day at most). `claims`: adult band the account declared
    (at sign-up or in any event seen here) -> day last seen, so that a later minor band reads
    as what it is: a claim lowered.
    """

    __slots__ = ("adults", "claims", "devices", "ips", "known", "pairs")
    json_names: ClassVar = {
        "pairs": "p",
        "known": "k",
        "adults": "a",
        "devices": "d",
        "ips": "i",
        "claims": "c",
    }
    pairs: dict[str, Pair]
    known: dict[str, int]
    adults: dict[str, int]
    devices: dict[str, int]
    ips: dict[str, int]
    claims: dict[str, int]


@dataclass(frozen=True, slots=True)
class _Window:
    span_ms: int
    high: float


@dataclass(frozen=True, slots=True)
class _Standing:
    """What the account's behaviour says about its claim, the same for all its contacts."""

    peerlike: bool  # behaves like a peer (`_claim`)
    backed: bool  # some minor backs its claim (`_claim`)
    media_in: float  # what a child's photo soon after its first contact weighs


@dataclass(frozen=True, slots=True)
class _Row:
    """One started contact as scored at one moment."""

    minor: str
    first_ts: int
    flags: int
    event_id: str
    weight: float
    networked: bool
    unit: float  # a room-only minor's weight had it been a private contact (mixed reach)
    cold: float  # its weight within the hour when no minor backs the account's claim yet


class MinorExposureDetector(DetectorBase[MinorExposureConfig, ExposureState]):
    name: ClassVar[str] = "minor_exposure"
    version: ClassVar[str] = "1.9.0"
    counterpart_role: ClassVar[str] = "minor_contacted"
    event_types: ClassVar[frozenset[EventType]] = frozenset(
        {MSG, CADD, GROUP_ADD, CREATED, DELETED, *_PUSH}
    )
    # Group adds of adults count too (`state.adults`); sign-ups and deletions have no target.
    minor_party_only: ClassVar[frozenset[EventType]] = _INBOUND

    def __init__(self, config: MinorExposureConfig | None = None) -> None:
        super().__init__(config)
        cfg = self.config
        self._windows = (
            _Window(cfg.short_window_ms, cfg.short_high),
            _Window(cfg.day_window_ms, cfg.day_high),
            *([_Window(cfg.mid_window_ms, cfg.mid_high)] if cfg.mid_window_ms else []),
            _Window(cfg.slow_window_ms, cfg.slow_high),
        )

    def subject_keys(self, event: Event) -> Iterable[str]:
        """Outbound contacts of minors (and group adds of adults) to the actor; what minors do
        to an account (write, add, block, report) to that account."""
        target = event.target
        actor = event.actor
        if target is None:  # an adult sign-up (a later minor band is a lowered claim), or
            # a deletion: a throwaway's last event, where its silence is assessed
            adult = event.type is CREATED and actor.age_band in ADULT_BANDS
            return (account_key(actor.id),) if adult or event.type is DELETED else ()
        if target.id == actor.id:
            return ()
        etype = event.type
        out = etype in _CHANNEL and (target.age_band in MINOR_BANDS or etype is GROUP_ADD)
        inbound = etype in _INBOUND and actor.age_band in MINOR_BANDS
        if out and inbound:
            return (account_key(actor.id), account_key(target.id))
        if out:
            return (account_key(actor.id),)
        return (account_key(target.id),) if inbound else ()

    def horizon_ms(self) -> int:
        return self.config.slow_window_ms

    def step(self, state: ExposureState, subject: Subject, event: Event) -> Outcome:
        if event.ts_ms >= state.due_ms:  # before then nothing falls out of a window
            self.expire(state, event.ts_ms)
            state.due_ms = self._due(state, event.ts_ms)
        target = event.target
        if event.actor.id == subject.id:
            account = event.actor
            noted = self._note_claim(state, account, event.ts_ms)
            if target is None:
                if event.type is DELETED and state.pairs:
                    self._settle(state, event.ts_ms)
                    return Outcome(changed=True, finding=self._assess(state, account, event))
                return _outcome(noted)
            outcome = self._outbound(state, event)
        elif target is not None and target.id == subject.id:
            account = target
            noted = self._note_claim(state, account, event.ts_ms)
            outcome = self._inbound(state, event)
        else:
            return UNCHANGED
        if noted and not outcome.changed:
            outcome = CHANGED
        if not self._settle(state, event.ts_ms):
            return outcome
        if outcome.finding is None:  # silence is evidence too, once it has lasted
            return Outcome(changed=True, finding=self._assess(state, account, event))
        return Outcome(changed=True, finding=outcome.finding)

    def _settle(self, state: ExposureState, now: int) -> bool:
        """Mark contacts whose reply grace ran out since the account's last event; True if
        any did. Silence shows only with time, so it is assessed on the account's next event
        (its ongoing chats, a reply, a block) rather than never."""
        if len(state.pairs) < self.config.min_minors:
            return False
        settled = []
        for minor, pair in state.pairs.items():
            flags = pair[2]
            if flags & (SETTLED | REPLIED | PUSHBACK) or not flags & _silent_channels(flags):
                continue
            if now - pair[0] >= self._grace(flags):
                settled.append(minor)
        for minor in settled:
            first_ts, day, flags, eid, net = state.pairs[minor]
            state.pairs[minor] = (first_ts, day, flags | SETTLED, eid, net)  # order kept
        return bool(settled)

    def _grace(self, flags: int) -> int:
        cfg = self.config
        if flags & (PEER | NEAR):
            return cfg.peer_reply_grace_ms
        return cfg.reply_grace_ms if flags & DM else cfg.add_reply_grace_ms

    def _outbound(self, state: ExposureState, event: Event) -> Outcome:
        cfg = self.config
        target = event.target
        assert target is not None
        now = event.ts_ms
        day = now // DAY_MS
        changed = self._note_infra(state, event, day)
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
            flags = channel | _claim_bits(self._claimed(state, event.actor), target.age_band)
            if channel == DM:
                flags += 1 << SENT_SHIFT
                if event.has_media:
                    flags |= MEDIA_OUT
            touch(state.pairs, minor, (now, day, flags, event.event_id, ""), cfg.max_minors)
            return Outcome(changed=True, finding=self._assess(state, event.actor, event))
        first_ts, last_day, flags, eid, net = entry
        # A message to a minor who already wrote to it (say after a group add) is a reply.
        new_flags = flags if channel == DM and flags & REPLIED else flags | channel
        if channel == DM and day > last_day and not flags & (ADD | GADD):
            new_flags |= PURSUED  # the first word of a later day is the account's, to a stranger
        if channel == DM and now - first_ts <= cfg.media_window_ms:
            if event.has_media:
                new_flags |= MEDIA_OUT  # images to a child it has just met
            if _count(flags, SENT_SHIFT) < COUNT_MAX:
                new_flags += 1 << SENT_SHIFT
        if new_flags == flags and last_day == day:
            return _outcome(changed)
        touch(state.pairs, minor, (first_ts, day, new_flags, eid, net), cfg.max_minors)
        # A new channel, images, or a flood now complete: weights change (a count alone not).
        if new_flags & FLAG_BITS != flags & FLAG_BITS or (
            self._flooded(new_flags) and not self._flooded(flags)
        ):
            return Outcome(changed=True, finding=self._assess(state, event.actor, event))
        return CHANGED

    def _inbound(self, state: ExposureState, event: Event) -> Outcome:
        cfg = self.config
        now = event.ts_ms
        day = now // DAY_MS
        minor = event.actor.id
        entry = state.pairs.get(minor)
        etype = event.type
        if entry is None:
            if etype in _PUSH:
                return UNCHANGED  # not a contact this account started: not counted here
            # A minor writing in a chat this account did not start (new, or older than our
            # memory by the platform's word): a friendship, the evidence of a peer.
            if state.known.get(minor) == day:
                return UNCHANGED
            touch(state.known, minor, day, cfg.max_minors)
            return CHANGED
        first_ts, last_day, flags, eid, net = entry
        if etype in _PUSH:
            new_flags = flags | PUSHBACK
        else:
            new_flags = flags | REPLIED
            if day > last_day and etype is MSG:  # the first word of a later day is the minor's
                new_flags |= RETURNS
            if not net and event.ip_hash:
                net = event.ip_hash
            soon = now - first_ts <= cfg.media_window_ms
            if soon and etype is MSG and _count(flags, GOT_SHIFT) < COUNT_MAX:
                new_flags += 1 << GOT_SHIFT
            # Media after a group add alone is not this pattern (a pupil's homework photo).
            if event.has_media and etype is MSG and flags & PRIVATE:
                new_flags |= MEDIA_IN if soon else MEDIA_LATE
        if new_flags == flags and last_day == day and net == entry[4]:
            return UNCHANGED
        touch(state.pairs, minor, (first_ts, day, new_flags, eid, net), cfg.max_minors)
        if (new_flags & ~flags) & (MEDIA_IN | MEDIA_LATE | PUSHBACK):
            assert event.target is not None
            return Outcome(changed=True, finding=self._assess(state, event.target, event))
        return CHANGED

    def _note_claim(self, state: ExposureState, account: Account, now: int) -> bool:
        """Remember an adult band the account declares; True if state changed."""
        band = account.age_band
        if band not in ADULT_BANDS or state.claims.get(band.value) == now // DAY_MS:
            return False
        touch(state.claims, band.value, now // DAY_MS, len(ADULT_BANDS))
        return True

    @staticmethod
    def _claimed(state: ExposureState, account: Account) -> AgeBand:
        """The band to judge the account's contacts by: an adult band it declared within
        the slow window outweighs a minor band it declares now."""
        if account.age_band in MINOR_BANDS and state.claims:
            return AgeBand(next(reversed(state.claims)))
        return account.age_band

    def _note_infra(self, state: ExposureState, event: Event, day: int) -> bool:
        """Remember the devices and IPs the account used today (risk sign, own network)."""
        changed = False
        device, ip = event.device_hash, event.ip_hash
        if device is not None and state.devices.get(device) != day:
            touch(state.devices, device, day, self.config.max_devices)
            changed = True
        if ip is not None and state.ips.get(ip) != day:
            touch(state.ips, ip, day, self.config.max_ips)
            changed = True
        return changed

    def _assess(self, state: ExposureState, account: Account, event: Event) -> Finding | None:
        """Score every window; the one furthest past its own HIGH decides. `account` is the
        subject as this event describes it."""
        cfg = self.config
        now = event.ts_ms
        extorted = sum(1 for p in state.pairs.values() if _extorted(p[2]))
        if len(state.pairs) < cfg.min_minors and extorted < cfg.extorted_min_minors:
            return None
        peerlike, backed = self._claim(state, now)
        factor, peer_factor, signs = self._risk_factor(state, account, now, peerlike, backed)
        # Children's photos to an established, identified account (homework to a tutor) are
        # an answer; to an anonymous, new or re-declared one, the sextortion playbook (B5).
        media = cfg.media_weight if factor > 1.0 else cfg.established_media_weight
        rows = self._rows(state, now, _Standing(peerlike, backed, media))
        relief = 1.0
        if state.known and cfg.peer_relief:
            relief = len(rows) / (len(rows) + cfg.peer_relief * len(state.known))
            signs["peer_relief"] = round(relief, 3)
        best: tuple[int, float, _Window, float, list[_Row], Severity | None] | None = None
        for window in self._windows:
            inside = [r for r in rows if r.first_ts > now - window.span_ms]
            if len(inside) < cfg.min_minors and (
                sum(1 for r in inside if _extorted(r.flags)) < cfg.extorted_min_minors
            ):
                continue
            burst = window.span_ms == cfg.short_window_ms
            score = round(self._score(inside, factor, peer_factor, burst) * relief, 3)
            severity = _ladder(score, window.high, cfg)
            if (
                severity is not None
                and len(inside) < cfg.high_min_minors
                and not any(r.flags & PUSHBACK for r in inside)
                and not (account.anonymous and self._ignored(inside, now))
            ):
                # Three minors can be a new parent's own children, who answer a verified
                # parent; an anonymous account they all ignore gets no such benefit of doubt.
                severity = Severity.MEDIUM
            if (
                severity is not None
                and severity is not Severity.MEDIUM
                and window.span_ms == cfg.slow_window_ms
                and self._claimed(state, account) in MINOR_BANDS
                and sum(1 for r in inside if r.flags & PRIVATE) < cfg.claim_slow_min_minors
                and sum(1 for r in inside if self._alarming(r.flags)) < cfg.claim_slow_alarms
            ):
                # A teen meeting a few new people a week, most of them answering, is not a
                # stranger working through children: over two weeks a declared minor needs
                # many private contacts (rooms are capped anyway), or two minors who pushed
                # back, were flooded, swapped images at once or are under 13 and met in
                # private (one can be a falling-out or a younger sibling).
                severity = Severity.MEDIUM
            key = (severity.rank if severity else -1, score / window.high)
            if best is None or key > (best[0], best[1]):
                best = (key[0], key[1], window, score, inside, severity)
        if best is None:
            return None
        _, _, window, score, inside, severity = best
        if severity is None:
            return None
        signs["risk_factor"] = round(factor, 3)
        return self._finding(state, account, event, severity, score, window, inside, signs)

    def _ignored(self, rows: list[_Row], now: int) -> bool:
        """No minor answered, and at least two of them have let their grace run out."""
        if any(r.flags & REPLIED for r in rows):
            return False
        silent = sum(1 for r in rows if now - r.first_ts >= self._grace(r.flags))
        return silent >= self.config.ignored_min_minors

    def _rows(self, state: ExposureState, now: int, standing: _Standing) -> list[_Row]:
        """The account's started contacts as weighed now."""
        cfg = self.config
        mixed = sum(1 for ts in state.adults.values() if ts > now - cfg.day_window_ms)
        rooms = cfg.mixed_group_weight if mixed >= cfg.mixed_group_adults else cfg.group_only_weight
        nets = Counter(p[4] for p in state.pairs.values() if p[4])
        networks = {
            minor: bool(net) and (nets[net] > 1 or net in state.ips)
            for minor, (_ts, _day, _flags, _eid, net) in state.pairs.items()
        }
        unbacked = not (standing.peerlike or standing.backed)
        rows = []
        for minor, (first_ts, _day, flags, eid, _net) in state.pairs.items():
            networked = networks[minor]
            age = now - first_ts
            weight = self._weight(flags, age, networked, rooms, standing)
            unit = weight
            if not flags & STRONG:
                unit = self._weight(flags, age, networked, 1.0, standing)
            cold = weight
            if unbacked and flags & DM and flags & (PEER | NEAR) and _pending(flags):
                cold = max(weight, cfg.claim_burst_pending_factor)
            rows.append(_Row(minor, first_ts, flags, eid, weight, networked, unit, cold))
        return rows

    def _claim(self, state: ExposureState, now: int) -> tuple[bool, bool]:
        """What the minors' behaviour says of the account's declared band, in one pass:

        - peer-like (a declared band alone never shows it): minors who started chats with it
          or came back on their own; or most of the minors it wrote to answered it (peers
          answer each other; a message still waiting counts against, so a burst is not
          peer-like just because its first answers came quickly);
        - backed: any minor wrote to it first or came back on its own, or most of those who
          had the time to answer it did. Unbacked, an answer to its first message is the
          answer a stranger gets.
        A flooded contact (`_flooded`) counts as unanswered for both, whatever came back.
        Answers back nothing once the account has chased `pursued_min` minors it first reached
        by a direct message (not a friend request) on later days (it opened the day's
        conversation) while none of them, nor any other minor, ever came to it: friends take
        turns; a groomer keeps the chats going alone.
        """
        cfg = self.config
        evidence = len(state.known)
        answered = waiting = ignored = pursued = 0
        for first_ts, _day, flags, _eid, _net in state.pairs.values():
            evidence += bool(flags & RETURNS)
            pursued += bool(flags & PURSUED)
            if self._flooded(flags):  # a word or two back to a flood is no peer's answer
                waiting += 1
                ignored += 1
            elif flags & REPLIED:
                answered += 1
            elif flags & _silent_channels(flags):  # waiting counts against, until answered
                waiting += 1
                ignored += now - first_ts >= self._grace(flags)
        share = cfg.peer_answer_share
        chased = evidence == 0 and 0 < cfg.pursued_min <= pursued
        answers = answered > 0 and not chased
        peerlike = evidence >= cfg.peer_evidence_min or (
            answers and answered >= share * (answered + waiting)
        )
        backed = evidence > 0 or (answers and answered >= share * (answered + ignored))
        return peerlike, backed

    def _weight(
        self, flags: int, age_ms: int, networked: bool, rooms: float, standing: _Standing
    ) -> float:
        cfg = self.config
        peerlike = standing.peerlike
        if flags & YOUNGER and not flags & DM:
            # A 16-17's friend request to an under-13 (a younger sibling, a cousin) is one
            # band apart until it writes to the child; then it is judged like an adult's.
            flags |= NEAR
        if _extorted(flags):  # images after a first contact, then pushback
            late = 1.0 if flags & MEDIA_IN else cfg.late_media_factor
            return cfg.pushback_weight + cfg.media_weight * late
        if flags & PUSHBACK:
            return cfg.pushback_weight
        if flags & RETURNS:  # a relationship the minor keeps choosing: a tutor, a friend
            return cfg.returning_weight
        if flags & EXCHANGE == EXCHANGE:  # images both ways within the hour of meeting
            return cfg.exchange_weight
        if self._flooded(flags) and not (flags & (PEER | NEAR) and (peerlike or standing.backed)):
            return cfg.flood_weight  # a flood with images to a child it just met, barely answered
        # (pending, replied, unanswered, media) by what the two declared bands say
        if flags & PEER and peerlike:
            pending, replied, unanswered, media = (
                cfg.peer_pending_factor,
                cfg.peer_replied_factor,
                cfg.peer_unanswered_factor,
                cfg.peer_media_weight,
            )
        elif flags & (PEER | NEAR):
            # One band apart, or a peer by claim alone: no behaviour backs the claim, so an
            # unanswered message from an account nobody answers counts as cold outreach; an
            # answer to an account that behaves like a peer weighs like a peer's.
            pending, replied, unanswered, media = (
                cfg.peer_pending_factor if flags & PEER else cfg.near_pending_factor,
                cfg.peer_replied_factor
                if peerlike
                else cfg.near_replied_factor
                if standing.backed or flags & ADD
                else cfg.unbacked_replied_factor,
                cfg.near_unanswered_factor if peerlike else cfg.cold_unanswered_factor,
                cfg.near_media_weight,
            )
        else:
            pending, replied, unanswered, media = (
                1.0,
                cfg.replied_factor,
                cfg.unanswered_factor,
                standing.media_in,
            )
        if flags & MEDIA_IN:
            return media
        if flags & MEDIA_OUT and not flags & (PEER | NEAR):
            return cfg.media_weight  # images sent by an adult to a child it has just met
        if flags & MEDIA_LATE:  # groomed over days rather than rushed; at least an answer
            return max(media * cfg.late_media_factor, replied)
        weight = 1.0 if flags & PRIVATE else rooms
        grace = self._grace(flags)
        if flags & REPLIED:
            weight *= replied
            if networked:  # answered from the account's own network or its other minors'
                weight *= cfg.network_factor
        elif age_ms >= grace and flags & _silent_channels(flags):
            weight *= unanswered
        elif age_ms < grace or flags & (PEER | NEAR):
            weight *= pending
        if flags & UNDER_13:
            weight *= cfg.under13_factor
        return weight

    def _alarming(self, flags: int) -> bool:
        """A contact no peer's ordinary chat explains: the minor pushed back, was flooded or
        swapped images within the hour, or is under 13 (to a 16+ claim) and was met in
        private (a room with a younger child in it is a club's or a sibling's team)."""
        if flags & PUSHBACK or flags & EXCHANGE == EXCHANGE:
            return True
        if flags & (UNDER_13 | YOUNGER) and flags & PRIVATE:
            return True
        return self._flooded(flags)

    def _flooded(self, flags: int) -> bool:
        """At least `flood_messages` direct messages, images among them, within the hour
        after first contact, and `flood_ratio` times as many as the minor sent back."""
        sent = _count(flags, SENT_SHIFT)
        return (
            bool(flags & MEDIA_OUT)
            and sent >= self.config.flood_messages
            and sent >= self.config.flood_ratio * _count(flags, GOT_SHIFT)
        )

    def _score(self, rows: list[_Row], factor: float, peer_factor: float, burst: bool) -> float:
        """Contacts carry the account's risk signs (peer ones all but anonymity, common among
        unverified teens); room-only minors are capped; and
        reaching minors through several channels at once (so that no one channel's count
        stands out) multiplies the private part. In a `burst` (the short window), room-only
        minors of an account also writing to or adding unknown minors privately are counted
        as contacts like those: a stranger reaching children any way it can within the hour;
        a teacher adds a class to rooms without first messages to other children."""
        cfg = self.config
        strangers = sum(1 for r in rows if r.flags & PRIVATE and not r.flags & (PEER | NEAR))
        mixed = burst and strangers >= cfg.mixed_reach_min
        peer = other = rooms = 0.0
        for row in rows:
            if not row.flags & STRONG and not mixed:
                rooms += row.weight
            elif not row.flags & STRONG:
                other += row.unit
            elif row.flags & (PEER | NEAR):
                peer += row.cold if burst else row.weight
            else:
                other += row.weight
        private = other * factor + peer * peer_factor
        channels = _channels_used(rows, cfg.channel_mix_min)
        if channels >= 3:
            private *= cfg.channel_mix_all_factor
        elif channels == 2:
            private *= cfg.channel_mix_factor
        return private + min(rooms, cfg.group_only_cap)

    def _risk_factor(
        self, state: ExposureState, account: Account, now: int, peerlike: bool, backed: bool
    ) -> tuple[float, float, dict[str, float]]:
        """(factor for non-peer contacts, factor for peer ones, the signs as features). A new
        account whose minors answer it like friends is a teen setting up, not a risk sign."""
        cfg = self.config
        factor = peer_factor = 1.0
        signs: dict[str, float] = {}
        if account.anonymous:
            factor *= cfg.anonymous_factor
            signs["actor_anonymous"] = 1.0
        new = account.created_ts_ms is not None and now - account.created_ts_ms < cfg.new_account_ms
        if account.anonymous and not backed and not new and account.age_band in _PEER_CLAIMS:
            peer_factor *= cfg.anonymous_unbacked_factor
            signs["actor_anonymous_claim_unbacked"] = 1.0  # a teen claim nothing supports
        if new and not (peerlike and account.age_band in MINOR_BANDS and not state.claims):
            factor *= cfg.new_account_factor
            peer_factor *= cfg.new_account_factor
            signs["actor_new_account"] = 1.0
        if len(state.devices) >= cfg.many_devices:
            factor *= cfg.devices_factor
            peer_factor *= cfg.devices_factor
            signs["devices_used_last_day"] = float(len(state.devices))
        if account.age_band in MINOR_BANDS:
            signs["actor_declared_minor"] = 1.0
            if state.claims:
                factor *= cfg.lowered_claim_factor
                signs["actor_declared_adult_before"] = 1.0
        signs["peer_risk_factor"] = round(peer_factor, 3)
        return factor, peer_factor, signs

    def _finding(
        self,
        state: ExposureState,
        account: Account,
        event: Event,
        severity: Severity,
        score: float,
        window: _Window,
        inside: list[_Row],
        signs: dict[str, float],
    ) -> Finding:
        cfg = self.config
        now = event.ts_ms

        def count(bit: int) -> int:
            return sum(1 for r in inside if r.flags & bit)

        dms, adds, gadds = count(DM), count(ADD), count(GADD)
        replied, media, pushback = count(REPLIED), count(MEDIA_IN), count(PUSHBACK)
        late_media = count(MEDIA_LATE)
        unanswered = sum(
            1
            for r in inside
            if not r.flags & (REPLIED | PUSHBACK) and now - r.first_ts >= self._grace(r.flags)
        )
        total = len(inside)
        flooded = sum(1 for r in inside if self._flooded(r.flags))
        features = {
            "distinct_minors_started": float(total),
            "window_hours": window.span_ms / HOUR_MS,
            "via_direct_message": float(dms),
            "via_contact_add": float(adds),
            "via_group_add": float(gadds),
            "minors_replied": float(replied),
            "minors_replied_from_shared_network": float(sum(1 for r in inside if r.networked)),
            "minors_unanswered": float(unanswered),
            "minors_sent_media_soon": float(media),
            "minors_sent_media_later": float(late_media),
            "minors_it_sent_media_soon": float(count(MEDIA_OUT)),
            "minors_flooded": float(flooded),
            "threshold_flood_messages": float(cfg.flood_messages),
            "minors_blocked_or_reported": float(pushback),
            "minors_who_came_back_on_their_own": float(count(RETURNS)),
            "minors_it_chased_on_later_days": float(count(PURSUED)),
            "threshold_chased_min": float(cfg.pursued_min),
            "minors_under_13": float(count(UNDER_13)),
            "peer_contacts_by_claim": float(count(PEER)),
            "near_peer_contacts_by_claim": float(count(NEAR)),
            "channels_used": float(_channels_used(inside, cfg.channel_mix_min)),
            "minors_who_started_chats": float(len(state.known)),
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
        reason = (
            f"{who[0].upper()}{who[1:]} started contact with {total} minors within "
            f"{span_words(window.span_ms)} ({channels}); {replied} replied, {unanswered} never "
            f"answered, {media} sent it media soon after ({late_media} later), {pushback} "
            "blocked or reported it"
            + (
                f", {flooded} got a flood of its messages and images in the first hour "
                f"({cfg.flood_messages}+) and hardly answered"
                if flooded
                else ""
            )
            + f" (risk-weighted {score:g}, high at {window.high:g})."
        )
        ordered = sorted(inside, key=lambda r: (r.first_ts, r.minor))
        return Finding(
            severity=severity,
            score=round(min(1.0, score / (2 * window.high)), 4),
            window_start_ms=now - window.span_ms + 1,
            window_end_ms=now,
            features=features,
            counterparts=capped((r.minor for r in ordered), cfg.evidence_cap),
            minors_exposed=total,
            evidence_event_ids=capped((r.event_id for r in ordered), cfg.evidence_cap),
            reason=reason,
            magnitude=score,
        )

    def expire(self, state: ExposureState, now_ms: int) -> bool:
        """Also called before a step whenever it has something to drop (`_due`), so results
        never depend on when cleanup ran."""
        cfg = self.config
        cutoff_day = (now_ms - cfg.slow_window_ms) // DAY_MS
        pairs, adults = state.pairs, state.adults
        while pairs and pairs[next(iter(pairs))][1] <= cutoff_day:
            del pairs[next(iter(pairs))]
        while adults and adults[next(iter(adults))] <= now_ms - cfg.day_window_ms:
            del adults[next(iter(adults))]
        forget_pairs(state.known, now_ms, cfg.slow_window_ms)  # dicts of day last seen
        forget_pairs(state.devices, now_ms, cfg.day_window_ms)
        forget_pairs(state.ips, now_ms, cfg.day_window_ms)
        forget_pairs(state.claims, now_ms, cfg.slow_window_ms)
        return not (pairs or adults or state.known or state.devices or state.ips or state.claims)

    def _due(self, state: ExposureState, now_ms: int) -> int:
        """The earliest event time at which `expire` drops anything: the end of each dict's
        front (oldest) entry, or for an entry added from `now_ms` on (a later event), the end
        of a day-granular memory that starts today."""
        cfg = self.config
        day_ms, slow_ms = cfg.day_window_ms, cfg.slow_window_ms
        ends = [now_ms // DAY_MS * DAY_MS + min(day_ms, slow_ms)]
        for days, memory in (
            (state.known, slow_ms),
            (state.claims, slow_ms),
            (state.devices, day_ms),
            (state.ips, day_ms),
        ):
            if days:
                ends.append(days[next(iter(days))] * DAY_MS + memory)
        if state.pairs:
            ends.append(state.pairs[next(iter(state.pairs))][1] * DAY_MS + slow_ms)
        if state.adults:
            ends.append(state.adults[next(iter(state.adults))] + day_ms)
        return min(ends)


def _claim_bits(actor: AgeBand, target: AgeBand) -> int:
    """What the two declared bands say about a contact, fixed when it starts."""
    if actor in _BAND_ORDER:
        gap = _BAND_ORDER[actor] - _BAND_ORDER[target]
        return PEER if gap <= 0 else NEAR if gap == 1 else UNDER_13 | YOUNGER
    if actor is AgeBand.AGE_18_20 and target is AgeBand.AGE_16_17:
        return NEAR
    return UNDER_13 if target is AgeBand.UNDER_13 else 0


def _extorted(flags: int) -> bool:
    """The sextortion sequence seen from the victim's side: a minor the account started a
    private contact with sent it images (within the hour, or later in a groomed chat), then
    blocked or reported it."""
    return bool(flags & PUSHBACK and flags & MEDIA_BACK)


def _pending(flags: int) -> bool:
    """Nothing has come back from the minor yet: no answer, media, add-back or pushback."""
    return not flags & (REPLIED | MEDIA_BACK | PUSHBACK)


def _count(flags: int, shift: int) -> int:
    return (flags >> shift) & COUNT_MAX


def _silent_channels(flags: int) -> int:
    """The channels whose silence counts as "never answered": between teens by claim an add
    left without an add-back says little, a message left unanswered says more; from an
    adult, both count."""
    return DM if flags & (PEER | NEAR | YOUNGER) else PRIVATE


def _channels_used(rows: list[_Row], at_least: int) -> int:
    """Channels (first direct message, contact add, group add) that each reached at least
    `at_least` different minors, each minor counted under the first of them it shows."""
    counts = Counter(DM if r.flags & DM else ADD if r.flags & ADD else GADD for r in rows)
    return sum(1 for n in counts.values() if n >= at_least)


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
