"""Contract rules that typing alone cannot express (CONTRACT.md section 1).

The codec and the JSON reader first build `streams.model` values, then call `check_event`, so
Avro and JSON input obey the same rules and fail with the same reason codes. Every refusal is
an `InvalidEvent` whose `code` comes from the closed set `REASON_CODES`: the worker uses it as
the dead-letter `reason_code` and as a metric label, so adding a code is a contract change.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from streams.model import (
    GROUP_REQUIRED,
    TARGET_FORBIDDEN,
    TARGET_REQUIRED,
    Account,
    Event,
    EventType,
)
from streams.model import MAX_ID_CHARS as MAX_ID_CHARS  # re-exported: the contract's bound

REASON_CODES: Final[Mapping[str, str]] = {
    "undecodable": "neither Avro single-object nor Confluent framing (too short or wrong marker)",
    "unknown_schema": "schema fingerprint or registry id unknown (or no registry configured)",
    "bad_avro": "Avro body truncated, malformed or followed by extra bytes",
    "bad_json": "line is not valid UTF-8 JSON",
    "missing_field": "a required field is absent or null",
    "unknown_field": "a field the contract does not define",
    "bad_type": "a field has the wrong JSON type or an unparseable timestamp",
    "bad_enum": "an enum field holds a value outside its symbols",
    "empty_id": "an id or hash is the empty string",
    "oversized": "an id longer than MAX_ID_CHARS, or a message over MAX_MESSAGE_BYTES",
    "self_contact": "actor and target are the same account",
    "ts_out_of_range": "a timestamp outside [TS_MIN_MS, TS_MAX_MS)",
    "contract_violation": "a field the event type forbids, or neither/both of target and group_id",
    # Not an input fault: the worker dead-letters a valid event a detector failed on (a bug).
    "processing_error": "the pipeline failed on this event; see logs",
    # Not an input fault: a Confluent-framed event whose schema the registry could not give
    # (unreachable); the dead letter keeps the exact bytes, so it can be replayed.
    "registry_unavailable": "the schema registry could not be asked for the message's schema id",
}

MAX_MESSAGE_BYTES: Final = 64 * 1024
# Fixed bounds, never the wall clock, so a backtest gives the same verdicts on every run.
TS_MIN_MS: Final = 946_684_800_000  # 2000-01-01T00:00:00Z, inclusive
TS_MAX_MS: Final = 4_102_444_800_000  # 2100-01-01T00:00:00Z, exclusive

# Where the contract table has no group_id; MESSAGE_SENT may carry either target or group_id.
GROUP_FORBIDDEN: Final = frozenset(EventType) - GROUP_REQUIRED - {EventType.MESSAGE_SENT}


class InvalidEvent(ValueError):
    """Input that breaks the contract; `str()` names the field, `code` is in REASON_CODES."""

    def __init__(self, code: str, field: str | None, detail: str) -> None:
        if code not in REASON_CODES:
            raise ValueError(f"unknown reason code {code!r}")
        self.code = code
        self.field = field
        super().__init__(f"{field}: {detail}" if field else detail)


def check_id(value: str, field: str) -> None:
    """Ids and hashes are non-empty and bounded, so state keys and labels stay small."""
    if not value:
        raise InvalidEvent("empty_id", field, "must not be empty")
    if len(value) > MAX_ID_CHARS:
        raise InvalidEvent("oversized", field, f"{len(value)} chars, at most {MAX_ID_CHARS}")


def check_ts(value_ms: int, field: str) -> None:
    """Reject timestamps a platform cannot mean (seconds sent as ms, sentinel values)."""
    if not TS_MIN_MS <= value_ms < TS_MAX_MS:
        raise InvalidEvent(
            "ts_out_of_range",
            field,
            f"{value_ms} ms is outside [2000-01-01T00:00Z, 2100-01-01T00:00Z)",
        )


def _check_account(account: Account, field: str) -> None:
    check_id(account.id, f"{field}.id")
    if account.created_ts_ms is not None:
        check_ts(account.created_ts_ms, f"{field}.created_ts")


def check_event(ev: Event) -> Event:
    """Apply the per-type field rules and value bounds; return `ev` unchanged if it passes."""
    check_id(ev.event_id, "event_id")
    check_ts(ev.ts_ms, "ts")
    _check_account(ev.actor, "actor")
    kind = ev.type
    target = ev.target
    if target is None:
        if kind in TARGET_REQUIRED:
            raise InvalidEvent("missing_field", "target", f"required for {kind}")
    else:
        if kind in TARGET_FORBIDDEN:
            raise InvalidEvent("contract_violation", "target", f"not allowed for {kind}")
        _check_account(target, "target")
        if target.id == ev.actor.id:
            raise InvalidEvent("self_contact", "target.id", "must differ from actor.id")
    if ev.group_id is None:
        if kind in GROUP_REQUIRED:
            raise InvalidEvent("missing_field", "group_id", f"required for {kind}")
    else:
        if kind in GROUP_FORBIDDEN:
            raise InvalidEvent("contract_violation", "group_id", f"not allowed for {kind}")
        check_id(ev.group_id, "group_id")
    if kind == EventType.MESSAGE_SENT and (target is None) == (ev.group_id is None):
        raise InvalidEvent(
            "contract_violation",
            "target",
            "MESSAGE_SENT needs exactly one of target (direct) and group_id (group)",
        )
    if ev.device_hash is not None:
        check_id(ev.device_hash, "device_hash")
    if ev.ip_hash is not None:
        check_id(ev.ip_hash, "ip_hash")
    return ev
