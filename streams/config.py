"""One validated configuration: engine settings and, per detector, its mode and thresholds.

Defaults live in `streams/defaults/guardline.toml`; a user file overrides any subset. Loading
checks everything and reports every problem at once, each naming the key, the bad value and
what was expected, so a bad deploy fails at start instead of alerting wrongly for hours.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from streams.config_checks import cross_check
from streams.detectors import REGISTRY
from streams.detectors.contract import Detector
from streams.engine.core import Engine, EngineConfig, named_pairs
from streams.model import Severity

DEFAULTS_PATH = Path(__file__).parent / "defaults" / "guardline.toml"
CONFIG_ENV = "GUARDLINE_CONFIG"


class Mode(StrEnum):
    ENFORCE = "enforce"  # alerts go to the alert topics and the moderation queue
    SHADOW = "shadow"  # alerts go to the shadow topic only: try a new version on live traffic
    OFF = "off"


_CANDIDATE_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")


class ConfigError(ValueError):
    def __init__(self, problems: list[str], source: str) -> None:
        self.problems = problems
        if len(problems) == 1:  # one problem, one line
            super().__init__(f"invalid Guardline config ({source}): {problems[0]}")
            return
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid Guardline config ({source}), {len(problems)} problems:\n{lines}")


@dataclass(frozen=True, slots=True)
class DetectorSetup:
    detector: Detector
    mode: Mode


@dataclass(frozen=True, slots=True)
class GuardlineConfig:
    engine: EngineConfig
    detectors: tuple[DetectorSetup, ...]
    source: str

    def active(self) -> list[Detector]:
        return [d.detector for d in self.detectors if d.mode is not Mode.OFF]

    def new_engine(self, **kwargs: Any) -> Engine:
        """An engine running the active detectors; shadow ones never escalate enforced cases."""
        shadow = {d.detector.name for d in self.detectors if d.mode is Mode.SHADOW}
        return Engine(self.active(), self.engine, shadow=shadow, **kwargs)

    def mode_of(self, detector_name: str) -> Mode:
        for setup in self.detectors:
            if setup.detector.name == detector_name:
                return setup.mode
        raise KeyError(detector_name)


def load_config(path: str | Path | None = None) -> GuardlineConfig:
    """Defaults, overridden by `path` (or $GUARDLINE_CONFIG when path is None)."""
    raw = _read(DEFAULTS_PATH)
    chosen = path if path is not None else os.environ.get(CONFIG_ENV) or None
    source = str(DEFAULTS_PATH.name)
    if chosen is not None:
        source = str(chosen)
        try:
            _merge(raw, _read(Path(chosen)))
        except OSError as exc:
            raise ConfigError([f"cannot read {chosen}: {exc.strerror or exc}"], source) from exc
        except UnicodeDecodeError as exc:
            problem = f"cannot read {chosen}: not UTF-8 text (byte {exc.start}); TOML is UTF-8"
            raise ConfigError([problem], source) from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError([f"cannot read {chosen}: not valid TOML ({exc})"], source) from exc
    return parse_config(raw, source)


def parse_config(raw: Mapping[str, Any], source: str = "<memory>") -> GuardlineConfig:
    problems: list[str] = []
    for key in raw:
        if key not in ("engine", "detectors", "candidates"):
            problems.append(
                f"{key}: unknown section (expected 'engine', 'detectors' or 'candidates')"
            )
    engine = _build(EngineConfig, raw.get("engine", {}), "engine", problems)
    if engine is not None:
        problems += _pair_problems(engine.corroborate)
    setups: list[DetectorSetup] = []
    sections = raw.get("detectors", {})
    if not isinstance(sections, Mapping):
        problems.append("detectors: must be a table of detector sections")
        sections = {}
    for name in sections:
        if name not in REGISTRY:
            problems.append(
                f"detectors.{name}: unknown detector (known: {', '.join(sorted(REGISTRY))})"
            )
    for name, (detector_cls, config_cls) in REGISTRY.items():
        raw_section = sections.get(name, {})
        if not isinstance(raw_section, Mapping):
            problems.append(f"detectors.{name}: must be a table")
            continue
        section = dict(raw_section)
        mode_raw = section.pop("mode", Mode.ENFORCE.value)
        try:
            mode = Mode(mode_raw)
        except ValueError:
            problems.append(
                f"detectors.{name}.mode: {mode_raw!r} is not one of "
                f"{', '.join(m.value for m in Mode)}"
            )
            mode = Mode.OFF
        det_config = _build(config_cls, section, f"detectors.{name}", problems)
        if det_config is not None:
            setups.append(DetectorSetup(detector_cls(det_config), mode))
    setups.extend(_candidates(raw.get("candidates", {}), problems))
    if problems or engine is None:
        raise ConfigError(problems, source)
    return GuardlineConfig(engine=engine, detectors=tuple(setups), source=source)


def _candidates(sections: Any, problems: list[str]) -> list[DetectorSetup]:
    """`[candidates.NAME]`: a registered detector under a new name with other settings.

    A candidate runs next to the enforced detector it is based on, in shadow mode, so a new
    threshold or version is tried on live traffic without touching the moderation queue.
    Promoting it means copying its settings into `[detectors.BASE]`.
    """
    if not isinstance(sections, Mapping):
        problems.append("candidates: must be a table of candidate sections")
        return []
    setups: list[DetectorSetup] = []
    for name, section in sections.items():
        where = f"candidates.{name}"
        if not isinstance(section, Mapping):
            problems.append(f"{where}: must be a table")
            continue
        if name in REGISTRY or not _CANDIDATE_NAME.fullmatch(name):
            problems.append(
                f"{where}: a candidate needs its own name (lowercase letters, digits, _), "
                "not a detector's"
            )
            continue
        settings = dict(section)
        base = settings.pop("base", None)
        if base not in REGISTRY:
            problems.append(
                f"{where}.base: {base!r} is not a detector (known: {', '.join(sorted(REGISTRY))})"
            )
            continue
        mode_raw = settings.pop("mode", Mode.SHADOW.value)
        if mode_raw not in (Mode.SHADOW.value, Mode.OFF.value):
            problems.append(
                f"{where}.mode: {mode_raw!r}: a candidate runs in 'shadow' or is 'off' (promote "
                f"it by copying its settings into [detectors.{base}])"
            )
            continue
        detector_cls, config_cls = REGISTRY[base]
        det_config = _build(config_cls, settings, where, problems)
        if det_config is not None:
            # Same code, its own name: its state, cases and alerts never mix with the base's.
            candidate_cls = type(f"{detector_cls.__name__}_{name}", (detector_cls,), {"name": name})
            setups.append(DetectorSetup(candidate_cls(det_config), Mode(mode_raw)))
    return setups


def _pair_problems(pairs: str) -> list[str]:
    """`engine.corroborate`: comma-separated "a+b" pairs of two different known detectors."""
    problems = []
    for pair, names in named_pairs(pairs):
        where = f"engine.corroborate: {pair!r}"
        if len(names) != 2:
            problems.append(f"{where} is not a pair (write two detectors as 'a+b')")
            continue
        problems += [f"{where}: {n!r} is not a detector" for n in names if n not in REGISTRY]
        if names[0] == names[1]:
            problems.append(f"{where} pairs a detector with itself")
    return problems


def _build(cls: Any, section: Any, where: str, problems: list[str]) -> Any:
    """Instantiate a config dataclass from a TOML table, collecting every problem."""
    if not isinstance(section, Mapping):
        problems.append(f"{where}: must be a table")
        return None
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    before = len(problems)
    for key, value in section.items():
        field = fields.get(key)
        if field is None:
            problems.append(f"{where}.{key}: unknown key (known: {', '.join(sorted(fields))})")
            continue
        default = field.default
        problem = _check_value(value, default)
        if problem:
            problems.append(f"{where}.{key}: {value!r} {problem}")
            continue
        values[key] = Severity(value) if isinstance(default, Severity) else value
    if len(problems) > before:
        return None
    settings = cls(**values)
    problems += cross_check(settings, where)  # values valid alone that clash together
    return settings


def _check_value(value: Any, default: Any) -> str | None:
    if isinstance(default, Severity):
        known = ", ".join(Severity.__members__)
        return None if value in Severity.__members__ else f"is not one of {known}"
    if isinstance(default, bool):
        return None if isinstance(value, bool) else "must be true or false"
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            return "must be an integer"
        return None if value >= 0 else "must be >= 0"
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return "must be a number"
        if not math.isfinite(value):  # TOML has inf and nan
            return "must be a finite number"
        return None if value >= 0 else "must be >= 0"
    return None


def _read(path: Path) -> dict[str, Any]:
    with path.open("rb") as fh:
        return tomllib.load(fh)


def _merge(base: dict[str, Any], override: Mapping[str, Any]) -> None:
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value
