"""minor_exposure on hand-made sequences, through the engine where it matters.

Expected severities are worked out from the default weights and thresholds (each case says
how), so a change of weights that moves a case shows up here with its arithmetic.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from itertools import count

import msgspec
import pytest

from streams.config import DEFAULTS_PATH
from streams.detectors.minor_exposure import MinorExposureConfig, MinorExposureDetector
from streams.engine.core import Engine
from streams.model import Account, AgeBand, Alert, Event, EventType, Severity, Subject, SubjectKind
from tests.factories import HOUR, MIN, T0, account, adult, minor, top

DAY = 24 * HOUR
OLD = T0 - 900 * DAY
U13, A13, A16 = AgeBand.UNDER_13, AgeBand.AGE_13_15, AgeBand.AGE_16_17
MSG, ADD, GADD = EventType.MESSAGE_SENT, EventType.CONTACT_ADDED, EventType.GROUP_MEMBER_ADDED
BLOCK, REPORT = EventType.BLOCKED, EventType.REPORTED
CFG = MinorExposureConfig()
_ids = count()


def ev(
    kind: EventType,
    actor: Account,
    target: Account,
    ts: int,
    *,
    first: bool | None = None,
    media: bool | None = None,
    ip: str | None = None,
    group: str | None = None,
) -> Event:
    return Event(
        f"x-{next(_ids):06d}",
        kind,
        ts,
        actor,
        target,
        group_id=group if group else ("g-1" if kind is GADD else None),
        ip_hash=ip,
        first_contact=first,
        has_media=media,
    )


def run(events: list[Event], config: MinorExposureConfig | None = None) -> list[Alert]:
    engine = Engine([MinorExposureDetector(config)])
    return [
        a for e in sorted(events, key=lambda e: (e.ts_ms, e.event_id)) for a in engine.process(e)
    ]


def kids(n: int, band: AgeBand = A13, prefix: str = "m") -> list[Account]:
    return [minor(f"{prefix}-{i:03d}", band) for i in range(n)]


def features_after(events: list[Event], subject: str) -> dict[str, float]:
    """The features of the subject's last finding (findings are unthrottled here, unlike
    alerts)."""
    low = MinorExposureConfig(short_high=0.1, day_high=0.1, slow_high=0.1, min_minors=1)
    d = MinorExposureDetector(low)
    state, me = d.new_state(), Subject(SubjectKind.ACCOUNT, subject)
    finding = None
    for e in sorted(events, key=lambda e: (e.ts_ms, e.event_id)):
        finding = d.step(state, me, e).finding or finding
    assert finding is not None
    return finding.features


def score_after(events: list[Event], subject: str) -> float:
    return float(features_after(events, subject)["risk_weighted_score"])


def first_high(alerts: list[Alert]) -> Alert | None:
    return next((a for a in alerts if a.severity.rank >= Severity.HIGH.rank), None)


# --- bursts: any declared age, judged by behaviour -----------------------------------------


def test_an_anonymous_new_adult_three_minors_ignore_is_high() -> None:
    # Each waiting minor weighs 1, times 1.3 (anonymous) x 1.3 (new): 3 -> 5.07 >= 5. Three
    # minors are held at MEDIUM when they could be a parent's own children: not once two of
    # them have ignored an anonymous account past the grace (30 min), seen at its next event.
    x = adult("u-x", anonymous=True, created_ts_ms=T0 - HOUR)
    dms = [ev(MSG, x, k, T0 + i * 2 * MIN) for i, k in enumerate(kids(3))]
    waiting = run(dms)
    assert [a.severity for a in waiting] == [Severity.MEDIUM]  # nobody had time to answer
    high = first_high(run([*dms, ev(MSG, x, kids(3)[0], T0 + 40 * MIN)]))
    assert high is not None and high.minors_exposed == 3
    assert high.features["minors_unanswered"] == 3
    assert high.features["risk_factor"] == round(CFG.anonymous_factor * CFG.new_account_factor, 3)
    assert high.features["window_hours"] == 1.0


def test_three_children_who_answer_or_a_verified_account_are_held_at_medium() -> None:
    # Three under-13s, each 1 x 1.5: a verified new adult scores 5.85 >= 5, held at MEDIUM;
    # the anonymous one (5.85 x 1.3) is HIGH once none has answered for the grace, and held at
    # MEDIUM when one of them answered.
    kids3 = kids(3, U13)
    verified = adult("u-v", created_ts_ms=T0 - HOUR)
    assert top(run([ev(MSG, verified, k, T0 + i * MIN) for i, k in enumerate(kids3)])) is (
        Severity.MEDIUM
    )
    anon = adult("u-a", anonymous=True, created_ts_ms=T0 - HOUR)
    dms = [ev(MSG, anon, k, T0 + i * MIN) for i, k in enumerate(kids3)]
    later = ev(MSG, anon, kids3[1], T0 + HOUR)
    assert top(run([*dms, later])) is Severity.HIGH
    answered = [*dms, ev(MSG, kids3[0], anon, T0 + 5 * MIN), later]
    assert top(run(answered)) is Severity.MEDIUM


def test_a_declared_16_17_reaching_younger_children_is_judged_like_an_adult() -> None:
    # Under-13s are two bands younger: not peers; each weighs 1 x 1.5 (under 13): HIGH at 4.
    x = account("u-x", A16, created_ts_ms=OLD)
    alerts = run([ev(MSG, x, k, T0 + i * MIN) for i, k in enumerate(kids(8, U13))])
    high = first_high(alerts)
    assert high is not None and high.minors_exposed == 4  # 4 x 1.5 = 6 >= 5
    assert high.features["minors_under_13"] == 4 and high.features["actor_declared_minor"] == 1


def test_an_add_left_unreturned_waits_longer_than_a_message() -> None:
    # An anonymous new adult adds three children. A contact add is not a message: its silence
    # means something only after `add_reply_grace_ms` (2 h), a message's after 30 min. At its
    # next event 40 min on: 3 waiting x 1.0 x 1.69 = 5.07 >= 5, held at MEDIUM (three minors,
    # none ignored yet); 3 h on, 3 x 1.25 x 1.69 = 6.34 >= 6 in the day window, two of them
    # ignored past the grace: HIGH. The same three as messages are HIGH already at 40 min.
    x = adult("u-x", anonymous=True, created_ts_ms=T0 - HOUR)
    three = kids(3)
    adds = [ev(ADD, x, k, T0 + i * MIN) for i, k in enumerate(three)]
    assert top(run([*adds, ev(MSG, x, three[0], T0 + 40 * MIN)])) is Severity.MEDIUM
    assert top(run([*adds, ev(MSG, x, three[0], T0 + 3 * HOUR)])) is Severity.HIGH
    dms = [ev(MSG, x, k, T0 + i * MIN) for i, k in enumerate(three)]
    assert top(run([*dms, ev(MSG, x, three[0], T0 + 40 * MIN)])) is Severity.HIGH


def test_a_teen_adding_younger_children_who_do_not_add_back_is_not_ignored_by_them() -> None:
    # A new anonymous 16-17 adds a 16-17, an under-13, a 13-15 and an under-13 (siblings,
    # cousins), 25 min apart, and three hours on another 16-17; nobody has added it back.
    # Between teens by claim an add left unreturned says little, and so between a teen and a
    # younger child: a friend request to an under-13 is one band apart until the account
    # writes to it (1.8), 0.4 x 1.5 (under 13) while waiting (x 1.69, anonymous and new), the
    # peers 0.1 and the near peer 0.4 (x 1.3): 2.03 + 0.78 = 2.81 < 3.6 (the day's MEDIUM),
    # no alert. Two unanswered *messages* to the under-13s instead: judged like an adult's,
    # 2 x 1.25 x 1.5 x 1.69 + 0.78 = 7.1 >= 6, HIGH: silence after a message counts whatever
    # the bands.
    teen = account("u-t", A16, anonymous=True, created_ts_ms=T0 - HOUR)
    peer, young1, near, young2 = (
        minor("p-1", A16),
        minor("y-1", U13),
        minor("n-1", A13),
        minor("y-2", U13),
    )
    later = ev(ADD, teen, minor("p-2", A16), T0 + 3 * HOUR)
    order = [peer, young1, near, young2]
    added = [ev(ADD, teen, k, T0 + i * 25 * MIN) for i, k in enumerate(order)]
    assert top(run([*added, later])) is None
    new, anonymous = CFG.new_account_factor, CFG.anonymous_factor
    waiting = 2 * CFG.near_pending_factor * CFG.under13_factor * new * anonymous
    peers = (2 * CFG.peer_pending_factor + CFG.near_pending_factor) * new
    assert score_after([*added, later], "u-t") == pytest.approx(waiting + peers, abs=1e-3)
    written = [
        ev(MSG if k.age_band is U13 else ADD, teen, k, T0 + i * 25 * MIN)
        for i, k in enumerate(order)
    ]
    assert top(run([*written, later])) is Severity.HIGH


def test_a_new_teen_adding_classmates_who_answer_from_the_school_line_stays_below_high() -> None:
    # 25 contact adds of 13-15s by a new 13-15 in 25 min: peers by claim, 0.1 each while
    # pending; they answer from one school IP (networked: 0.3 x 0.5). Never HIGH.
    teen = account("u-new", A13, created_ts_ms=T0 - HOUR, anonymous=True)
    mates = kids(25)
    events = [ev(ADD, teen, m, T0 + i * MIN) for i, m in enumerate(mates)]
    events += [
        ev(MSG, m, teen, T0 + 40 * MIN + i * MIN, ip="ip-school") for i, m in enumerate(mates)
    ]
    events += [ev(MSG, teen, m, T0 + 2 * HOUR + i * MIN) for i, m in enumerate(mates)]
    alerts = run(events)
    assert top(alerts) in (None, Severity.MEDIUM)


def test_the_same_claim_with_no_answers_and_pushback_is_high() -> None:
    # The same 13-15 claim, DMs to 13-15s 10 min apart. Within the hour, waiting messages of a
    # claim nothing backs weigh a stranger's (1.0): HIGH at the fifth (40 min). At 4 h all ten
    # are unanswered: nobody answers, nobody shares a network, nobody started a chat, so the
    # claim alone earns no peer weights and each silent minor is cold outreach (1.0); the
    # first block after its contact (3) gives 3 + 9 = 12.
    x = account("u-x", A13, created_ts_ms=OLD)
    victims = kids(10)
    events = [ev(MSG, x, v, T0 + i * 10 * MIN) for i, v in enumerate(victims)]
    events += [ev(BLOCK, v, x, T0 + 4 * HOUR + i * MIN) for i, v in enumerate(victims[:2])]
    alerts = run(events)
    first = first_high(alerts)
    assert first is not None and first.trigger_ts_ms == T0 + 40 * MIN
    assert first.minors_exposed == 5
    blocked = [a for a in alerts if a.trigger_ts_ms >= T0 + 4 * HOUR]
    assert top(blocked) is Severity.HIGH
    assert blocked[0].features["minors_blocked_or_reported"] == 1
    expected = CFG.pushback_weight + 9 * CFG.cold_unanswered_factor
    assert blocked[0].features["risk_weighted_score"] == pytest.approx(expected)


def test_a_claim_backed_by_answers_keeps_the_peer_weights() -> None:
    # The same ten DMs by a 13-15 to 13-15s, but nine answer within the hour: answered by
    # most of them (9 of the 11 it wrote to, the waiting eleventh counted against, >= 75%),
    # the account behaves like a peer: 9 x 0.3 + 1 x 0.5 + 0.1 = 3.3 < 6, no HIGH.
    # With only two answers the claim is not backed, and no minor wrote to it first: 2 x 1.0
    # (a stranger's answers) + 8 x 1.0 = 10.1 >= 6, HIGH. Both
    # are judged at an eleventh DM 5 h later (0.1 while it waits), once every grace ran out.
    x = account("u-x", A13, created_ts_ms=OLD)
    victims = kids(11)
    sent = [ev(MSG, x, v, T0 + i * 10 * MIN) for i, v in enumerate(victims[:10])]
    tick = [ev(MSG, x, victims[10], T0 + 5 * HOUR)]

    def answered_by(n: int) -> list[Event]:
        return [ev(MSG, v, x, T0 + i * 10 * MIN + 20 * MIN) for i, v in enumerate(victims[:n])]

    backed = run(sent + answered_by(9) + tick)
    assert top(backed) in (None, Severity.MEDIUM)
    cold = run(sent + answered_by(2) + tick)
    assert top(cold) is Severity.HIGH
    want = (
        2 * CFG.unbacked_replied_factor + 8 * CFG.cold_unanswered_factor + CFG.peer_pending_factor
    )
    assert cold[-1].features["risk_weighted_score"] == pytest.approx(want)


def test_answers_to_a_claim_no_minor_backs_weigh_like_any_strangers() -> None:
    # An established 16-17 writes first to three 16-17s and three 13-15s, 10 min apart; four
    # answer (4/6 < 75%: not peer-like), two never do. No minor wrote to it first or came
    # back: each answer weighs 1.0, each silence 1.0 (cold outreach): 6.0 >= 6, HIGH in the
    # day window once the silence has lasted (the peers' grace is 2 h; its next message at
    # 4 h). With one older friend writing to it in a chat it did not start, the claim is
    # backed: answers weigh 0.6 and the score 4.4 x 6/7 (that friend's relief) = 3.77 < 6.
    # The same six reached by contact adds, answered: friend requests accepted, 0.6 each, and
    # an add left unreturned between teens is not silence.
    teen = account("u-t", A16, created_ts_ms=OLD)
    six = kids(3, A16, "p") + kids(3, A13, "n")
    answer = [six[0], six[1], six[3], six[4]]

    def reach(kind: EventType) -> list[Event]:
        out = [ev(kind, teen, m, T0 + i * 10 * MIN) for i, m in enumerate(six)]
        out += [ev(MSG, m, teen, T0 + six.index(m) * 10 * MIN + 5 * MIN) for m in answer]
        return [*out, ev(MSG, teen, six[0], T0 + 4 * HOUR)]

    high = first_high(run(reach(MSG)))
    assert high is not None and high.features["risk_weighted_score"] == pytest.approx(6.0)
    friend = ev(MSG, minor("f-1", A16), teen, T0 - HOUR, first=False)
    assert top(run([friend, *reach(MSG)])) is Severity.MEDIUM
    assert top(run(reach(ADD))) in (None, Severity.MEDIUM)


def test_answers_back_nothing_once_it_chases_minors_who_never_come_to_it() -> None:
    # An established 16-17 writes first to six 16-17s, 10 min apart, and all answer within
    # minutes: answered by all, it behaves like a peer (6 x 0.3 = 1.8). The next day (T0 is
    # 11 h into its UTC day; +14 h is the next one, inside the day window) it opens the
    # conversation again with two of them, who answer: it chased two minors and none ever came
    # to it, so the answers back nothing and weigh a stranger's: 6 x 1.0 = 6.0 >= 6, HIGH.
    # Friends take turns: when those two open the next day's chat themselves, they came back
    # on their own (0.3 each) and the claim stays backed: 4 x 0.3 + 2 x 0.3 = 1.8, no alert.
    # Chats opened on later days with minors first reached by a contact add are not chases.
    assert T0 // DAY != (T0 + 14 * HOUR) // DAY
    teen = account("u-t", A16, created_ts_ms=OLD)
    six = kids(6, A16, "p")
    met = [ev(MSG, teen, m, T0 + i * 10 * MIN) for i, m in enumerate(six)]
    met += [ev(MSG, m, teen, T0 + i * 10 * MIN + 3 * MIN) for i, m in enumerate(six)]

    def next_day(opener: Account, other: Account, at: int) -> list[Event]:
        return [ev(MSG, opener, other, at), ev(MSG, other, opener, at + 2 * MIN)]

    chased = met + next_day(teen, six[0], T0 + 14 * HOUR) + next_day(teen, six[1], T0 + 15 * HOUR)
    high = first_high(run(chased))
    assert high is not None and high.features["risk_weighted_score"] == pytest.approx(
        6 * CFG.unbacked_replied_factor
    )
    assert top(run(met)) is None
    friends = met + next_day(six[0], teen, T0 + 14 * HOUR) + next_day(six[1], teen, T0 + 15 * HOUR)
    assert top(run(friends)) is None
    off = dataclasses.replace(CFG, pursued_min=0)
    assert top(run(chased, off)) is None
    # Friend requests accepted, then chats it opens on later days: a new teen and its friends.
    added = [ev(ADD, teen, m, T0 + i * 10 * MIN) for i, m in enumerate(six)] + met[6:]
    later = next_day(teen, six[0], T0 + 14 * HOUR) + next_day(teen, six[1], T0 + 15 * HOUR)
    assert top(run(added + later)) in (None, Severity.MEDIUM)
    assert features_after(chased, "u-t")["minors_it_chased_on_later_days"] == 2
    assert features_after(added + later, "u-t")["minors_it_chased_on_later_days"] == 0


def test_one_minor_who_sent_images_then_blocked_is_a_finding_its_signs_decide_high() -> None:
    # The sextortion sequence from the victim's side: a first DM, media back within the hour,
    # then a block. One such minor is a finding although fewer than `min_minors` were
    # reached (pushback 3 + media 1.4 = 4.4): MEDIUM from an established, identified adult
    # (< 5 in the hour), HIGH from an anonymous new one (x 1.3 x 1.3 = 7.436). Two such minors
    # are HIGH at any account (8.8).
    victims = kids(2)

    def sequence(x: Account, n: int) -> list[Event]:
        events: list[Event] = []
        for i, v in enumerate(victims[:n]):
            t = T0 + i * 30 * MIN
            events += [ev(MSG, x, v, t), ev(MSG, v, x, t + 10 * MIN, media=True)]
            events += [ev(BLOCK, v, x, t + 40 * MIN)]
        return events

    one = CFG.pushback_weight + CFG.media_weight
    established = run(sequence(adult("u-x", created_ts_ms=OLD), 1))
    assert [a.severity for a in established] == [Severity.MEDIUM]
    assert established[0].features["risk_weighted_score"] == pytest.approx(one)
    throwaway = adult("u-t", anonymous=True, created_ts_ms=T0 - HOUR)
    high = run(sequence(throwaway, 1))
    assert top(high) is Severity.HIGH and high[-1].minors_exposed == 1
    signs = CFG.anonymous_factor * CFG.new_account_factor
    assert high[-1].features["risk_weighted_score"] == pytest.approx(round(one * signs, 3))
    assert top(run(sequence(adult("u-y", created_ts_ms=OLD), 2))) is Severity.HIGH


def test_an_established_anonymous_teen_claim_nothing_backs_carries_its_anonymity() -> None:
    # An established 13-15 writes first to five 13-15s, 10 min apart; two answer, three never
    # do (its next message at 4 h settles them). No minor backs the claim: every contact
    # weighs 1.0, 5.0 in the day (high 6): MEDIUM when verified. Anonymous, the peer part
    # carries the 1.3 too (6.5: HIGH); with a friend who wrote to it first the claim is
    # backed and anonymity stays off its peers again.
    five = kids(6)

    def reach(x: Account) -> list[Event]:
        out = [ev(MSG, x, m, T0 + i * 10 * MIN) for i, m in enumerate(five[:5])]
        out += [ev(MSG, m, x, T0 + i * 10 * MIN + 5 * MIN) for i, m in enumerate(five[:2])]
        return [*out, ev(MSG, x, five[0], T0 + 4 * HOUR)]

    verified = run(reach(account("u-v", A13, created_ts_ms=OLD)))
    assert top(verified) is Severity.MEDIUM
    assert verified[-1].features["risk_weighted_score"] == pytest.approx(5.0)
    anon = account("u-a", A13, created_ts_ms=OLD, anonymous=True)
    high = first_high(run(reach(anon)))
    assert high is not None and high.features["actor_anonymous_claim_unbacked"] == 1
    assert high.features["risk_weighted_score"] == pytest.approx(
        5.0 * CFG.anonymous_unbacked_factor
    )
    friend = ev(MSG, minor("f-1", A13), anon, T0 - HOUR, first=False)
    backed = run([friend, *reach(anon)])
    assert top(backed) in (None, Severity.MEDIUM)
    assert all("actor_anonymous_claim_unbacked" not in a.features for a in backed)


def test_nine_children_over_three_days_are_high_in_the_mid_window() -> None:
    # An established, verified adult writes first to three children a day for three days, and
    # each answers: 1.0 apiece, 3 in any day (high 6), 9 in three days: HIGH at the mid
    # window's 9 (`mid_high`); the slow window alone (high 10) would hold it at MEDIUM.
    x = adult("u-x", created_ts_ms=OLD)
    events: list[Event] = []
    for i, k in enumerate(kids(9)):
        t = T0 + (i // 3) * DAY + (i % 3) * 3 * HOUR
        events += [ev(MSG, x, k, t), ev(MSG, k, x, t + 5 * MIN)]
    high = first_high(run(events))
    assert high is not None and high.minors_exposed == 9
    assert high.features["window_hours"] == 72 and high.features["threshold_high"] == CFG.mid_high
    assert high.features["risk_weighted_score"] == pytest.approx(9 * CFG.replied_factor)
    no_mid = dataclasses.replace(CFG, mid_window_ms=0)
    assert top(run(events, no_mid)) is Severity.MEDIUM


def test_a_teen_claim_over_two_weeks_needs_many_private_contacts_or_two_alarming_answers() -> None:
    # An established 16-17 writes first to one 16-17 a day, each answers within minutes, and
    # it reopens the chat with two of them on a later day (chased, none came to it): its
    # answers back nothing and weigh a stranger's, 1.0 each: past the slow window's high (10)
    # from the eleventh minor on, at most 3 in any three days. A teen meeting 11 new people in
    # two weeks is held at MEDIUM (HIGH with the rule off), even with four more minors it
    # added to a room (a room is not a private contact); 12 private contacts
    # (`claim_slow_min_minors`) are HIGH, and so are 11 when two of them
    # (`claim_slow_alarms`) later block it or are under 13 and written to (one alone can be a
    # falling-out or a younger sibling; two added to a room are a club's or a sibling's team),
    # or when the same traffic comes from an adult.
    def weeks(n: int, actor: Account, last: tuple[Account, ...] = ()) -> list[Event]:
        ks = [*kids(n - len(last), A16, "p"), *last]
        out: list[Event] = []
        for i, k in enumerate(ks):
            out += [ev(MSG, actor, k, T0 + i * DAY), ev(MSG, k, actor, T0 + i * DAY + 3 * MIN)]
        for i in (0, 1):  # reopened on the next UTC day (T0 is 11 h into its day)
            out += [ev(MSG, actor, ks[i], T0 + i * DAY + 14 * HOUR)]
            out += [ev(MSG, ks[i], actor, T0 + i * DAY + 14 * HOUR + 2 * MIN)]
        return out

    def blocks(n: int) -> list[Event]:
        return [
            ev(BLOCK, k, teen, T0 + 12 * DAY + i * MIN) for i, k in enumerate(kids(n, A16, "p"))
        ]

    teen = account("u-t", A16, created_ts_ms=OLD)
    limit = CFG.claim_slow_min_minors
    assert limit * CFG.unbacked_replied_factor >= CFG.slow_high  # else the rule never bites
    assert CFG.claim_slow_alarms == 2
    assert top(run(weeks(limit - 1, teen))) is Severity.MEDIUM
    rooms = [ev(GADD, teen, k, T0 + 11 * DAY + i * MIN) for i, k in enumerate(kids(4, A13, "g"))]
    assert top(run([*weeks(limit - 1, teen), *rooms])) is Severity.MEDIUM
    high = first_high(run(weeks(limit, teen)))
    assert high is not None and high.features["window_hours"] == 14 * 24
    assert top(run([*weeks(limit - 1, teen), *blocks(1)])) is Severity.MEDIUM
    assert top(run([*weeks(limit - 1, teen), *blocks(2)])) is Severity.HIGH
    younger = (minor("c-1", U13), minor("c-2", U13))
    assert top(run(weeks(limit - 1, teen, younger[:1]))) is Severity.MEDIUM
    assert top(run(weeks(limit - 1, teen, younger))) is Severity.HIGH
    young_room = [ev(GADD, teen, k, T0 + 11 * DAY + i * MIN) for i, k in enumerate(younger)]
    assert top(run([*weeks(limit - 1, teen), *young_room])) is Severity.MEDIUM
    assert top(run(weeks(limit - 1, adult("u-x", created_ts_ms=OLD)))) is Severity.HIGH
    off = dataclasses.replace(CFG, claim_slow_min_minors=0)
    assert top(run(weeks(limit - 1, teen), off)) is Severity.HIGH


def test_a_burst_of_cold_first_messages_under_a_teen_claim_is_high_before_any_grace() -> None:
    # An established, verified 16-17 writes first to five 13-15s and 16-17s, 5 min apart, and
    # then goes quiet. Nothing has come back and no minor backs the claim, so within the hour
    # each waiting message weighs a stranger's (1.0), not a peer's 0.1/0.4: 5 >= 4.5 at the
    # fifth. With a friend who wrote to it first (a backed claim) the same messages weigh as a
    # peer's; five contact adds (a new classmate's friend requests) are not this rule's.
    teen = account("u-t", A16, created_ts_ms=OLD)
    five = kids(3, A13, "n") + kids(2, A16, "p")

    def reach(kind: EventType) -> list[Event]:
        return [ev(kind, teen, m, T0 + i * 5 * MIN) for i, m in enumerate(five)]

    high = first_high(run(reach(MSG)))
    assert high is not None and high.minors_exposed == 5
    assert high.features["window_hours"] == 1.0
    want = 5 * CFG.claim_burst_pending_factor
    assert high.features["risk_weighted_score"] == pytest.approx(want)
    friend = ev(MSG, minor("f-1", A16), teen, T0 - HOUR, first=False)
    assert top(run([friend, *reach(MSG)])) in (None, Severity.MEDIUM)
    assert top(run(reach(ADD))) in (None, Severity.MEDIUM)
    quiet = dataclasses.replace(CFG, claim_burst_pending_factor=0.0)
    assert top(run(reach(MSG), quiet)) in (None, Severity.MEDIUM)


def test_silence_is_assessed_on_the_accounts_next_event_once_it_has_lasted() -> None:
    # A declared 16-17 DMs six 13-15s (one band apart) 5 min apart. While they wait each
    # weighs 0.4: 2.4, below MEDIUM in every window. Nobody answers; two hours later the
    # silence has lasted (peer grace), the claim is not backed, each is cold outreach (1.0):
    # 6.0 >= 6 in the day window. Nothing re-scores an account without an event, so it shows
    # at its next one: here one more message to the first of them, 3 h later. (Without the
    # burst rule, which would weigh the waiting messages a stranger's within the hour.)
    quiet = dataclasses.replace(CFG, claim_burst_pending_factor=0.0)
    x = account("u-x", A16, created_ts_ms=OLD)
    victims = kids(6)
    sent = [ev(MSG, x, v, T0 + i * 5 * MIN) for i, v in enumerate(victims)]
    assert run(sent, quiet) == []
    assert first_high(run(sent)) is not None  # with it
    alerts = run([*sent, ev(MSG, x, victims[0], T0 + 3 * HOUR)], quiet)
    assert [a.severity for a in alerts] == [Severity.HIGH]
    assert alerts[0].features["minors_unanswered"] == 6
    assert alerts[0].features["risk_weighted_score"] == pytest.approx(
        6 * CFG.cold_unanswered_factor
    )
    assert alerts[0].trigger_ts_ms == T0 + 3 * HOUR


def test_a_minor_band_declared_after_an_adult_one_is_a_lowered_claim() -> None:
    # Signed up as 21+ a day ago, now declaring 13-15 and writing to 13-15s. By the claim
    # alone they are peers, and cold first messages under a claim nothing backs weigh 1.0 x
    # 1.3 (new) within the hour: HIGH at the fourth (5.2 >= 4.5). The adult sign-up makes the
    # claim the adult's: each waiting minor weighs 1 x 1.3 (new) x 1.3 (claim lowered): 3 ->
    # 5.07 (held at MEDIUM below four minors), 4 -> 6.76: HIGH at the fourth, named so.
    born = T0 - DAY
    signup = Event("x-signup", EventType.ACCOUNT_CREATED, born, adult("u-x", created_ts_ms=born))
    x = account("u-x", A13, created_ts_ms=born)
    dms = [ev(MSG, x, k, T0 + i * 2 * MIN) for i, k in enumerate(kids(5))]
    claim_only = first_high(run(dms))
    assert claim_only is not None and claim_only.minors_exposed == 4
    assert "actor_declared_adult_before" not in claim_only.features
    alerts = run([signup, *dms])
    high = first_high(alerts)
    assert high is not None and high.minors_exposed == 4
    assert high.features["actor_declared_adult_before"] == 1
    want = 4 * CFG.new_account_factor * CFG.lowered_claim_factor
    assert high.features["risk_weighted_score"] == pytest.approx(round(want, 3))
    # An adult sign-up of an account that stays adult is only remembered, never an alert.
    grown = adult("u-y", created_ts_ms=born)
    assert run([Event("y-signup", EventType.ACCOUNT_CREATED, born, grown)]) == []


def test_images_both_ways_with_a_new_contact_weigh_at_any_declared_age() -> None:
    # A declared 16-17 sends each of four 13-15s an image in its first message, an hour
    # apart; each sends one back 10 min later. One band apart, answered: media back alone
    # would weigh 1.25 each (at most 5.0 < 6 in the day window: MEDIUM). Images both ways
    # within the hour of meeting ("send me yours") weigh 2.0 each: at the fourth first DM,
    # 3 x 2.0 + 0.4 (waiting) = 6.4 >= 6, HIGH (three minors alone are held at MEDIUM).
    x = account("u-x", A16, created_ts_ms=OLD)
    victims = kids(4)
    back = [ev(MSG, v, x, T0 + i * HOUR + 10 * MIN, media=True) for i, v in enumerate(victims)]

    def sent(media: bool) -> list[Event]:
        return [ev(MSG, x, v, T0 + i * HOUR, media=media) for i, v in enumerate(victims)]

    assert top(run(sent(False) + back)) is Severity.MEDIUM
    high = first_high(run(sent(True) + back))
    assert high is not None and high.minors_exposed == 4
    want = 3 * CFG.exchange_weight + CFG.near_pending_factor
    assert high.features["risk_weighted_score"] == pytest.approx(want)


def test_images_then_blocks_days_later_are_the_sextortion_sequence_too() -> None:
    # An 18-20 and two 16-17s (near peers): each answers the first DM, sends images the next
    # day (media later: 1.4 x 0.67), then blocks it. Two such minors are a finding although
    # fewer than `min_minors` were reached: each weighs pushback + later media = 3.94; 7.88
    # in the slow window (high 10) is MEDIUM, the first block alone (3.94 + 0.938) nothing.
    x = account("u-x", AgeBand.AGE_18_20, created_ts_ms=OLD)
    victims = kids(2, A16)
    events: list[Event] = []
    for i, v in enumerate(victims):
        t = T0 + i * HOUR
        events += [ev(MSG, x, v, t), ev(MSG, v, x, t + 5 * MIN)]
        events += [ev(MSG, v, x, t + DAY, media=True), ev(BLOCK, v, x, t + 2 * DAY)]
    alerts = run(events)
    assert [a.severity for a in alerts] == [Severity.MEDIUM]
    late = CFG.media_weight * CFG.late_media_factor
    assert alerts[0].features["risk_weighted_score"] == pytest.approx(
        round(2 * (CFG.pushback_weight + late), 3)
    )


# --- channels ---------------------------------------------------------------------------------


def test_no_single_channel_crosses_but_together_they_do() -> None:
    # A verified, established adult: 4 first DMs alone weigh 4 (< 5, MEDIUM); 4 DMs, 4 contact
    # adds and 4 group adds of different minors in an hour (the room adds count as contacts
    # next to private first contacts): (4 + 4 + 4) x 2.5 (all three channels) = 30 >= 2.5 x 5:
    # CRITICAL. Two channels (DMs and adds only): 8 x 1.5 = 12.
    x = adult("u-x", created_ts_ms=OLD)
    dms, adds, rooms = kids(4, prefix="d"), kids(4, prefix="a"), kids(4, prefix="g")
    alone = run([ev(MSG, x, k, T0 + i * MIN) for i, k in enumerate(dms)])
    assert top(alone) is Severity.MEDIUM
    mixed = [ev(MSG, x, k, T0 + i * MIN) for i, k in enumerate(dms)]
    mixed += [ev(ADD, x, k, T0 + 10 * MIN + i * MIN) for i, k in enumerate(adds)]
    mixed += [ev(GADD, x, k, T0 + 20 * MIN + i * MIN) for i, k in enumerate(rooms)]
    alerts = run(mixed)
    assert top(alerts) is Severity.CRITICAL
    f = alerts[-1].features
    assert f["risk_weighted_score"] == pytest.approx(30.0)
    two = run(mixed[:8])
    assert two[-1].features["risk_weighted_score"] == pytest.approx(12.0)
    assert two[-1].features["channels_used"] == 2
    assert (f["via_direct_message"], f["via_contact_add"], f["via_group_add"]) == (4, 4, 4)
    assert f["channels_used"] == 3


def test_group_adds_alone_are_capped_a_teacher_adding_a_class_is_not_high() -> None:
    teacher = adult("u-t", created_ts_ms=OLD)
    alerts = run([ev(GADD, teacher, k, T0 + i * 20_000) for i, k in enumerate(kids(60, U13))])
    assert top(alerts) in (None, Severity.MEDIUM)
    assert all(a.features["risk_weighted_score"] <= CFG.group_only_cap for a in alerts)


def test_room_adds_count_as_contacts_in_an_hour_that_also_has_first_messages() -> None:
    # A verified adult: first DMs to two 13-15s, then three more added to a new group, all
    # within 30 min. Rooms alone weigh 0.15 each (2 + 0.45: nothing); alongside two private
    # first contacts of children in the same hour they count as contacts: 2 + 3 = 5 >= 5,
    # HIGH at the fifth minor. The same five spread over three hours stay below (day window:
    # 2.45 < 3.6), and the five added to rooms alone are a teacher's class.
    x = adult("u-x", created_ts_ms=OLD)
    five = kids(5)

    def reach(gap: int) -> list[Event]:
        dms = [ev(MSG, x, k, T0 + i * gap) for i, k in enumerate(five[:2])]
        return dms + [ev(GADD, x, k, T0 + (2 + i) * gap) for i, k in enumerate(five[2:])]

    high = first_high(run(reach(6 * MIN)))
    assert high is not None and high.minors_exposed == 5
    assert high.features["via_group_add"] == 3 and high.features["window_hours"] == 1
    assert high.features["risk_weighted_score"] == pytest.approx(5.0)
    assert run(reach(40 * MIN)) == []
    assert top(run([ev(GADD, x, k, T0 + i * MIN) for i, k in enumerate(five)])) is None


# --- who started, and what the minors did back ----------------------------------------------


def test_a_reply_in_a_chat_the_minor_started_is_not_a_first_contact() -> None:
    x = adult("u-x", anonymous=True, created_ts_ms=T0 - HOUR)
    fans = kids(8)
    events = [ev(MSG, f, x, T0 + i * MIN) for i, f in enumerate(fans)]  # they write first
    events += [ev(MSG, x, f, T0 + 20 * MIN + i * MIN) for i, f in enumerate(fans)]  # replies
    assert run(events) == []


def test_the_platforms_first_contact_false_is_not_a_start() -> None:
    x = adult("u-x", anonymous=True)
    events = [ev(MSG, x, k, T0 + i * MIN, first=False) for i, k in enumerate(kids(10))]
    assert run(events) == []


def test_friends_who_write_to_it_back_a_teen_claim_whatever_the_flag_says() -> None:
    # A declared 16-17 DMs eight 13-15s (one band apart); five answer, three never do. 5 of 8
    # answered (< 75%) and no minor wrote to it first: the claim is not backed, 5 x 1.0 (a
    # stranger's answers) + 3 x 1.0 = 8.0, HIGH in the day window (seen at its next message,
    # once the silence lasted). Two older friendships
    # (minors writing first, the platform saying they talked before) back it: each answer
    # weighs a peer's 0.3 and each silence 0.75: 3.75, times 8 / (8 + 2) for the minors who
    # started chats with it: 3.0 < 3.6, no alert. (Without the burst rule, which would weigh
    # the eight waiting messages a stranger's within the hour: the day's answers are the point.)
    quiet = dataclasses.replace(CFG, claim_burst_pending_factor=0.0)
    x = account("u-x", A16, created_ts_ms=OLD)
    victims = kids(8)
    events = [ev(MSG, x, v, T0 + i * 5 * MIN) for i, v in enumerate(victims)]
    events += [ev(MSG, v, x, T0 + 30 * MIN + i * MIN) for i, v in enumerate(victims[:5])]
    events += [ev(MSG, x, victims[0], T0 + 4 * HOUR)]
    high = first_high(run(events, quiet))
    want = 5 * CFG.unbacked_replied_factor + 3 * CFG.cold_unanswered_factor
    assert high is not None and high.features["risk_weighted_score"] == pytest.approx(want)
    friends = [ev(MSG, f, x, T0 - HOUR, first=False) for f in kids(2, A16, prefix="f")]
    assert run(friends + events) == []


def test_blocks_from_minors_it_never_wrote_to_do_not_count_blocks_after_its_contact_do() -> None:
    creator = account("u-c", A16, created_ts_ms=OLD)
    fans = kids(6)
    fan_side = [ev(MSG, f, creator, T0 + i * MIN) for i, f in enumerate(fans)]
    fan_side += [ev(BLOCK, f, creator, T0 + HOUR + i * MIN) for i, f in enumerate(fans)]
    assert run(fan_side) == []
    # The same reports after the account wrote to them first (13-15s, one band younger than
    # its claim, none answered: cold outreach): the first makes 3 + 5 x 1.0 = 8 >= 6, HIGH;
    # all six make 6 x 3 = 18 >= 2.5 x 6: CRITICAL.
    started = [ev(MSG, creator, f, T0 + i * MIN) for i, f in enumerate(fans)]
    started += [ev(REPORT, f, creator, T0 + 3 * HOUR + i * MIN) for i, f in enumerate(fans)]
    quiet = dataclasses.replace(CFG, claim_burst_pending_factor=0.0)  # no burst rule: reports
    alerts = run(started, quiet)
    assert alerts[0].severity is Severity.HIGH
    want = CFG.pushback_weight + 5 * CFG.cold_unanswered_factor
    assert alerts[0].features["risk_weighted_score"] == pytest.approx(want)
    assert top(alerts) is Severity.CRITICAL
    assert alerts[-1].features["minors_blocked_or_reported"] >= 2


def test_media_soon_after_its_first_message_then_blocks_is_the_sextortion_trace() -> None:
    # An established 18-20 account and three 13-15s (not near peers): each sends media 10 min
    # after the first message. To an account with no risk sign that sent none itself, a
    # child's photo is an answer (1.0 each: 3.0, MEDIUM; a tutor's pupils send photos of their
    # homework); the same to an anonymous account weighs 1.4 x 1.3 each (5.46).
    x = account("u-x", AgeBand.AGE_18_20, created_ts_ms=OLD)
    victims = kids(3)
    events = [ev(MSG, x, v, T0 + i * MIN) for i, v in enumerate(victims)]
    events += [ev(MSG, v, x, T0 + 10 * MIN + i * MIN, media=True) for i, v in enumerate(victims)]
    assert top(run(events)) is Severity.MEDIUM
    assert score_after(events, "u-x") == pytest.approx(3 * CFG.established_media_weight)
    anon = account("u-x", AgeBand.AGE_18_20, created_ts_ms=OLD, anonymous=True)
    swapped = [msgspec.structs.replace(e, actor=anon) if e.actor is x else e for e in events]
    swapped = [msgspec.structs.replace(e, target=anon) if e.target is x else e for e in swapped]
    want = round(3 * CFG.media_weight * CFG.anonymous_factor, 3)
    assert score_after(swapped, "u-x") == pytest.approx(want)
    # Two of them then block it: at the first block the blocker weighs pushback + its media
    # (3 + 1.4: the sextortion sequence, at any account) and the others 1.0 each: 6.4 >= 5,
    # HIGH with three minors reached (pushback lifts the four-minor floor of HIGH).
    events += [ev(BLOCK, v, x, T0 + 40 * MIN + i * MIN) for i, v in enumerate(victims[:2])]
    alerts = run(events)
    assert top(alerts) is Severity.HIGH
    high = first_high(alerts)
    want = CFG.pushback_weight + CFG.media_weight + 2 * CFG.established_media_weight
    assert high is not None and high.features["risk_weighted_score"] == pytest.approx(want)
    assert high.features["minors_sent_media_soon"] == 3
    assert high.features["minors_blocked_or_reported"] == 1
    assert high.minors_exposed == 3


def test_images_an_adult_sends_to_children_it_has_just_met_weigh_like_theirs() -> None:
    # A verified adult whose first message to each of four 13-15s carries an image: 4 x 1.4
    # = 5.6 >= 4.5, HIGH at the fourth. The same from a declared 13-15 to 13-15s (peers) is
    # not this signal: cold first messages of a claim nothing backs, 4 x 1.0 < 4.5.
    x = adult("u-x", created_ts_ms=OLD)
    alerts = run([ev(MSG, x, k, T0 + i * MIN, media=True) for i, k in enumerate(kids(4))])
    assert top(alerts) is Severity.HIGH
    assert alerts[-1].features["minors_it_sent_media_soon"] == 4
    teen = account("u-t", A13, created_ts_ms=OLD)
    peers = run([ev(MSG, teen, k, T0 + i * MIN, media=True) for i, k in enumerate(kids(4))])
    assert top(peers) in (None, Severity.MEDIUM)


def test_media_after_the_hour_counts_two_thirds_and_a_minor_coming_back_little() -> None:
    low = MinorExposureConfig(short_high=1.0, day_high=1.0, slow_high=1.0)  # always a finding
    d = MinorExposureDetector(low)
    state, me = d.new_state(), Subject(SubjectKind.ACCOUNT, "u-x")
    x = account("u-x", AgeBand.AGE_18_20, created_ts_ms=OLD)
    victims = kids(3)
    for i, v in enumerate(victims):
        d.step(state, me, ev(MSG, x, v, T0 + i * MIN))
    findings = [
        d.step(state, me, ev(MSG, v, x, T0 + 5 * HOUR + i * MIN, media=True)).finding
        for i, v in enumerate(victims)
    ]
    last = findings[-1]
    assert last is not None and last.features["minors_sent_media_later"] == 3
    # An established account: media later weighs 1.0 x 0.67, and never less than the answer
    # it also is (1.0).
    late = max(CFG.established_media_weight * CFG.late_media_factor, CFG.replied_factor)
    assert last.features["risk_weighted_score"] == pytest.approx(round(3 * late, 3))
    # The next day each of them writes first: a relationship they keep choosing.
    for i, v in enumerate(victims):
        d.step(state, me, ev(MSG, v, x, T0 + DAY + i * MIN))
    again = d.step(state, me, ev(MSG, x, minor("m-new"), T0 + DAY + HOUR)).finding
    assert again is not None and again.features["minors_who_came_back_on_their_own"] == 3
    assert again.features["risk_weighted_score"] == pytest.approx(3 * CFG.returning_weight + 1)


# --- engine properties -----------------------------------------------------------------------


def test_routing_outbound_to_the_actor_inbound_from_minors_to_the_target() -> None:
    d = MinorExposureDetector()
    x, k, grown = adult("u-x"), minor("m-1"), adult("u-z")
    assert list(d.subject_keys(ev(MSG, x, k, T0))) == ["ACCOUNT:u-x"]
    assert list(d.subject_keys(ev(MSG, k, x, T0))) == ["ACCOUNT:u-x"]
    assert list(d.subject_keys(ev(BLOCK, k, x, T0))) == ["ACCOUNT:u-x"]
    assert list(d.subject_keys(ev(MSG, x, grown, T0))) == []  # adults: nothing
    assert list(d.subject_keys(ev(BLOCK, grown, x, T0))) == []
    assert list(d.subject_keys(ev(GADD, x, grown, T0))) == ["ACCOUNT:u-x"]  # mixed rooms
    teen = minor("m-2", A16)
    assert list(d.subject_keys(ev(MSG, teen, k, T0))) == ["ACCOUNT:m-2", "ACCOUNT:m-1"]


def test_state_round_trips_through_its_serialised_form() -> None:
    x = adult("u-x", anonymous=True)
    victims = kids(10)
    events = [ev(MSG, x, v, T0 + i * 3 * MIN, ip="ip-x") for i, v in enumerate(victims)]
    events += [
        ev(MSG, v, x, T0 + 40 * MIN + i * MIN, media=i % 2 == 0) for i, v in enumerate(victims)
    ]
    events = sorted(events, key=lambda e: (e.ts_ms, e.event_id))
    straight = run(events)
    engine = Engine([MinorExposureDetector()])
    alerts = [a for e in events[:9] for a in engine.process(e)]
    saved = {k: engine.dump(k) for k in engine.subjects}
    restored = Engine([MinorExposureDetector()], loader=saved.get)
    alerts += [a for e in events[9:] for a in restored.process(e)]
    assert straight and [(a.alert_id, a.revision, a.severity) for a in alerts] == [
        (a.alert_id, a.revision, a.severity) for a in straight
    ]


def test_an_ongoing_chat_costs_no_write_within_a_day_after_its_first_hour() -> None:
    """The first hour's messages are counted both ways (the flood rule); after it, a chat
    changes nothing until the next day."""
    d = MinorExposureDetector()
    state = d.new_state()
    x, k = adult("u-x"), minor("m-1")
    me = Subject(SubjectKind.ACCOUNT, "u-x")
    assert d.step(state, me, ev(MSG, x, k, T0)).changed
    assert d.step(state, me, ev(MSG, x, k, T0 + MIN)).changed  # counted: the first hour
    assert d.step(state, me, ev(MSG, k, x, T0 + 2 * MIN)).changed  # the first reply
    later = T0 + CFG.media_window_ms + MIN
    assert later // DAY == T0 // DAY, "the test needs the hour after to be the same day"
    assert not d.step(state, me, ev(MSG, x, k, later)).changed
    assert not d.step(state, me, ev(MSG, k, x, later + MIN)).changed


def test_expiry_forgets_everything_after_the_slow_window() -> None:
    d = MinorExposureDetector()
    state = d.new_state()
    x = adult("u-x")
    for i, k in enumerate(kids(5)):
        d.step(state, Subject(SubjectKind.ACCOUNT, "u-x"), ev(MSG, x, k, T0 + i * MIN, ip="ip"))
    assert not d.expire(state, T0 + DAY)
    assert d.expire(state, T0 + CFG.slow_window_ms + 2 * DAY)


def test_the_reason_names_channels_responses_and_the_threshold() -> None:
    x = adult("u-x", anonymous=True, created_ts_ms=T0 - HOUR)
    alerts = run([ev(MSG, x, k, T0 + i * MIN) for i, k in enumerate(kids(3))])
    assert alerts[-1].reason.startswith("Adult (21+), anonymous, new account started contact")
    assert "with 3 minors within 1 h (3 by direct message)" in alerts[-1].reason
    assert f"high at {CFG.short_high:g}" in alerts[-1].reason


def test_defaults_file_matches_the_config_class() -> None:
    with DEFAULTS_PATH.open("rb") as fh:
        section = dict(tomllib.load(fh)["detectors"]["minor_exposure"])
    section.pop("mode")
    assert section == dataclasses.asdict(MinorExposureConfig())


# --- the flood: many messages and images to a child just met, barely answered --------------


def _flood(
    x: Account, k: Account, t: int, back: int, sent: int = 10, images: int = 2
) -> list[Event]:
    """`x` sends `k` `sent` messages 3 min apart, the first `images` with an image; `k` sends
    `back` messages in between."""
    out = [ev(MSG, x, k, t + i * 3 * MIN, media=True if i < images else None) for i in range(sent)]
    return out + [ev(MSG, k, x, t + MIN + i * 3 * MIN) for i in range(back)]


def test_a_teen_claim_flooding_children_it_just_met_is_high() -> None:
    """Four floods answered once each: no answer a peer gives (each weighs `flood_weight`,
    4 x 3.0 = 12 >= the day's 6); the same chats answered message for message are teens
    talking (one band apart, answered: 4 x 0.6, far below)."""
    x = account("u-x", A16, created_ts_ms=T0 - 400 * DAY)
    assert 4 * CFG.flood_weight >= CFG.day_high
    flooded = [e for i, k in enumerate(kids(4)) for e in _flood(x, k, T0 + i * HOUR, back=1)]
    alerts = run(flooded)
    assert top(alerts) in (Severity.HIGH, Severity.CRITICAL)
    high = first_high(alerts)
    assert high is not None
    # 2 x 3.0 already reaches the day's 6, but no finding comes before `min_minors` (3).
    assert high.features["minors_flooded"] == max(
        math.ceil(CFG.day_high / CFG.flood_weight), CFG.min_minors
    )
    assert "3 got a flood of its messages and images" in high.reason
    talked = [e for i, k in enumerate(kids(4)) for e in _flood(x, k, T0 + i * HOUR, back=10)]
    assert top(run(talked)) not in (Severity.HIGH, Severity.CRITICAL)


def test_a_flood_needs_images_and_enough_messages() -> None:
    """Without images, or one message short of `flood_messages`, it is an answered first
    message and weighs less."""
    x = account("u-x", A16, created_ts_ms=T0 - 400 * DAY)
    k = minor("m-1")
    flood = score_after(_flood(x, k, T0, back=1), "u-x")
    assert flood == CFG.flood_weight
    assert score_after(_flood(x, k, T0, back=1, images=0), "u-x") < flood
    short = _flood(x, k, T0, back=1, sent=CFG.flood_messages - 1)
    assert score_after(short, "u-x") < flood


def test_a_deletion_is_the_accounts_last_event_and_silence_is_assessed_there() -> None:
    # The first test's account (3 minors ignored by an anonymous new adult: 5.07 >= 5) is
    # deleted 40 min after its last message instead of writing again: the deletion is the
    # account's last event, so silence is assessed there. Had one minor answered, MEDIUM.
    x = adult("u-x", anonymous=True, created_ts_ms=T0 - HOUR)
    victims = kids(3)
    dms = [ev(MSG, x, k, T0 + i * 2 * MIN) for i, k in enumerate(victims)]
    gone = Event("x-gone", EventType.ACCOUNT_DELETED, T0 + 44 * MIN, x)
    alerts = run([*dms, gone])
    assert [a.severity for a in alerts] == [Severity.MEDIUM, Severity.HIGH]
    assert alerts[1].trigger_ts_ms == T0 + 44 * MIN
    assert alerts[1].features["minors_unanswered"] == 3
    answered = [*dms, ev(MSG, victims[0], x, T0 + 10 * MIN), gone]
    assert top(run(answered)) is Severity.MEDIUM
    assert run([gone]) == []  # an account that reached no minor is not judged
