"""The detection engine: routes events to per-subject state, deduplicates, opens cases.

Pure and deterministic: the same events in the same per-subject order give the same alerts,
whether they come from a Kafka partition (`streams.worker`) or a file (`streams.backtest`).
State is keyed by subject ("ACCOUNT:u-1", "DEVICE:d-9") so a subject's whole history lives in
one place and moves with its partition.

Redelivery and replays never double count: each subject remembers the highest
(event time, event id) it applied, and anything at or below it is skipped. Because events
reach a subject in (ts, event_id) order (see `reorder.py`), that single mark is exact.

A detector that raises on an event (a bug, "poison event") does not stop the engine: that
event is not applied to that subject at all (`StepFailure`, in `failures`), and the subject's
state is rebuilt as it was before the event (`rebuild`), so the stream and the backtest skip
the same (subject, event) the same way.
"""

from __future__ import annotations

import itertools
import json
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from streams.detectors.contract import Detector, Finding, may_route
from streams.detectors.subjects import subject_key
from streams.engine.cases import Case, advance_case
from streams.engine.decisions import Suppression, decision_key, order_key
from streams.model import (
    SUBJECT_KINDS,
    Action,
    AgeBand,
    Alert,
    Decision,
    Event,
    EventType,
    Severity,
    Subject,
)

HOUR_MS = 3_600_000


@dataclass(frozen=True, slots=True)
class EngineConfig:
    allowed_lateness_ms: int = 250  # a floor under event-to-alert latency (docs/performance.md)
    cooldown_ms: int = 24 * HOUR_MS
    update_growth: float = 0.5
    # Findings at or above this severity from two detectors on one subject make it CRITICAL.
    escalate_from: Severity = Severity.HIGH
    # A moderator's clear keeps that detector quiet on that subject this long (event time).
    clear_suppression_ms: int = 7 * 24 * HOUR_MS
    # Pairs of detectors ("a+b", comma-separated) that see one subject in different ways: a
    # MEDIUM from one while the other holds an open MEDIUM+ case on that subject is HIGH.
    corroborate: str = "minor_exposure+cold_outreach"


class SubjectState:
    """Everything Guardline remembers about one subject, across detectors.

    Each detector's state sits at that detector's place in its engine (`states`, None while
    it holds nothing): a step finds it by index, not by name in a dict of its own."""

    __slots__ = ("cases", "hwm_id", "hwm_ts_ms", "names", "states", "subject", "suppressions")

    def __init__(self, subject: Subject, names: tuple[str, ...]) -> None:
        self.subject = subject  # parsed once from its key, not on every event
        self.hwm_ts_ms = -1
        self.hwm_id = ""
        self.names = names  # the engine's detectors' names, in its order (shared)
        self.states: list[Any] = [None] * len(names)
        self.cases: dict[str, Case] = {}
        self.suppressions: dict[str, Suppression] = {}  # "detector|KIND:id" -> a clear

    @property
    def detector_states(self) -> Mapping[str, Any]:
        """Each detector holding state here, by name, in the engine's order (a copy)."""
        return {n: s for n, s in zip(self.names, self.states, strict=True) if s is not None}


@dataclass(frozen=True, slots=True)
class StepFailure:
    """An exception a detector (or the case logic) raised on one event for one subject.

    Carries names only, never the exception's message or arguments (they may hold ids):
    the detector, the exception type and where it was raised (file:line in function).
    """

    key: str  # "" when routing failed (the event reached no subject)
    event: Event
    detector: str
    error: str
    where: str

    @property
    def reason(self) -> str:
        """The dead letter's reason: names only (no ids, not the exception's message)."""
        doing = "routing it" if not self.key else f"applying it to its {self.subject_kind} subject"
        return f"detector {self.detector} raised {self.error} at {self.where} while {doing}"

    @property
    def subject_kind(self) -> str:
        return self.key.partition(":")[0]


@dataclass(slots=True)
class EngineStats:
    applied: int = 0
    skipped_replays: int = 0
    findings: int = 0
    alerts: int = 0
    evicted: int = 0
    failed: int = 0  # (subject, event) pairs not applied because a step raised
    suppressed: dict[str, int] = field(default_factory=dict)  # findings held back, by detector


class Engine:
    def __init__(
        self,
        detectors: Sequence[Detector],
        config: EngineConfig | None = None,
        *,
        clock_ms: Callable[[], int] = lambda: 0,
        loader: Callable[[str], bytes | None] | None = None,
        shadow: Iterable[str] = (),
    ) -> None:
        self.detectors = tuple(detectors)
        self.shadow = frozenset(shadow)  # their cases never escalate an enforced detector's
        self.config = config or EngineConfig()
        self._clock_ms = clock_ms
        self._loader = loader
        self._by_name = {d.name: d for d in self.detectors}
        self._names = tuple(d.name for d in self.detectors)
        self._slot = {d: i for i, d in enumerate(self.detectors)}  # its place in `states`
        self._partners = corroborating(self.config.corroborate)
        self._named: dict[tuple[str, ...], tuple[Detector, ...]] = {}
        # Which detectors may route an event, by its type and the bands of its actor and target
        # (`may_route`): most never see most events (a direct message between adults asks none).
        self._candidates = {
            shape: tuple(d for d in self.detectors if may_route(d, *shape))
            for shape in itertools.product(EventType, AgeBand, [*AgeBand, None])
        }
        self.subjects: dict[str, SubjectState] = {}
        self.dirty: set[str] = set()
        self.stats = EngineStats()
        # Steps that raised, oldest first, for the caller to report (`take_failures`), and the
        # (subject key, event id) pairs never to apply again (a rebuild replays around them).
        self.failures: list[StepFailure] = []
        self.poisoned: set[tuple[str, str]] = set()

    def detectors_named(self, names: tuple[str, ...]) -> tuple[Detector, ...]:
        """This engine's detectors among `names`, in that order (the router's, from the same
        config), each tuple looked up once; a name this engine does not run is left out."""
        found = self._named.get(names)
        if found is None:
            found = self._named[names] = tuple(
                self._by_name[n] for n in names if n in self._by_name
            )
        return found

    def candidates(self, event: Event) -> tuple[Detector, ...]:
        """The detectors that may route `event` (the others' `subject_keys` would be empty)."""
        target = event.target
        return self._candidates[
            event.type, event.actor.age_band, None if target is None else target.age_band
        ]

    def routes(self, event: Event) -> dict[str, list[Detector]]:
        """Subject keys this event updates, each with the detectors that want it."""
        return _routes(self.candidates(event), event)

    def process(self, event: Event) -> list[Alert]:
        """Apply an event to every subject it touches."""
        return self.process_all((event,))

    def process_all(
        self,
        events: Iterable[Event],
        history: Callable[[], Iterable[Event | Decision]] | None = None,
    ) -> list[Alert]:
        """`process` over many events in (ts, event_id) order (the backtest path), in one go.

        `history` reads the same events again from the start: a subject a step failed on is
        rebuilt from it (the events before the failing one). Without it, `events` is read
        again, so it must then be a collection, not a one-shot iterator.
        """
        if history is None and iter(events) is events:  # one-shot: keep it to rebuild from
            events = list(events)
        alerts: list[Alert] = []
        candidates = self._candidates
        apply = self._apply
        failures = self.failures
        for event in events:
            target = event.target  # `candidates`, inline: this loop is the backtest's hot path
            detectors = candidates[
                event.type, event.actor.age_band, None if target is None else target.age_band
            ]
            if detectors:
                try:
                    routed = _routes(detectors, event)
                except Exception as exc:  # a detector's subject_keys: the event reaches no one
                    self.stats.failed += 1
                    self.failures.append(routing_failure(detectors, event, exc))
                    continue
                before = len(failures)
                for key, wanting in routed.items():
                    apply(key, wanting, event, alerts)
                    if len(failures) > before:
                        self.rebuild(key, _before(history() if history else events, event))
                        before = len(failures)
        return alerts

    def apply(self, key: str, detectors: Iterable[Detector], event: Event) -> list[Alert]:
        """Apply an event to one subject's state with the detectors routed there."""
        alerts: list[Alert] = []
        self._apply(key, detectors, event, alerts)
        return alerts

    def _apply(
        self, key: str, detectors: Iterable[Detector], event: Event, alerts: list[Alert]
    ) -> None:
        """Apply one event to one subject. If a step raises, nothing of it stays: its alerts
        are dropped and the failure recorded; the caller then `rebuild`s the subject."""
        if self.poisoned and (key, event.event_id) in self.poisoned:
            return  # failed before: a rebuild replays around it
        state = self.subjects.get(key) or self._state(key)
        ts_ms = event.ts_ms
        if ts_ms <= state.hwm_ts_ms and (ts_ms < state.hwm_ts_ms or event.event_id <= state.hwm_id):
            self.stats.skipped_replays += 1
            return
        state.hwm_ts_ms = ts_ms
        state.hwm_id = event.event_id
        self.stats.applied += 1
        owner = state.subject
        states, slot = state.states, self._slot
        changed = False
        published = len(alerts)
        detector: Detector | None = None
        try:
            for detector in detectors:
                at = slot[detector]
                det_state = states[at]
                if det_state is None:
                    det_state = states[at] = detector.new_state()
                outcome = detector.step(det_state, owner, event)
                changed = changed or outcome.changed
                finding = outcome.finding
                if finding is not None:
                    self.stats.findings += 1
                    subject = finding.subject or owner
                    alert = self._case_update(state, subject, detector, finding, event)
                    if alert is not None:
                        alerts.append(alert)
        except Exception as exc:  # a bug for this one event: never the worker's end
            del alerts[published:]
            self.stats.applied -= 1
            self._failed(key, event, detector.name if detector else "?", exc)
            return
        if changed:
            # The high-water mark is persisted with material changes only: an event that
            # changed nothing is harmless to re-apply after a restart.
            self.dirty.add(key)

    def _failed(self, key: str, event: Event, detector: str, exc: Exception) -> None:
        self.stats.failed += 1
        self.poisoned.add((key, event.event_id))
        self.failures.append(StepFailure(key, event, detector, type(exc).__name__, _where(exc)))

    def take_failures(self) -> list[StepFailure]:
        """Failures since the last call, oldest first."""
        failures, self.failures = self.failures, []
        return failures

    def rebuild(self, key: str, events: Iterable[Event | Decision]) -> None:
        """Rebuild a subject a step failed on: its stored state (the loader's; none in a
        backtest), then `events` re-applied: the subject's events (and moderator decisions)
        since that state was stored (older events are skipped by its high-water mark), the
        failed ones left out. Their alerts were already published, so they are dropped, and
        the counters stay as they were."""
        self.subjects.pop(key, None)
        self.dirty.discard(key)
        stats, failures = replace(self.stats), len(self.failures)
        replayed: list[Alert] = []
        for event in events:
            if isinstance(event, Decision):
                if decision_key(event) == key:
                    self.decide(key, event)
                continue
            try:
                wanting = self.routes(event).get(key)
            except Exception:  # failed routing: it never reached the subject the first time
                continue
            if wanting:
                self._apply(key, wanting, event, replayed)
        del self.failures[failures:]  # a replay fails only where it failed before
        self.stats = stats

    def _case_update(
        self,
        state: SubjectState,
        subject: Subject,
        detector: Detector,
        finding: Finding,
        event: Event,
    ) -> Alert | None:
        cfg = self.config
        now = event.ts_ms
        key = subject_key(subject.kind, subject.id)
        # Cases live in the state that found them, one per (detector, subject).
        case_key = f"{detector.name}|{key}"
        cleared = state.suppressions.get(case_key) if state.suppressions else None
        if cleared is not None and cleared.covers(now):
            cleared.suppressed += 1
            self.stats.suppressed[detector.name] = self.stats.suppressed.get(detector.name, 0) + 1
            self.dirty.add(subject_key(state.subject.kind, state.subject.id))
            return None
        # Other detectors' open cases on this subject (a shadow detector's never raise an
        # enforced one): two at HIGH make CRITICAL, a corroborating partner's MEDIUM+ makes HIGH.
        ignored = {detector.name} if detector.name in self.shadow else {detector.name, *self.shadow}
        open_ranks = {
            name: case.severity.rank
            for case_name, case in state.cases.items()
            if case_name.endswith(f"|{key}")
            and (name := case_name.partition("|")[0]) not in ignored
            and case.is_open(now, cfg.cooldown_ms)
        }
        others = sorted(n for n, rank in open_ranks.items() if rank >= cfg.escalate_from.rank)
        severity = finding.severity
        backing: list[str] = []
        if severity is Severity.MEDIUM and detector.name in self._partners:
            partners = self._partners[detector.name]
            backing = sorted(
                n for n, rank in open_ranks.items() if n in partners and rank >= severity.rank
            )
            if backing:
                severity = Severity.HIGH
        if others and finding.severity.rank >= cfg.escalate_from.rank:
            severity = Severity.CRITICAL
        if severity is not finding.severity:
            finding = _with_severity(finding, severity)
        case, publish = advance_case(
            state.cases.get(case_key),
            finding,
            detector=detector.name,
            subject_key=key,
            event_id=event.event_id,
            now_ms=now,
            cooldown_ms=cfg.cooldown_ms,
            update_growth=cfg.update_growth,
        )
        state.cases[case_key] = case
        if not publish:
            return None
        self.stats.alerts += 1
        features = dict(finding.features)
        if others:
            features["other_detectors_open"] = float(len(others))
        if backing:
            features["corroborated_by_open_cases"] = float(len(backing))
        if cleared is not None and now <= cleared.until_ms + cfg.cooldown_ms:
            # Shown for a cooldown after the suppression ends, whenever `expire` runs.
            features["cleared_by_moderator"] = 1.0
            features["findings_suppressed_after_clear"] = float(cleared.suppressed)
        reason = finding.reason
        if severity is Severity.CRITICAL and others:
            reason += f" Escalated: also flagged by {', '.join(others)}."
        elif backing:
            reason += f" Raised to HIGH: {', '.join(backing)} also holds an open case on it."
        return Alert(
            alert_id=case.case_id,
            detector=detector.name,
            detector_version=detector.version,
            severity=case.severity,
            score=finding.score,
            subject=subject,
            window_start_ms=finding.window_start_ms,
            window_end_ms=finding.window_end_ms,
            trigger_ts_ms=now,
            features=features,
            counterparts=finding.counterparts,
            minors_exposed=finding.minors_exposed,
            evidence_event_ids=finding.evidence_event_ids,
            reason=reason,
            emitted_at_ms=self._clock_ms(),
            revision=case.revision,
            detectors_on_subject=tuple(others),
            counterpart_roles={
                c: finding.roles.get(c, detector.counterpart_role) for c in finding.counterparts
            },
        )

    def decide(self, key: str, decision: Decision) -> bool:
        """Apply a moderator's decision to the state at `key` (its subject's); True if it
        changed anything. Applying the same decision again changes nothing more."""
        if decision.action is not Action.CLEAR:
            return False
        state = self.subjects.get(key) or self._state(key)
        case_key = f"{decision.detector}|{key}"
        start = decision.effective_ts_ms
        until = start + self.config.clear_suppression_ms
        current = state.suppressions.get(case_key)
        if current is None:
            state.suppressions[case_key] = Suppression(start, until)
        else:
            current.from_ms, current.until_ms = (
                min(current.from_ms, start),
                max(current.until_ms, until),
            )
        case = state.cases.get(case_key)
        if case is not None and case.case_id == decision.alert_id:
            del state.cases[case_key]  # the next finding after the suppression opens a new case
        self.dirty.add(key)
        return True

    def expire(self, now_ms: int) -> int:
        """Forget what fell out of every window before `now_ms` (event time); returns evictions."""
        cooldown = self.config.cooldown_ms
        gone: list[str] = []
        detectors = self.detectors
        for key, state in self.subjects.items():
            states = state.states
            empty = True
            for at, det_state in enumerate(states):
                if det_state is None:
                    continue
                # An emptied state is a new one: dropped, or a subject another detector keeps
                # alive would carry it for as long as it lives. The stored copy drops it on the
                # next write.
                if detectors[at].expire(det_state, now_ms):
                    states[at] = None
                else:
                    empty = False
            if any(not c.is_open(now_ms, cooldown) for c in state.cases.values()):
                state.cases = {n: c for n, c in state.cases.items() if c.is_open(now_ms, cooldown)}
            if state.suppressions:
                keep = now_ms - cooldown  # shown on alerts for a cooldown after it ends
                state.suppressions = {
                    n: s for n, s in state.suppressions.items() if s.until_ms >= keep
                }
            if empty and not state.cases and not state.suppressions:
                gone.append(key)
        for key in gone:
            del self.subjects[key]
            self.dirty.add(key)
        self.stats.evicted += len(gone)
        return len(gone)

    def take_dirty(self) -> dict[str, bytes | None]:
        """Serialised state of every subject changed since the last call (None = forgotten).

        Once saved, state is rebuilt from the store, which holds no failed event: the
        poisoned pairs are no longer needed (a redelivered one fails, and is reported, again).
        """
        out = {key: self.dump(key) for key in self.dirty}
        self.dirty.clear()
        self.poisoned.clear()
        return out

    def dump(self, key: str) -> bytes | None:
        state = self.subjects.get(key)
        if state is None:
            return None
        doc = {
            "h": [state.hwm_ts_ms, state.hwm_id],
            "d": {
                d.name: d.dump(s)
                for d, s in zip(self.detectors, state.states, strict=True)
                if s is not None
            },
            "c": {n: c.dump() for n, c in state.cases.items()},
        }
        if state.suppressions:
            doc["s"] = {n: s.dump() for n, s in state.suppressions.items()}
        return json.dumps(doc, separators=(",", ":")).encode()

    def _state(self, key: str) -> SubjectState:
        state = self.subjects.get(key)
        if state is not None:
            return state
        kind, _, subject_id = key.partition(":")
        state = SubjectState(Subject(SUBJECT_KINDS[kind], subject_id), self._names)
        raw = self._loader(key) if self._loader else None
        if raw is not None:
            doc = json.loads(raw)
            state.hwm_ts_ms, state.hwm_id = int(doc["h"][0]), str(doc["h"][1])
            for name, stored in doc["d"].items():
                detector = self._by_name.get(name)
                if detector is not None:
                    state.states[self._slot[detector]] = detector.load(stored)
            state.cases = {n: Case.load(c) for n, c in doc["c"].items()}
            state.suppressions = {n: Suppression.load(v) for n, v in doc.get("s", {}).items()}
        self.subjects[key] = state
        return state


def named_pairs(pairs: str) -> list[tuple[str, list[str]]]:
    """`EngineConfig.corroborate` as written: each comma-separated item and its names, split
    at "+" (the config refuses any item that is not two different detectors)."""
    items = (p.strip() for p in pairs.split(","))
    return [(item, [n.strip() for n in item.split("+")]) for item in items if item]


def corroborating(pairs: str) -> dict[str, frozenset[str]]:
    """Each detector named in `EngineConfig.corroborate` -> the detectors that corroborate it."""
    out: dict[str, set[str]] = {}
    for _, names in named_pairs(pairs):
        if len(names) == 2:
            a, b = names
            out.setdefault(a, set()).add(b)
            out.setdefault(b, set()).add(a)
    return {name: frozenset(partners) for name, partners in out.items()}


def routes(detectors: Iterable[Detector], event: Event) -> dict[str, list[Detector]]:
    """Subject keys ("KIND:id") this event updates, each with the detectors that want it.

    A detector names the kind of each subject itself, so one detector can keep state per
    device and per IP (anonymous_churn); the stream router and the backtest both use this.
    """
    return _routes([d for d in detectors if event.type in d.event_types], event)


def _routes(detectors: Iterable[Detector], event: Event) -> dict[str, list[Detector]]:
    """`routes` over detectors already known to take this event's type."""
    out: dict[str, list[Detector]] = {}
    for detector in detectors:
        for key in detector.subject_keys(event):
            wanting = out.get(key)
            if wanting is None:
                out[key] = [detector]
            else:
                wanting.append(detector)
    return out


def _before(events: Iterable[Event | Decision], failed: Event) -> Iterator[Event | Decision]:
    """`events` (in (ts, event_id) order, decisions at `order_key`) up to, not including,
    `failed`."""
    for event in events:
        if event is failed:
            return
        at = order_key(event) if isinstance(event, Decision) else (event.ts_ms, event.event_id)
        if at >= (failed.ts_ms, failed.event_id):
            return
        yield event


def routing_failure(detectors: Iterable[Detector], event: Event, exc: Exception) -> StepFailure:
    """`exc` from routing `event`, blamed on the first detector whose `subject_keys` raises."""
    culprit = "?"
    for detector in detectors:
        try:
            list(detector.subject_keys(event))
        except Exception:
            culprit = detector.name
            break
    return StepFailure("", event, culprit, type(exc).__name__, _where(exc))


def _where(exc: BaseException) -> str:
    """Where an exception was raised, as `file:line in function` (no values, so no ids)."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "?"
    last = frames[-1]
    return f"{Path(last.filename).name}:{last.lineno} in {last.name}"


def _with_severity(finding: Finding, severity: Severity) -> Finding:
    return replace(finding, severity=severity)
