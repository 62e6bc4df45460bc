"""minor_mass_add: an account adding many distinct minors to groups within hours (and, on
top, as private contacts), whatever age it declares.

One event, one detector: a contact add (`CONTACT_ADDED`) of a minor is a first contact, the
evidence `new_contact_burst` and `minor_exposure` count. Here only group adds count minors; a
contact add weighs only for a minor this account also added to a group (the private channel on
top of the room).

Adding a whole class, or a few teams, to groups is what teachers, coaches and student
organisers do, and the number of groups does not tell them apart from an offender (a coach
runs several team groups; an offender splits children into several rooms), so the count alone
reaches MEDIUM. HIGH needs the count and a sign of a throwaway or of private contact:
- many of the minors were also added as contacts (`contact_minors`), a one-to-one channel,
  which is also why a contact-added minor weighs more in the count (`contact_weight`);
- the account is younger than `new_account_ms`, or anonymous;
- `pushback_minors` of the minors it added to groups blocked or reported it afterwards (any
  declared band): children who did not want to be in its room (3.0.0).
For an account declaring a minor band only newness is a sign: unverified teens are common, and
teens add their friends as contacts and to groups alike (whether those are peers is
`minor_exposure`'s to judge).
The same with a risk sign over `slow_window_ms` (three days) at `slow_high`: an adder pacing
itself under the six-hour threshold still piles up minors over days.
Or the count alone at `high_without_sign`, far beyond a class or a team in six hours, for an
account that declares an adult or unknown age and added no adult to its groups in the window
(a coach adds parents, a teacher colleagues: a mixed room is not an offender's).

Contact adds are remembered for the window whatever the order of the two adds, so a contact
add seen before the group add of the same minor still weighs once both are in.

Treatment of missing data (the contract leaves these open):
- `UNKNOWN` age on the actor counts as adult. A declared minor band is a claim: such an
  account is judged by the same count, needing a sign for HIGH.
  `UNKNOWN` on the target does not count as a minor: only declared minors are counted.
- An 18-20-year-old adding a 16-17-year-old is a near-peer add and is not counted.
- A missing `created_ts` is not a new account; a missing `anonymous` is false (the contract's
  default). Both then simply give no risk sign; contact adds still do.
- A minor added to a group and as a contact counts once, with the contact weight; a minor
  only added as a contact does not count here (see above).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar

from streams.detectors.contract import CHANGED, UNCHANGED, DetectorBase, Finding, Outcome
from streams.detectors.state import DictState, touch
from streams.detectors.subjects import account_key
from streams.detectors.windows import DAY_MS, HOUR_MS, drop_before
from streams.detectors.wording import capped, describe_age, span_words
from streams.model import MINOR_BANDS, Account, AgeBand, Event, EventType, Severity, Subject

_ADDS = frozenset({EventType.GROUP_MEMBER_ADDED, EventType.CONTACT_ADDED})
_GROUP_ADD = EventType.GROUP_MEMBER_ADDED
_PUSHBACK = frozenset({EventType.BLOCKED, EventType.REPORTED})


@dataclass(frozen=True, slots=True)
class MinorMassAddConfig:
    window_ms: int = 6 * HOUR_MS
    medium: float = 12.0
    high: float = 20.0
    contact_weight: float = 2.0
    high_without_sign: float = 40.0
    slow_window_ms: int = 72 * HOUR_MS
    slow_high: float = 36.0
    contact_minors: int = 5
    pushback_minors: int = 3
    new_account_ms: int = 7 * DAY_MS
    critical_factor: float = 3.0
    max_minors: int = 256
    max_groups: int = 64
    evidence_cap: int = 50


class MassAddState(DictState):
    """Per-account memory of the window: minors added to groups, minors added as contacts
    (each with the time and event of the latest such add), groups used for minors, and minors
    it added to groups who then blocked or reported it (time and event).

    Every dict is kept in event-time order (re-inserted on refresh), so expiry pops the front.
    """

    __slots__ = ("contact_adds", "group_adds", "groups", "mixed", "pushback")
    json_names: ClassVar = {
        "group_adds": "g",
        "contact_adds": "c",
        "groups": "r",
        "mixed": "x",
        "pushback": "p",
    }
    group_adds: dict[str, tuple[int, str]]
    contact_adds: dict[str, tuple[int, str]]
    groups: dict[str, int]
    mixed: dict[str, int]  # groups it also added an adult to -> event time
    pushback: dict[str, tuple[int, str]]  # a group-added minor who blocked or reported it


class MinorMassAddDetector(DetectorBase[MinorMassAddConfig, MassAddState]):
    name: ClassVar[str] = "minor_mass_add"
    version: ClassVar[str] = "3.0.0"
    counterpart_role: ClassVar[str] = "minor_added"
    event_types: ClassVar[frozenset[EventType]] = _ADDS | _PUSHBACK
    minor_targets_only: ClassVar[frozenset[EventType]] = frozenset({EventType.CONTACT_ADDED})

    def subject_keys(self, event: Event) -> Iterable[str]:
        if _adds_minor(event) or _adult_to_group(event):
            return (account_key(event.actor.id),)
        if _minor_pushes_back(event):
            assert event.target is not None
            return (account_key(event.target.id),)
        return ()

    def horizon_ms(self) -> int:
        return max(self.config.window_ms, self.config.slow_window_ms)

    def step(self, state: MassAddState, subject: Subject, event: Event) -> Outcome:
        target = event.target
        if target is None:
            return UNCHANGED
        cfg = self.config
        if event.type in _PUSHBACK:
            return self._pushback(state, target, event)
        if event.actor.id != subject.id:
            return UNCHANGED
        if _adult_to_group(event):
            assert event.group_id is not None
            if event.group_id in state.mixed:
                return UNCHANGED
            self.expire(state, event.ts_ms)
            touch(state.mixed, event.group_id, event.ts_ms, cfg.max_groups)
            return CHANGED
        if not _adds_minor(event):
            return UNCHANGED
        self.expire(state, event.ts_ms)
        entry = (event.ts_ms, event.event_id)
        if event.type is EventType.CONTACT_ADDED:
            touch(state.contact_adds, target.id, entry, cfg.max_minors)
        else:
            touch(state.group_adds, target.id, entry, cfg.max_minors)
            if event.group_id is not None:
                touch(state.groups, event.group_id, event.ts_ms, cfg.max_groups)
        finding = self._assess(state, event, event.actor)
        return Outcome(changed=True, finding=finding) if finding else CHANGED

    def _pushback(self, state: MassAddState, account: Account, event: Event) -> Outcome:
        """A minor it added to a group (in the window) blocks or reports it: remembered once."""
        minor = event.actor.id
        self.expire(state, event.ts_ms)
        if minor not in state.group_adds or minor in state.pushback:
            return UNCHANGED
        touch(state.pushback, minor, (event.ts_ms, event.event_id), self.config.max_minors)
        finding = self._assess(state, event, account)
        return Outcome(changed=True, finding=finding) if finding else CHANGED

    def _assess(self, state: MassAddState, event: Event, actor: Account) -> Finding | None:
        """`actor`: the account judged (the adder; on a block or report, its target)."""
        cfg = self.config
        now = event.ts_ms
        # Only group-added minors count; a contact add on top gives that minor the contact weight.
        # The window's counts, then the slow window's (all that is kept): an adder pacing
        # itself under the window's threshold still piles up minors over days.
        start = now - cfg.window_ms
        recent = [m for m, (ts, _) in state.group_adds.items() if ts > start]
        contact = sum(1 for m in recent if m in state.contact_adds)
        minors = len(recent)
        weighted = minors + (cfg.contact_weight - 1) * contact
        slow_contact = sum(1 for m in state.contact_adds if m in state.group_adds)
        slow_weighted = len(state.group_adds) + (cfg.contact_weight - 1) * slow_contact
        if weighted < cfg.medium and slow_weighted < cfg.slow_high:
            return None
        created = actor.created_ts_ms
        age_days = (now - created) / DAY_MS if created is not None else None
        is_new = created is not None and now - created < cfg.new_account_ms
        groups = sum(1 for g in state.groups if g not in state.mixed)
        claims_minor = actor.age_band in MINOR_BANDS
        signs = (
            contact >= cfg.contact_minors and not claims_minor,
            actor.anonymous and not claims_minor,
            is_new,
            len(state.pushback) >= cfg.pushback_minors,
        )
        risky = any(signs)
        sheer = weighted >= cfg.high_without_sign and not claims_minor and not state.mixed
        severity = Severity.MEDIUM
        paced = risky and slow_weighted >= cfg.slow_high
        if (risky and weighted >= cfg.high) or sheer or paced:
            critical = weighted >= cfg.high * cfg.critical_factor and risky
            severity = Severity.CRITICAL if critical else Severity.HIGH
            risky = True
        # Without a risk sign the score stays below what any HIGH finding scores (0.5).
        score = min(0.45, weighted / (2 * cfg.high))
        if risky:
            score = min(1.0, weighted / (2 * cfg.high) + 0.1 * actor.anonymous + 0.1 * is_new)
        features = {
            "distinct_minors_added": float(minors),
            "minors_added_as_contacts": float(contact),
            "weighted_minors": float(weighted),
            "contact_weight": cfg.contact_weight,
            "distinct_groups": float(len(state.groups)),
            "minors_only_groups": float(groups),
            "risk_signs": float(sum(signs)),
            "window_hours": cfg.window_ms / HOUR_MS,
            "weighted_minors_slow": float(slow_weighted),
            "slow_window_hours": cfg.slow_window_ms / HOUR_MS,
            "threshold_slow_high": cfg.slow_high,
            "threshold_medium": cfg.medium,
            "threshold_high": cfg.high,
            "threshold_high_without_sign": cfg.high_without_sign,
            "groups_with_adults_added": float(len(state.mixed)),
            "threshold_contact_minors": float(cfg.contact_minors),
            "minors_who_blocked_or_reported": float(len(state.pushback)),
            "threshold_pushback_minors": float(cfg.pushback_minors),
            "actor_anonymous": 1.0 if actor.anonymous else 0.0,
            "actor_new_account": 1.0 if is_new else 0.0,
        }
        if age_days is not None:
            features["actor_account_age_days"] = round(age_days, 3)
        order = recent if not paced or weighted >= cfg.high else list(state.group_adds)
        adds = (state.contact_adds.get(m) or state.group_adds[m] for m in order)
        evidence = [*(eid for _, eid in state.pushback.values()), *(eid for _, eid in adds)]
        return Finding(
            severity=severity,
            score=round(score, 4),
            window_start_ms=now - cfg.window_ms + 1,
            window_end_ms=now,
            features=features,
            counterparts=capped(order, cfg.evidence_cap),
            minors_exposed=minors,
            evidence_event_ids=capped(evidence, cfg.evidence_cap),
            reason=self._reason(actor, age_days, minors, groups, contact, weighted, risky)
            + (
                f" Over {span_words(cfg.slow_window_ms)}: {len(state.group_adds)} minors, "
                f"weighted {slow_weighted:g} (high at {cfg.slow_high:g} with a risk sign)."
                if paced and weighted < cfg.high
                else ""
            ),
            magnitude=float(weighted),
        )

    def _reason(
        self,
        actor: Account,
        age_days: float | None,
        minors: int,
        groups: int,
        contact: int,
        weighted: float,
        risky: bool,
    ) -> str:
        cfg = self.config
        who = describe_age(actor.age_band, actor.anonymous, age_days)
        if weighted < cfg.high:
            verdict = f"high at {cfg.high:g}"
        elif weighted >= cfg.high_without_sign and risky:
            verdict = f"high at {cfg.high_without_sign:g} even without a risk sign"
        elif risky:
            verdict = f"high at {cfg.high:g} with a risk sign"
        else:
            verdict = (
                f"not high: fewer than {cfg.contact_minors} contact adds, not a new account "
                f"or anonymous adult, fewer than {cfg.pushback_minors} blocks or reports by "
                f"them, under {cfg.high_without_sign:g} minors or rooms with adults"
            )
        return (
            f"{who[0].upper()}{who[1:]} added {minors} minors within {span_words(cfg.window_ms)}, "
            f"to {groups} group(s) and {contact} as contacts "
            f"(weighted count {weighted:g}; {verdict})."
        )

    def expire(self, state: MassAddState, now_ms: int) -> bool:
        """Also called before every step, so results never depend on when cleanup ran."""
        cutoff = now_ms - self.horizon_ms()
        drop_before(state.group_adds, cutoff)
        drop_before(state.contact_adds, cutoff)
        drop_before(state.pushback, cutoff)
        for groups in (state.groups, state.mixed):
            while groups:
                oldest = next(iter(groups))
                if groups[oldest] > cutoff:
                    break
                del groups[oldest]
        return not (
            state.group_adds or state.contact_adds or state.groups or state.mixed or state.pushback
        )


def _adds_minor(event: Event) -> bool:
    """A group or contact add of a declared minor by anyone else, but a near peer's."""
    target = event.target
    if target is None or event.type not in _ADDS or target.age_band not in MINOR_BANDS:
        return False
    actor = event.actor
    if target.id == actor.id:
        return False
    return not (actor.age_band is AgeBand.AGE_18_20 and target.age_band is AgeBand.AGE_16_17)


def _adult_to_group(event: Event) -> bool:
    """An adult added to a group by an adult or unknown-age account: what makes a room mixed."""
    target = event.target
    return (
        event.type is _GROUP_ADD
        and event.group_id is not None
        and target is not None
        and target.age_band.is_adult
        and not event.actor.age_band.is_minor
    )


def _minor_pushes_back(event: Event) -> bool:
    """A declared minor blocking or reporting another account."""
    target = event.target
    return (
        event.type in _PUSHBACK
        and target is not None
        and event.actor.age_band in MINOR_BANDS
        and target.id != event.actor.id
    )
