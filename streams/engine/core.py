"""The detection engine: routes events to per-subject state, deduplicates, opens cases.

Pure and deterministic: the same events in the same per-subject order give the same alerts,
whether they come from a Kafka partition (`streams.worker`) or a file (`streams.backtest`).
State is keyed by subject ("ACCOUNT:u-1", "DEVICE:d-9") so a subject's whole history lives in
one place and moves with its partition.

Redelivery and replays never double count: each subject remembers the highest
(event time, event id) it applied, and anything at or below it is skipped. Because events
reach a subject in (ts, event_id) order (see `reorder.py`), that single mark is exact.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from streams.detectors.contract import Detector, Finding
from streams.detectors.subjects import subject_key
from streams.engine.cases import Case, advance_case
from streams.model import (
    MINOR_BANDS,
    SUBJECT_KINDS,
    Alert,
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


class SubjectState:
    """Everything Guardline remembers about one subject, across detectors."""

    __slots__ = ("cases", "detector_states", "hwm_id", "hwm_ts_ms", "subject")

    def __init__(self, subject: Subject) -> None:
        self.subject = subject  # parsed once from its key, not on every event
        self.hwm_ts_ms = -1
        self.hwm_id = ""
        self.detector_states: dict[str, Any] = {}
        self.cases: dict[str, Case] = {}


@dataclass(slots=True)
class EngineStats:
    applied: int = 0
    skipped_replays: int = 0
    findings: int = 0
    alerts: int = 0
    evicted: int = 0


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
        self._named: dict[tuple[str, ...], tuple[Detector, ...]] = {}
        # Which detectors may route an event, by its type and whether its target is a declared
        # minor: most never see most events (an adult-to-adult chat asks none).
        self._to_minor = {t: self._wanting(t, to_minor=True) for t in EventType}
        self._not_to_minor = {t: self._wanting(t, to_minor=False) for t in EventType}
        self.subjects: dict[str, SubjectState] = {}
        self.dirty: set[str] = set()
        self.stats = EngineStats()

    def _wanting(self, event_type: EventType, *, to_minor: bool) -> tuple[Detector, ...]:
        return tuple(
            d
            for d in self.detectors
            if event_type in d.event_types and (to_minor or event_type not in d.minor_targets_only)
        )

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
        if target is not None and target.age_band in MINOR_BANDS:
            return self._to_minor[event.type]
        return self._not_to_minor[event.type]

    def routes(self, event: Event) -> dict[str, list[Detector]]:
        """Subject keys this event updates, each with the detectors that want it."""
        return _routes(self.candidates(event), event)

    def process(self, event: Event) -> list[Alert]:
        """Apply an event to every subject it touches."""
        return self.process_all((event,))

    def process_all(self, events: Iterable[Event]) -> list[Alert]:
        """`process` over many events in (ts, event_id) order (the backtest path), in one go."""
        alerts: list[Alert] = []
        to_minor, not_to_minor = self._to_minor, self._not_to_minor
        apply = self._apply
        for event in events:
            target = event.target  # `candidates`, inline: this loop is the backtest's hot path
            if target is not None and target.age_band in MINOR_BANDS:
                detectors = to_minor[event.type]
            else:
                detectors = not_to_minor[event.type]
            if detectors:
                for key, wanting in _routes(detectors, event).items():
                    apply(key, wanting, event, alerts)
        return alerts

    def apply(self, key: str, detectors: Iterable[Detector], event: Event) -> list[Alert]:
        """Apply an event to one subject's state with the detectors routed there."""
        alerts: list[Alert] = []
        self._apply(key, detectors, event, alerts)
        return alerts

    def _apply(
        self, key: str, detectors: Iterable[Detector], event: Event, alerts: list[Alert]
    ) -> None:
        state = self.subjects.get(key) or self._state(key)
        ts_ms = event.ts_ms
        if ts_ms < state.hwm_ts_ms or (ts_ms == state.hwm_ts_ms and event.event_id <= state.hwm_id):
            self.stats.skipped_replays += 1
            return
        state.hwm_ts_ms = ts_ms
        state.hwm_id = event.event_id
        self.stats.applied += 1
        owner = state.subject
        det_states = state.detector_states
        changed = False
        for detector in detectors:
            det_state = det_states.get(detector.name)
            if det_state is None:
                det_state = det_states[detector.name] = detector.new_state()
            outcome = detector.step(det_state, owner, event)
            changed = changed or outcome.changed
            finding = outcome.finding
            if finding is not None:
                self.stats.findings += 1
                alert = self._case_update(state, finding.subject or owner, detector, finding, event)
                if alert is not None:
                    alerts.append(alert)
        if changed:
            # The high-water mark is persisted with material changes only: an event that
            # changed nothing is harmless to re-apply after a restart.
            self.dirty.add(key)

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
        ignored = {detector.name} if detector.name in self.shadow else {detector.name, *self.shadow}
        others = sorted(
            {
                name
                for case_name, case in state.cases.items()
                if case_name.endswith(f"|{key}")
                and (name := case_name.partition("|")[0]) not in ignored
                and case.is_open(now, cfg.cooldown_ms)
                and case.severity.rank >= cfg.escalate_from.rank
            }
        )
        severity = finding.severity
        if others and severity.rank >= cfg.escalate_from.rank:
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
        reason = finding.reason
        if severity is Severity.CRITICAL and others:
            reason += f" Escalated: also flagged by {', '.join(others)}."
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
        )

    def expire(self, now_ms: int) -> int:
        """Forget what fell out of every window before `now_ms` (event time); returns evictions."""
        cooldown = self.config.cooldown_ms
        gone: list[str] = []
        for key, state in self.subjects.items():
            empty = True
            for name, det_state in state.detector_states.items():
                if not self._by_name[name].expire(det_state, now_ms):
                    empty = False
            if any(not c.is_open(now_ms, cooldown) for c in state.cases.values()):
                state.cases = {n: c for n, c in state.cases.items() if c.is_open(now_ms, cooldown)}
            if empty and not state.cases:
                gone.append(key)
        for key in gone:
            del self.subjects[key]
            self.dirty.add(key)
        self.stats.evicted += len(gone)
        return len(gone)

    def take_dirty(self) -> dict[str, bytes | None]:
        """Serialised state of every subject changed since the last call (None = forgotten)."""
        out = {key: self.dump(key) for key in self.dirty}
        self.dirty.clear()
        return out

    def dump(self, key: str) -> bytes | None:
        state = self.subjects.get(key)
        if state is None:
            return None
        doc = {
            "h": [state.hwm_ts_ms, state.hwm_id],
            "d": {n: self._by_name[n].dump(s) for n, s in state.detector_states.items()},
            "c": {n: c.dump() for n, c in state.cases.items()},
        }
        return json.dumps(doc, separators=(",", ":")).encode()

    def _state(self, key: str) -> SubjectState:
        state = self.subjects.get(key)
        if state is not None:
            return state
        kind, _, subject_id = key.partition(":")
        state = SubjectState(Subject(SUBJECT_KINDS[kind], subject_id))
        raw = self._loader(key) if self._loader else None
        if raw is not None:
            doc = json.loads(raw)
            state.hwm_ts_ms, state.hwm_id = int(doc["h"][0]), str(doc["h"][1])
            state.detector_states = {
                n: self._by_name[n].load(s) for n, s in doc["d"].items() if n in self._by_name
            }
            state.cases = {n: Case.load(c) for n, c in doc["c"].items()}
        self.subjects[key] = state
        return state


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


def _with_severity(finding: Finding, severity: Severity) -> Finding:
    return replace(finding, severity=severity)
