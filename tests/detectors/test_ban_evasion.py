"""ban_evasion on hand-made sequences, through the engine, plus stream properties."""

from __future__ import annotations

from itertools import count

import pytest

from streams.detectors.ban_evasion import BanEvasionConfig, BanEvasionDetector
from streams.engine.core import Engine
from streams.model import Account, AgeBand, Alert, Event, EventType, Severity, Subject, SubjectKind
from tests.factories import HOUR, MIN, T0, account, adult, minor, top

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
    old_band: AgeBand = AgeBand.AGE_21_PLUS,
) -> list[Event]:
    """An account (an adult unless `old_band` says otherwise) reaches 10 minors, is deleted, and
    a new account goes back to `shared` of them."""
    old = account("u-old", old_band, created_ts_ms=T0 - 200 * DAY, anonymous=True)
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
    # Minors and the deleted account share the list; each says which it is.
    roles = {f"m-{i}": "minor_contacted" for i in range(shared)} | {"u-old": "deleted_account"}
    assert last.counterpart_roles == roles
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


def ids(alerts: list[Alert]) -> list[tuple[str, int, str, str]]:
    return [(a.alert_id, a.revision, a.severity.value, a.subject.id) for a in alerts]


def test_state_round_trips_through_its_serialised_form() -> None:
    events = sorted(evasion(6), key=lambda e: (e.ts_ms, e.event_id))
    straight = run(events)
    engine = Engine([BanEvasionDetector()])
    alerts = [a for e in events[:14] for a in engine.process(e)]
    saved = {k: engine.dump(k) for k in engine.subjects}
    restored = Engine([BanEvasionDetector()], loader=saved.get)
    alerts += [a for e in events[14:] for a in restored.process(e)]
    assert straight and ids(alerts) == ids(straight)


@pytest.mark.parametrize(
    ("old_band", "new_band", "expected"),
    [
        # A child re-registering on the family device, declaring its own band again: MEDIUM
        # here; minor_exposure judges whether its chats with those friends are peer-like.
        (AgeBand.AGE_13_15, AgeBand.AGE_13_15, Severity.MEDIUM),
        (AgeBand.AGE_16_17, AgeBand.AGE_13_15, Severity.MEDIUM),
        # A claim that changed from adult to teen is not held.
        (AgeBand.AGE_21_PLUS, AgeBand.AGE_16_17, Severity.HIGH),
        # Nor an adult coming back as an adult, nor a teen coming back as unknown-age.
        (AgeBand.AGE_21_PLUS, AgeBand.AGE_21_PLUS, Severity.HIGH),
        (AgeBand.AGE_13_15, AgeBand.UNKNOWN, Severity.HIGH),
    ],
)
def test_a_minor_re_registering_as_a_minor_is_held_at_medium(
    old_band: AgeBand, new_band: AgeBand, expected: Severity
) -> None:
    alerts = run(evasion(4, old_band=old_band, new_band=new_band))
    assert top(alerts) is expected
    held = expected is Severity.MEDIUM
    assert alerts[-1].features["both_accounts_declare_minor"] == (1.0 if held else 0.0)
    assert ("at most MEDIUM here for a declared minor" in alerts[-1].reason) is held


def test_the_deleted_accounts_claim_survives_a_restart() -> None:
    events = sorted(
        evasion(4, old_band=AgeBand.AGE_13_15, new_band=AgeBand.AGE_13_15),
        key=lambda e: (e.ts_ms, e.event_id),
    )
    straight = run(events)
    engine = Engine([BanEvasionDetector()])
    cut = next(i for i, e in enumerate(events) if e.type is DELETED) + 1
    alerts = [a for e in events[:cut] for a in engine.process(e)]
    saved = {k: engine.dump(k) for k in engine.subjects}
    restored = Engine([BanEvasionDetector()], loader=saved.get)
    alerts += [a for e in events[cut:] for a in restored.process(e)]
    assert straight and ids(alerts) == ids(straight)
    assert top(alerts) is Severity.MEDIUM
