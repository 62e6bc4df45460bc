"""Benign look-alikes that reach many minors: adults with a reason to (a coach, a teacher, a
tutor), a popular teen, a student organising, a young adult among older-teen friends.

Their counterparts come from one school or the adult's own circle, answer, start chats, and
bring parents along: the peer-like and network signs a detector may use to spare them.
"""

from __future__ import annotations

from typing import Final

from streams.model import AgeBand, EventType
from streams.randbench.instance import Instance
from streams.randbench.world import DAY_MS, HOUR_MS, MINUTE_MS

B = AgeBand
KIDS: Final = (B.UNDER_13, B.AGE_13_15, B.AGE_16_17)


def youth_coach(inst: Instance) -> None:
    """A verified adult coach adds 15-40 minors of one school across 2-5 team groups, and 2-8
    of their parents who are on the app."""
    rng, world = inst.rng, inst.world
    coach = inst.old_account(B.AGE_21_PLUS)
    n = int(inst.draw("minors", rng.randint(15, 40)))
    groups = [world.new_id("g") for _ in range(int(inst.draw("groups", rng.randint(2, 5))))]
    _, kids = inst.school_minors(n, (B.UNDER_13, B.AGE_13_15, B.AGE_16_17))
    span = int(inst.draw("span_min", rng.randint(30, 240))) * MINUTE_MS
    t = inst.start_window(0.3, 14)
    parents = [p for p in (world.parent_of(kid) for kid in kids) if p is not None]
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
        inst.chat(t + span + rng.randrange(2 * DAY_MS), kid, coach)  # the kids ask the coach


def teacher_class_group(inst: Instance) -> None:
    """A verified teacher adds a class (20-35 students of one school) to 1-3 groups."""
    rng, world = inst.rng, inst.world
    teacher = inst.old_account(B.AGE_21_PLUS)
    teacher.school, students = inst.school_minors(
        int(inst.draw("students", rng.randint(20, 35))), (B.AGE_13_15, B.AGE_16_17)
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


def student_organiser(inst: Instance) -> None:
    """A 16-17 student adds 20-45 schoolmates into 2-4 event groups within two hours; half the
    time it then posts a flyer (an image) to each group within a few hours."""
    rng, world = inst.rng, inst.world
    # Unverified as often as the background's established accounts are (social.py: 8%).
    org = inst.old_account(B.AGE_16_17, anonymous=bool(inst.draw("anonymous", rng.random() < 0.08)))
    org.school, mates = inst.school_minors(
        int(inst.draw("schoolmates", rng.randint(20, 45))), (B.AGE_13_15, B.AGE_16_17)
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
    if rng.random() < 0.5:
        for g in groups:
            inst.emit(
                ts + rng.randrange(3 * HOUR_MS), EventType.MESSAGE_SENT, org, group=g, media=True
            )


def tutor(inst: Instance) -> None:
    """A verified adult tutor writes first to 3-8 new students of one school, after a chat
    with a parent of each (when the child's parent is on the app); the students answer within
    minutes with photos of their homework, and over 1-2 weeks they start most of the chats."""
    rng, world = inst.rng, inst.world
    teacher = inst.old_account(B.AGE_21_PLUS)
    _, students = inst.school_minors(int(inst.draw("students", rng.randint(3, 8))), KIDS)
    days = int(inst.draw("days", rng.randint(7, 14)))
    t = inst.start_window(0.3, 15.5 - days)
    for s in students:
        first = t + rng.randrange(3 * DAY_MS)
        parent = world.parent_of(s)
        if parent is not None:
            inst.chat(first - rng.randrange(HOUR_MS, DAY_MS), parent, teacher)
        ts = inst.dm(first, teacher, s, rng.randint(1, 2))
        inst.replies(ts, s, teacher, rng.randint(1, 3), media=rng.randint(0, 2))  # homework
        for day in range(1, days, rng.randint(1, 3)):
            when = first + day * DAY_MS + rng.randrange(8 * HOUR_MS)
            starter, other = (s, teacher) if rng.random() < 0.7 else (teacher, s)
            ts = inst.dm(when, starter, other, rng.randint(1, 3))
            inst.replies(ts, other, starter, rng.randint(1, 2), media=int(rng.random() < 0.3))


def teen_creator(inst: Instance) -> None:
    """A popular teen receives many inbound messages from fans, replies to some; a few fans
    block or report."""
    rng = inst.rng
    creator = inst.old_account(rng.choice((B.AGE_16_17, B.AGE_13_15)))
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


def young_adult_friends(inst: Instance) -> None:
    """An 18-20-year-old with 16-17 friends; chats go both ways, they start many of them."""
    rng, world = inst.rng, inst.world
    ya = inst.old_account(B.AGE_18_20)
    _, friends = inst.school_minors(int(inst.draw("friends", rng.randint(5, 15))), (B.AGE_16_17,))
    t = inst.start_window(0.3, 10)
    for f in friends:
        if rng.random() < 0.5:
            world.know(ya.id, f.id)
        elif rng.random() < 0.5:
            inst.emit(t + rng.randrange(HOUR_MS), EventType.CONTACT_ADDED, f, ya)
        for _ in range(rng.randint(1, 5)):
            ts = t + rng.randrange(5 * DAY_MS)
            starter, other = (f, ya) if rng.random() < 0.5 else (ya, f)
            inst.chat(ts, starter, other)


def chatty_new_friends(inst: Instance) -> None:
    """A verified teen meets 3-8 new teens over 1-2 weeks (half write first) and chats away in
    the first hour: 3-12 messages with 0-2 images, answered with 0.25-1.5 times as many (a shy
    one answers little), and they come back on later days. The honest cost of counting a flood
    of messages and images to a minor met within the hour."""
    rng = inst.rng
    teen = inst.old_account(rng.choice((B.AGE_13_15, B.AGE_16_17)))
    others = inst.minors(int(inst.draw("new_friends", rng.randint(3, 8))), bands=KIDS[1:])
    days = int(inst.draw("days", rng.randint(7, 14)))
    t = inst.start_window(0.3, 15.5 - days)
    for other in others:
        first = t + rng.randrange(days * DAY_MS)
        opener, answerer = (teen, other) if rng.random() < 0.5 else (other, teen)
        sent = rng.randint(3, 12)
        images = rng.randint(0, 2)
        ts = first
        for k in range(sent):
            inst.emit(
                ts, EventType.MESSAGE_SENT, opener, answerer, media=True if k < images else None
            )
            ts += rng.randrange(20_000, 4 * MINUTE_MS)
        back = max(1, round(sent * rng.uniform(0.25, 1.5)))
        inst.replies(first + MINUTE_MS, answerer, opener, back, media=rng.randint(0, 1))
        for day in range(1, days, rng.randint(1, 3)):
            when = first + day * DAY_MS + rng.randrange(8 * HOUR_MS)
            starter, to = (other, teen) if rng.random() < 0.5 else (teen, other)
            inst.chat(when, starter, to)
