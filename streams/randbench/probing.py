"""The probing attacker: adaptive to any detector, without knowing how it works.

It runs the detector itself on its own traffic (an engine holding only that detector, fed only
its own events and its victims' replies, exactly as the stream will see them) and, before each
new contact, tries it on a copy: if the copy would put one of its accounts, devices or IPs at
HIGH, it waits (30 min, doubling up to a day) and tries again. What comes out reaches as many
minors as that detector lets through. Used for every detector without a strategy of its own in
`adaptive.STRATEGIES`, so a new detector gets its adaptive attacker with no code.
"""

from __future__ import annotations

import copy
from typing import Any

from streams.engine.core import Engine, EngineConfig
from streams.model import Event, EventType, Severity
from streams.randbench.attacks import offender
from streams.randbench.instance import Instance
from streams.randbench.world import DAY_MS, HOUR_MS, MINUTE_MS, Person

HIGH_RANK = Severity.HIGH.rank
_CHANNELS = (EventType.MESSAGE_SENT, EventType.CONTACT_ADDED, EventType.GROUP_MEMBER_ADDED)
Planned = tuple[int, EventType, Person, Person | None, str | None, bool | None]


class _Probe:
    """The detector's view of the attacker so far, and trials of what it plans next."""

    def __init__(self, inst: Instance, detector: Any, engine: EngineConfig | None) -> None:
        self.inst = inst
        self.engine = Engine([detector], engine)
        self.n = 0
        self.talked: set[tuple[str, str]] = set()

    def event(self, p: Planned, device: str, ip: str) -> Event:
        ts, etype, actor, target, group, media = p
        first = None
        if target is not None and etype in (EventType.MESSAGE_SENT, EventType.CONTACT_ADDED):
            pair = (actor.id, target.id) if actor.id < target.id else (target.id, actor.id)
            first = (pair not in self.talked) if actor.flags_first else None
            self.talked.add(pair)
        self.n += 1
        return Event(
            f"probe-{self.n:06d}",
            etype,
            ts,
            actor.account,
            None if target is None else target.account,
            group,
            device,
            ip,
            first,
            media,
        )

    def flagged(self, alerts: list[Any]) -> bool:
        owned = {p.id for p in self.inst.people} | set(self.inst.devices) | set(self.inst.ips)
        return any(a.severity.rank >= HIGH_RANK and a.subject.id in owned for a in alerts)

    def attempt(self, plan: list[Planned]) -> bool:
        """Commit `plan` (emit it) unless it would put the attacker at HIGH; True if done."""
        inst, rng = self.inst, self.inst.rng
        placed = [(p, *inst.world.place(rng, p[2], p[0])) for p in plan]
        talked = set(self.talked)
        n = self.n
        trial = copy.deepcopy(self.engine)
        if self.flagged(trial.process_all([self.event(*x) for x in placed])):
            self.talked, self.n = talked, n
            return False
        self.engine = trial
        for (ts, etype, actor, target, group, media), device, ip in placed:
            inst.emit(ts, etype, actor, target, group=group, media=media, device=device, ip=ip)
        return True


def probing(inst: Instance, detector: Any, engine: EngineConfig | None = None) -> None:
    """Reach 20-45 minors, each contact only once the detector would not be HIGH for it;
    `engine`: the settings (cooldown, escalation) the real run uses."""
    rng, world = inst.rng, inst.world
    start = inst.start_window(0.5, 3)
    o = offender(inst, start)
    probe = _Probe(inst, detector, engine)
    if o.account.created_ts_ms is not None and o.account.created_ts_ms >= world.start_ms:
        probe.engine.process_all(
            [
                probe.event(
                    (o.born_ms, EventType.ACCOUNT_CREATED, o, None, None, None), o.device, o.home_ip
                )
            ]
        )
    group = world.new_id("g")
    wanted = int(inst.draw("minors_wanted", rng.randint(20, 45)))
    t, reached, waits = start, 0, 0
    for v in inst.minors(wanted, spread=True):
        backoff = 30 * MINUTE_MS
        while t < world.end_ms - HOUR_MS:
            channel = rng.choice(_CHANNELS)
            plan: list[Planned] = [
                (t, channel, o, v, group if channel is _CHANNELS[2] else None, None)
            ]
            if rng.random() < 0.3:
                plan.append(
                    (
                        t + rng.randrange(MINUTE_MS, 10 * MINUTE_MS),
                        EventType.MESSAGE_SENT,
                        v,
                        o,
                        None,
                        None,
                    )
                )
            if probe.attempt(plan):
                reached += 1
                t = max(p[0] for p in plan) + rng.randrange(2 * MINUTE_MS, 10 * MINUTE_MS)
                break
            waits += 1
            t += backoff
            backoff = min(2 * backoff, DAY_MS)
    inst.draw("reached", reached)
    inst.draw("waits", waits)
