"""Ground truth: what a perfect pipeline should (not) alert on, and its JSON Lines file."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from streams.model import SubjectKind
from streams.simulate.config import Kind


@dataclass(frozen=True)
class TruthEntry:
    """One planted scenario instance: what a perfect pipeline should (not) alert on.

    `first_event_ts_ms` is the scenario's first event (often an account creation, hours
    before anything happens); `attack_start_ts_ms` is the subject's first contact of a minor
    (message, contact add or group add; for a device or IP, by any account on it), which is
    where "time to detect" counts from. `attacker_accounts` lists every account the attacker
    controls (for a churn device, each throwaway; for ban evasion, the deleted account too):
    an alert on one of them is about the attacker, not a false alarm.
    """

    scenario: str
    kind: Kind
    subject_kind: SubjectKind
    subject_id: str
    expected_detectors: tuple[str, ...]
    first_event_ts_ms: int
    minors_targeted: tuple[str, ...]
    description: str
    attack_start_ts_ms: int = 0
    attacker_accounts: tuple[str, ...] = ()


def write_truth(path: str | Path, truth: Iterable[TruthEntry]) -> None:
    with Path(path).open("w", encoding="utf-8") as out:
        for entry in truth:
            out.write(json.dumps(asdict(entry), sort_keys=True) + "\n")


def read_truth(path: str | Path) -> list[TruthEntry]:
    """Read `write_truth` output; a bad line raises ValueError naming the line."""
    entries = []
    with Path(path).open(encoding="utf-8") as lines:
        for n, line in enumerate(lines, 1):
            if line.strip():
                try:
                    entries.append(_truth_from_json(json.loads(line)))
                except (ValueError, KeyError, TypeError) as exc:
                    raise ValueError(f"{path}:{n}: bad truth line: {exc!r}") from exc
    return entries


def _truth_from_json(d: dict[str, object]) -> TruthEntry:
    kind = d["kind"]
    if kind not in ("attack", "lookalike"):
        raise ValueError(f"kind={kind!r}: expected 'attack' or 'lookalike'")
    return TruthEntry(
        scenario=str(d["scenario"]),
        kind="attack" if kind == "attack" else "lookalike",
        subject_kind=SubjectKind(str(d["subject_kind"])),
        subject_id=str(d["subject_id"]),
        expected_detectors=tuple(str(x) for x in _as_list(d["expected_detectors"])),
        first_event_ts_ms=int(str(d["first_event_ts_ms"])),
        minors_targeted=tuple(str(x) for x in _as_list(d["minors_targeted"])),
        description=str(d["description"]),
        # Absent in truth files written before these fields existed.
        attack_start_ts_ms=int(str(d.get("attack_start_ts_ms", d["first_event_ts_ms"]))),
        attacker_accounts=tuple(str(x) for x in _as_list(d.get("attacker_accounts", []))),
    )


def _as_list(value: object) -> list[object]:
    if not isinstance(value, list):
        raise TypeError(f"expected a list, got {value!r}")
    return value
