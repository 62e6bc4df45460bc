"""Everyday background behaviour that resembles an attack's traces, at background rates.

Teens who delete an account and start again on the same phone, relatives and tutors who
write to a few minors they have not written to before, and students who pull classmates into
a new study group. None is an instance: these accounts count as background, so a detector
that fires on them shows up in the background rate.
"""

from __future__ import annotations

import random
from typing import Final

from streams.model import AgeBand, EventType
from streams.randbench.world import DAY_MS, HOUR_MS, MINUTE_MS, Person, World

REREGISTER_SHARE: Final = 0.006  # minors who delete and re-register during the span
RELATIVE_SHARE: Final = 0.08  # adults 21+ who first-contact a few minors (niece, tutee)
STUDY_GROUPS_PER_SCHOOL_DAY: Final = 0.3


def reregistrations(world: World, rng: random.Random, people: list[Person]) -> list[Person]:
    """Some minors delete their account and sign up again on the same phone; the new
    account re-adds friends, who answer. Returns the new accounts."""
    fresh: list[Person] = []
    for p in people:
        if not p.is_minor or p.gone_ms is not None or rng.random() >= REREGISTER_SHARE:
            continue
        gone = world.start_ms + rng.randrange(DAY_MS, (world.days - 2) * DAY_MS)
        p.gone_ms = gone
        world.emit(gone, EventType.ACCOUNT_DELETED, p, rng=rng)
        created = gone + rng.randrange(10 * MINUTE_MS, 2 * DAY_MS)
        new = world.add_person(
            p.band,
            created,
            anonymous=rng.random() < 0.3,
            device=p.device,
            home_ip=p.home_ip,
            carrier_ip=p.carrier_ip,
            flags_first=p.flags_first,
        )
        new.school, new.family_device = p.school, p.family_device
        new.friends = list(p.friends)
        for f in p.friends:
            world.people[f].friends.append(new.id)
        ts = created
        for f in rng.sample(p.friends, rng.randint(min(2, len(p.friends)), len(p.friends))):
            friend = world.people[f]
            ts += rng.randrange(MINUTE_MS, 30 * MINUTE_MS)
            if friend.alive(ts):
                world.emit(ts, EventType.CONTACT_ADDED, new, friend, rng=rng)
                world.emit(
                    ts + rng.randrange(HOUR_MS), EventType.MESSAGE_SENT, friend, new, rng=rng
                )
        fresh.append(new)
    return fresh


def relatives(world: World, rng: random.Random, people: list[Person]) -> None:
    """An aunt, a tutor: an adult writes to one to three minors for the first time, who reply."""
    minors = [p for p in people if p.is_minor and p.lifelong(world.start_ms)]
    for p in people:
        if p.band is not AgeBand.AGE_21_PLUS or rng.random() >= RELATIVE_SHARE:
            continue
        for kid in rng.sample(minors, rng.randint(1, 3)):
            ts = world.day_time(rng, rng.randrange(world.days))
            if not p.alive(ts):
                continue
            for _ in range(rng.randint(1, 3)):
                ts += rng.randrange(20_000, 5 * MINUTE_MS)
                world.emit(ts, EventType.MESSAGE_SENT, p, kid, rng=rng)
            if rng.random() < 0.85:
                ts += rng.randrange(MINUTE_MS, 3 * HOUR_MS)
                world.emit(ts, EventType.MESSAGE_SENT, kid, p, rng=rng)


def study_groups(world: World, rng: random.Random) -> None:
    """A student makes a group for a project and adds four to twelve schoolmates."""
    for school in world.schools:
        alive = [m for m in school.minors if world.people[m].lifelong(world.start_ms)]
        if len(alive) < 13:
            continue
        for day in range(world.days):
            if rng.random() >= STUDY_GROUPS_PER_SCHOOL_DAY:
                continue
            owner, *mates = (world.people[m] for m in rng.sample(alive, rng.randint(5, 13)))
            group = world.new_id("g")
            ts = world.day_time(rng, day)
            for mate in mates:
                ts += rng.randrange(10_000, 2 * MINUTE_MS)
                world.emit(ts, EventType.GROUP_MEMBER_ADDED, owner, mate, group=group, rng=rng)
            for poster in rng.sample(mates, min(4, len(mates))):
                ts += rng.randrange(MINUTE_MS, HOUR_MS)
                world.emit(ts, EventType.MESSAGE_SENT, poster, group=group, rng=rng)
