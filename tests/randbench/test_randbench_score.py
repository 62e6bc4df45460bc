"""streams.randbench.score on hand-built truth, events and alerts: what counts as caught, the
minors reached before the first HIGH+ (from the events), look-alikes and the background."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from streams.model import Account, AgeBand, Alert, Event, EventType, Severity, Subject, SubjectKind
from streams.randbench.adaptive import lowest_high, schedule, window_limits
from streams.randbench.bench import parse_seeds
from streams.randbench.instance import InstanceTruth, read_instances, write_instances
from streams.randbench.score import BenchScore, format_table, rows, score_seed

T0 = 1_800_000_000_000
MIN = 60_000
ADULT = Account("a1", AgeBand.AGE_21_PLUS)
SECOND = Account("a2", AgeBand.UNKNOWN)
COACH = Account("c1", AgeBand.AGE_21_PLUS)


def minor(n: int) -> Account:
    return Account(f"m{n}", AgeBand.AGE_13_15)


def ev(n: int, etype: EventType, ts: int, actor: Account, target: Account | None) -> Event:
    group = "g1" if etype is EventType.GROUP_MEMBER_ADDED else None
    return Event(f"e{n:03d}", etype, ts, actor, target, group_id=group, device_hash="d-own")


def alert(kind: SubjectKind, sid: str, severity: Severity, trigger: int, minors: int = 99) -> Alert:
    return Alert(
        alert_id=f"{kind}:{sid}:{trigger}",
        detector="some_detector",
        detector_version="1",
        severity=severity,
        score=1.0,
        subject=Subject(kind, sid),
        window_start_ms=T0,
        window_end_ms=trigger,
        trigger_ts_ms=trigger,
        features={},
        counterparts=(),
        minors_exposed=minors,  # deliberately wrong: scoring counts from the events
        evidence_event_ids=(),
        reason="r",
    )


ATTACK = InstanceTruth(
    "classic_burst", "attack", "classic_burst-0", ("a1", "a2"), ("d-own",), ("ip-own",), T0
)
COACHING = InstanceTruth("youth_coach", "lookalike", "youth_coach-0", ("c1",), (), (), T0)
EVENTS = [
    ev(1, EventType.MESSAGE_SENT, T0, ADULT, minor(1)),
    ev(2, EventType.MESSAGE_SENT, T0 + MIN, ADULT, minor(1)),  # same minor again
    ev(3, EventType.CONTACT_ADDED, T0 + 2 * MIN, SECOND, minor(2)),  # the ring's other account
    ev(4, EventType.MESSAGE_SENT, T0 + 3 * MIN, ADULT, Account("x", AgeBand.AGE_21_PLUS)),
    ev(5, EventType.GROUP_MEMBER_ADDED, T0 + 10 * MIN, ADULT, minor(3)),  # the trigger's time
    ev(6, EventType.MESSAGE_SENT, T0 + 11 * MIN, ADULT, minor(4)),  # after the first HIGH
    ev(7, EventType.MESSAGE_SENT, T0 + 12 * MIN, minor(5), ADULT),  # a minor writing to it
    ev(8, EventType.GROUP_MEMBER_ADDED, T0 + 5 * MIN, COACH, minor(6)),
]


def test_caught_through_an_owned_device_minors_counted_from_events() -> None:
    alerts = [
        alert(SubjectKind.ACCOUNT, "a1", Severity.MEDIUM, T0 + MIN),  # below HIGH: ignored
        alert(SubjectKind.DEVICE, "d-own", Severity.HIGH, T0 + 10 * MIN, minors=14),
        alert(SubjectKind.ACCOUNT, "a2", Severity.CRITICAL, T0 + 30 * MIN),
    ]
    score = score_seed(1, [ATTACK, COACHING], EVENTS, alerts, 1000)
    attack, coach = score.instances
    assert attack.caught
    assert attack.delay_ms == 10 * MIN
    assert attack.minors_before == 3  # m1, m2 (other account), m3 at the trigger; not m4, m5
    assert not coach.caught
    assert coach.minors_before is None
    assert score.background_flagged == ()


def test_uncaught_attack_false_lookalike_and_background_subjects_counted_once() -> None:
    alerts = [
        alert(SubjectKind.IP, "ip-carrier", Severity.HIGH, T0),  # shared infrastructure
        alert(SubjectKind.IP, "ip-carrier", Severity.CRITICAL, T0 + MIN),
        alert(SubjectKind.ACCOUNT, "bg-1", Severity.HIGH, T0),
        alert(SubjectKind.ACCOUNT, "bg-2", Severity.MEDIUM, T0),
        alert(SubjectKind.ACCOUNT, "c1", Severity.HIGH, T0 + 6 * MIN),
    ]
    score = score_seed(1, [ATTACK, COACHING], EVENTS, alerts, 4000)
    attack, coach = score.instances
    assert not attack.caught and attack.delay_ms is None
    assert coach.caught
    assert score.background_flagged == ("ACCOUNT:bg-1", "IP:ip-carrier")
    table = rows(BenchScore((score,)))
    assert table["background"]["per_10k"] == 5.0
    (look,) = table["lookalikes"]
    assert look["pattern"] == "youth_coach" and look["high"] == 1 and look["high_pct"] == 100.0
    (atk,) = table["attacks"]
    assert atk["high"] == 0 and atk["median_minors_before"] is None
    text = format_table(BenchScore((score,), command="guardline eval --randomised --seeds 1"))
    assert "guardline eval --randomised --seeds 1" in text
    assert "youth_coach" in text and "5.0 per 10,000" in text


def test_medians_pool_instances_over_seeds() -> None:
    other = InstanceTruth("classic_burst", "attack", "classic_burst-1", ("a1",), (), (), T0)
    first = score_seed(
        1, [ATTACK], EVENTS, [alert(SubjectKind.ACCOUNT, "a1", Severity.HIGH, T0)], 10
    )
    second = score_seed(
        2, [other], EVENTS, [alert(SubjectKind.ACCOUNT, "a1", Severity.HIGH, T0 + 10 * MIN)], 10
    )
    (atk,) = rows(BenchScore((first, second)))["attacks"]
    assert atk["instances"] == 2 and atk["high"] == 2
    # seed 1: m1 by T0; seed 2 owns only a1: m1 and m3 by T0 + 10 min (m2 was a2's)
    assert atk["median_minors_before"] == 1.5
    assert atk["median_delay_min"] == 5.0


def test_truth_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "t.truth.jsonl"
    entry = InstanceTruth(
        "slow_groomer", "attack", "slow_groomer-3", ("u",), ("d",), ("i",), T0, {"days": 9}
    )
    write_instances(path, [entry, COACHING])
    assert read_instances(path) == [entry, COACHING]
    assert json.loads(path.read_text().splitlines()[0])["params"] == {"days": 9}


def test_parse_seeds() -> None:
    assert parse_seeds("101-105") == [101, 102, 103, 104, 105]
    assert parse_seeds("1,3, 7-8") == [1, 3, 7, 8]


@given(
    limits=st.lists(st.tuples(st.integers(1, 48), st.integers(1, 15)), min_size=1, max_size=3),
    count=st.integers(1, 40),
    gap=st.integers(0, 30),
)
def test_schedule_never_exceeds_a_window(
    limits: list[tuple[int, int]], count: int, gap: int
) -> None:
    windows = [(hours * 3_600_000, allowed) for hours, allowed in limits]
    times = schedule(T0, count, windows, lambda: gap * MIN)
    assert len(times) == count and times == sorted(times)
    for window, allowed in windows:
        for t in times:
            assert sum(1 for x in times if t - window < x <= t) <= allowed


def test_window_limits_pair_each_window_with_its_high() -> None:
    from streams.detectors.new_contact_burst import NewContactBurstConfig

    cfg = NewContactBurstConfig(fast_window_ms=100, fast_high=15, slow_window_ms=200, slow_high=14)
    assert sorted(window_limits(cfg)) == [(100, 14), (200, 13)]


def test_breakdown_by_what_the_offender_drew() -> None:
    teen = InstanceTruth(
        "teen_claim_groomer", "attack", "t-0", ("a1",), (), (), T0, {"band": "AGE_16_17"}
    )
    adult = InstanceTruth(
        "teen_claim_groomer", "attack", "t-1", ("zz",), (), (), T0, {"band": "AGE_21_PLUS"}
    )
    coach = InstanceTruth("youth_coach", "lookalike", "c-0", ("c1",), (), (), T0, {"band": "X"})
    alerts = [
        alert(SubjectKind.ACCOUNT, "a1", Severity.HIGH, T0),
        alert(SubjectKind.ACCOUNT, "c1", Severity.HIGH, T0),
    ]
    score = score_seed(1, [teen, adult, coach], EVENTS, alerts, 10)
    by = rows(BenchScore((score,)))["attacks_by"]["band"]
    assert by == {"AGE_16_17": [1, 1], "AGE_21_PLUS": [0, 1]}  # look-alikes left out


@dataclass(frozen=True)
class RingLike:
    window_ms: int = 86_400_000
    high: int = 5
    ring_high: int = 3
    ring_min_minors: int = 2  # not a threshold on accounts
    critical_factor: float = 3.0


def test_lowest_high_takes_every_high_threshold() -> None:
    assert lowest_high(RingLike()) == 3
    assert lowest_high(RingLike(ring_high=9)) == 5
