"""The background: a teen app's ordinary traffic, with the social structure detectors meet.

Schools (minors share the school's IP during lessons, befriend mostly schoolmates of their own
age), families (a home IP, parents on the app, sometimes a shared family device), carrier NAT
addresses shared by many unrelated accounts, group chats (school groups, clubs with an adult
coach), young adults with older-teen friends, new and deleted accounts, anonymous accounts,
ordinary blocks and reports between peers, and media between friends. Chats go both ways.
"""

from __future__ import annotations

import random
from typing import Final

from streams.model import AgeBand, EventType
from streams.randbench import everyday
from streams.randbench.world import DAY_MS, HOUR_MS, MINUTE_MS, Person, School, World

# Declared bands of a teen app's users: far more minors than adults (parents, coaches,
# teachers and young adults are the adults).
BAND_MIX: Final = (
    (AgeBand.UNDER_13, 0.08),
    (AgeBand.AGE_13_15, 0.40),
    (AgeBand.AGE_16_17, 0.30),
    (AgeBand.AGE_18_20, 0.09),
    (AgeBand.AGE_21_PLUS, 0.11),
    (AgeBand.UNKNOWN, 0.02),
)
MINORS_PER_SCHOOL: Final = 220
CARRIER_IPS: Final = 8
CHATS_PER_DAY: Final = 0.55  # conversations an account starts per active day, on average
_YOUNGER = (AgeBand.UNDER_13, AgeBand.AGE_13_15)


def build_background(world: World, accounts: int) -> None:
    """Create `accounts` background accounts and all their traffic over the span."""
    rng = random.Random(f"randbench:{world.seed}:background")
    world.carrier_ips.extend(world.new_id("ip") for _ in range(CARRIER_IPS))
    bands = rng.choices([b for b, _ in BAND_MIX], [w for _, w in BAND_MIX], k=accounts)
    people = [_new_background_person(world, rng, band) for band in bands]
    minors = [p for p in people if p.is_minor]
    _schools(world, rng, minors)
    _families(world, rng, people)
    _friends(world, rng, people)
    _groups(world, rng, people)
    for person in people:
        _lifecycle(world, rng, person)
    people.extend(everyday.reregistrations(world, rng, people))
    world.background.extend(p.id for p in people)
    world.stable_minors.extend(p.id for p in minors if p.lifelong(world.start_ms))
    for person in people:
        _daily_chats(world, rng, person)
    _group_traffic(world, rng)
    everyday.relatives(world, rng, people)
    everyday.study_groups(world, rng)


def _new_background_person(world: World, rng: random.Random, band: AgeBand) -> Person:
    created_in_span = rng.random() < 0.04
    if created_in_span:
        created = world.start_ms + rng.randrange((world.days - 2) * DAY_MS)
    else:
        created = world.start_ms - rng.randrange(2 * DAY_MS, 900 * DAY_MS)
    anonymous = rng.random() < (0.3 if created_in_span else 0.08)
    return world.add_person(
        band, created, anonymous=anonymous, flags_first=rng.random() < 0.6, announce=False
    )


def _schools(world: World, rng: random.Random, minors: list[Person]) -> None:
    count = max(2, round(len(minors) / MINORS_PER_SCHOOL))
    world.schools.extend(School(ip=world.new_id("ip")) for _ in range(count))
    for person in minors:
        person.school = rng.randrange(count)
        world.schools[person.school].minors.append(person.id)


def _families(world: World, rng: random.Random, people: list[Person]) -> None:
    """Siblings share a home IP, sometimes a family device, and a parent on the app."""
    minors = [p for p in people if p.is_minor]
    parents = [p for p in people if p.band is AgeBand.AGE_21_PLUS]
    rng.shuffle(minors)
    i = 0
    while i < len(minors):
        kids = minors[i : i + rng.choice((1, 1, 2, 2, 3))]
        i += len(kids)
        home = world.new_id("ip")
        shared = world.new_id("d") if rng.random() < 0.3 else None
        family = list(kids)
        if parents and rng.random() < 0.5:
            family.append(parents.pop())
        for member in family:
            member.home_ip = home
            member.family_device = shared
        for a in family:
            for b in family:
                if a.id < b.id:
                    _befriend(world, a, b)


def _befriend(world: World, a: Person, b: Person) -> None:
    if b.id not in a.friends:
        a.friends.append(b.id)
        b.friends.append(a.id)
        world.know(a.id, b.id)


def _friends(world: World, rng: random.Random, people: list[Person]) -> None:
    """Mostly schoolmates of a near age; adults befriend adults; some 18-20 know 16-17s."""
    by_school: dict[int, list[Person]] = {}
    for p in people:
        if p.school is not None:
            by_school.setdefault(p.school, []).append(p)
    minors = [p for p in people if p.is_minor]
    adults = [p for p in people if not p.is_minor]
    older_teens = [p for p in minors if p.band is AgeBand.AGE_16_17]
    for p in people:
        want = rng.randint(4, 12)
        for _ in range(want):
            if p.school is not None:
                pool = by_school[p.school] if rng.random() < 0.85 else minors
                peer = rng.choice(pool)
                if (peer.band in _YOUNGER) != (p.band in _YOUNGER) and rng.random() < 0.7:
                    continue  # near age, mostly
            elif p.band is AgeBand.AGE_18_20 and older_teens and rng.random() < 0.35:
                peer = rng.choice(older_teens)
            else:
                peer = rng.choice(adults)
            if peer is not p:
                _befriend(world, p, peer)


def _groups(world: World, rng: random.Random, people: list[Person]) -> None:
    """School groups of friends, and clubs whose adult coach is a member."""
    coaches = [p for p in people if p.band is AgeBand.AGE_21_PLUS]
    for school in world.schools:
        for _ in range(max(1, len(school.minors) // 12)):
            members = rng.sample(school.minors, min(len(school.minors), rng.randint(4, 10)))
            world.groups[world.new_id("g")] = members
        if coaches:
            coach = rng.choice(coaches)
            team = rng.sample(school.minors, min(len(school.minors), rng.randint(8, 16)))
            world.groups[world.new_id("g")] = [coach.id, *team]
            for kid in team:
                world.know(coach.id, kid)


def _lifecycle(world: World, rng: random.Random, p: Person) -> None:
    """New accounts announce themselves and add a few friends; a few accounts leave."""
    if p.born_ms > world.start_ms:
        world.emit(p.born_ms, EventType.ACCOUNT_CREATED, p, rng=rng)
        ts = p.born_ms
        for friend_id in p.friends[: rng.randint(2, 8)]:
            ts += rng.randrange(MINUTE_MS, 40 * MINUTE_MS)
            friend = world.people[friend_id]
            world.emit(ts, EventType.CONTACT_ADDED, p, friend, rng=rng)
            if rng.random() < 0.7:
                world.emit(ts + rng.randrange(HOUR_MS), EventType.MESSAGE_SENT, friend, p, rng=rng)
    if rng.random() < 0.015:
        gone = max(p.born_ms + HOUR_MS, world.start_ms + rng.randrange(world.days * DAY_MS))
        p.gone_ms = gone
        world.emit(gone, EventType.ACCOUNT_DELETED, p, rng=rng)


def _daily_chats(world: World, rng: random.Random, p: Person) -> None:
    """Conversations with friends: a few messages one way, usually answered."""
    if not p.friends:
        return
    for day in range(world.days):
        chats = _poisson(rng, CHATS_PER_DAY)
        for _ in range(chats):
            ts = world.day_time(rng, day)
            friend = world.people[rng.choice(p.friends)]
            if not (p.alive(ts) and friend.alive(ts + HOUR_MS)):
                continue
            for _ in range(rng.randint(1, 3)):
                ts += rng.randrange(10_000, 4 * MINUTE_MS)
                world.emit(ts, EventType.MESSAGE_SENT, p, friend, media=_media(rng), rng=rng)
            if rng.random() < 0.85:
                for _ in range(rng.randint(1, 3)):
                    ts += rng.randrange(10_000, 6 * MINUTE_MS)
                    media = _media(rng)
                    world.emit(ts, EventType.MESSAGE_SENT, friend, p, media=media, rng=rng)
        if rng.random() < 0.004:  # a falling-out
            other = world.people[rng.choice(p.friends)]
            ts = world.day_time(rng, day)
            if p.alive(ts) and other.alive(ts):
                world.emit(ts, EventType.BLOCKED, p, other, rng=rng)
                if rng.random() < 0.3:
                    world.emit(ts + MINUTE_MS, EventType.REPORTED, p, other, rng=rng)
        if rng.random() < 0.01:  # a new friend of a friend
            via = world.people[rng.choice(p.friends)]
            if via.friends:
                new = world.people[rng.choice(via.friends)]
                ts = world.day_time(rng, day)
                if new is not p and new.id not in p.friends and p.alive(ts) and new.alive(ts):
                    p.friends.append(new.id)
                    new.friends.append(p.id)
                    world.emit(ts, EventType.CONTACT_ADDED, p, new, rng=rng)
                    world.emit(ts + 5 * MINUTE_MS, EventType.MESSAGE_SENT, new, p, rng=rng)


def _group_traffic(world: World, rng: random.Random) -> None:
    """Group chats: members post a few times a day; now and then a member adds a friend."""
    for group, members in list(world.groups.items()):
        for day in range(world.days):
            for _ in range(_poisson(rng, 2.0)):
                ts = world.day_time(rng, day)
                poster = world.people[rng.choice(members)]
                if poster.alive(ts):
                    world.emit(ts, EventType.MESSAGE_SENT, poster, group=group, rng=rng)
            if rng.random() < 0.03:
                adder = world.people[rng.choice(members)]
                ts = world.day_time(rng, day)
                if adder.friends and adder.alive(ts):
                    friend = world.people[rng.choice(adder.friends)]
                    if friend.id not in members and friend.alive(ts):
                        members.append(friend.id)
                        world.emit(
                            ts, EventType.GROUP_MEMBER_ADDED, adder, friend, group=group, rng=rng
                        )


def _media(rng: random.Random) -> bool | None:
    return True if rng.random() < 0.06 else None


def _poisson(rng: random.Random, mean: float) -> int:
    """Small-mean Poisson draw (Knuth), enough for activity counts."""
    limit, k, product = pow(2.718281828459045, -mean), 0, rng.random()
    while product > limit:
        k += 1
        product *= rng.random()
    return k
