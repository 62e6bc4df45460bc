"""streams.simulate: determinism, the input contract, and that every planted scenario really
has the structure its truth entry claims (so a detector miss is the detector's fault)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path

import pytest

from streams.model import (
    GROUP_REQUIRED,
    TARGET_FORBIDDEN,
    TARGET_REQUIRED,
    AgeBand,
    Event,
    EventType,
    SubjectKind,
)
from streams.simulate import (
    ALL_SCENARIOS,
    ATTACKS,
    HOUR_MS,
    MINUTE_MS,
    Simulation,
    SimulationConfig,
    TruthEntry,
    iter_events,
    read_truth,
    simulate,
    simulate_truth,
    write_truth,
)

MSG, GADD = EventType.MESSAGE_SENT, EventType.GROUP_MEMBER_ADDED
SMALL = SimulationConfig(normal_users=400, groups=30, duration_ms=40 * HOUR_MS)


class View:
    """One run, indexed the way the scenario checks ask about it."""

    def __init__(self, sim: Simulation) -> None:
        self.sim, self.cfg = sim, sim.config
        self.by_actor: dict[str, list[Event]] = defaultdict(list)
        self.first_dm: dict[frozenset[str], Event] = {}  # first DM of each pair, either way
        self.minors: set[str] = set()
        for e in sim.events:
            self.by_actor[e.actor.id].append(e)
            self.minors.update(a.id for a in (e.actor, e.target) if a and a.age_band.is_minor)
            if e.type is MSG and e.target:
                self.first_dm.setdefault(frozenset((e.actor.id, e.target.id)), e)

    def sent(self, actor: str, *types: EventType) -> list[Event]:
        return [e for e in self.by_actor[actor] if e.type in types]

    def opened_to_minors(self, actor: str) -> dict[str, int]:
        """Minors `actor` first-contacted (opened the pair's first DM), with the time."""
        peers = {e.target.id for e in self.sent(actor, MSG) if e.target}
        firsts = [self.first_dm[frozenset((actor, peer))] for peer in peers]
        return {
            e.target.id: e.ts_ms
            for e in firsts
            if e.actor.id == actor and e.target and e.target.age_band.is_minor
        }

    def where(self, **attrs: object) -> list[Event]:
        """Events whose attributes have these values, e.g. where(type=..., device_hash=...)."""
        return [e for e in self.sim.events if all(getattr(e, k) == v for k, v in attrs.items())]


def most_in(times: Iterable[int], window_ms: int) -> int:
    """The largest number of times inside any window of that length."""
    ts, best, lo = sorted(times), 0, 0
    for hi, t in enumerate(ts):
        while t - ts[lo] >= window_ms:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def check_burst(v: View, t: TruthEntry) -> None:
    opened = v.opened_to_minors(t.subject_id)
    assert most_in(opened.values(), HOUR_MS) >= 25
    assert v.by_actor[t.subject_id][0].actor.age_band in (AgeBand.AGE_21_PLUS, AgeBand.UNKNOWN)


def check_slow(v: View, t: TruthEntry) -> None:
    times = v.opened_to_minors(t.subject_id).values()
    assert len(times) >= 15 and max(times) - min(times) >= 24 * HOUR_MS
    assert most_in(times, HOUR_MS) <= 3


def check_mass_add(v: View, t: TruthEntry) -> None:
    adds = [e for e in v.sent(t.subject_id, GADD) if e.target and e.target.age_band.is_minor]
    assert len({e.group_id for e in adds}) >= 3
    assert len({e.target.id for e in adds if e.target}) >= 20
    assert adds[-1].ts_ms - adds[0].ts_ms < HOUR_MS


def check_churn(v: View, t: TruthEntry) -> None:
    key = "device_hash" if t.subject_kind is SubjectKind.DEVICE else "ip_hash"
    made = v.where(type=EventType.ACCOUNT_CREATED, **{key: t.subject_id})
    assert len(made) >= 8
    for c in made:
        assert c.actor.anonymous and c.actor.age_band in (AgeBand.AGE_13_15, AgeBand.AGE_16_17)
        deleted = v.sent(c.actor.id, EventType.ACCOUNT_DELETED)
        assert deleted and deleted[0].ts_ms - c.ts_ms < 6 * HOUR_MS
        assert v.opened_to_minors(c.actor.id)


def check_sextortion(v: View, t: TruthEntry) -> None:
    msgs, opened = v.sent(t.subject_id, MSG), v.opened_to_minors(t.subject_id)
    soon = Counter(
        e.target.id
        for e in msgs
        if e.target and e.ts_ms - opened.get(e.target.id, -HOUR_MS) < 20 * MINUTE_MS
    )
    assert sum(n >= 10 for n in soon.values()) >= 3 and any(e.has_media for e in msgs)
    assert any(e.target and e.target.age_band is AgeBand.UNDER_13 for e in msgs)


def check_blocks(v: View, t: TruthEntry) -> None:
    opened = v.opened_to_minors(t.subject_id)
    against = [e for e in v.sim.events if e.target and e.target.id == t.subject_id]
    blocked_at = {e.actor.id: e.ts_ms for e in against if e.type is EventType.BLOCKED}
    reported_at = {e.actor.id: e.ts_ms for e in against if e.type is EventType.REPORTED}
    contacted = [opened[m] for m, ts in (reported_at | blocked_at).items() if opened[m] < ts]
    assert len(contacted) >= 5 and max(contacted) - min(contacted) < 6 * HOUR_MS
    for e in v.sent(t.subject_id, MSG):  # the platform stops messages after a block
        assert e.target and e.ts_ms < blocked_at.get(e.target.id, e.ts_ms + 1)


def check_bait(v: View, t: TruthEntry) -> None:
    """Every child wrote first; at least two sent an image within the hour of that first
    message and blocked the subject after it."""
    pushed = 0
    for kid in t.minors_targeted:
        first = v.first_dm[frozenset((kid, t.subject_id))]
        assert first.actor.id == kid
        to_it = [e for e in v.by_actor[kid] if e.target and e.target.id == t.subject_id]
        image = min((e.ts_ms for e in to_it if e.type is MSG and e.has_media), default=None)
        block = min((e.ts_ms for e in to_it if e.type is EventType.BLOCKED), default=None)
        if image is not None and block is not None:
            pushed += image - first.ts_ms <= HOUR_MS and block > image
    assert pushed >= 2


def check_ban_evasion(v: View, t: TruthEntry) -> None:
    born = v.sent(t.subject_id, EventType.ACCOUNT_CREATED)[0]
    gone = v.where(type=EventType.ACCOUNT_DELETED, device_hash=born.device_hash)
    assert gone and gone[-1].ts_ms < born.ts_ms
    again = v.opened_to_minors(t.subject_id).keys() & v.opened_to_minors(gone[-1].actor.id).keys()
    assert len(again) >= 3


def check_combined(v: View, t: TruthEntry) -> None:
    for check in (check_burst, check_mass_add, check_sextortion):
        check(v, t)


def check_teacher(v: View, t: TruthEntry) -> None:
    adds = v.sent(t.subject_id, GADD)
    (gid,) = {e.group_id for e in adds}
    assert 25 <= len(adds) <= 35 and len({e.target.age_band for e in adds if e.target}) == 1
    posted = {e.actor.id for e in v.where(type=MSG, group_id=gid)}
    assert len(posted) > len(adds) / 2
    teacher = adds[0].actor
    assert teacher.age_band.is_adult and not teacher.anonymous
    assert (teacher.created_ts_ms or 0) < v.cfg.start_ms - 300 * 24 * HOUR_MS


def check_popular_teen(v: View, t: TruthEntry) -> None:
    inbound = [e for e in v.first_dm.values() if e.target and e.target.id == t.subject_id]
    assert len(inbound) >= 25
    assert not any(e.actor.id == t.subject_id for e in v.first_dm.values())


def check_school_ip(v: View, t: TruthEntry) -> None:
    made = [e.actor for e in v.where(type=EventType.ACCOUNT_CREATED, ip_hash=t.subject_id)]
    kids = {a.id for a in made}
    assert len(made) >= 20 and all(a.age_band.is_minor and not a.anonymous for a in made)
    assert not any(v.sent(kid, EventType.ACCOUNT_DELETED) for kid in kids)
    talks = {(e.actor.id, e.target.id) for kid in kids for e in v.sent(kid, MSG) if e.target}
    assert {b for _, b in talks} <= kids  # among themselves,
    assert sum((b, a) in talks for a, b in talks) >= 0.8 * len(talks)  # and both ways


def check_family(v: View, t: TruthEntry) -> None:
    on_device = v.where(device_hash=t.subject_id)
    users = {e.actor for e in on_device}
    assert 3 <= len(users) <= 5 and all((u.created_ts_ms or 0) < v.cfg.start_ms for u in users)
    assert {e.type for e in on_device} == {MSG}  # no account made or deleted there


def check_young_adult(v: View, t: TruthEntry) -> None:
    dms = v.sent(t.subject_id, MSG)
    assert dms[0].actor.age_band is AgeBand.AGE_18_20
    friends = {e.target.id for e in dms if e.target}
    assert all(e.target.age_band is AgeBand.AGE_16_17 for e in dms if e.target)
    for friend in friends:
        assert any(e.target and e.target.id == t.subject_id for e in v.sent(friend, MSG))
    (gid,) = {e.group_id for e in dms if e.group_id}
    assert len({e.actor.id for e in v.where(group_id=gid)} & friends) >= 3


def check_onboarding(v: View, t: TruthEntry) -> None:
    firsts = [e for e in v.first_dm.values() if e.actor.id == t.subject_id and e.target]
    assert len(firsts) >= 25 and all(e.target and e.target.age_band.is_adult for e in firsts)


CHECKS: dict[str, Callable[[View, TruthEntry], None]] = {
    "fast_contact_burst": check_burst,
    "slow_contact_burst": check_slow,
    "mass_add": check_mass_add,
    "anonymous_churn": check_churn,
    "sextortion": check_sextortion,
    "blocks_reports": check_blocks,
    "ban_evasion": check_ban_evasion,
    "combined_attacker": check_combined,
    "bait_extortion": check_bait,
    "teacher_class_group": check_teacher,
    "popular_teen_inbound": check_popular_teen,
    "school_ip": check_school_ip,
    "family_device": check_family,
    "young_adult_friends": check_young_adult,
    "adult_onboarding": check_onboarding,
}


@pytest.fixture(scope="module")
def view() -> View:
    return View(simulate())


@pytest.mark.parametrize("scenario", ALL_SCENARIOS)
def test_scenario_has_the_structure_its_truth_claims(view: View, scenario: str) -> None:
    entries = [t for t in view.sim.truth if t.scenario == scenario]
    assert entries
    for t in entries:
        assert t.kind == ("attack" if scenario in ATTACKS else "lookalike")
        assert bool(t.expected_detectors) == (t.kind == "attack")
        assert view.cfg.start_ms <= t.first_event_ts_ms < view.cfg.end_ms
        assert set(t.minors_targeted) <= view.minors
        CHECKS[scenario](view, t)


def _minor_contacts_of(view: View, t: TruthEntry) -> list[Event]:
    """Messages, contact adds and group adds to minors by the subject (or via its device/IP)."""
    out = []
    for e in view.sim.events:
        if e.type not in (MSG, EventType.CONTACT_ADDED, GADD) or e.target is None:
            continue
        if not e.target.age_band.is_minor:
            continue
        via = {
            SubjectKind.ACCOUNT: e.actor.id,
            SubjectKind.DEVICE: e.device_hash,
            SubjectKind.IP: e.ip_hash,
        }[t.subject_kind]
        if via == t.subject_id:
            out.append(e)
    return out


@pytest.mark.parametrize("scenario", ATTACKS)
def test_attack_start_is_the_first_contact_of_a_minor(view: View, scenario: str) -> None:
    for t in (t for t in view.sim.truth if t.scenario == scenario):
        contacts = _minor_contacts_of(view, t)
        assert contacts, t
        assert t.attack_start_ts_ms == min(e.ts_ms for e in contacts)
        assert t.first_event_ts_ms <= t.attack_start_ts_ms


def test_attacker_accounts_are_the_attackers_own() -> None:
    """Churn lists its throwaways (all deleted, all on the subject), ban evasion its deleted
    account; an ACCOUNT subject is always among its own; look-alikes list none."""
    run = simulate(SMALL)
    deleted = {e.actor.id for e in run.events if e.type is EventType.ACCOUNT_DELETED}
    for t in run.truth:
        if t.kind == "lookalike":
            assert t.attacker_accounts == ()
            continue
        if t.subject_kind is SubjectKind.ACCOUNT:
            assert t.attacker_accounts[0] == t.subject_id
        if t.scenario == "anonymous_churn":
            assert len(t.attacker_accounts) >= 8
            assert set(t.attacker_accounts) <= deleted
        if t.scenario == "ban_evasion":
            assert len(t.attacker_accounts) == 2 and t.attacker_accounts[1] in deleted


def test_same_seed_same_run_other_seed_other_run() -> None:
    run = simulate(SMALL)
    assert simulate(SMALL) == run
    assert list(iter_events(SMALL)) == run.events and simulate_truth(SMALL) == run.truth
    other = simulate(replace(SMALL, seed=8))
    assert other.events != run.events and other.truth != run.truth


def test_events_sorted_unique_and_equal_to_constructed(view: View) -> None:
    events = view.sim.events
    keys = [(e.ts_ms, e.event_id) for e in events]
    assert keys == sorted(keys)
    assert len({e.event_id for e in events}) == len(events)
    for e in events[:: len(events) // 50]:
        assert Event(**{name: getattr(e, name) for name in Event.__struct_fields__}) == e


def test_every_event_keeps_the_contract(view: View) -> None:
    cfg = view.cfg
    for e in view.sim.events:
        direct = e.type is MSG and e.target is not None
        assert cfg.start_ms <= e.ts_ms < cfg.end_ms, e
        assert (e.target is not None) >= (e.type in TARGET_REQUIRED), e
        assert e.target is None or e.type not in TARGET_FORBIDDEN, e
        group_message = e.type is MSG and not direct
        assert (e.group_id is not None) == (e.type in GROUP_REQUIRED or group_message), e
        assert e.target is None or e.target.id != e.actor.id, e
        assert e.has_media is None or e.type is MSG, e
        assert e.first_contact is None or direct, e
        assert e.actor.id.startswith("u-") and (e.device_hash or "d-").startswith("d-"), e
        assert (e.ip_hash or "ip-").startswith("ip-"), e


def test_accounts_act_only_while_they_exist(view: View) -> None:
    born = {e.actor.id: e.ts_ms for e in view.sim.events if e.type is EventType.ACCOUNT_CREATED}
    gone = {e.actor.id: e.ts_ms for e in view.sim.events if e.type is EventType.ACCOUNT_DELETED}
    for e in view.sim.events:
        for account in filter(None, (e.actor, e.target)):
            assert born.get(account.id, e.ts_ms) <= e.ts_ms <= gone.get(account.id, e.ts_ms), e


def test_first_contact_flag_is_sometimes_absent_and_never_wrong(view: View) -> None:
    flags = [e.first_contact for e in view.sim.events if e.type is MSG and e.target]
    assert flags.count(None) > len(flags) / 3 and True in flags and False in flags
    for e in view.sim.events:
        if e.first_contact and e.target:
            assert view.first_dm[frozenset((e.actor.id, e.target.id))] is e


def test_truth_round_trips_and_subjects_are_distinct(view: View, tmp_path: Path) -> None:
    write_truth(tmp_path / "truth.jsonl", view.sim.truth)
    assert read_truth(tmp_path / "truth.jsonl") == view.sim.truth
    assert len({(t.subject_kind, t.subject_id) for t in view.sim.truth}) == len(view.sim.truth)
    assert {t.subject_kind for t in view.sim.truth} == set(SubjectKind) - {SubjectKind.GROUP}


def test_bad_config_reports_every_error_at_once() -> None:
    with pytest.raises(ValueError) as err:
        SimulationConfig(normal_users=10, duration_ms=6 * HOUR_MS, scenarios=("nope", "sextortion"))
    for part in ("normal_users=10", "'nope'", "'sextortion' needs >= 7 h"):
        assert part in str(err.value)


def test_events_target_scales_the_run() -> None:
    cfg = SimulationConfig(events_target=40_000, duration_ms=12 * HOUR_MS, scenarios=("mass_add",))
    assert 34_000 <= sum(1 for _ in iter_events(cfg)) <= 46_000


def weekly_working_set(cfg: SimulationConfig) -> list[tuple[int, float]]:
    """Each week from day 14: accounts active in the trailing day, and the distinct partners
    (accounts or groups) per such account over the trailing 14 days, from the events alone."""
    day = 24 * HOUR_MS
    last: dict[str, int] = {}
    pairs: dict[tuple[str, str], int] = {}
    out, next_ms = [], cfg.start_ms + 14 * day
    for e in iter_events(cfg):
        if e.ts_ms >= next_ms:
            active = sum(1 for ts in last.values() if ts > e.ts_ms - day)
            partners = sum(1 for ts in pairs.values() if ts > e.ts_ms - 14 * day)
            out.append((active, partners / active))
            next_ms += 7 * day
        last[e.actor.id] = e.ts_ms
        other = e.target.id if e.target is not None else e.group_id
        if e.target is not None:
            last[e.target.id] = e.ts_ms
        if other is not None:
            pairs[e.actor.id, other] = e.ts_ms
    return out


def test_a_steady_run_keeps_its_working_set_the_same_size() -> None:
    """What the soak needs: past the first weeks, as many accounts active a day and as many
    partners per account in 14 days (what detectors remember), within 10%. Without `steady`
    both grow (more accounts are created than leave; friend lists and rosters only grow)."""
    cfg = SimulationConfig(seed=5, normal_users=300, groups=30, duration_ms=43 * 24 * HOUR_MS)
    for steady, flat in ((True, True), (False, False)):
        weeks = weekly_working_set(replace(cfg, steady=steady))
        assert len(weeks) == 5  # days 14, 21, 28, 35, 42
        (active_0, per_0), (active_n, per_n) = weeks[1], weeks[-1]  # days 21 and 42
        within = abs(active_n / active_0 - 1) <= 0.1 and abs(per_n / per_0 - 1) <= 0.1
        assert within == flat, (steady, weeks)
