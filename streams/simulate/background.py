"""Normal traffic, generated one event-time hour at a time."""

from __future__ import annotations

import random
from bisect import bisect_left
from collections.abc import Iterator
from itertools import accumulate

from streams.model import EventType
from streams.simulate.config import (
    ADD,
    CREATED,
    DELETED,
    GADD,
    HOUR_MS,
    JOIN,
    MINUTE_MS,
    MSG,
    SimulationConfig,
)
from streams.simulate.population import (
    Emitter,
    Person,
    Population,
    Rec,
    busy_hours,
    pair_key,
    random_band,
    rec_ts,
)

EVENTS_PER_ACTIVITY = 8.1  # measured mean events per background activity

# --- background ------------------------------------------------------------------------------


class Background(Emitter):
    """Normal traffic, generated one hour at a time so big runs stream in flat memory."""

    def __init__(self, cfg: SimulationConfig, pop: Population, rate: float) -> None:
        super().__init__(random.Random(f"{cfg.seed}:background"), pop.talked)
        self.cfg, self.pop, self.rate = cfg, pop, rate
        self.newcomers: list[Person] = []
        weights = (
            (self._dm_session, 660),
            (self._group_chat, 210),
            (self._contact_add, 60),
            (self._group_join, 45),
            (self._block_or_report, 6),
            (self._create, 1.6),
            (self._delete, 0.6),
        ) + (((self._abandon, 1.0),) if cfg.steady else ())  # creations = departures
        total = sum(w for _, w in weights)
        self.activities = [
            (c / total, f)
            for (f, _), c in zip(weights, accumulate(w for _, w in weights), strict=True)
        ]

    def hours(self, scene_recs: list[Rec]) -> Iterator[list[Rec]]:
        """Background merged with the (sorted) scenario records, one event-time hour a batch."""
        done = 0
        for t0 in range(self.cfg.start_ms, self.cfg.end_ms, HOUR_MS):
            t1 = min(t0 + HOUR_MS, self.cfg.end_ms)
            for p in self.newcomers:  # created last hour, active from now on
                self.pop.add(p)
                if self.cfg.steady:  # as busy as the people they replace
                    self.pop.tickets += [p] * (1 + int(self.rng.expovariate(0.5)))
                else:
                    self.pop.tickets.append(p)
            self.newcomers = []
            expected = self.rate * len(self.pop.persons) * busy_hours(t0, t1)
            n = int(expected + self.rng.random())
            for t in sorted(t0 + int(self.rng.random() * (t1 - t0)) for _ in range(n)):
                self._activity(t)
            upto = bisect_left(scene_recs, t1, key=rec_ts)
            self.recs.extend(scene_recs[done:upto])
            done = upto
            self.recs.sort(key=rec_ts)
            cut = bisect_left(self.recs, t1, key=rec_ts)  # later records wait for the next hour
            yield self.recs[:cut]
            del self.recs[:cut]

    def _activity(self, t: int) -> None:
        r = self.rng.random()
        for threshold, run in self.activities:
            if r < threshold:
                run(t)
                return

    def _pick(self) -> Person | None:
        p = self.pop.tickets[int(self.rng.random() * len(self.pop.tickets))]
        return None if p.deleted else p

    def _partner(self, p: Person, friend_p: float) -> Person | None:
        q = (
            p.friends[int(self.rng.random() * len(p.friends))]
            if p.friends and self.rng.random() < friend_p
            else self.pop.stranger(p)
        )
        return None if q is p or q.deleted else q

    def _dm_session(self, t: int) -> None:
        a = self._pick()
        b = a and self._partner(a, 0.85)
        if a is None or b is None:
            return
        new = pair_key(a, b) not in self.talked
        self.chat(t, a, b, 3 + min(40, int(self.rng.expovariate(0.125))))
        if new and self.rng.random() < 0.5:
            self.pop.befriend(a, b)

    def _group_chat(self, t: int) -> None:
        a, rnd = self._pick(), self.rng.random
        if a is None or not a.groups:
            return
        gid = a.groups[int(rnd() * len(a.groups))]
        members = self.pop.groups[gid]
        for _ in range(2 + int(rnd() * 7)):
            m = members[int(rnd() * len(members))]
            if not m.deleted:
                self.emit(t, MSG, m, group=gid, media=True if rnd() < 0.05 else None)
            t += 5_000 + int(rnd() * 175_000)

    def _contact_add(self, t: int) -> None:
        """Contact adds are mostly reciprocal."""
        a = self._pick()
        b = a and self._partner(a, 0.4)
        if a is None or b is None:
            return
        self.emit(t, ADD, a, b)
        if self.rng.random() < 0.8:
            self.emit(t + self.rng.randint(MINUTE_MS, 30 * MINUTE_MS), ADD, b, a)

    def _group_join(self, t: int) -> None:
        a = self._pick()
        if a is None:
            return
        b = self._partner(a, 1.0)
        if self.rng.random() < 0.5 and b is not None and a.groups:
            gid = self.rng.choice(a.groups)
            if gid not in b.groups:
                self.pop.add_to_group(b, gid)
                self.emit(t, GADD, a, b, group=gid)
            return
        joined = self.pop.join_group(a)
        if joined is not None:
            self.emit(t, JOIN, a, group=joined)

    def _block_or_report(self, t: int) -> None:
        a = self._pick()
        b = a and self._partner(a, 0.3)
        if a is not None and b is not None:
            self.emit(t, EventType.BLOCKED if self.rng.random() < 0.7 else EventType.REPORTED, a, b)

    def _create(self, t: int) -> None:
        band = random_band(self.rng)
        p = self.pop.new_person(band, t, self.rng.random() < 0.25)
        self.emit(t, CREATED, p)
        for gid in self.pop.join_some_groups(p):
            t += self.rng.randint(MINUTE_MS, 20 * MINUTE_MS)
            self.emit(t, JOIN, p, group=gid)
        self.newcomers.append(p)

    def _leaver(self) -> Person | None:
        """Who leaves: in a steady run anyone alike (as busy as who joins), and out of the
        population for good; else a pick by activity."""
        if not self.cfg.steady:
            p = self._pick()
            if p is None or p.reserved:
                return None
        else:
            persons = self.pop.persons
            p = persons[int(self.rng.random() * len(persons))]
            while p.reserved:  # scenarios' people stay: someone else leaves
                p = persons[int(self.rng.random() * len(persons))]
        p.deleted = True
        if self.cfg.steady:
            self.pop.remove(p)
        return p

    def _delete(self, t: int) -> None:
        """Rare deletions, after the account's last event so nothing follows them."""
        p = self._leaver()
        if p is not None:
            self.emit(max(t, p.last_ms + self.rng.randint(MINUTE_MS, 30 * MINUTE_MS)), DELETED, p)

    def _abandon(self, t: int) -> None:
        """(Steady runs) an account stops coming back, without deleting itself: most churn."""
        self._leaver()
