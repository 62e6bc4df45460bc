"""The msgspec path never disagrees with the contract reader (`streams.jsonl`), the reference.

Where the reference accepts a line, the fast path builds an equal event; where it refuses,
the fast path refuses with the same reason code and message, line for line, on contract
events, on the same events bent one field at a time, and on arbitrary bytes.
"""

from __future__ import annotations

import io
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.backtesting.decode import decode_line, decode_lines
from streams.jsonl import event_from_line
from streams.model import AgeBand, EventType
from streams.validation import InvalidEvent

FIELDS = ("event_id", "type", "ts", "actor", "target", "group_id", "device_hash", "ip_hash")
FIELDS += ("first_contact", "has_media", "typo")
ACCOUNT_FIELDS = ("id", "age_band", "created_ts", "anonymous", "typo")

ids = st.text(min_size=1, max_size=6)
odd_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    ids,
    st.sampled_from(["", "2026-12-01T10:00:00Z", "2026-12-01T10:00:00", "ACCOUNT_CREATED"]),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.sampled_from(ACCOUNT_FIELDS), ids, max_size=2),
)
accounts = st.fixed_dictionaries(
    {"id": ids, "age_band": st.sampled_from([b.value for b in AgeBand])},
    optional={"created_ts": st.integers(0, 2**45), "anonymous": st.booleans()},
)
events = st.fixed_dictionaries(
    {
        "event_id": ids,
        "type": st.sampled_from([t.value for t in EventType]),
        "ts": st.integers(900_000_000_000, 4_200_000_000_000),
        "actor": accounts,
    },
    optional={
        "target": st.one_of(st.none(), accounts),
        "group_id": st.one_of(st.none(), ids),
        "device_hash": ids,
        "ip_hash": ids,
        "first_contact": st.booleans(),
        "has_media": st.one_of(st.none(), st.booleans()),
    },
)


def same_verdict(raw: bytes) -> None:
    fast, reference = decode_line(raw), event_from_line(raw)
    if isinstance(reference, InvalidEvent):
        assert isinstance(fast, InvalidEvent), raw
        assert (fast.code, str(fast)) == (reference.code, str(reference)), raw
    else:
        assert fast == reference, raw


@settings(max_examples=150, deadline=None)
@given(events)
def test_contract_shaped_lines(obj: dict[str, Any]) -> None:
    same_verdict(json.dumps(obj).encode())


@settings(max_examples=150, deadline=None)
@given(events, st.sampled_from(FIELDS), odd_values, st.sampled_from(ACCOUNT_FIELDS), st.booleans())
def test_one_field_bent(
    obj: dict[str, Any], field: str, value: object, account_field: str, in_actor: bool
) -> None:
    if in_actor:
        obj["actor"] = {**obj["actor"], account_field: value}
    else:
        obj[field] = value
    same_verdict(json.dumps(obj).encode())


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=40) | st.text(max_size=40).map(str.encode))
def test_arbitrary_bytes(raw: bytes) -> None:
    if raw.strip():
        same_verdict(raw)


def test_the_contract_examples_and_the_spellings_only_the_reference_reads() -> None:
    event = {
        "event_id": "e-1",
        "type": "MESSAGE_SENT",
        "ts": "2026-12-01T10:00:00.123456+01:00",  # ISO: the fast path leaves it
        "actor": {"id": "u-1", "age_band": "AGE_21_PLUS", "created_ts": None},
        "target": {"id": "u-2", "age_band": "AGE_13_15"},
        "first_contact": None,
    }
    same_verdict(json.dumps(event).encode())
    assert not isinstance(decode_line(json.dumps(event).encode()), InvalidEvent)
    for raw in (b'{"ts": NaN}', b"\xff\xfe", b"[1, 2]", b'{"event_id": "a"} x'):
        same_verdict(raw)
    with open("tests/data/contract_examples.jsonl", "rb") as lines:
        for raw in lines:
            if raw.strip():
                same_verdict(raw)


def lines_of(obj: dict[str, Any], bent: str) -> list[bytes]:
    """A line of a contract-shaped event, bent one way or another (or not)."""
    if bent == "self contact":  # otherwise as is, a contact request to itself
        obj = {k: v for k, v in obj.items() if k != "group_id"}
        obj.update(type="CONTACT_ADDED", target=obj["actor"])
    raw = json.dumps(obj, separators=(",", ":")).encode()
    return {
        "as is": [raw],
        "blank": [b""],
        "spaces": [b"  \t"],
        "crlf": [raw + b"\r"],
        "not json": [raw[:-1]],
        "split in two": [raw[: len(raw) // 2], raw[len(raw) // 2 :]],
        "two on a line": [raw + b"," + raw],
        "self contact": [raw],
    }[bent]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            events,
            st.sampled_from(
                ["as is"] * 6
                + ["blank", "spaces", "crlf"]
                + ["not json", "split in two", "two on a line", "self contact"]
            ),
        ),
        max_size=12,
    ),
    st.integers(1, 10**6),
    st.booleans(),
)
def test_a_block_reads_as_its_lines_do(
    bent: list[tuple[dict[str, Any], str]], first: int, last_newline: bool
) -> None:
    """A block, decoded at once, gives each non-blank line's number and the reference's
    verdict on it, whatever lines it holds (the whole block falls back line by line)."""
    lines = [line for obj, how in bent for line in lines_of(obj, how)]
    body = b"\n".join(lines) + (b"\n" if last_newline and lines else b"")
    expected = [  # each line as a file gives it, with its b"\n" (none at the end of a file)
        (number, event_from_line(raw))
        for number, raw in enumerate(io.BytesIO(body), first)
        if raw.strip()
    ]
    got = decode_lines(body, first)
    assert [n for n, _ in got] == [n for n, _ in expected]
    for (_, fast), (_, reference) in zip(got, expected, strict=True):
        if isinstance(reference, InvalidEvent):
            assert isinstance(fast, InvalidEvent)
            assert (fast.code, str(fast)) == (reference.code, str(reference))
        else:
            assert fast == reference
