"""minor_group_rooms on hand-made rooms, through the engine: who was added, who spoke since."""

from __future__ import annotations

import dataclasses
import tomllib

from streams.config import DEFAULTS_PATH
from streams.detectors.minor_group_rooms import MinorGroupRoomsConfig, MinorGroupRoomsDetector
from streams.engine.core import Engine
from streams.model import Account, AgeBand, Alert, Event, EventType, Severity, Subject, SubjectKind
from tests.factories import HOUR, MIN, T0, account, adult, minor, top

DAY = 24 * HOUR
STRANGER = adult("u-stranger", created_ts_ms=T0 - 400 * DAY)


def group_add(actor: Account, target: Account, ts: int, group: str = "g-1") -> Event:
    return Event(
        event_id=f"a-{ts}-{target.id}-{group}",
        type=EventType.GROUP_MEMBER_ADDED,
        ts_ms=ts,
        actor=actor,
        target=target,
        group_id=group,
    )


def post(actor: Account, ts: int, group: str = "g-1", media: bool | None = None) -> Event:
    return Event(
        event_id=f"p-{ts}-{actor.id}-{group}",
        type=EventType.MESSAGE_SENT,
        ts_ms=ts,
        actor=actor,
        group_id=group,
        has_media=media,
    )


def kids(n: int, prefix: str = "m") -> list[Account]:
    return [minor(f"{prefix}-{i}") for i in range(n)]


def fill(actor: Account, members: list[Account], start: int, group: str = "g-1") -> list[Event]:
    return [group_add(actor, m, start + i * MIN, group) for i, m in enumerate(members)]


def run(events: list[Event], config: MinorGroupRoomsConfig | None = None) -> list[Alert]:
    engine = Engine([MinorGroupRoomsDetector(config)])
    ordered = sorted(events, key=lambda e: (e.ts_ms, e.event_id))
    return [a for e in ordered for a in engine.process(e)]


def test_media_posted_to_a_room_of_silent_minors_is_high_on_the_adder() -> None:
    members = kids(6)
    events = fill(STRANGER, members, T0)  # the last one added at T0 + 5 min
    events.append(post(STRANGER, T0 + 5 * MIN + HOUR, media=True))
    alerts = run(events)
    assert top(alerts) is Severity.HIGH
    last = alerts[-1]
    assert last.subject == Subject(SubjectKind.ACCOUNT, STRANGER.id)
    assert last.detector == "minor_group_rooms"
    assert last.features["minors_silent"] == 6.0
    assert last.features["threshold_media_high"] == 5.0
    assert set(last.counterparts) == {m.id for m in members}
    assert last.minors_exposed == 6
    assert "image or video" in last.reason


def test_the_same_post_without_media_or_too_soon_says_nothing() -> None:
    members = kids(6)
    base = fill(STRANGER, members, T0)
    assert run([*base, post(STRANGER, T0 + 5 * MIN + HOUR)]) == []
    # Half an hour after the last add: only the first minors have been there an hour.
    assert run([*base, post(STRANGER, T0 + 35 * MIN, media=True)]) == []


def test_a_room_where_the_class_talks_is_not_an_audience() -> None:
    members = kids(10)
    # Two of the ten answer in the room before the media post: 20% > the 10% spoke share.
    events = fill(STRANGER, members, T0)
    events += [post(m, T0 + 20 * MIN + i * MIN) for i, m in enumerate(members[:2])]
    events.append(post(STRANGER, T0 + 3 * HOUR, media=True))
    assert run(events) == []
    # One of ten (10%) is still an audience: HIGH on the nine silent ones.
    quiet = [*fill(STRANGER, members, T0), post(members[0], T0 + 20 * MIN)]
    alerts = run([*quiet, post(STRANGER, T0 + 3 * HOUR, media=True)])
    assert top(alerts) is Severity.HIGH
    assert alerts[-1].features["minors_silent"] == 9.0


def test_posts_without_media_never_judge_a_room() -> None:
    """A coach's daily note to a team that mostly lurks: only adds judge a dead room."""
    members = kids(12)
    events = fill(STRANGER, members, T0)
    events += [post(STRANGER, T0 + d * DAY + HOUR) for d in range(1, 4)]
    assert run(events) == []


def test_other_voices_count_as_speech_in_the_room() -> None:
    members = kids(6)
    voices = [account(f"u-v{i}", AgeBand.AGE_21_PLUS) for i in range(2)]
    events = fill(STRANGER, members, T0)
    events += [post(v, T0 + 30 * MIN + i * MIN) for i, v in enumerate(voices)]
    events.append(post(STRANGER, T0 + 3 * HOUR, media=True))
    assert run(events) == []  # 2 voices > 10% of 6


def test_a_paced_adder_filling_a_dead_room_day_after_day() -> None:
    """Four minors a day into one room, an hour apart, no one ever speaks. Day two's adds find
    day one's four silent a day one by one: the fourth add sees four (MEDIUM at 4). Day three's
    first add: five; its second: six (HIGH at 6)."""
    members = kids(12)
    events = [
        group_add(STRANGER, m, T0 + (i // 4) * DAY + (i % 4) * HOUR) for i, m in enumerate(members)
    ]
    alerts = run(events)
    assert top(alerts) is Severity.HIGH
    assert alerts[0].severity is Severity.MEDIUM
    assert alerts[0].trigger_ts_ms == T0 + DAY + 3 * HOUR
    first_high = next(a for a in alerts if a.severity is Severity.HIGH)
    assert first_high.trigger_ts_ms == T0 + 2 * DAY + HOUR
    assert first_high.features["minors_silent_a_day"] == 6.0
    assert "said nothing there for 24 h" in first_high.reason
    # The same adds where each minor says one thing in the room within the hour: nothing.
    spoken = [post(m, e.ts_ms + 10 * MIN) for m, e in zip(members, events, strict=True)]
    assert run(events + spoken) == []


def test_each_adder_is_judged_on_its_own_minors() -> None:
    """A second account adding a few to the same room is not blamed for the first's."""
    members = kids(8)
    other = adult("u-other")
    events = fill(STRANGER, members, T0)
    events += [group_add(other, minor("m-x"), T0 + 2 * HOUR)]
    events.append(post(other, T0 + 4 * HOUR, media=True))
    assert run(events) == []
    alerts = run([*events, post(STRANGER, T0 + 5 * HOUR, media=True)])
    assert {a.subject.id for a in alerts} == {STRANGER.id}


def test_near_peer_and_unknown_age_targets_are_not_counted() -> None:
    ya = account("u-ya", AgeBand.AGE_18_20)
    sixteen = [minor(f"m-{i}", AgeBand.AGE_16_17) for i in range(8)]
    unknown = [account(f"u-{i}", AgeBand.UNKNOWN) for i in range(8)]
    events = fill(ya, sixteen, T0) + fill(STRANGER, unknown, T0, "g-2")
    events += [post(ya, T0 + 3 * HOUR, media=True), post(STRANGER, T0 + 3 * HOUR, "g-2", True)]
    assert run(events) == []


def test_a_declared_teen_posting_media_counts_only_when_new_or_unverified() -> None:
    """A verified, established 16-17's flyer to its schoolmates is not the trace; the same
    post from an unverified (anonymous) or a new 16-17 account is."""
    old = T0 - 400 * DAY
    verified = account("u-teen", AgeBand.AGE_16_17, created_ts_ms=old)
    unverified = account("u-anon", AgeBand.AGE_16_17, created_ts_ms=old, anonymous=True)
    new = account("u-new", AgeBand.AGE_16_17, created_ts_ms=T0 - DAY)
    for adder, expected in ((verified, None), (unverified, Severity.HIGH), (new, Severity.HIGH)):
        events = [*fill(adder, kids(6, adder.id), T0), post(adder, T0 + 2 * HOUR, media=True)]
        assert top(run(events)) is expected, adder.id


def test_a_room_forgets_after_its_window() -> None:
    cfg = MinorGroupRoomsConfig(window_ms=2 * DAY)
    members = kids(6)
    events = fill(STRANGER, members, T0)
    assert run([*events, post(STRANGER, T0 + 3 * DAY, media=True)], cfg) == []
    detector = MinorGroupRoomsDetector(cfg)
    state = detector.new_state()
    subject = Subject(SubjectKind.GROUP, "g-1")
    for e in events:
        detector.step(state, subject, e)
    assert detector.expire(state, T0 + 3 * DAY)  # nothing left
    assert detector.load(detector.dump(state)).adds == {}


def test_only_group_posts_and_adds_reach_the_group() -> None:
    detector = MinorGroupRoomsDetector()
    kid = minor("m-1")
    assert list(detector.subject_keys(group_add(STRANGER, kid, T0))) == ["GROUP:g-1"]
    assert list(detector.subject_keys(post(kid, T0))) == ["GROUP:g-1"]
    dm = Event("d", EventType.MESSAGE_SENT, T0, STRANGER, kid)
    assert list(detector.subject_keys(dm)) == []
    contact = Event("c", EventType.CONTACT_ADDED, T0, STRANGER, kid)
    assert list(detector.subject_keys(contact)) == []


def test_state_round_trips_through_its_stored_form() -> None:
    detector = MinorGroupRoomsDetector()
    state = detector.new_state()
    subject = Subject(SubjectKind.GROUP, "g-1")
    members = kids(3)
    for e in [*fill(STRANGER, members, T0), post(members[0], T0 + HOUR), post(adult("u-p"), T0)]:
        detector.step(state, subject, e)
    again = detector.load(detector.dump(state))
    assert again.adds == state.adds and again.spoke == state.spoke
    assert again.voices == state.voices


def test_defaults_file_matches_the_config_class() -> None:
    with DEFAULTS_PATH.open("rb") as fh:
        section = dict(tomllib.load(fh)["detectors"]["minor_group_rooms"])
    section.pop("mode")
    assert section == dataclasses.asdict(MinorGroupRoomsConfig())
