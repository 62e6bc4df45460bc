"""Behaviours no issue names but the threat model suggests (issue 15, item 0).

- `group_then_dm`: joins existing group chats full of minors, then first-DMs their members.
- `move_to_group`: first-DMs minors, then pulls the ones it reached into a group of its own.
- `under13_targeter`: goes specifically after under-13s.
- `victim_network`: unrelated-looking accounts (own devices and IPs) sharing one victim pool.
- `band_switcher`: signs up as an adult, then edits its declared age to 16-17 or 13-15 (or
  to unknown) before it contacts minors: its events carry the new band from then on.
- `bait_extortion`: a lure makes minors write to it first (threat model B19); within the hour
  it has images from several, then threatens them, and they block or report it.
- `off_platform_move`: opens private chats with 8-20 minors over 1-72 h; most answer, a few
  quick turns, then the chat stops for good: the pair moved to another app (threat model B15).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from msgspec.structs import replace

from streams.model import AgeBand, EventType
from streams.randbench.attacks import TEEN_CLAIM_BANDS, offender
from streams.randbench.instance import Instance
from streams.randbench.world import DAY_MS, HOUR_MS, MINUTE_MS


def group_then_dm(inst: Instance) -> None:
    rng, world = inst.rng, inst.world
    start = inst.start_window(0.5, 12)
    o = offender(inst, start)
    joined = rng.sample(sorted(world.groups), int(inst.draw("groups_joined", rng.randint(2, 3))))
    members = sorted(
        {m for g in joined for m in world.groups[g] if world.people[m].is_minor}
        & set(world.stable_minors)
    )
    t = start - rng.randrange(HOUR_MS, DAY_MS)
    for g in joined:
        inst.emit(t, EventType.GROUP_JOINED, o, group=g)
        inst.emit(t + rng.randrange(MINUTE_MS, HOUR_MS), EventType.MESSAGE_SENT, o, group=g)
    n = int(inst.draw("minors", min(len(members), rng.randint(6, 15))))
    span = int(inst.draw("span_h", rng.randint(6, 72))) * HOUR_MS
    for k, m in enumerate(rng.sample(members, n)):
        v = world.people[m]
        ts = inst.dm(start + span * k // max(1, n), o, v, rng.randint(1, 4))
        if rng.random() < 0.5:
            inst.replies(ts, v, o, rng.randint(1, 3), media=1 if rng.random() < 0.15 else 0)


def move_to_group(inst: Instance) -> None:
    rng, world = inst.rng, inst.world
    start = inst.start_window(0.5, 13)
    o = offender(inst, start)
    victims = inst.minors(int(inst.draw("minors", rng.randint(5, 12))), spread=True)
    t = start
    for v in victims:
        t = inst.dm(t + rng.randrange(5 * MINUTE_MS, HOUR_MS), o, v, rng.randint(1, 3))
        if rng.random() < 0.6:
            inst.replies(t, v, o, rng.randint(1, 2))
    group = world.new_id("g")
    t += int(inst.draw("group_after_h", rng.randint(1, 24))) * HOUR_MS
    for v in victims:
        t += rng.randrange(20_000, 3 * MINUTE_MS)
        inst.emit(t, EventType.GROUP_MEMBER_ADDED, o, v, group=group)
    for _ in range(rng.randint(2, 6)):
        t += rng.randrange(MINUTE_MS, HOUR_MS)
        inst.emit(t, EventType.MESSAGE_SENT, o, group=group, media=rng.random() < 0.5 or None)


def under13_targeter(inst: Instance) -> None:
    rng = inst.rng
    start = inst.start_window(0.5, 14)
    o = offender(inst, start)
    victims = inst.minors(
        int(inst.draw("minors", rng.randint(5, 12))), bands=(AgeBand.UNDER_13,), spread=True
    )
    span = int(inst.draw("span_h", rng.randint(4, 48))) * HOUR_MS
    for k, v in enumerate(victims):
        ts = start + span * k // len(victims)
        if rng.random() < 0.4:
            inst.emit(ts, EventType.CONTACT_ADDED, o, v)
        ts = inst.dm(ts + MINUTE_MS, o, v, rng.randint(1, 5))
        if rng.random() < 0.5:
            inst.replies(ts, v, o, rng.randint(1, 3), media=1 if rng.random() < 0.2 else 0)


def victim_network(inst: Instance) -> None:
    rng = inst.rng
    start = inst.start_window(0.5, 10)
    pool = inst.minors(int(inst.draw("victim_pool", rng.randint(8, 15))), spread=True)
    k = int(inst.draw("accounts", rng.randint(3, 5)))
    for i in range(k):
        first = start + rng.randrange(4 * DAY_MS)
        acc = offender(inst, first, prefix=f"a{i}_")
        t = first
        for v in rng.sample(pool, rng.randint(3, min(8, len(pool)))):
            t = inst.dm(t + rng.randrange(10 * MINUTE_MS, 8 * HOUR_MS), acc, v, rng.randint(1, 3))
            if rng.random() < 0.4:
                inst.replies(t, v, acc, rng.randint(1, 2))


def band_switcher(inst: Instance) -> None:
    rng = inst.rng
    start = inst.start_window(1, 14)
    o = offender(inst, start, ((AgeBand.AGE_21_PLUS, 0.6), (AgeBand.AGE_18_20, 0.4)))
    claim = rng.choice((AgeBand.AGE_16_17, AgeBand.AGE_16_17, AgeBand.AGE_13_15, AgeBand.UNKNOWN))
    inst.draw("switched_to", claim.value)
    switch = start - rng.randrange(10 * MINUTE_MS, DAY_MS)
    born = max(o.born_ms, switch - 2 * DAY_MS)
    if born < switch:  # a little adult life under the first band, seen by the pipeline
        world = inst.world
        adults = [a for a in world.background if world.people[a].band is AgeBand.AGE_21_PLUS]
        for a in rng.sample(adults, rng.randint(1, 3)):
            inst.dm(rng.randrange(born, switch), o, world.people[a])
    o.account = replace(o.account, age_band=claim)  # from here on its events say so
    inst.draw("switched_before_min", (start - switch) // MINUTE_MS)
    victims = inst.minors(int(inst.draw("minors", rng.randint(6, 20))), spread=True)
    span = int(inst.draw("span_h", rng.randint(1, 8))) * HOUR_MS
    for k, v in enumerate(victims):
        ts = start + span * k // len(victims)
        if rng.random() < 0.3:
            inst.emit(ts, EventType.CONTACT_ADDED, o, v)
        ts = inst.dm(ts + MINUTE_MS, o, v, rng.randint(1, 4))
        if rng.random() < 0.4:
            inst.replies(ts, v, o, rng.randint(1, 3), media=1 if rng.random() < 0.15 else 0)


def bait_extortion(inst: Instance) -> None:
    rng = inst.rng
    start = inst.start_window(0.5, 13)
    o = offender(inst, start, TEEN_CLAIM_BANDS) if rng.random() < 0.5 else offender(inst, start)
    victims = inst.minors(int(inst.draw("minors", rng.randint(3, 10))), spread=True)
    span = int(inst.draw("span_h", rng.randint(2, 72))) * HOUR_MS
    media_share = float(inst.draw("media_share", round(rng.uniform(0.4, 1), 2)))
    sends_first = float(inst.draw("sends_image_first_p", round(rng.uniform(0, 0.6), 2)))
    for k, v in enumerate(victims):
        first = start + span * k // len(victims)
        ts = inst.dm(first, v, o, rng.randint(1, 3))  # the lure worked: the minor writes first
        gap = rng.randrange(20_000, 3 * MINUTE_MS)
        ts = inst.dm(ts + rng.randrange(MINUTE_MS, 10 * MINUTE_MS), o, v, rng.randint(2, 5), gap)
        if rng.random() < sends_first:
            inst.emit(ts, EventType.MESSAGE_SENT, o, v, media=True)  # "send me yours"
        if rng.random() < media_share:
            sent = inst.replies(ts, v, o, rng.randint(1, 3), media=rng.randint(1, 2))
            inst.turn_away(sent + rng.randrange(10 * MINUTE_MS, 12 * HOUR_MS), v, o, 0.6)
        elif rng.random() < 0.5:
            inst.replies(ts, v, o, rng.randint(1, 3))


def off_platform_move(inst: Instance) -> None:
    rng = inst.rng
    start = inst.start_window(0.5, 12)
    o = offender(inst, start)
    n = int(inst.draw("minors", rng.randint(8, 20)))
    span = int(inst.draw("span_h", rng.randint(1, 72))) * HOUR_MS
    reply_p = float(inst.draw("reply_p", round(rng.uniform(0.6, 0.95), 2)))
    for k, v in enumerate(inst.minors(n, spread=rng.random() < 0.7)):
        ts = start + span * k // n
        if rng.random() < 0.3:
            inst.emit(ts, EventType.CONTACT_ADDED, o, v)
            ts += rng.randrange(20_000, 5 * MINUTE_MS)
        ts = inst.dm(ts, o, v, rng.randint(1, 3))
        if rng.random() < reply_p:
            for _ in range(rng.randint(1, 3)):  # a few quick turns, then it goes elsewhere
                ts = inst.replies(ts, v, o, rng.randint(1, 2))
                ts = inst.dm(ts + rng.randrange(20_000, 3 * MINUTE_MS), o, v, rng.randint(1, 2))


EXTRA_ATTACKS: Final[dict[str, Callable[[Instance], None]]] = {
    "group_then_dm": group_then_dm,
    "move_to_group": move_to_group,
    "under13_targeter": under13_targeter,
    "victim_network": victim_network,
    "band_switcher": band_switcher,
    "bait_extortion": bait_extortion,
    "off_platform_move": off_platform_move,
}
