"""One planted instance (attack or look-alike): what it owns, how it acts, and its truth.

An instance draws from its own random stream (seed, pattern, index), so adding a pattern or
changing another one never changes the instances already there. It owns the accounts it
creates and the devices and IPs it makes for itself; shared infrastructure (a carrier's NAT
address, a school's IP, a background family's device) is used but never owned.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from streams.model import AgeBand, EventType
from streams.randbench.world import DAY_MS, MINUTE_MS, Person, World

Kind = Literal["attack", "lookalike"]
Param = int | float | str | bool


@dataclass(frozen=True)
class InstanceTruth:
    """`start_ts_ms`: the instance's first contact of a minor (message, contact or group add).
    `params`: what was drawn for it (counts, spans, declared band, flag present...)."""

    pattern: str
    kind: Kind
    instance_id: str
    accounts: tuple[str, ...]
    devices: tuple[str, ...]
    ips: tuple[str, ...]
    start_ts_ms: int
    params: Mapping[str, Param] = field(default_factory=dict)

    def subjects(self) -> set[tuple[str, str]]:
        """(kind, id) of every alert subject that is this instance's own."""
        return (
            {("ACCOUNT", a) for a in self.accounts}
            | {("DEVICE", d) for d in self.devices}
            | {("IP", i) for i in self.ips}
        )


class Instance:
    def __init__(self, world: World, pattern: str, kind: Kind, index: int) -> None:
        self.world = world
        self.pattern = pattern
        self.kind: Kind = kind
        self.id = f"{pattern}-{index}"
        self.rng = random.Random(f"randbench:{world.seed}:{pattern}:{index}")
        self.people: list[Person] = []
        self.devices: list[str] = []
        self.ips: list[str] = []
        self.params: dict[str, Param] = {}

    # --- what it owns ----------------------------------------------------------------------

    def device(self) -> str:
        d = self.world.new_id("d")
        self.devices.append(d)
        return d

    def ip(self) -> str:
        i = self.world.new_id("ip")
        self.ips.append(i)
        return i

    def account(
        self,
        band: AgeBand,
        created_ms: int,
        *,
        anonymous: bool = False,
        device: str | None = None,
        home_ip: str | None = None,
        flags_first: bool = True,
    ) -> Person:
        person = self.world.add_person(
            band,
            created_ms,
            anonymous=anonymous,
            device=device or self.device(),
            home_ip=home_ip or self.ip(),
            carrier_ip=self.rng.choice(self.world.carrier_ips),
            flags_first=flags_first,
        )
        self.people.append(person)
        return person

    def old_account(
        self,
        band: AgeBand,
        *,
        device: str | None = None,
        home_ip: str | None = None,
        anonymous: bool = False,
    ) -> Person:
        """An account made 30-600 days before the span (verified unless `anonymous`)."""
        created = self.world.start_ms - self.rng.randrange(30 * DAY_MS, 600 * DAY_MS)
        return self.account(band, created, anonymous=anonymous, device=device, home_ip=home_ip)

    def draw(self, name: str, value: Param) -> Param:
        """Record a drawn parameter for the report; returns it."""
        self.params[name] = value
        return value

    # --- picking counterparts ----------------------------------------------------------------

    def minors(
        self,
        n: int,
        *,
        bands: tuple[AgeBand, ...] | None = None,
        school: int | None = None,
        spread: bool = False,
    ) -> list[Person]:
        """`n` background minors alive all span: of `bands`, from one `school`, or each from a
        different school when `spread` (as far as there are schools)."""
        world, rng = self.world, self.rng
        pool = world.stable_minors
        if school is not None:
            pool = [
                m for m in world.schools[school].minors if world.people[m].lifelong(world.start_ms)
            ]
        if bands is not None:
            pool = [m for m in pool if world.people[m].band in bands]
        if spread:
            by_school: dict[int | None, list[str]] = {}
            for m in pool:
                by_school.setdefault(world.people[m].school, []).append(m)
            order = list(by_school)
            rng.shuffle(order)
            picked: list[str] = []
            while len(picked) < min(n, len(pool)):
                for s in order:
                    left = [m for m in by_school[s] if m not in picked]
                    if left and len(picked) < n:
                        picked.append(rng.choice(left))
            return [world.people[m] for m in picked]
        return [world.people[m] for m in rng.sample(pool, min(n, len(pool)))]

    def school_minors(self, n: int, bands: tuple[AgeBand, ...]) -> tuple[int, list[Person]]:
        """A school drawn at random, and `n` of its minors of `bands`."""
        school = self.rng.randrange(len(self.world.schools))
        return school, self.minors(n, bands=bands, school=school)

    # --- acting ------------------------------------------------------------------------------

    def emit(
        self,
        ts_ms: int,
        etype: EventType,
        actor: Person,
        target: Person | None = None,
        *,
        group: str | None = None,
        media: bool | None = None,
        device: str | None = None,
        ip: str | None = None,
    ) -> None:
        self.world.emit(
            ts_ms,
            etype,
            actor,
            target,
            group=group,
            media=media,
            device=device,
            ip=ip,
            rng=self.rng,
        )

    def dm(self, ts_ms: int, actor: Person, target: Person, n: int = 1, gap_ms: int = 0) -> int:
        """`n` direct messages; returns the time of the last."""
        for _ in range(n):
            self.emit(ts_ms, EventType.MESSAGE_SENT, actor, target)
            ts_ms += gap_ms or self.rng.randrange(15_000, 5 * MINUTE_MS)
        return ts_ms

    def chat(self, ts_ms: int, a: Person, b: Person) -> int:
        """A short two-way chat started by `a`; returns the time of its last message."""
        ts_ms = self.dm(ts_ms, a, b, self.rng.randint(1, 3))
        return self.replies(ts_ms, b, a, self.rng.randint(1, 3))

    def replies(self, ts_ms: int, minor: Person, to: Person, n: int, media: int = 0) -> int:
        """`minor` answers `to`: `n` messages, the first `media` of them with an image."""
        for k in range(n):
            ts_ms += self.rng.randrange(30_000, 10 * MINUTE_MS)
            self.emit(ts_ms, EventType.MESSAGE_SENT, minor, to, media=True if k < media else None)
        return ts_ms

    def turn_away(self, ts_ms: int, minor: Person, offender: Person, report_p: float) -> None:
        """`minor` blocks `offender`, and reports it with probability `report_p`."""
        self.emit(ts_ms, EventType.BLOCKED, minor, offender)
        if self.rng.random() < report_p:
            self.emit(
                ts_ms + self.rng.randrange(5_000, 5 * MINUTE_MS),
                EventType.REPORTED,
                minor,
                offender,
            )

    def delete(self, ts_ms: int, person: Person) -> None:
        self.emit(ts_ms, EventType.ACCOUNT_DELETED, person)
        person.gone_ms = ts_ms

    def truth(self, start_ts_ms: int) -> InstanceTruth:
        return InstanceTruth(
            pattern=self.pattern,
            kind=self.kind,
            instance_id=self.id,
            accounts=tuple(p.id for p in self.people),
            devices=tuple(self.devices),
            ips=tuple(self.ips),
            start_ts_ms=start_ts_ms,
            params=dict(self.params),
        )

    def start_window(self, earliest_day: float, latest_day: float) -> int:
        """A start time between those days of the span (fractions allowed)."""
        lo = self.world.start_ms + int(earliest_day * DAY_MS)
        hi = self.world.start_ms + int(latest_day * DAY_MS)
        return self.rng.randrange(lo, max(lo + 1, hi))


# --- truth files -------------------------------------------------------------------------------


def write_instances(path: str | Path, truth: Iterable[InstanceTruth]) -> None:
    with Path(path).open("w", encoding="utf-8") as out:
        for entry in truth:
            row = asdict(entry)
            row["params"] = dict(entry.params)
            out.write(json.dumps(row, sort_keys=True) + "\n")


def is_instance_truth(path: str | Path) -> bool:
    """True for a randomised benchmark's truth file (rows have `pattern`, not `scenario`)."""
    with Path(path).open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                return "pattern" in json.loads(line)
    return False


def read_instances(path: str | Path) -> list[InstanceTruth]:
    """Read `write_instances` output; a bad line raises ValueError naming the line."""
    out = []
    with Path(path).open(encoding="utf-8") as lines:
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                d = json.loads(line)
                kind = d["kind"]
                if kind not in ("attack", "lookalike"):
                    raise ValueError(f"kind={kind!r}: expected 'attack' or 'lookalike'")
                out.append(
                    InstanceTruth(
                        pattern=str(d["pattern"]),
                        kind="attack" if kind == "attack" else "lookalike",
                        instance_id=str(d["instance_id"]),
                        accounts=tuple(str(x) for x in d["accounts"]),
                        devices=tuple(str(x) for x in d["devices"]),
                        ips=tuple(str(x) for x in d["ips"]),
                        start_ts_ms=int(d["start_ts_ms"]),
                        params=dict(d.get("params", {})),
                    )
                )
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"{path}:{n}: bad truth line: {exc!r}") from exc
    return out
