"""The hostile corpus against the reader, in process: every message gets its rule's verdict.

The corpus (`tests/hostile_corpus.py`) knows each message's reason code from the fault it
built in; these tests compare it with what `decode_event` (Kafka messages) and `read_events`
(JSON Lines files) say. `tests/test_fuzz.py` sends the same corpus through a real worker.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

from streams.codec import decode_event, encode_event
from streams.jsonl import read_events
from streams.validation import REASON_CODES, InvalidEvent
from tests.hostile_corpus import (
    RULES,
    CorpusRegistry,
    Hostile,
    build_corpus,
    build_json_lines,
    valid_events,
)

# Not input faults: no message can be built to get them (README, dead letters).
NOT_INPUT_FAULTS = {"processing_error": "a detector failed on a valid event (a bug)"}
JSON_ONLY = {"bad_json", "unknown_field", "bad_type", "bad_enum"}  # Avro typing rules them out


def verdict(value: bytes | None, registry: CorpusRegistry | None) -> tuple[str, str | None]:
    try:
        decode_event(value, registry)
    except InvalidEvent as err:
        return err.code, err.field
    return "ACCEPTED", None


def mismatches(corpus: list[Hostile], *, registry: bool) -> dict[str, list[str]]:
    """Per rule, what the reader said instead of the rule's verdict (empty: all agree)."""
    resolver = CorpusRegistry() if registry else None
    wrong: dict[str, list[str]] = defaultdict(list)
    for msg in corpus:
        got, want = verdict(msg.value, resolver), msg.expected(registry=registry)
        if got != want:
            wrong[msg.rule].append(f"{got} instead of {want}: {msg.value!r:.80}")
    return dict(wrong)


def test_the_corpus_writer_builds_valid_events_byte_for_byte_as_the_codec() -> None:
    """The starting points are valid, so each fault is the only one in its message."""
    registry = CorpusRegistry()
    for _doc, value, framed in valid_events(3000):
        event = decode_event(value, registry)
        if not framed:
            assert encode_event(event) == value


def test_every_hostile_message_gets_the_verdict_of_the_rule_it_breaks() -> None:
    corpus = build_corpus()
    distinct = {m.value for m in corpus if m.value is not None}
    per_rule = Counter(m.rule for m in corpus)
    per_code = Counter(m.code for m in corpus)
    json_codes = Counter(code for _line, code, _field in build_json_lines())
    print(
        f"\nhostile corpus: {len(corpus)} messages, {len(distinct)} distinct values,"
        f" {len(RULES)} rules; per rule {dict(sorted(per_rule.items()))};"
        f" per code {dict(sorted(per_code.items()))}; JSON lines per code {dict(json_codes)}"
    )
    assert len(distinct) >= 10_000
    assert not [r.name for r in RULES if not per_rule[r.name]], "a rule has no message"
    uncovered = set(REASON_CODES) - set(per_code) - set(json_codes) - set(NOT_INPUT_FAULTS)
    assert not uncovered, f"reason codes no corpus message breaks: {sorted(uncovered)}"
    assert not set(per_code) & JSON_ONLY
    for registry in (True, False):
        wrong = mismatches(corpus, registry=registry)
        rules = ", ".join(f"{rule} x{len(w)}" for rule, w in sorted(wrong.items()))
        example = next(iter(wrong.values()), [""])[0]
        assert not wrong, f"registry={registry}: {rules}; e.g. {example}"


def test_every_bad_json_line_gets_the_verdict_of_the_fault_it_carries(tmp_path: Path) -> None:
    lines = build_json_lines()
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b"\n".join(line for line, _code, _field in lines) + b"\n")
    got = [
        (item.code, item.field) if isinstance(item, InvalidEvent) else ("ACCEPTED", None)
        for _number, item in read_events(path)
    ]
    assert got == [(code, field) for _line, code, field in lines]
