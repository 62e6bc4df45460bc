"""media_then_pushback on hand-made sequences, through the engine: each expected severity is
counted by hand from how the sequence was built (who wrote first, when each image and each
block or report came)."""

from __future__ import annotations

from itertools import count

from streams.detectors.media_then_pushback import (
    MediaThenPushbackConfig,
    MediaThenPushbackDetector,
)
from streams.engine.core import Engine
from streams.model import Account, AgeBand, Alert, Event, EventType, Severity
from tests.factories import HOUR, MIN, T0, account, adult, minor, top

MSG, BLOCK, REPORT = EventType.MESSAGE_SENT, EventType.BLOCKED, EventType.REPORTED
DAY = 24 * HOUR
_ids = count()


def ev(
    kind: EventType,
    actor: Account,
    target: Account,
    ts: int,
    *,
    media: bool | None = None,
    first: bool | None = None,
    group: str | None = None,
) -> Event:
    return Event(
        f"t-{next(_ids):04d}", kind, ts, actor, target, group, first_contact=first, has_media=media
    )


def run(events: list[Event], config: MediaThenPushbackConfig | None = None) -> list[Alert]:
    engine = Engine([MediaThenPushbackDetector(config)])
    return engine.process_all(sorted(events, key=lambda e: (e.ts_ms, e.event_id)))


KIDS = [minor(f"m-{i}") for i in range(6)]


def extorted(
    who: Account,
    kid: Account,
    start: int,
    *,
    kid_first: bool = True,
    image_after: int = 20 * MIN,
    push_after: int = 2 * HOUR,
    push: EventType = BLOCK,
) -> list[Event]:
    """A new chat (the minor or `who` writing first), the minor's image `image_after` the
    first message, its block or report `push_after` the image."""
    opener, other = (kid, who) if kid_first else (who, kid)
    return [
        ev(MSG, opener, other, start),
        ev(MSG, other, opener, start + 2 * MIN),
        ev(MSG, kid, who, start + image_after, media=True),
        ev(push, kid, who, start + image_after + push_after),
    ]


def test_two_minors_who_wrote_first_sent_images_then_blocked_is_high() -> None:
    who = account("u-lure", AgeBand.AGE_16_17)
    events = extorted(who, KIDS[0], T0) + extorted(who, KIDS[1], T0 + 5 * HOUR, push=REPORT)
    alerts = run(events)
    assert [a.severity for a in alerts] == [Severity.MEDIUM, Severity.HIGH]
    high = alerts[-1]
    assert high.features["minors_media_then_pushback"] == 2
    assert set(high.counterparts) == {KIDS[0].id, KIDS[1].id}
    assert high.minors_exposed == 2
    assert "sent images by 2 minors" in high.reason
    assert "by a minor" in alerts[0].reason
    # Evidence: each minor's image and its block or report.
    media_and_push = {e.event_id for e in events if e.has_media or e.type is not MSG}
    assert set(high.evidence_event_ids) == media_and_push


def test_who_wrote_first_does_not_matter() -> None:
    who = adult()
    events = extorted(who, KIDS[0], T0, kid_first=False) + extorted(who, KIDS[1], T0 + HOUR)
    assert top(run(events)) is Severity.HIGH


def test_four_minors_is_critical() -> None:
    who = adult()
    events = [e for i in range(4) for e in extorted(who, KIDS[i], T0 + i * HOUR)]
    assert top(run(events)) is Severity.CRITICAL


def test_an_image_later_than_the_hour_after_the_first_message_does_not_count() -> None:
    who = adult()
    events = extorted(who, KIDS[0], T0, image_after=61 * MIN) + extorted(
        who, KIDS[1], T0 + HOUR, image_after=61 * MIN
    )
    assert run(events) == []


def test_a_block_more_than_three_days_after_the_image_does_not_count() -> None:
    who = adult()
    late = 3 * DAY + MIN
    events = extorted(who, KIDS[0], T0, push_after=late) + extorted(
        who, KIDS[1], T0 + HOUR, push_after=late
    )
    assert run(events) == []


def test_an_image_without_a_block_or_a_block_without_an_image_is_nothing() -> None:
    who = adult()
    events = [
        ev(MSG, KIDS[0], who, T0),
        ev(MSG, KIDS[0], who, T0 + 10 * MIN, media=True),  # an image, never pushed away
        ev(MSG, KIDS[1], who, T0 + HOUR),
        ev(BLOCK, KIDS[1], who, T0 + 2 * HOUR),  # pushed away, no image
    ]
    assert run(events) == []


def test_an_old_chat_is_not_new_with_the_flag() -> None:
    # `first_contact` False on the first message seen: an older chat; its images are not early.
    who = adult()
    events = []
    for i, start in enumerate((T0, T0 + HOUR)):
        kid = KIDS[i]
        events += [
            ev(MSG, kid, who, start, first=False),
            ev(MSG, kid, who, start + 10 * MIN, media=True, first=False),
            ev(BLOCK, kid, who, start + HOUR),
        ]
    assert run(events) == []


def test_without_the_flag_a_chat_in_memory_is_not_new() -> None:
    # The pair spoke on day 0; on day 2 (inside the 3-day memory) images then blocks: not new.
    who = adult()
    events = []
    for i in range(2):
        kid = KIDS[i]
        events += [ev(MSG, kid, who, T0 + i * MIN), ev(MSG, who, kid, T0 + i * MIN + MIN)]
        events += extorted(who, kid, T0 + 2 * DAY + i * HOUR)
    assert run(events) == []


def test_without_the_flag_a_chat_forgotten_by_the_memory_is_new_again() -> None:
    # Same, but the first chat was 5 days earlier: past the 3-day memory, so new again.
    who = adult()
    events = []
    for i in range(2):
        kid = KIDS[i]
        events += [ev(MSG, kid, who, T0 + i * MIN), ev(MSG, who, kid, T0 + i * MIN + MIN)]
        events += extorted(who, kid, T0 + 5 * DAY + i * HOUR)
    assert top(run(events)) is Severity.HIGH


def test_two_minors_more_than_a_week_apart_are_two_mediums() -> None:
    who = adult()
    events = extorted(who, KIDS[0], T0) + extorted(who, KIDS[1], T0 + 8 * DAY)
    assert top(run(events)) is Severity.MEDIUM


def test_group_messages_and_adults_do_not_count() -> None:
    who = adult()
    grown = adult("u-grown")
    events = [
        ev(MSG, KIDS[0], who, T0, group="g-1"),
        ev(MSG, KIDS[0], who, T0 + 10 * MIN, media=True, group="g-1"),
        ev(BLOCK, KIDS[0], who, T0 + HOUR),
        *extorted(who, grown, T0 + 2 * HOUR),  # an adult's image and block: not a child's
        *extorted(who, KIDS[1], T0 + 3 * HOUR),
    ]
    assert top(run(events)) is Severity.MEDIUM  # only KIDS[1]


def test_both_sides_minors_each_is_judged_as_the_others_counterpart() -> None:
    # A 13-15 account that two other minors sent images to and then blocked is HIGH itself.
    who = minor("m-who")
    alerts = run(extorted(who, KIDS[0], T0) + extorted(who, KIDS[1], T0 + HOUR))
    assert {a.subject.id for a in alerts if a.severity is Severity.HIGH} == {who.id}
