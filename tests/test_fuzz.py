"""Hostile input, fuzzed with hypothesis, into a real worker (issue 7).

Hypothesis draws batches of bad messages: random bytes, truncated or padded Avro, foreign and
unknown schemas, Confluent framing with no registry, writer schemas that lie about the types,
unknown enum symbols, oversized ids and messages, timestamps far in the past or future,
self-contact, empty ids, contract violations and tombstones. They are mixed with a small
simulation's good events and sent to a running `guardline worker`. The guarantees: the worker
stays up, every bad message is on the dead-letter topic exactly once with a reason and its
original bytes, the good events give exactly the backtest's alerts, and the worker's own
counters add up (records read = valid + dead-lettered).
"""

from __future__ import annotations

import json
import random
import urllib.request
from collections import Counter
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from fastavro import parse_schema, schemaless_writer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kafka import KafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from streams import topics
from streams.backtest import run_backtest
from streams.broker import EmbeddedBroker
from streams.codec import SCHEMA_DIR, decode_event, encode_alert, encode_dead_letter, encode_event
from streams.config import load_config
from streams.model import Account, AgeBand, Event, EventType
from streams.ops.launcher import free_port, start_worker, stop_worker, wait_ready
from streams.simulate import simulate
from streams.validation import (
    MAX_ID_CHARS,
    MAX_MESSAGE_BYTES,
    REASON_CODES,
    TS_MAX_MS,
    InvalidEvent,
)
from tests.streaming import drained, message_count, read_alerts, read_dead_letters, wait_for
from tests.test_resilience import SMALL, assert_same_alerts

pytestmark = [pytest.mark.broker, pytest.mark.slow]

BATCHES = 80  # hypothesis examples; each one is a batch of bad messages
BATCH_SIZE = 20  # drawn messages per batch, each sent in VARIANTS variants: 11,200+
VARIANTS = 7

T0 = 1_795_000_000_000
ADULT = Account("u-fuzz-adult", AgeBand.AGE_21_PLUS)
KID = Account("u-fuzz-kid", AgeBand.AGE_13_15)
BASE = Event("fz-1", EventType.MESSAGE_SENT, T0, ADULT, KID, first_contact=True)
GOOD_BYTES = encode_event(BASE)
HEADER = GOOD_BYTES[:10]  # C3 01 + the event schema's fingerprint


def _lying_schema(change: str) -> dict[str, Any]:
    """The event schema with one lie in it, written under the real event fingerprint."""
    schema = json.loads((SCHEMA_DIR / "metadata_event.avsc").read_text())
    fields = schema["fields"]
    if change == "ts_as_string":
        next(f for f in fields if f["name"] == "ts")["type"] = "string"
    elif change == "extra_enum_symbol":
        enum = next(f for f in fields if f["name"] == "type")["type"]
        enum["symbols"] = [*enum["symbols"], "TELEPORTED"]
    elif change == "fields_missing":
        schema["fields"] = fields[:3]
    elif change == "bool_as_long":
        next(f for f in fields if f["name"] == "first_contact")["type"] = ["null", "long"]
    return parse_schema(schema)


LIES = {c: _lying_schema(c) for c in ("ts_as_string", "extra_enum_symbol", "fields_missing")}
LIES["bool_as_long"] = _lying_schema("bool_as_long")


def _lie(change: str, record: dict[str, Any]) -> bytes:
    buf = BytesIO()
    buf.write(HEADER)
    schemaless_writer(buf, LIES[change], record)
    return buf.getvalue()


def _record(**over: Any) -> dict[str, Any]:
    account = {"id": "u-a", "age_band": "AGE_21_PLUS", "created_ts": None, "anonymous": False}
    rec = {
        "event_id": "fz", "type": "MESSAGE_SENT", "ts": T0, "actor": account,
        "target": {**account, "id": "u-b"}, "group_id": None, "device_hash": None,
        "ip_hash": None, "first_contact": None, "has_media": None,
    }  # fmt: skip
    rec.update(over)
    return rec


ids = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=12)
far_ts = st.one_of(st.integers(-(2**63), 946_684_800_000 - 1), st.integers(TS_MAX_MS, 2**63 - 1))
# (message value, the reason codes it may get): None means "any contract code" (fuzzed bytes).
Bad = tuple[bytes | None, frozenset[str] | None]


def _one(code: str) -> frozenset[str]:
    return frozenset({code})


@st.composite
def bad_message(draw: st.DrawFn) -> Bad:
    kind = draw(st.integers(0, 16))
    if kind == 0:
        return draw(st.binary(max_size=200)), None
    if kind == 1:  # valid-looking header, garbage body
        return HEADER + draw(st.binary(max_size=120)), None
    if kind == 2:
        cut = draw(st.integers(0, len(GOOD_BYTES) - 1))
        return GOOD_BYTES[:cut], _one("undecodable" if cut < 10 else "bad_avro")
    if kind == 3:
        return GOOD_BYTES + draw(st.binary(min_size=1, max_size=40)), _one("bad_avro")
    if kind == 4:  # a real Avro message of another record type
        return draw(st.sampled_from(FOREIGN)), _one("unknown_schema")
    if kind == 5:
        fp = draw(st.binary(min_size=8, max_size=8).filter(lambda b: b != HEADER[2:]))
        return b"\xc3\x01" + fp + GOOD_BYTES[10:], _one("unknown_schema")
    if kind == 6:  # Confluent framing, but this worker has no registry
        return b"\x00" + draw(st.binary(min_size=4, max_size=40)), _one("unknown_schema")
    if kind == 7:
        change = draw(st.sampled_from(sorted(LIES)))
        rec = _record(ts="yesterday") if change == "ts_as_string" else _record()
        if change == "extra_enum_symbol":
            rec["type"] = "TELEPORTED"
        if change == "bool_as_long":
            rec["first_contact"] = draw(st.integers(-(2**40), 2**40))
        codes = _one("bad_avro") if change == "extra_enum_symbol" else None
        return _lie(change, rec), codes
    if kind == 8:
        return encode_event(_ev(draw, target=Account(ADULT.id, KID.age_band))), _one("self_contact")
    if kind == 9:
        field = draw(st.sampled_from(["event_id", "actor", "target", "device", "group"]))
        return encode_event(_with_id(draw, field, "")), _one("empty_id")
    if kind == 10:
        field = draw(st.sampled_from(["event_id", "actor", "target", "device", "group"]))
        huge = draw(ids) * (MAX_ID_CHARS + 1)
        return encode_event(_with_id(draw, field, huge)), frozenset({"oversized"})
    if kind == 11:
        return encode_event(_ev(draw, ts_ms=draw(far_ts))), _one("ts_out_of_range")
    if kind == 12:  # a target where the type forbids one, or both target and group
        ev = draw(
            st.sampled_from(
                [
                    _ev(draw, type=EventType.ACCOUNT_CREATED),
                    _ev(draw, group_id="g-1"),
                    _ev(draw, type=EventType.GROUP_JOINED, target=None, group_id=None),
                    _ev(draw, target=None, group_id=None),
                ]
            )
        )
        return encode_event(ev), frozenset({"contract_violation", "missing_field"})
    if kind == 13:  # over MAX_MESSAGE_BYTES (rare: they are big)
        if draw(st.integers(0, 9)):
            return encode_event(_ev(draw, event_id="")), _one("empty_id")
        size = draw(st.integers(MAX_MESSAGE_BYTES + 1, MAX_MESSAGE_BYTES + 4096))
        return GOOD_BYTES + b"\x00" * (size - len(GOOD_BYTES)), _one("oversized")
    if kind == 14:
        return None, _one("undecodable")  # tombstone
    if kind == 15:  # created_ts far away
        bad_actor = Account(ADULT.id, ADULT.age_band, created_ts_ms=draw(far_ts))
        return encode_event(_ev(draw, actor=bad_actor)), _one("ts_out_of_range")
    # a body that claims a gigantic string
    return HEADER + b"\xfe\xff\xff\xff\xff\xff\xff\xff\x7f" + draw(st.binary(max_size=20)), None


def _ev(draw: st.DrawFn, **over: Any) -> Event:
    fields: dict[str, Any] = {
        "event_id": draw(ids), "type": EventType.MESSAGE_SENT, "ts_ms": T0, "actor": ADULT,
        "target": KID, "group_id": None, "device_hash": None, "ip_hash": None,
    }  # fmt: skip
    fields.update(over)
    return Event(**fields)


def _with_id(draw: st.DrawFn, field: str, value: str) -> Event:
    if field == "event_id":
        return _ev(draw, event_id=value)
    if field == "actor":
        return _ev(draw, actor=Account(value, AgeBand.AGE_21_PLUS))
    if field == "target":
        return _ev(draw, target=Account(value, AgeBand.AGE_13_15))
    if field == "device":
        return _ev(draw, device_hash=value)
    return _ev(draw, type=EventType.GROUP_JOINED, target=None, group_id=value)


FOREIGN: list[bytes] = [
    encode_dead_letter(
        reason_code="bad_avro",
        reason="x",
        field=None,
        source_topic="t",
        source_partition=0,
        source_offset=1,
        original_key=None,
        original_value=b"v",
        failed_at_ms=T0,
    ),
]


def _foreign_alert() -> bytes:
    from streams.model import Alert, Severity, Subject, SubjectKind

    alert = Alert(
        alert_id="c-1", detector="d", detector_version="1", severity=Severity.HIGH, score=1.0,
        subject=Subject(SubjectKind.ACCOUNT, "u"), window_start_ms=T0, window_end_ms=T0,
        trigger_ts_ms=T0, features={}, counterparts=(), minors_exposed=0,
        evidence_event_ids=(), reason="r", emitted_at_ms=T0, revision=1,
        detectors_on_subject=(),
    )  # fmt: skip
    return encode_alert(alert)


FOREIGN.append(_foreign_alert())
keys = st.one_of(st.none(), st.binary(max_size=16))


Sent = tuple[bytes | None, bytes | None, frozenset[str] | None]  # key, value, allowed codes


def variants(rng: random.Random, key: bytes | None, bad: Bad) -> Iterator[Sent]:
    """The drawn message and VARIANTS - 1 cheap relatives, so 10,000+ cost few draws.

    Fuzzed bytes get fresh random bytes of the same shape; a truncation gets other cut points;
    anything else is re-sent under another key (a producer retrying, keyed differently).
    """
    value, codes = bad
    yield key, value, codes
    for _ in range(VARIANTS - 1):
        new_key = rng.randbytes(rng.randrange(17)) if rng.random() < 0.9 else None
        if value is not None and codes is None:
            head = HEADER if value.startswith(HEADER) else b""
            yield new_key, head + rng.randbytes(len(value) - len(head)), None
        elif value is not None and GOOD_BYTES.startswith(value):
            cut = rng.randrange(len(GOOD_BYTES))
            yield new_key, GOOD_BYTES[:cut], _one("undecodable" if cut < 10 else "bad_avro")
        else:
            yield new_key, value, codes


def draw_bad_batches() -> list[Sent]:
    """BATCHES hypothesis examples of BATCH_SIZE drawn messages, VARIANTS sent for each.

    Fuzzed bytes can happen to be a valid event (a boolean read from a long's zero byte, say):
    those are left out, so what is sent is bad by the reader's own verdict.
    """
    out: list[Sent] = []

    @settings(
        max_examples=BATCHES,
        deadline=None,
        database=None,
        derandomize=True,  # the same 11,000 messages on every run: CI failures reproduce
        suppress_health_check=list(HealthCheck),
    )
    @given(
        st.lists(st.tuples(keys, bad_message()), min_size=BATCH_SIZE, max_size=BATCH_SIZE),
        st.randoms(use_true_random=False),
    )
    def batch(items: list[tuple[bytes | None, Bad]], rng: random.Random) -> None:
        for key, bad in items:
            for k, value, codes in variants(rng, key, bad):
                if is_bad(value):  # a tombstone needs a key (Kafka refuses null and null)
                    out.append((b"" if k is None and value is None else k, value, codes))

    batch()
    return out


def is_bad(value: bytes | None) -> bool:
    try:
        decode_event(value)
    except InvalidEvent:
        return True
    return False


def expected_code(value: bytes | None) -> str:
    """What the reader itself says of a message; the stream must agree."""
    try:
        decode_event(value)
    except InvalidEvent as err:
        return err.code
    raise AssertionError(f"the fuzzer made a valid event: {value!r}")


def metric_totals(port: int) -> dict[str, float]:
    """Sum of each sample name over its labels, from the worker's /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    totals: Counter[str] = Counter()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "guardline_batch_records_sum" and sample.labels["stage"] != "route":
                continue
            totals[sample.name] += sample.value
    return dict(totals)


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[str]:
    with EmbeddedBroker(data_dir=tmp_path / "broker") as b:
        topics.ensure_topics(b.bootstrap)
        yield b.bootstrap


def test_fuzzed_bad_messages_are_all_dead_lettered_and_good_ones_still_alert(
    broker: str, tmp_path: Path
) -> None:
    bad = draw_bad_batches()
    assert len(bad) >= 10_000, len(bad)
    codes = [expected_code(value) for _key, value, _codes in bad]
    for (_key, value, allowed), code in zip(bad, codes, strict=True):
        assert code in REASON_CODES and code != "processing_error"
        assert allowed is None or code in allowed, (value, code, allowed)
    good = simulate(SMALL).events
    expected = run_backtest(good, load_config())
    # Bad messages land between good ones at random places; good ones keep their order.
    rng = random.Random(7)
    slots = sorted(rng.randrange(len(good) + 1) for _ in bad)

    port = free_port()
    proc, ready, log = start_worker(broker, tmp_path, app_id="fuzz", metrics_port=port)
    try:
        wait_ready(proc, ready, log, timeout_s=60)
        producer = KafkaProducer(
            bootstrap_servers=broker, acks="all", linger_ms=20, max_request_size=4 << 20
        )
        b = 0
        for i, event in enumerate([*good, None]):
            while b < len(bad) and slots[b] == i:
                key, value, _ = bad[b]
                producer.send(topics.EVENTS.name, key=key, value=value)
                b += 1
            if event is not None:
                producer.send(
                    topics.EVENTS.name, key=event.actor.id.encode(), value=encode_event(event)
                )
        producer.flush()
        producer.close()
        total = len(good) + len(bad)
        assert message_count(broker, topics.EVENTS.name) == total
        wait_for(lambda: drained(broker, "fuzz"), 300, "the worker to read everything")
        letters = wait_for(
            lambda: (d := read_dead_letters(broker)) and len(d) >= len(bad) and d,
            120, "every dead letter",
        )  # fmt: skip
        alerts = wait_for(
            lambda: (a := read_alerts(broker)) and len(a) >= len(expected) and a,
            120, "the good events' alerts",
        )  # fmt: skip
        counts = metric_totals(port)
        assert proc.poll() is None, "the worker died"
    finally:
        stop_worker(proc)
    text = log.read_text(errors="replace")
    assert "Traceback" not in text
    # Privacy: the log names partitions and counts, never an id, a device or an IP hash.
    raw_ids = {e.event_id for e in good} | {e.actor.id for e in good}
    raw_ids |= {h for e in good for h in (e.device_hash, e.ip_hash, e.group_id) if h}
    assert not [i for i in raw_ids if i in text]

    # Every bad message exactly once, with its reason, its original bytes and key.
    sent = Counter(
        (key, value or b"", code) for (key, value, _), code in zip(bad, codes, strict=True)
    )
    got = Counter((d.original_key, d.original_value, d.reason_code) for d in letters)
    assert got == sent
    assert all(d.reason and d.source_topic == topics.EVENTS.name for d in letters)
    assert len({(d.source_partition, d.source_offset) for d in letters}) == len(letters)
    # The good ones still alert exactly as the backtest does.
    assert_same_alerts(alerts, expected)
    # The worker's own books: in = processed + dead-lettered.
    assert counts["guardline_batch_records_sum"] == total
    assert counts["guardline_input_events_total"] == len(good)
    assert counts["guardline_rejected_events_total"] == len(bad)
    by_code = Counter(codes)
    print(
        f"\nfuzz: {total} in = {len(good)} processed + {len(letters)} dead-lettered;"
        f" {len(alerts)} alerts (backtest {len(expected)}), lost 0; by reason {dict(by_code)}"
    )
