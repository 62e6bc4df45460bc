"""ban_evasion on hand-made sequences, through the engine, plus stream properties."""

from __future__ import annotations

import json
from itertools import count

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.detectors.ban_evasion import BanEvasionConfig, BanEvasionDetector
from streams.engine.core import Engine, EngineConfig
from streams.engine.reorder import ReorderBuffer
from streams.model import Account, AgeBand, Alert, Event, EventType, Severity, Subject, SubjectKind
from tests.factories import HOUR, MIN, T0, account, adult, minor

CREATED, DELETED = EventType.ACCOUNT_CREATED, EventType.ACCOUNT_DELETED
MSG, ADD = EventType.MESSAGE_SENT, EventType.CONTACT_ADDED
DAY = 24 * HOUR
KIDS = [minor(f"m-{i}") for i in range(12)]
_ids = count()


def ev(
    kind: EventType, actor: Account, ts: int, target: Account | None = None, device: str = "d-1"
) -> Event:
    return Event(f"v-{next(_ids):05d}", kind, ts, actor, target, device_hash=device or None)


def run(events: list[Event], config: BanEvasionConfig | None = None) -> list[Alert]:
    engine = Engine([BanEvasionDetector(config)])
    return [
        a for e in sorted(events, key=lambda e: (e.ts_ms, e.event_id)) for a in engine.process(e)
    ]


def top(alerts: list[Alert]) -> Severity | None:
    return max((a.severity for a in alerts), key=lambda s: s.rank, default=None)


def evasion(
    shared: int = 4,
    *,
    new_band: AgeBand = AgeBand.AGE_21_PLUS,
    created_after_ms: int | None = HOUR,  # new account's creation relative to the deletion
    emit_created: bool = True,
    delete: bool = True,
    comeback_ms: int = 2 * HOUR,  # first contact of the new account after the deletion
    new_device: str = "d-1",
    targets: list[Account] = KIDS,
) -> list[Event]:
    """An adult reaches 10 minors, is deleted, and a new account goes back to `shared` of them."""
    old = adult("u-old", created_ts_ms=T0 - 200 * DAY, anonymous=True)
    out = [ev(MSG, old, T0 + i * 5 * MIN, targets[i]) for i in range(10)]
    deleted_ms = T0 + 2 * HOUR
    if delete:
        out.append(ev(DELETED, old, deleted_ms))
    created = None if created_after_ms is None else deleted_ms + created_after_ms
    new = account("u-new", new_band, created_ts_ms=created, anonymous=True)
    if emit_created and created is not None:
        out.append(ev(CREATED, new, created, device=new_device))
    start = deleted_ms + comeback_ms
    again = [*targets[:shared], targets[11]]  # and one child the old account never reached
    out += [
        ev(MSG, new, start + i * 7 * MIN, kid, device=new_device) for i, kid in enumerate(again)
    ]
    return out


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        (evasion(4), Severity.HIGH),
        (evasion(4, new_band=AgeBand.AGE_16_17), Severity.HIGH),  # back, posing as a teen
        (evasion(4, new_band=AgeBand.UNKNOWN), Severity.HIGH),
        (evasion(4, created_after_ms=None), Severity.HIGH),  # no created_ts: first seen after
        (evasion(4, created_after_ms=-12 * HOUR, comeback_ms=HOUR), Severity.HIGH),  # made before
        (evasion(4, emit_created=False), Severity.HIGH),
        (evasion(2), Severity.MEDIUM),
        (evasion(10), Severity.CRITICAL),  # 10 >= 3 x 3
    ],
)
def test_new_account_back_to_the_same_minors_alerts(
    events: list[Event], expected: Severity
) -> None:
    alerts = run(events)
    assert top(alerts) is expected
    last = alerts[-1]
    assert (last.subject.kind, last.subject.id) == (SubjectKind.ACCOUNT, "u-new")
    shared = int(last.features["shared_minors"])
    assert last.counterparts == (*(f"m-{i}" for i in range(shared)), "u-old")
    assert last.minors_exposed == last.features["minors_contacted_by_new_account"]
    assert f"contacted {shared} of the same minors as account u-old, deleted" in last.reason
    assert "high at 3" in last.reason
    assert len({a.alert_id for a in alerts}) == 1


def _siblings() -> list[Event]:
    """Family tablet: one kid's account is deleted, the long-lived sibling talks to the friends."""
    old = T0 - 700 * DAY
    kid, sibling = account("u-kid", created_ts_ms=old), account("u-sib", created_ts_ms=old)
    out = [ev(MSG, kid, T0 + i * MIN, KIDS[i]) for i in range(6)]
    out.append(ev(DELETED, kid, T0 + HOUR))
    return out + [ev(MSG, sibling, T0 + 2 * HOUR + i * MIN, KIDS[i]) for i in range(6)]


def _family_no_deletion() -> list[Event]:
    old = T0 - 700 * DAY
    kids = [account(f"u-k{j}", AgeBand.UNDER_13, created_ts_ms=old) for j in range(3)]
    return [
        ev(MSG, k, T0 + (j * 10 + i) * MIN, KIDS[i]) for j, k in enumerate(kids) for i in range(6)
    ]


@pytest.mark.parametrize(
    ("name", "events"),
    [
        ("sibling_not_new", _siblings()),
        ("family_no_deletion", _family_no_deletion()),
        ("old_account_not_deleted", evasion(6, delete=False)),
        ("other_device", evasion(6, new_device="d-2")),
        ("no_device_hash", evasion(6, new_device="")),
        ("created_long_before_deletion", evasion(6, created_after_ms=-3 * DAY)),
        ("comes_back_after_memory", evasion(6, comeback_ms=15 * DAY)),
        (
            "unknown_age_targets",
            evasion(6, targets=[account(f"x-{i}", AgeBand.UNKNOWN) for i in range(12)]),
        ),
        ("adult_targets", evasion(6, targets=[adult(f"a-{i}") for i in range(12)])),
        ("one_shared_minor", evasion(1)),
    ],
)
def test_look_alikes_do_not_alert(name: str, events: list[Event]) -> None:
    assert run(events) == [], name


def test_state_is_the_device_but_the_case_is_the_account() -> None:
    engine = Engine([BanEvasionDetector()])
    alerts = [
        a
        for e in sorted(evasion(4), key=lambda e: (e.ts_ms, e.event_id))
        for a in engine.process(e)
    ]
    assert alerts and set(engine.subjects) == {"DEVICE:d-1"}
    assert set(engine.subjects["DEVICE:d-1"].cases) == {"ban_evasion|ACCOUNT:u-new"}


def test_repeat_message_to_a_known_minor_is_unchanged() -> None:
    detector = BanEvasionDetector()
    state = detector.new_state()
    first = detector.step(state, Subject(SubjectKind.DEVICE, "d-1"), ev(MSG, adult(), T0, KIDS[0]))
    again = detector.step(
        state, Subject(SubjectKind.DEVICE, "d-1"), ev(MSG, adult(), T0 + MIN, KIDS[0])
    )
    assert (first.changed, again.changed) == (True, False)


# --- stream properties ----------------------------------------------------------------------

LOW = BanEvasionConfig(medium=1, high=2, memory_ms=3 * HOUR, new_account_grace_ms=HOUR)
TARGETS = [*KIDS[:4], adult("a-0"), account("x-0", AgeBand.UNKNOWN)]

_life = st.tuples(
    st.integers(0, 3 * 3600),  # start, seconds after T0
    st.sampled_from([None, 0, -2 * 3600, -3 * DAY // 1000]),  # created, s relative to start
    st.sampled_from(["d-0", "d-0", "d-0", "d-1", ""]),
    st.lists(st.tuples(st.integers(0, 1800), st.sampled_from(TARGETS)), max_size=4),
    st.one_of(st.none(), st.integers(0, 3600)),  # deleted this many seconds after start
)


def _lives(lives: list[tuple]) -> list[Event]:
    rows = []
    for n, (start, created, dev, contacts, deleted_after) in enumerate(lives):
        t = T0 + start * 1000
        acc = account(f"u-{n}", created_ts_ms=None if created is None else t + created * 1000)
        rows.append((t, CREATED, acc, None, dev))
        rows += [(t + s * 1000, MSG, acc, target, dev) for s, target in contacts]
        if deleted_after is not None:
            rows.append((t + deleted_after * 1000, DELETED, acc, None, dev))
    return [
        Event(f"e-{i:03d}", kind, ts, actor, target, device_hash=dev or None)
        for i, (ts, kind, actor, target, dev) in enumerate(rows)
    ]


streams_ = st.lists(_life, min_size=1, max_size=12).map(_lives)


def ids(alerts: list[Alert]) -> list[tuple[str, int, str, str]]:
    return [(a.alert_id, a.revision, a.severity.value, a.subject.id) for a in alerts]


@settings(max_examples=60, deadline=None)
@given(events=streams_, data=st.data())
def test_shuffle_within_lateness_gives_the_same_alerts(
    events: list[Event], data: st.DataObject
) -> None:
    lateness = EngineConfig().allowed_lateness_ms
    jitter = data.draw(
        st.lists(st.integers(0, lateness - 1), min_size=len(events), max_size=len(events))
    )
    arrival = [
        e for _, e in sorted(zip(jitter, events, strict=True), key=lambda p: p[1].ts_ms + p[0])
    ]
    buffer: ReorderBuffer[Event] = ReorderBuffer(lateness)
    engine = Engine([BanEvasionDetector(LOW)])
    got: list[Alert] = []
    for e in arrival:
        buffer.push(e.ts_ms, e.event_id, e)
        got += [a for r in buffer.release() for a in engine.process(r)]
    got += [a for r in buffer.drain() for a in engine.process(r)]
    assert ids(got) == ids(run(events, LOW))


@settings(max_examples=40, deadline=None)
@given(events=streams_)
def test_replaying_everything_adds_no_alert(events: list[Event]) -> None:
    engine = Engine([BanEvasionDetector(LOW)])
    ordered = sorted(events, key=lambda e: (e.ts_ms, e.event_id))
    for e in ordered:
        engine.process(e)
    assert [a for e in ordered for a in engine.process(e)] == []


@settings(max_examples=2, deadline=None)
@given(
    spacing_s=st.integers(60, 3600), minors_each=st.integers(1, 40), delete_every=st.integers(1, 3)
)
def test_state_stays_bounded(spacing_s: int, minors_each: int, delete_every: int) -> None:
    """5,000 accounts over days on one device, each reaching up to 40 minors; every tenth goes
    back to the minors of the one before (deleted when delete_every is 1)."""
    detector = BanEvasionDetector()
    state = detector.new_state()
    found = 0
    for i in range(5_000):
        t = T0 + i * spacing_s * 1000
        acc = account(f"u-{i:05d}", created_ts_ms=t)
        detector.step(state, Subject(SubjectKind.DEVICE, "d-1"), ev(CREATED, acc, t))
        pool = i - 1 if i % 10 == 0 else i
        for j in range(minors_each):
            kid = minor(f"m-{(pool * minors_each + j) % 50_000:05d}")
            found += (
                detector.step(
                    state, Subject(SubjectKind.DEVICE, "d-1"), ev(MSG, acc, t + j, kid)
                ).finding
                is not None
            )
        if i % delete_every == 0:
            detector.step(state, Subject(SubjectKind.DEVICE, "d-1"), ev(DELETED, acc, t + 50_000))
    assert len(json.dumps(detector.dump(state))) < 48_000
    assert found or delete_every > 1 or minors_each < 2


def test_state_round_trips_through_its_serialised_form() -> None:
    events = sorted(evasion(6), key=lambda e: (e.ts_ms, e.event_id))
    straight = run(events)
    engine = Engine([BanEvasionDetector()])
    alerts = [a for e in events[:14] for a in engine.process(e)]
    saved = {k: engine.dump(k) for k in engine.subjects}
    restored = Engine([BanEvasionDetector()], loader=saved.get)
    alerts += [a for e in events[14:] for a in restored.process(e)]
    assert straight and ids(alerts) == ids(straight)
