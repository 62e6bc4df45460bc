"""The attack patterns of issue 15 (a-i), each instance drawn from parameter ranges.

Every pattern draws its offender's declared band (21+, 18-20, UNKNOWN, 16-17, even 13-15),
anonymity, account age, whether its client sets `first_contact`, and whether it sits on its own
IP or a carrier's shared NAT address; `Instance.draw` records each choice for the report.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from streams.model import AgeBand, EventType
from streams.randbench.instance import Instance
from streams.randbench.world import DAY_MS, HOUR_MS, MINUTE_MS, Person

Band = AgeBand
OFFENDER_BANDS: Final = (
    (Band.AGE_21_PLUS, 0.30),
    (Band.AGE_18_20, 0.15),
    (Band.UNKNOWN, 0.25),
    (Band.AGE_16_17, 0.20),
    (Band.AGE_13_15, 0.10),
)
TEEN_CLAIM_BANDS: Final = ((Band.AGE_16_17, 0.5), (Band.UNKNOWN, 0.35), (Band.AGE_13_15, 0.15))


def offender(
    inst: Instance,
    start_ms: int,
    bands: tuple[tuple[AgeBand, float], ...] = OFFENDER_BANDS,
    *,
    new_p: float = 0.5,
    prefix: str = "",
    device: str | None = None,
    home_ip: str | None = None,
) -> Person:
    """An offender account drawn from the usual ranges; its draws go to the params."""
    rng = inst.rng
    band = rng.choices([b for b, _ in bands], [w for _, w in bands])[0]
    new = rng.random() < new_p
    created = start_ms - (
        rng.randrange(5 * MINUTE_MS, 2 * DAY_MS)
        if new
        else rng.randrange(10 * DAY_MS, 600 * DAY_MS)
    )
    anonymous = rng.random() < 0.5
    flags = rng.random() < 0.5
    shared_ip = home_ip is None and rng.random() < 0.4
    if shared_ip:
        home_ip = rng.choice(inst.world.carrier_ips)
    inst.draw(prefix + "band", band.value)
    inst.draw(prefix + "anonymous", anonymous)
    inst.draw(prefix + "account_age_days", round((start_ms - created) / DAY_MS, 1))
    inst.draw(prefix + "first_contact_flag", flags)
    inst.draw(prefix + "carrier_nat_ip", shared_ip)
    return inst.account(
        band, created, anonymous=anonymous, device=device, home_ip=home_ip, flags_first=flags
    )


def classic_burst(inst: Instance) -> None:
    """First DMs or contact adds of 15-40 minors it never spoke to, within 20-90 minutes."""
    rng = inst.rng
    start = inst.start_window(0.5, 14.5)
    o = offender(inst, start)
    n = int(inst.draw("minors", rng.randint(15, 40)))
    span = int(inst.draw("span_min", rng.randint(20, 90))) * MINUTE_MS
    add_share = float(inst.draw("contact_add_share", round(rng.random(), 2)))
    reply_p = float(inst.draw("reply_p", round(rng.uniform(0, 0.4), 2)))
    for k, v in enumerate(inst.minors(n, spread=rng.random() < 0.5)):
        ts = start + span * k // n
        if rng.random() < add_share:
            inst.emit(ts, EventType.CONTACT_ADDED, o, v)
            if rng.random() < 0.5:
                inst.dm(ts + rng.randrange(20_000, 2 * MINUTE_MS), o, v)
        else:
            inst.dm(ts, o, v, rng.randint(1, 3))
        if rng.random() < reply_p:
            inst.replies(ts + MINUTE_MS, v, o, rng.randint(1, 3))


def teen_claim_groomer(inst: Instance) -> None:
    """Declares 16-17 or UNKNOWN (sometimes 13-15); first-contacts 4-12 minors of different
    schools over 2-12 h; some reply, some send media back, some later block and report."""
    rng = inst.rng
    start = inst.start_window(0.5, 13)
    o = offender(inst, start, TEEN_CLAIM_BANDS)
    n = int(inst.draw("minors", rng.randint(4, 12)))
    span = int(inst.draw("span_h", rng.randint(2, 12))) * HOUR_MS
    media_p = float(inst.draw("media_back_p", round(rng.uniform(0.1, 0.5), 2)))
    turn_p = float(inst.draw("block_p", round(rng.uniform(0.0, 0.4), 2)))
    for k, v in enumerate(inst.minors(n, spread=True)):
        ts = inst.dm(start + span * k // n, o, v, rng.randint(2, 6))
        if rng.random() < 0.6:
            ts = inst.replies(ts, v, o, rng.randint(1, 4))
            for _ in range(rng.randint(0, 3)):  # the chat goes on for days
                ts = inst.dm(ts + rng.randrange(2 * HOUR_MS, DAY_MS), o, v, rng.randint(1, 4))
                ts = inst.replies(ts, v, o, rng.randint(1, 3))
            if rng.random() < media_p:
                soon = rng.random() < 0.6
                lag = (
                    rng.randrange(5 * MINUTE_MS, HOUR_MS)
                    if soon
                    else rng.randrange(HOUR_MS, DAY_MS)
                )
                inst.replies(ts + lag, v, o, rng.randint(1, 3), media=rng.randint(1, 2))
        if rng.random() < turn_p:
            inst.turn_away(ts + rng.randrange(HOUR_MS, 2 * DAY_MS), v, o, 0.5)


def split_channels(rng_total: int, weights: tuple[float, float, float], cap: int) -> list[int]:
    """`rng_total` minors over three channels in proportion to `weights`, none above `cap`."""
    total = sum(weights)
    counts = [int(rng_total * w / total) for w in weights]
    counts[counts.index(min(counts))] += rng_total - sum(counts)
    while max(counts) > cap:
        counts[counts.index(max(counts))] -= 1
        counts[counts.index(min(counts))] += 1
    return counts


def cross_channel_spread(inst: Instance) -> None:
    """15-30 minors in under an hour, split between contact adds, group adds into 2-3 new
    groups and first DMs: no channel reaches 15, group adds stay under 20."""
    rng = inst.rng
    start = inst.start_window(0.5, 14.5)
    o = offender(inst, start)
    n = int(inst.draw("minors", rng.randint(15, 30)))
    span = int(inst.draw("span_min", rng.randint(25, 59))) * MINUTE_MS
    weights = (rng.uniform(0.5, 1), rng.uniform(0.5, 1), rng.uniform(0.5, 1))
    adds, grouped, dms = split_channels(n, weights, 14)
    inst.draw("contact_adds", adds)
    inst.draw("group_adds", grouped)
    inst.draw("first_dms", dms)
    groups = [inst.world.new_id("g") for _ in range(int(inst.draw("groups", rng.randint(2, 3))))]
    channels = ["add"] * adds + ["group"] * grouped + ["dm"] * dms
    rng.shuffle(channels)
    for k, (channel, v) in enumerate(zip(channels, inst.minors(n, spread=True), strict=False)):
        ts = start + span * k // n
        if channel == "add":
            inst.emit(ts, EventType.CONTACT_ADDED, o, v)
        elif channel == "group":
            inst.emit(ts, EventType.GROUP_MEMBER_ADDED, o, v, group=groups[k % len(groups)])
        else:
            inst.dm(ts, o, v, rng.randint(1, 2))
    for g in groups:
        inst.emit(start + span + rng.randrange(HOUR_MS), EventType.MESSAGE_SENT, o, group=g)


def slow_groomer(inst: Instance) -> None:
    """2-4 new minors a day for 7-14 days; keeps talking to several for days; some reply,
    a few send media."""
    rng = inst.rng
    days = int(inst.draw("days", rng.randint(7, 14)))
    start = inst.start_window(0.3, 15.5 - days)
    o = offender(inst, start)
    per_day = (rng.randint(2, 3), rng.randint(3, 4))
    inst.draw("new_minors_per_day", f"{per_day[0]}-{per_day[1]}")
    engaged: list[Person] = []
    total = 0
    for day in range(days):
        new = inst.minors(rng.randint(*per_day), spread=True)
        for v in new:
            ts = start + day * DAY_MS + rng.randrange(14 * HOUR_MS)
            if rng.random() < 0.3:
                inst.emit(ts, EventType.CONTACT_ADDED, o, v)
                ts += rng.randrange(MINUTE_MS, HOUR_MS)
            ts = inst.dm(ts, o, v, rng.randint(1, 4))
            total += 1
            if rng.random() < 0.5:
                inst.replies(ts, v, o, rng.randint(1, 3))
                if rng.random() < 0.4:
                    engaged.append(v)
        for v in engaged[-6:]:
            if rng.random() < 0.6:
                ts = inst.dm(
                    start + day * DAY_MS + rng.randrange(16 * HOUR_MS), o, v, rng.randint(2, 5)
                )
                inst.replies(ts, v, o, rng.randint(1, 4), media=1 if rng.random() < 0.08 else 0)
    inst.draw("minors", total)


RING_BANDS: Final = (
    (Band.AGE_16_17, 0.35),
    (Band.UNKNOWN, 0.25),
    (Band.AGE_18_20, 0.15),
    (Band.AGE_21_PLUS, 0.1),
    (Band.AGE_13_15, 0.15),
)


def throwaway_ring(inst: Instance) -> None:
    """3-8 new and/or anonymous accounts with false age claims, rotating among 2-4 devices and
    several IPs (own and carrier NAT); some deleted soon, some abandoned; each reaches 2-8
    minors, sometimes the same ones."""
    rng, world = inst.rng, inst.world
    k = int(inst.draw("accounts", rng.randint(3, 8)))
    devices = [inst.device() for _ in range(int(inst.draw("devices", rng.randint(2, 4))))]
    ips = [inst.ip() for _ in range(rng.randint(1, 3))]
    ips.append(rng.choice(world.carrier_ips))
    delete_p = float(inst.draw("delete_p", round(rng.uniform(0, 1), 2)))
    share_p = float(inst.draw("shared_victim_p", round(rng.uniform(0, 0.5), 2)))
    flags = bool(inst.draw("first_contact_flag", rng.random() < 0.5))
    ts = inst.start_window(0.5, 10)
    seen: list[Person] = []
    reached = 0
    for _ in range(k):
        band = rng.choices([b for b, _ in RING_BANDS], [w for _, w in RING_BANDS])[0]
        acc = inst.account(
            band,
            ts,
            anonymous=rng.random() < 0.7,
            device=rng.choice(devices),
            home_ip=rng.choice(ips),
            flags_first=flags,
        )
        t = ts + rng.randrange(2 * MINUTE_MS, 2 * HOUR_MS)
        n = rng.randint(2, 8)
        victims = [rng.choice(seen) if seen and rng.random() < share_p else None for _ in range(n)]
        fresh = iter(inst.minors(n, spread=True))
        for slot in victims:
            v = slot or next(fresh)
            if v not in seen:
                seen.append(v)
            for _ in range(rng.randint(1, 4)):
                inst.emit(
                    t,
                    EventType.MESSAGE_SENT,
                    acc,
                    v,
                    device=rng.choice(devices),
                    ip=rng.choice(ips),
                )
                t += rng.randrange(30_000, 10 * MINUTE_MS)
            reached += 1
            if rng.random() < 0.3:
                inst.replies(t, v, acc, rng.randint(1, 2))
        if rng.random() < delete_p:
            inst.emit(
                t + rng.randrange(10 * MINUTE_MS, 2 * DAY_MS),
                EventType.ACCOUNT_DELETED,
                acc,
                device=rng.choice(devices),
                ip=rng.choice(ips),
            )
        ts = t + rng.randrange(HOUR_MS, 30 * HOUR_MS)
    inst.draw("distinct_minors", len(seen))


def sextortion_victim_side(inst: Instance) -> None:
    """First DMs to 2-8 minors; several send it media within an hour of its first message,
    then block and/or report it."""
    rng = inst.rng
    start = inst.start_window(0.5, 14.5)
    o = offender(inst, start)
    n = int(inst.draw("minors", rng.randint(2, 8)))
    span = int(inst.draw("span_h", rng.randint(1, 24))) * HOUR_MS
    media_share = float(inst.draw("media_share", round(rng.uniform(0.5, 1), 2)))
    for k, v in enumerate(inst.minors(n, spread=rng.random() < 0.5)):
        first = start + span * k // n
        ts = inst.dm(first, o, v, rng.randint(3, 12))
        if rng.random() < media_share:
            sent = first + rng.randrange(5 * MINUTE_MS, 40 * MINUTE_MS)
            for _ in range(rng.randint(1, 3)):  # all within the hour after its first message
                inst.emit(sent, EventType.MESSAGE_SENT, v, o, media=True)
                sent += rng.randrange(20_000, 6 * MINUTE_MS)
            inst.turn_away(max(ts, sent) + rng.randrange(10 * MINUTE_MS, 6 * HOUR_MS), v, o, 0.6)


def mass_add(inst: Instance) -> None:
    """Group adds of 20-60 minors into several groups within a few hours."""
    rng = inst.rng
    start = inst.start_window(0.5, 14.5)
    o = offender(inst, start)
    n = int(inst.draw("minors", rng.randint(20, 60)))
    span = int(inst.draw("span_min", rng.randint(60, 300))) * MINUTE_MS
    groups = [inst.world.new_id("g") for _ in range(int(inst.draw("groups", rng.randint(2, 6))))]
    for k, v in enumerate(inst.minors(n, spread=rng.random() < 0.5)):
        inst.emit(
            start + span * k // n, EventType.GROUP_MEMBER_ADDED, o, v, group=rng.choice(groups)
        )
    for g in groups:
        inst.emit(
            start + span + rng.randrange(HOUR_MS), EventType.MESSAGE_SENT, o, group=g, media=True
        )


def ban_evasion(inst: Instance) -> None:
    """Contacts minors, is deleted (or banned); a new account on the same device (sometimes a
    new device on the same IP) re-contacts some of the same minors."""
    rng = inst.rng
    start = inst.start_window(0.5, 11)
    same_device = bool(inst.draw("same_device", rng.random() < 0.7))
    home = inst.ip()
    first = offender(inst, start, home_ip=home)
    victims = inst.minors(int(inst.draw("minors", rng.randint(4, 12))), spread=True)
    t = start
    for v in victims:
        t = inst.dm(t + rng.randrange(MINUTE_MS, 40 * MINUTE_MS), first, v, rng.randint(1, 4))
        if rng.random() < 0.5:
            inst.replies(t, v, first, rng.randint(1, 2))
    gone = t + rng.randrange(DAY_MS // 2, 3 * DAY_MS)
    inst.delete(gone, first)
    created = gone + rng.randrange(10 * MINUTE_MS, DAY_MS)
    device = first.device if same_device else None
    second = offender(inst, created, new_p=1.0, prefix="second_", device=device, home_ip=home)
    back = rng.sample(victims, rng.randint(min(3, len(victims)), len(victims)))
    inst.draw("recontacted", len(back))
    t = created + rng.randrange(5 * MINUTE_MS, 12 * HOUR_MS)
    for v in back + inst.minors(rng.randint(0, 5)):
        if rng.random() < 0.5:
            inst.emit(t, EventType.CONTACT_ADDED, second, v)
        t = inst.dm(t + rng.randrange(MINUTE_MS, HOUR_MS), second, v, rng.randint(1, 3))


def blocks_reports(inst: Instance) -> None:
    """Contacts 6-20 minors; 4-10 of them block or report it over a day."""
    rng = inst.rng
    start = inst.start_window(0.5, 14)
    o = offender(inst, start)
    victims = inst.minors(int(inst.draw("minors", rng.randint(6, 20))), spread=True)
    span = int(inst.draw("span_h", rng.randint(1, 6))) * HOUR_MS
    t = start
    for k, v in enumerate(victims):
        t = inst.dm(start + span * k // len(victims), o, v, rng.randint(1, 4))
    turned = rng.sample(victims, min(len(victims), rng.randint(4, 10)))
    inst.draw("blockers", len(turned))
    for v in turned:
        inst.turn_away(t + rng.randrange(10 * MINUTE_MS, DAY_MS), v, o, 0.5)


ATTACKS: Final[dict[str, Callable[[Instance], None]]] = {
    "classic_burst": classic_burst,
    "teen_claim_groomer": teen_claim_groomer,
    "cross_channel_spread": cross_channel_spread,
    "slow_groomer": slow_groomer,
    "throwaway_ring": throwaway_ring,
    "sextortion_victim_side": sextortion_victim_side,
    "mass_add": mass_add,
    "ban_evasion": ban_evasion,
    "blocks_reports": blocks_reports,
}
