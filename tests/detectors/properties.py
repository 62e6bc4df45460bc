"""The stream properties every detector must keep, checked the same way for all of them.

`test_properties.py` runs each check for every `PropertyCase` below:
- order: events shuffled within the allowed lateness, through the reorder buffer, give exactly
  the alerts of sorted input (Alert equality: ids, revisions, severities, numbers);
- replay: applying the same events again emits nothing and applies nothing;
- bounded: a long one-subject flood (thousands of counterparts over days) keeps that
  subject's serialised state under a fixed size, sampled through the run;
- due: expiring only once something is due (`DictState.due_ms`) gives the alerts and stored
  state of expiring before every step, on the streams retimed over hours to weeks.

A case holds a detector factory with low thresholds (so small random streams reach alerts),
a hypothesis strategy of small event streams, and the flood for the bound.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import count
from typing import Any

from hypothesis import strategies as st
from msgspec.structs import replace

from streams.detectors.anonymous_churn import AnonymousChurnConfig, AnonymousChurnDetector
from streams.detectors.ban_evasion import BanEvasionConfig, BanEvasionDetector
from streams.detectors.cold_outreach import ColdOutreachConfig, ColdOutreachDetector
from streams.detectors.contract import Detector, Outcome
from streams.detectors.media_then_pushback import (
    MediaThenPushbackConfig,
    MediaThenPushbackDetector,
)
from streams.detectors.minor_blocks_reports import (
    MinorBlocksReportsConfig,
    MinorBlocksReportsDetector,
)
from streams.detectors.minor_exposure import MinorExposureConfig, MinorExposureDetector
from streams.detectors.minor_group_rooms import MinorGroupRoomsConfig, MinorGroupRoomsDetector
from streams.detectors.minor_mass_add import MinorMassAddConfig, MinorMassAddDetector
from streams.detectors.new_contact_burst import NewContactBurstConfig, NewContactBurstDetector
from streams.detectors.sextortion_velocity import (
    SextortionVelocityConfig,
    SextortionVelocityDetector,
)
from streams.engine.core import Engine
from streams.engine.reorder import ReorderBuffer, release_bound
from streams.model import Account, AgeBand, Alert, Event, EventType, Subject
from tests.factories import HOUR, MIN, T0, account, adult, minor

DAY = 24 * HOUR
LATENESS_MS = 5_000  # the default; shuffles within it must not change any alert
U13, A13, A16 = AgeBand.UNDER_13, AgeBand.AGE_13_15, AgeBand.AGE_16_17
A18, UNK = AgeBand.AGE_18_20, AgeBand.UNKNOWN
MSG, ADD, GADD = EventType.MESSAGE_SENT, EventType.CONTACT_ADDED, EventType.GROUP_MEMBER_ADDED
BLOCK, REPORT = EventType.BLOCKED, EventType.REPORTED
CREATED, DELETED = EventType.ACCOUNT_CREATED, EventType.ACCOUNT_DELETED


@dataclass(frozen=True)
class PropertyCase:
    name: str
    detector: Callable[[], Detector]  # low thresholds, for the small random streams
    streams: st.SearchStrategy[list[Event]]
    flood: Callable[[], Iterator[Event]]  # default config; one subject; event-time order
    bound_bytes: int

    def __repr__(self) -> str:  # the pytest id
        return self.name


# --- the checks ---------------------------------------------------------------------------


def sorted_run(detector: Detector, events: list[Event]) -> list[Alert]:
    engine = Engine([detector])
    ordered = sorted(events, key=lambda e: (e.ts_ms, e.event_id))
    return [a for e in ordered for a in engine.process(e)]


def arrival_order(events: list[Event], jitter: list[int]) -> list[Event]:
    """Arrival by ts + jitter (jitter < lateness): no event arrives after one L newer."""
    keyed = sorted((e.ts_ms + j, i, e) for i, (e, j) in enumerate(zip(events, jitter, strict=True)))
    return [e for _, _, e in keyed]


def buffered_run(detector: Detector, arrival: list[Event]) -> list[Alert]:
    """What the stream does: events held until the production release bound passes them
    (`streams.engine.reorder.release_bound`, one input partition), then the engine; at the
    end the partition goes idle and everything held is released."""
    engine = Engine([detector])
    buffer: ReorderBuffer[Event] = ReorderBuffer()
    watermarks: dict[int, int] = {0: -1}
    alerts: list[Alert] = []
    for event in arrival:
        buffer.push(event.ts_ms, event.event_id, event)
        watermarks[0] = max(watermarks[0], event.ts_ms)
        bound = release_bound(watermarks, set(), 1, LATENESS_MS)
        if bound is not None:
            alerts += [a for e in buffer.release_until(bound) for a in engine.process(e)]
    end = release_bound(watermarks, {0}, 1, LATENESS_MS)
    assert end is not None
    return alerts + [a for e in buffer.release_until(end) for a in engine.process(e)]


def check_order(case: PropertyCase, events: list[Event], jitter: list[int]) -> None:
    shuffled = buffered_run(case.detector(), arrival_order(events, jitter))
    assert shuffled == sorted_run(case.detector(), events)


def check_replay(case: PropertyCase, events: list[Event]) -> None:
    engine = Engine([case.detector()])
    ordered = sorted(events, key=lambda e: (e.ts_ms, e.event_id))
    first = [(a.alert_id, a.revision) for e in ordered for a in engine.process(e)]
    applied = engine.stats.applied
    assert [a for e in ordered for a in engine.process(e)] == []
    assert engine.stats.applied == applied
    assert len(first) == len(set(first)), "an alert id and revision emitted twice"


def always_expiring(detector: Detector) -> Detector:
    """`detector` as it was before `DictState.due_ms`: its `expire` run before every step."""

    class AlwaysExpiring(type(detector)):  # type: ignore[misc]
        def step(self, state: Any, subject: Subject, event: Event) -> Outcome:
            self.expire(state, event.ts_ms)
            return super().step(state, subject, event)  # type: ignore[no-any-return]

    return AlwaysExpiring(detector.config)  # type: ignore[attr-defined]


def check_due(make: Callable[[], Detector], events: list[Event], expiries: set[int]) -> None:
    """Expiring only once something is due gives what expiring before every step gives: the
    same alerts and, after every event (in (ts, id) order), the same stored state of every
    subject, with the engine's own expiry after the events numbered in `expiries` (as the
    stream and the backtest run it); and no state has anything more to drop before its
    `due_ms` than it has now."""
    ordered = sorted(events, key=lambda e: (e.ts_ms, e.event_id))
    due, every = Engine([make()]), Engine([always_expiring(make())])
    for n, event in enumerate(ordered):
        assert due.process(event) == every.process(event)
        if n in expiries:
            assert due.expire(event.ts_ms) == every.expire(event.ts_ms)
        assert due.subjects.keys() == every.subjects.keys()
        assert all(due.dump(key) == every.dump(key) for key in due.subjects)
        for subject in due.subjects.values():
            for state in subject.detector_states.values():
                check_nothing_due(due.detectors[0], state, event.ts_ms)


def check_nothing_due(detector: Detector, state: Any, now_ms: int) -> None:
    """Until `state.due_ms`, expiry drops nothing more than it drops now."""
    if state.due_ms <= now_ms:
        return
    now, last = detector.load(detector.dump(state)), detector.load(detector.dump(state))
    assert detector.expire(now, now_ms) == detector.expire(last, state.due_ms - 1)
    assert detector.dump(now) == detector.dump(last)


def retimed(events: list[Event], times: list[int]) -> list[Event]:
    """`events` in (ts, id) order given `times` in order."""
    ordered = sorted(events, key=lambda e: (e.ts_ms, e.event_id))
    return [replace(e, ts_ms=ts) for e, ts in zip(ordered, sorted(times), strict=True)]


def expiry_times(n: int) -> st.SearchStrategy[list[int]]:
    """`n` event times over hours to weeks, many on or next to a UTC day or hour boundary,
    where windows and day-granular memories end."""
    day0 = T0 // DAY * DAY
    return st.sampled_from([6, 72, 24 * 20]).flatmap(
        lambda hours: st.lists(
            st.builds(
                lambda h, ms: day0 + h * HOUR + ms,
                st.integers(0, hours) | st.integers(0, hours // 24).map(lambda d: d * 24),
                st.sampled_from([-1, 0, 1, 0, 0, 17 * MIN, 30 * MIN]),
            ),
            min_size=n,
            max_size=n,
        )
    )


def check_bounded(case: PropertyCase, sample_every: int = 250) -> None:
    """The flood runs with the detector's default config (the caps that ship); the largest
    serialised state of any subject, sampled through the run, stays under the bound."""
    engine = Engine([type(case.detector())()])
    largest = n = 0
    for n, event in enumerate(case.flood(), 1):
        engine.process(event)
        if n % sample_every == 0:
            engine.expire(event.ts_ms)
            largest = max(largest, *(len(engine.dump(k) or b"") for k in engine.subjects))
    assert n > 5_000, "the flood is long enough to reach the caps"
    assert 0 < largest <= case.bound_bytes, f"{case.name}: {largest} B"


# --- the cases ----------------------------------------------------------------------------

_eid = count()


def _ev(
    kind: EventType,
    actor: Account,
    ts: int,
    target: Account | None = None,
    *,
    group: str | None = None,
    device: str | None = None,
    ip: str | None = None,
    first: bool | None = None,
    media: bool | None = None,
    eid: str | None = None,
) -> Event:
    return Event(
        eid or f"p-{next(_eid):07d}",
        kind,
        ts,
        actor,
        target,
        group_id=group,
        device_hash=device,
        ip_hash=ip,
        first_contact=first,
        has_media=media,
    )


def _numbered(events: list[Event]) -> list[Event]:
    """Stable, unique ids in generation order (hypothesis replays examples)."""
    return [
        Event(
            f"e-{i:04d}",
            e.type,
            e.ts_ms,
            e.actor,
            e.target,
            group_id=e.group_id,
            device_hash=e.device_hash,
            ip_hash=e.ip_hash,
            first_contact=e.first_contact,
            has_media=e.has_media,
        )
        for i, e in enumerate(events)
    ]


# new_contact_burst: messages and contact adds from a few actors to mixed bands.
_BURST_ACTORS = (adult("u-a", anonymous=True), account("u-u", UNK), account("u-y", A18))
_BURST_KIDS = tuple(minor(f"m-{i}", b) for i, b in enumerate([U13, A13, A16] * 3))
_BURST_TARGETS = (*_BURST_KIDS, adult("a-0"), account("x-0", UNK))
_burst_streams = st.lists(
    st.tuples(
        st.integers(0, 6 * 3600),  # seconds after T0
        st.sampled_from([MSG, MSG, ADD]),
        st.sampled_from(_BURST_ACTORS),
        st.sampled_from(_BURST_TARGETS),
        st.sampled_from([None, None, True, False]),
    ),
    min_size=1,
    max_size=60,
).map(lambda rows: _numbered([_ev(k, a, T0 + s * 1000, t, first=f) for s, k, a, t, f in rows]))


def _burst_flood() -> Iterator[Event]:
    """One adult reaching 6,000 distinct minors, one a minute, for four days."""
    actor = adult(anonymous=True)
    for i in range(6_000):
        yield _ev(MSG, actor, T0 + i * MIN, minor(f"m-{i:05d}"))


# minor_mass_add: group and contact adds by a few adults.
_ADD_ACTORS = (adult("u-a", created_ts_ms=T0 - 900 * DAY), adult("u-b", anonymous=True))
_ADD_KIDS = tuple(minor(f"m-{i}", b) for i, b in enumerate([U13, A13, A16] * 4))
_add_streams = st.lists(
    st.tuples(
        st.integers(0, 3 * 3600),
        st.sampled_from(_ADD_ACTORS),
        st.sampled_from(_ADD_KIDS),
        st.sampled_from([None, "g-1", "g-2", "g-3", "block"]),  # None: a contact add
    ),
    min_size=1,
    max_size=80,
).map(
    lambda rows: _numbered(
        [
            _ev(BLOCK, k, T0 + s * 1000, a)  # the child blocks the adder
            if g == "block"
            else _ev(GADD if g else ADD, a, T0 + s * 1000, k, group=g)
            for s, a, k, g in rows
        ]
    )
)


def _add_flood() -> Iterator[Event]:
    """One adult adding 6,000 distinct minors to 200 groups and as contacts over two days."""
    actor = adult(anonymous=True)
    for i in range(6_000):
        kid, t = minor(f"m-{i:05d}"), T0 + i * 30_000
        yield _ev(GADD, actor, t, kid, group=f"g-{i % 200}")
        if i % 3 == 0:
            yield _ev(ADD, actor, t + 1, kid)


# minor_group_rooms: two adders filling three groups; members, adders and others posting.
_ROOM_ACTORS = (*_ADD_ACTORS, account("u-t", A16, created_ts_ms=T0 - DAY))
_ROOM_OTHERS = (adult("u-p"), minor("u-q"))
_room_streams = st.lists(
    st.tuples(
        st.integers(0, 4 * 3600),
        st.sampled_from(["add", "add", "adder posts", "member posts", "other posts"]),
        st.sampled_from(_ROOM_ACTORS),
        st.sampled_from((*_ADD_KIDS[:8], adult("a-1"))),
        st.sampled_from(["g-1", "g-2", "g-3"]),
        st.sampled_from([None, True]),
    ),
    min_size=1,
    max_size=80,
).map(lambda rows: _numbered([_room_event(*row) for row in rows]))


def _room_event(
    s: int, kind: str, adder: Account, kid: Account, group: str, media: bool | None
) -> Event:
    ts = T0 + s * 1000
    if kind == "add":
        return _ev(GADD, adder, ts, kid, group=group)
    poster = {"adder posts": adder, "member posts": kid, "other posts": _ROOM_OTHERS[s % 2]}[kind]
    return _ev(MSG, poster, ts, group=group, media=media)


def _room_flood() -> Iterator[Event]:
    """One adult filling one group with 6,000 distinct minors over two days, posting images
    every few adds, some of the minors (and strangers) posting back."""
    actor = adult(anonymous=True)
    for i in range(6_000):
        kid, t = minor(f"m-{i:05d}"), T0 + i * 30_000
        yield _ev(GADD, actor, t, kid, group="g-1")
        if i % 5 == 0:
            yield _ev(MSG, actor, t + 1, group="g-1", media=True)
        if i % 7 == 0:
            yield _ev(MSG, kid, t + 2, group="g-1")
            yield _ev(MSG, adult(f"u-{i}"), t + 3, group="g-1")


# sextortion_velocity: bursts of messages (some with media) from two adults to five minors.
_SEX_ACTORS = (adult("u-a", anonymous=True), account("u-u", UNK))
_SEX_KIDS = tuple(minor(f"m-{i}", b) for i, b in enumerate([U13, A13, A16, U13, A13]))


def _sex_build(
    rows: list[tuple[int, Account, Account, int, bool | None, bool | None]],
) -> list[Event]:
    ts, out = T0, []
    for gap, actor, kid, n, media, first in rows:
        ts += gap
        for j in range(n):
            ts += 2_000 if j else 0
            out.append(
                _ev(
                    MSG,
                    actor,
                    ts,
                    kid,
                    first=first if j == 0 else None,
                    media=media if j == n - 1 else None,
                )
            )
    return _numbered(out)


_sex_streams = st.lists(
    st.tuples(
        st.sampled_from([0, 3_000, 20_000, MIN, 3 * MIN, HOUR, 3 * HOUR]),  # gap before
        st.sampled_from(_SEX_ACTORS),
        st.sampled_from(_SEX_KIDS),
        st.integers(1, 4),  # messages in this burst, 2 s apart
        st.sampled_from([None, True]),  # has_media on the burst's last message
        st.sampled_from([None, None, None, True, False]),  # first_contact on its first
    ),
    min_size=1,
    max_size=60,
).map(_sex_build)


def _sex_flood() -> Iterator[Event]:
    """1,500 distinct under-13s, one a minute, each escalated at once (10 messages, 2 media)."""
    actor = adult(anonymous=True, created_ts_ms=T0)
    for i in range(1_500):
        kid, t = minor(f"m-{i:05d}", U13), T0 + i * MIN
        for j in range(10):
            yield _ev(MSG, actor, t + j * 1_000, kid, media=j < 2 or None)


# minor_blocks_reports: blocks, reports and messages by mixed-age actors.
_FLAG_ACTORS = tuple(
    account(f"m-{i}", [U13, A13, A16, AgeBand.AGE_21_PLUS, UNK][i % 5]) for i in range(8)
)
_FLAG_TARGETS = (adult("t-0"), account("t-1", A13), account("t-2", UNK))
_flag_streams = st.lists(
    st.tuples(
        st.integers(0, 4 * 3600),
        st.sampled_from([BLOCK, REPORT, MSG]),
        st.sampled_from(_FLAG_ACTORS),
        st.sampled_from(_FLAG_TARGETS),
    ),
    min_size=1,
    max_size=60,
).map(lambda rows: _numbered([_ev(k, a, T0 + s * 1000, t) for s, k, a, t in rows]))


def _flag_flood() -> Iterator[Event]:
    """6,000 distinct minors blocking (every third reporting) one adult, over four days."""
    subject = adult()
    for i in range(6_000):
        yield _ev(REPORT if i % 3 == 0 else BLOCK, minor(f"m-{i:05d}"), T0 + i * MIN, subject)


# anonymous_churn and ban_evasion: account lives on shared devices and IPs.
_LIFE_TARGETS = (*(minor(f"m-{i}") for i in range(4)), adult("a-0"), account("x-0", UNK))
_life = st.tuples(
    st.integers(0, 3 * 3600),  # start, seconds after T0
    st.booleans(),  # anonymous
    st.sampled_from([None, 0, -2 * 3600, -3 * DAY // 1000]),  # created, s relative to start
    st.sampled_from(["d-0", "d-0", "d-1", None]),
    st.sampled_from(["ip-0", None]),
    st.lists(st.tuples(st.integers(0, 1800), st.sampled_from(_LIFE_TARGETS)), max_size=4),
    st.one_of(st.none(), st.integers(0, 3 * 3600)),  # deleted this many seconds after start
)


def _lives(lives: list[tuple]) -> list[Event]:  # type: ignore[type-arg]
    out = []
    for n, (start, anon, created, dev, ip, contacts, deleted_after) in enumerate(lives):
        t = T0 + start * 1000
        acc = account(
            f"u-{n}", created_ts_ms=None if created is None else t + created * 1000, anonymous=anon
        )
        out.append(_ev(CREATED, acc, t, device=dev, ip=ip))
        out += [_ev(MSG, acc, t + s * 1000, k, device=dev, ip=ip) for s, k in contacts]
        if deleted_after is not None:
            out.append(_ev(DELETED, acc, t + deleted_after * 1000, device=dev, ip=ip))
    return _numbered(out)


_life_streams = st.lists(_life, min_size=1, max_size=12).map(_lives)


def _device_flood() -> Iterator[Event]:
    """2,000 anonymous accounts on one device and IP, one every 20 min (27 days), each reaching
    20 minors (every tenth going back to the previous account's), two in three deleted."""
    for i in range(2_000):
        t = T0 + i * 20 * MIN
        acc = account(f"u-{i:05d}", created_ts_ms=t, anonymous=True)
        yield _ev(CREATED, acc, t, device="d-1", ip="ip-1")
        pool = i - 1 if i % 10 == 0 else i
        for j in range(20):
            kid = minor(f"m-{(pool * 20 + j) % 50_000:05d}")
            yield _ev(MSG, acc, t + j, kid, device="d-1", ip="ip-1")
        if i % 3:
            yield _ev(DELETED, acc, t + 50_000, device="d-1", ip="ip-1")


# minor_exposure: accounts of every band writing to, adding, and being answered, sent media,
# blocked and reported by minors, through every channel, on a few devices and IPs.
_EXP_PEOPLE = (
    adult("u-a", anonymous=True),
    account("u-t", A16, created_ts_ms=T0 - DAY),
    account("u-y", A18),
    *(minor(f"m-{i}", b) for i, b in enumerate([U13, A13, A16, A13, U13])),
)
_exp_streams = st.lists(
    st.tuples(
        st.integers(0, 30 * 3600),  # seconds after T0: the day window is exercised
        st.sampled_from([MSG, MSG, MSG, ADD, GADD, BLOCK, REPORT]),
        st.sampled_from(_EXP_PEOPLE),
        st.sampled_from(_EXP_PEOPLE),
        st.sampled_from([None, None, True, False]),  # first_contact
        st.sampled_from([None, None, True]),  # has_media
        st.sampled_from(["ip-0", "ip-1", None]),
    ),
    min_size=1,
    max_size=60,
).map(
    lambda rows: _numbered(
        [
            _ev(k, a, T0 + s * 1000, t, group="g-1" if k is GADD else None, first=f, media=m, ip=i)
            for s, k, a, t, f, m, i in rows
            if a.id != t.id
        ]
        or [_ev(MSG, _EXP_PEOPLE[0], T0, _EXP_PEOPLE[3])]
    )
)


def _exposure_flood() -> Iterator[Event]:
    """One adult reaching 3,000 distinct minors, one every two minutes for four days, each
    answering (every fifth with media), every seventh first writing to the adult itself."""
    actor = adult(anonymous=True)
    for i in range(3_000):
        kid, t = minor(f"m-{i:05d}"), T0 + i * 2 * MIN
        if i % 7 == 0:
            yield _ev(MSG, kid, t, actor, ip="ip-k")
            continue
        yield _ev(MSG, actor, t, kid, device="d-1", ip="ip-a")
        yield _ev(MSG, kid, t + 30_000, actor, ip=f"ip-{i % 50}", media=i % 5 == 0 or None)


def _outreach_flood() -> Iterator[Event]:
    """One account opening chats with 6,000 distinct minors, one every minute for four days,
    every fourth answering, every seventh added to a group and every ninth writing first."""
    actor = adult(anonymous=True)
    for i in range(6_000):
        kid, t = minor(f"m-{i:05d}"), T0 + i * MIN
        if i % 9 == 0:
            yield _ev(MSG, kid, t, actor)
            continue
        yield _ev(GADD if i % 7 == 0 else MSG, actor, t, kid, group="g-1" if i % 7 == 0 else None)
        if i % 4 == 0:
            yield _ev(MSG, kid, t + 30_000, actor)


def _trail_flood() -> Iterator[Event]:
    """One account that 4,000 distinct minors write to, one every two minutes for five and a
    half days: every second sends it an image within minutes, every third of those blocks it."""
    actor = adult(anonymous=True)
    for i in range(4_000):
        kid, t = minor(f"m-{i:05d}"), T0 + i * 2 * MIN
        yield _ev(MSG, kid, t, actor)
        yield _ev(MSG, actor, t + 20_000, kid)
        if i % 2 == 0:
            yield _ev(MSG, kid, t + 40_000, actor, media=True)
            if i % 3 == 0:
                yield _ev(BLOCK, kid, t + 60_000, actor)


CASES = (
    PropertyCase(
        "new_contact_burst",
        lambda: NewContactBurstDetector(
            NewContactBurstConfig(
                fast_medium=2, fast_high=3, slow_medium=3, slow_high=4, pair_memory_ms=2 * HOUR
            )
        ),
        _burst_streams,
        _burst_flood,
        bound_bytes=24_000,
    ),
    PropertyCase(
        "minor_mass_add",
        lambda: MinorMassAddDetector(
            MinorMassAddConfig(window_ms=HOUR, medium=3, high=5, new_account_ms=0, max_minors=8)
        ),
        _add_streams,
        _add_flood,
        bound_bytes=40_000,
    ),
    PropertyCase(
        "minor_group_rooms",
        lambda: MinorGroupRoomsDetector(
            MinorGroupRoomsConfig(
                window_ms=3 * HOUR,
                quiet_ms=10 * MIN,
                long_quiet_ms=HOUR,
                media_high=1,
                long_medium=1,
                long_high=2,
                spoke_share=1.0,
                max_minors=6,
            )
        ),
        _room_streams,
        _room_flood,
        bound_bytes=12_000,
    ),
    PropertyCase(
        "sextortion_velocity",
        lambda: SextortionVelocityDetector(
            SextortionVelocityConfig(
                escalation_window_ms=10 * MIN,
                min_messages=3,
                min_media=1,
                window_ms=HOUR,
                pair_memory_ms=2 * HOUR,
                max_pairs=6,
                max_open=3,
                max_escalated=4,
            )
        ),
        _sex_streams,
        _sex_flood,
        bound_bytes=40_000,
    ),
    PropertyCase(
        "minor_blocks_reports",
        lambda: MinorBlocksReportsDetector(
            MinorBlocksReportsConfig(min_minors=2, medium=2.0, high=3.0, window_ms=2 * HOUR)
        ),
        _flag_streams,
        _flag_flood,
        bound_bytes=8_000,
    ),
    PropertyCase(
        "minor_exposure",
        lambda: MinorExposureDetector(
            MinorExposureConfig(short_high=2.0, day_high=3.0, slow_high=4.0, max_minors=6)
        ),
        _exp_streams,
        _exposure_flood,
        bound_bytes=24_000,
    ),
    PropertyCase(
        "cold_outreach",
        lambda: ColdOutreachDetector(
            ColdOutreachConfig(
                window_ms=12 * HOUR,
                grace_ms=10 * MIN,
                add_grace_ms=HOUR,
                medium_minors=2,
                silent_medium=1,
                high_minors=3,
                silent_high=1.5,
                max_minors=6,
                max_heard=4,
            )
        ),
        _exp_streams,
        _outreach_flood,
        bound_bytes=16_000,
    ),
    PropertyCase(
        "media_then_pushback",
        lambda: MediaThenPushbackDetector(
            MediaThenPushbackConfig(
                media_window_ms=20 * MIN,
                pushback_window_ms=3 * HOUR,
                window_ms=8 * HOUR,
                pair_memory_ms=DAY,
                medium_minors=1,
                high_minors=2,
                critical_minors=3,
                max_pairs=6,
                max_minors=4,
            )
        ),
        _exp_streams,
        _trail_flood,
        bound_bytes=8_000,
    ),
    PropertyCase(
        "anonymous_churn",
        lambda: AnonymousChurnDetector(
            AnonymousChurnConfig(
                medium=1,
                high=2,
                window_ms=3 * HOUR,
                device_window_ms=5 * HOUR,
                max_lifetime_ms=2 * HOUR,
            )
        ),
        _life_streams,
        _device_flood,
        bound_bytes=40_000,
    ),
    PropertyCase(
        "ban_evasion",
        lambda: BanEvasionDetector(
            BanEvasionConfig(medium=1, high=2, memory_ms=3 * HOUR, new_account_grace_ms=HOUR)
        ),
        _life_streams,
        _device_flood,
        bound_bytes=48_000,
    ),
)
