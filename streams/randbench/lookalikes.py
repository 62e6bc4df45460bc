"""Benign look-alikes: traffic a teen app really has that resembles an attack's traces.

None of these may reach HIGH. Each draws its sizes from ranges like the attacks do, and its
counterparts reply, start chats, share a school or a family: the peer-like signs a detector
may use to spare them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from streams.model import AgeBand, EventType
from streams.randbench.instance import Instance
from streams.randbench.world import DAY_MS, HOUR_MS, MINUTE_MS, Person, World

B = AgeBand
_KIDS = (B.UNDER_13, B.AGE_13_15, B.AGE_16_17)
_OLD = 200 * DAY_MS


def _old(
    inst: Instance, band: AgeBand, *, device: str | None = None, home_ip: str | None = None
) -> Person:
    """A verified account made 30-600 days before the span."""
    created = inst.world.start_ms - inst.rng.randrange(30 * DAY_MS, _OLD * 3)
    return inst.account(band, created, device=device, home_ip=home_ip)


def _school_friends(inst: Instance, n: int, bands: tuple[AgeBand, ...]) -> tuple[int, list[Person]]:
    school = inst.rng.randrange(len(inst.world.schools))
    return school, inst.minors(n, bands=bands, school=school)


def _chat(inst: Instance, ts: int, a: Person, b: Person) -> int:
    """A short two-way chat started by `a`."""
    ts = inst.dm(ts, a, b, inst.rng.randint(1, 3))
    return inst.replies(ts, b, a, inst.rng.randint(1, 3))


def family_device(inst: Instance) -> None:
    """A child deletes an account and re-registers on the shared family device; keeps talking
    to the same friends, who reply."""
    rng, world = inst.rng, inst.world
    tablet, home = inst.device(), inst.ip()
    band = rng.choice((B.UNDER_13, B.AGE_13_15, B.AGE_13_15, B.AGE_16_17))
    inst.draw("child_band", band.value)
    parent = _old(inst, B.AGE_21_PLUS, device=tablet, home_ip=home)
    child = _old(inst, band, device=tablet, home_ip=home)
    school, friends = _school_friends(inst, rng.randint(5, 12), (band, B.AGE_13_15))
    child.school = school  # on the school's IP during lessons, like its friends
    for f in [*friends, parent]:
        world.know(child.id, f.id)
    t = inst.start_window(0.3, 6)
    for f in friends:
        _chat(inst, t + rng.randrange(2 * DAY_MS), child, f)
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
        _chat(inst, ts + MINUTE_MS, starter, other)
    for f in back:
        _chat(inst, ts + rng.randrange(HOUR_MS, 3 * DAY_MS), f, child2)


def youth_coach(inst: Instance) -> None:
    """A verified adult coach adds 15-40 minors of one school across 2-5 team groups, and 2-8
    of their parents who are on the app."""
    rng, world = inst.rng, inst.world
    coach = _old(inst, B.AGE_21_PLUS)
    n = int(inst.draw("minors", rng.randint(15, 40)))
    groups = [world.new_id("g") for _ in range(int(inst.draw("groups", rng.randint(2, 5))))]
    _, kids = _school_friends(inst, n, (B.UNDER_13, B.AGE_13_15, B.AGE_16_17))
    span = int(inst.draw("span_min", rng.randint(30, 240))) * MINUTE_MS
    t = inst.start_window(0.3, 14)
    parents = [p for p in (_parent_of(world, kid) for kid in kids) if p is not None]
    for k, kid in enumerate(kids):
        inst.emit(
            t + span * k // len(kids),
            EventType.GROUP_MEMBER_ADDED,
            coach,
            kid,
            group=groups[k % len(groups)],
        )
    for k, p in enumerate(parents[: rng.randint(2, 8)]):
        inst.emit(
            t + span * k // 8 + MINUTE_MS,
            EventType.GROUP_MEMBER_ADDED,
            coach,
            p,
            group=groups[k % len(groups)],
        )
    for day in range(rng.randint(3, 10)):
        for g in groups:
            ts = t + span + day * DAY_MS + rng.randrange(10 * HOUR_MS)
            inst.emit(ts, EventType.MESSAGE_SENT, coach, group=g)
            for kid in rng.sample(kids, min(3, len(kids))):
                inst.emit(
                    ts + rng.randrange(MINUTE_MS, HOUR_MS), EventType.MESSAGE_SENT, kid, group=g
                )
    for kid in rng.sample(kids, rng.randint(1, min(5, len(kids)))):
        _chat(inst, t + span + rng.randrange(2 * DAY_MS), kid, coach)  # the kids ask the coach


def teen_creator(inst: Instance) -> None:
    """A popular teen receives many inbound messages from fans, replies to some; a few fans
    block or report."""
    rng = inst.rng
    creator = _old(inst, rng.choice((B.AGE_16_17, B.AGE_13_15)))
    fans = inst.minors(int(inst.draw("fans", rng.randint(30, 90))))
    reply_share = float(inst.draw("reply_share", round(rng.uniform(0.2, 0.5), 2)))
    t = inst.start_window(0.3, 12)
    span = int(inst.draw("span_h", rng.randint(6, 72))) * HOUR_MS
    for k, f in enumerate(fans):
        ts = inst.dm(t + span * k // len(fans), f, creator, rng.randint(1, 3))
        if rng.random() < reply_share:
            inst.replies(ts, creator, f, rng.randint(1, 2))
    haters = rng.sample(fans, int(inst.draw("blockers", rng.randint(3, 8))))
    for f in haters:
        inst.turn_away(t + rng.randrange(span + DAY_MS), f, creator, 0.4)


def teacher_class_group(inst: Instance) -> None:
    """A verified teacher adds a class (20-35 students of one school) to 1-3 groups."""
    rng, world = inst.rng, inst.world
    teacher = _old(inst, B.AGE_21_PLUS)
    teacher.school, students = _school_friends(
        inst, int(inst.draw("students", rng.randint(20, 35))), (B.AGE_13_15, B.AGE_16_17)
    )
    groups = [world.new_id("g") for _ in range(int(inst.draw("groups", rng.randint(1, 3))))]
    t = inst.start_window(0.3, 14)
    span = int(inst.draw("span_min", rng.randint(20, 120))) * MINUTE_MS
    for k, s in enumerate(students):
        inst.emit(
            t + span * k // len(students),
            EventType.GROUP_MEMBER_ADDED,
            teacher,
            s,
            group=groups[k % len(groups)],
        )
    for g in groups:
        for s in rng.sample(students, 5):
            inst.emit(t + span + rng.randrange(DAY_MS), EventType.MESSAGE_SENT, s, group=g)
        inst.emit(t + span + rng.randrange(HOUR_MS), EventType.MESSAGE_SENT, teacher, group=g)


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
            _chat(inst, ts, starter, other)
    for p in rng.sample(people, int(inst.draw("deleted", rng.randint(2, 5)))):
        inst.delete(world.start_ms + 12 * DAY_MS + rng.randrange(3 * DAY_MS), p)


def young_adult_friends(inst: Instance) -> None:
    """An 18-20-year-old with 16-17 friends; chats go both ways, they start many of them."""
    rng, world = inst.rng, inst.world
    ya = _old(inst, B.AGE_18_20)
    _, friends = _school_friends(
        inst, int(inst.draw("friends", rng.randint(5, 15))), (B.AGE_16_17,)
    )
    t = inst.start_window(0.3, 10)
    for f in friends:
        if rng.random() < 0.5:
            world.know(ya.id, f.id)
        elif rng.random() < 0.5:
            inst.emit(t + rng.randrange(HOUR_MS), EventType.CONTACT_ADDED, f, ya)
        for _ in range(rng.randint(1, 5)):
            ts = t + rng.randrange(5 * DAY_MS)
            starter, other = (f, ya) if rng.random() < 0.5 else (ya, f)
            _chat(inst, ts, starter, other)


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
    teen.school, mates = _school_friends(
        inst, int(inst.draw("classmates", rng.randint(15, 30))), (B.AGE_13_15,)
    )
    span = int(inst.draw("span_min", rng.randint(15, 60))) * MINUTE_MS
    for k, m in enumerate(mates):
        ts = t + span * k // len(mates)
        inst.emit(ts, EventType.CONTACT_ADDED, teen, m)
        if rng.random() < 0.8:
            _chat(inst, ts + rng.randrange(MINUTE_MS, 6 * HOUR_MS), m, teen)


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
            _chat(inst, ts + HOUR_MS, a, adult)


def sibling_shared_device(inst: Instance) -> None:
    """Two siblings on one device with overlapping friends; one re-registers, one adds an alt."""
    rng, world = inst.rng, inst.world
    tablet, home = inst.device(), inst.ip()
    older = _old(inst, B.AGE_16_17, device=tablet, home_ip=home)
    younger = _old(inst, B.AGE_13_15, device=tablet, home_ip=home)
    school, friends = _school_friends(inst, rng.randint(8, 16), (B.AGE_13_15, B.AGE_16_17))
    older.school = younger.school = school
    for f in friends:
        world.know(older.id, f.id)
        world.know(younger.id, f.id)
    t = inst.start_window(0.3, 8)
    for f in friends:
        _chat(inst, t + rng.randrange(3 * DAY_MS), rng.choice((older, younger)), f)
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
            _chat(inst, ts + rng.randrange(MINUTE_MS, DAY_MS), f, who)


def tutor(inst: Instance) -> None:
    """A verified adult tutor writes first to 3-8 new students of one school, after a chat
    with a parent of each (when the child's parent is on the app); the students answer within
    minutes with photos of their homework, and over 1-2 weeks they start most of the chats."""
    rng, world = inst.rng, inst.world
    teacher = _old(inst, B.AGE_21_PLUS)
    _, students = _school_friends(inst, int(inst.draw("students", rng.randint(3, 8))), _KIDS)
    days = int(inst.draw("days", rng.randint(7, 14)))
    t = inst.start_window(0.3, 15.5 - days)
    for s in students:
        first = t + rng.randrange(3 * DAY_MS)
        parent = _parent_of(world, s)
        if parent is not None:
            _chat(inst, first - rng.randrange(HOUR_MS, DAY_MS), parent, teacher)
        ts = inst.dm(first, teacher, s, rng.randint(1, 2))
        inst.replies(ts, s, teacher, rng.randint(1, 3), media=rng.randint(0, 2))  # homework
        for day in range(1, days, rng.randint(1, 3)):
            when = first + day * DAY_MS + rng.randrange(8 * HOUR_MS)
            starter, other = (s, teacher) if rng.random() < 0.7 else (teacher, s)
            ts = inst.dm(when, starter, other, rng.randint(1, 3))
            inst.replies(ts, other, starter, rng.randint(1, 2), media=int(rng.random() < 0.3))


def _parent_of(world: World, child: Person) -> Person | None:
    """A 21+ family member on the app (a friend sharing the child's home IP), if any."""
    for f in child.friends:
        p = world.people[f]
        if p.band is B.AGE_21_PLUS and p.home_ip == child.home_ip:
            return p
    return None


def student_organiser(inst: Instance) -> None:
    """A 16-17 student adds 20-45 schoolmates into 2-4 event groups within two hours."""
    rng, world = inst.rng, inst.world
    org = _old(inst, B.AGE_16_17)
    org.school, mates = _school_friends(
        inst, int(inst.draw("schoolmates", rng.randint(20, 45))), (B.AGE_13_15, B.AGE_16_17)
    )
    groups = [world.new_id("g") for _ in range(rng.randint(2, 4))]
    t = ts = inst.start_window(0.3, 14)
    for k, m in enumerate(mates):
        ts += rng.randrange(MINUTE_MS, 3 * MINUTE_MS)
        inst.emit(ts, EventType.GROUP_MEMBER_ADDED, org, m, group=groups[k % len(groups)])
        if rng.random() < 0.3:
            inst.emit(
                t + DAY_MS // 4 + k * MINUTE_MS,
                EventType.MESSAGE_SENT,
                m,
                group=groups[k % len(groups)],
            )


LOOKALIKES: Final[dict[str, Callable[[Instance], None]]] = {
    "family_device": family_device,
    "youth_coach": youth_coach,
    "teen_creator": teen_creator,
    "teacher_class_group": teacher_class_group,
    "school_ip": school_ip,
    "carrier_nat": carrier_nat,
    "young_adult_friends": young_adult_friends,
    "new_teen_joins_school": new_teen_joins_school,
    "adult_onboarding": adult_onboarding,
    "sibling_shared_device": sibling_shared_device,
    "student_organiser": student_organiser,
    "tutor": tutor,
}
