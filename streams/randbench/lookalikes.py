"""Benign look-alikes: traffic a teen app really has that resembles an attack's traces.

None of these may reach HIGH. This module holds the ones about accounts and infrastructure
(re-registering on a family device, many accounts behind a school's or a carrier's IP, a new
student or adult adding many contacts); `benign_reach.py` those that reach many minors.
`LOOKALIKES` lists them all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from streams.model import AgeBand, EventType
from streams.randbench import benign_reach
from streams.randbench.instance import Instance
from streams.randbench.world import DAY_MS, HOUR_MS, MINUTE_MS, Person

B = AgeBand
_OLD = 200 * DAY_MS


def family_device(inst: Instance) -> None:
    """A child deletes an account and re-registers on the shared family device; keeps talking
    to the same friends, who reply."""
    rng, world = inst.rng, inst.world
    tablet, home = inst.device(), inst.ip()
    band = rng.choice((B.UNDER_13, B.AGE_13_15, B.AGE_13_15, B.AGE_16_17))
    inst.draw("child_band", band.value)
    parent = inst.old_account(B.AGE_21_PLUS, device=tablet, home_ip=home)
    child = inst.old_account(band, device=tablet, home_ip=home)
    school, friends = inst.school_minors(rng.randint(5, 12), (band, B.AGE_13_15))
    child.school = school  # on the school's IP during lessons, like its friends
    for f in [*friends, parent]:
        world.know(child.id, f.id)
    t = inst.start_window(0.3, 6)
    for f in friends:
        inst.chat(t + rng.randrange(2 * DAY_MS), child, f)
    inst.dm(t, parent, child, 2)
    gone = t + rng.randrange(2 * DAY_MS, 4 * DAY_MS)
    inst.delete(gone, child)
    again = gone + int(inst.draw("reregister_after_h", rng.randint(0, 72))) * HOUR_MS + MINUTE_MS
    child2 = inst.account(band, again, device=tablet, home_ip=home, flags_first=rng.random() < 0.5)
    child2.school = school
    back = rng.sample(friends, rng.randint(min(3, len(friends)), len(friends)))
    inst.draw("friends_back", len(back))
    ts = again
    for f in back:
        ts += rng.randrange(MINUTE_MS, 30 * MINUTE_MS)
        if rng.random() < 0.6:
            inst.emit(ts, EventType.CONTACT_ADDED, child2, f)
        starter, other = (child2, f) if rng.random() < 0.6 else (f, child2)
        inst.chat(ts + MINUTE_MS, starter, other)
    for f in back:
        inst.chat(ts + rng.randrange(HOUR_MS, 3 * DAY_MS), f, child2)


def sibling_shared_device(inst: Instance) -> None:
    """Two siblings on one device with overlapping friends; one re-registers, one adds an alt."""
    rng, world = inst.rng, inst.world
    tablet, home = inst.device(), inst.ip()
    older = inst.old_account(B.AGE_16_17, device=tablet, home_ip=home)
    younger = inst.old_account(B.AGE_13_15, device=tablet, home_ip=home)
    school, friends = inst.school_minors(rng.randint(8, 16), (B.AGE_13_15, B.AGE_16_17))
    older.school = younger.school = school
    for f in friends:
        world.know(older.id, f.id)
        world.know(younger.id, f.id)
    t = inst.start_window(0.3, 8)
    for f in friends:
        inst.chat(t + rng.randrange(3 * DAY_MS), rng.choice((older, younger)), f)
    gone = t + 3 * DAY_MS + rng.randrange(DAY_MS)
    inst.delete(gone, older)
    again = inst.account(
        B.AGE_16_17, gone + rng.randrange(MINUTE_MS, DAY_MS), device=tablet, home_ip=home
    )
    alt = inst.account(
        B.AGE_13_15, gone + rng.randrange(DAY_MS, 2 * DAY_MS), device=tablet, home_ip=home
    )
    for who in (again, alt):
        who.school = school
        for f in rng.sample(friends, rng.randint(3, len(friends))):
            ts = who.born_ms + rng.randrange(MINUTE_MS, 6 * HOUR_MS)
            inst.emit(ts, EventType.CONTACT_ADDED, who, f)
            inst.chat(ts + rng.randrange(MINUTE_MS, DAY_MS), f, who)


def _cohort(
    inst: Instance, n: int, bands: tuple[AgeBand, ...], ip: str, new_share: float
) -> list[Person]:
    rng = inst.rng
    out = []
    for _ in range(n):
        created = (
            inst.start_window(0.2, 12)
            if rng.random() < new_share
            else inst.world.start_ms - rng.randrange(10 * DAY_MS, _OLD)
        )
        out.append(
            inst.account(
                rng.choice(bands),
                created,
                anonymous=rng.random() < 0.3,
                home_ip=ip,
                flags_first=rng.random() < 0.5,
            )
        )
    return out


def school_ip(inst: Instance) -> None:
    """Many minors on one school IP: they add each other, chat both ways, make groups."""
    rng, world = inst.rng, inst.world
    ip = inst.ip()
    kids = _cohort(
        inst,
        int(inst.draw("minors", rng.randint(25, 60))),
        (B.UNDER_13, B.AGE_13_15, B.AGE_16_17),
        ip,
        0.1,
    )
    for day in range(world.days):
        for kid in rng.sample(kids, len(kids) // 3):
            ts = world.start_ms + day * DAY_MS + 8 * HOUR_MS + rng.randrange(7 * HOUR_MS)
            if not kid.alive(ts):
                continue
            other = rng.choice(kids)
            if other is not kid and other.alive(ts + HOUR_MS):
                ts = inst.dm(ts, kid, other, rng.randint(1, 3))
                inst.replies(ts, other, kid, rng.randint(1, 2))
    group = world.new_id("g")
    t = inst.start_window(0.3, 12)
    organiser = kids[0]
    for k, kid in enumerate(kids[1 : rng.randint(10, 25)]):
        if kid.alive(t):
            inst.emit(
                t + k * MINUTE_MS, EventType.GROUP_MEMBER_ADDED, organiser, kid, group=group, ip=ip
            )


def carrier_nat(inst: Instance) -> None:
    """Many accounts, new and anonymous ones too, behind one carrier NAT address; a few of
    them are deleted. Each talks with people of its own age."""
    rng, world = inst.rng, inst.world
    ip = inst.ip()
    bands = (B.AGE_13_15, B.AGE_16_17, B.AGE_18_20, B.AGE_21_PLUS, B.AGE_21_PLUS, B.UNKNOWN)
    people = _cohort(inst, int(inst.draw("accounts", rng.randint(30, 60))), bands, ip, 0.4)
    adults = [
        world.people[a]
        for a in world.background
        if world.people[a].band in (B.AGE_21_PLUS, B.AGE_18_20)
    ]
    for p in people:
        if p.is_minor:
            pool = inst.minors(rng.randint(2, 5), bands=(p.band,))
        else:
            pool = rng.sample(adults, rng.randint(2, 5))
        for f in pool:
            if rng.random() < 0.7:
                world.know(p.id, f.id)
            ts = max(p.born_ms, world.start_ms) + rng.randrange(DAY_MS, 10 * DAY_MS)
            starter, other = (p, f) if rng.random() < 0.5 else (f, p)
            inst.chat(ts, starter, other)
    for p in rng.sample(people, int(inst.draw("deleted", rng.randint(2, 5)))):
        inst.delete(world.start_ms + 12 * DAY_MS + rng.randrange(3 * DAY_MS), p)


def new_teen_joins_school(inst: Instance) -> None:
    """A new 13-15 account adds 15-30 classmates within an hour; they reply and talk back."""
    rng = inst.rng
    t = inst.start_window(0.3, 14)
    teen = inst.account(
        B.AGE_13_15,
        t - rng.randrange(MINUTE_MS, HOUR_MS),
        anonymous=rng.random() < 0.3,
        flags_first=rng.random() < 0.5,
    )
    teen.school, mates = inst.school_minors(
        int(inst.draw("classmates", rng.randint(15, 30))), (B.AGE_13_15,)
    )
    span = int(inst.draw("span_min", rng.randint(15, 60))) * MINUTE_MS
    for k, m in enumerate(mates):
        ts = t + span * k // len(mates)
        inst.emit(ts, EventType.CONTACT_ADDED, teen, m)
        if rng.random() < 0.8:
            inst.chat(ts + rng.randrange(MINUTE_MS, 6 * HOUR_MS), m, teen)


def adult_onboarding(inst: Instance) -> None:
    """A new adult adds many adult contacts within an hour."""
    rng, world = inst.rng, inst.world
    t = inst.start_window(0.3, 14)
    adult = inst.account(
        rng.choice((B.AGE_21_PLUS, B.AGE_18_20)), t - rng.randrange(MINUTE_MS, HOUR_MS)
    )
    adults = [
        world.people[a]
        for a in world.background
        if world.people[a].band in (B.AGE_21_PLUS, B.AGE_18_20)
    ]
    n = int(inst.draw("contacts", rng.randint(20, 50)))
    ts = t
    for a in rng.sample(adults, min(n, len(adults))):
        ts += rng.randrange(30_000, 90_000)
        inst.emit(ts, EventType.CONTACT_ADDED, adult, a)
        if rng.random() < 0.5:
            inst.chat(ts + HOUR_MS, a, adult)


LOOKALIKES: Final[dict[str, Callable[[Instance], None]]] = {
    "family_device": family_device,
    "youth_coach": benign_reach.youth_coach,
    "teen_creator": benign_reach.teen_creator,
    "teacher_class_group": benign_reach.teacher_class_group,
    "school_ip": school_ip,
    "carrier_nat": carrier_nat,
    "young_adult_friends": benign_reach.young_adult_friends,
    "new_teen_joins_school": new_teen_joins_school,
    "adult_onboarding": adult_onboarding,
    "sibling_shared_device": sibling_shared_device,
    "student_organiser": benign_reach.student_organiser,
    "tutor": benign_reach.tutor,
    "chatty_new_friends": benign_reach.chatty_new_friends,
}
