"""The Avro schemas: they accept the contract's examples, stay backward compatible with every
released version, and produce bytes a second Avro implementation (`avro`) reads the same way."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

import avro.io
import avro.schema
import pytest
from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType

from streams.codec import SCHEMA_DIR, decode_event, encode_event
from streams.jsonl import event_from_json, event_to_json
from streams.model import AgeBand, EventType, Severity, SubjectKind

EXAMPLES = Path(__file__).parent / "data" / "contract_examples.jsonl"
SCHEMA_FILES = ("metadata_event.avsc", "alert.avsc", "dead_letter.avsc")
RELEASED = sorted(SCHEMA_DIR.glob("released/*/*.avsc"))


def _lines() -> list[str]:
    return [line for line in EXAMPLES.read_text().splitlines() if line.strip()]


def _load(path: Path) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(path.read_text())
    return schema


def _compatible(reader: dict[str, Any], writer: dict[str, Any]) -> bool:
    result = ReaderWriterCompatibilityChecker().get_compatibility(
        avro.schema.parse(json.dumps(reader)), avro.schema.parse(json.dumps(writer))
    )
    return result.compatibility is SchemaCompatibilityType.compatible


@pytest.mark.parametrize("line", _lines(), ids=lambda line: json.loads(line)["event_id"])
def test_contract_example_round_trips_through_avro_and_json(line: str) -> None:
    event = event_from_json(json.loads(line))
    assert decode_event(encode_event(event)) == event
    assert event_from_json(event_to_json(event)) == event


def test_examples_cover_every_event_type() -> None:
    seen = {json.loads(line)["type"] for line in _lines()}
    assert seen == set(EventType)


@pytest.mark.parametrize(
    ("file_name", "enum_path", "enum"),
    [
        ("metadata_event.avsc", ("type",), EventType),
        ("metadata_event.avsc", ("actor", "age_band"), AgeBand),
        ("alert.avsc", ("severity",), Severity),
        ("alert.avsc", ("subject", "kind"), SubjectKind),
    ],
)
def test_enum_symbols_match_the_model(
    file_name: str, enum_path: tuple[str, ...], enum: type[Any]
) -> None:
    node: Any = _load(SCHEMA_DIR / file_name)
    for name in enum_path:
        node = next(f for f in node["fields"] if f["name"] == name)["type"]
    assert node["symbols"] == [m.value for m in enum]


def test_every_field_is_documented() -> None:
    for file_name in SCHEMA_FILES:
        for f in _load(SCHEMA_DIR / file_name)["fields"]:
            assert f.get("doc"), f"{file_name}: field {f['name']} has no doc"


@pytest.mark.parametrize("released", RELEASED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_current_schema_reads_every_released_version(released: Path) -> None:
    assert _compatible(reader=_load(SCHEMA_DIR / released.name), writer=_load(released))


def test_first_release_is_kept() -> None:
    assert {p.name for p in SCHEMA_DIR.glob("released/0.1.0/*.avsc")} == set(SCHEMA_FILES)


def _add_required_field(schema: dict[str, Any]) -> None:
    schema["fields"].append({"name": "platform", "type": "string"})


def _drop_enum_symbol(schema: dict[str, Any]) -> None:
    schema["fields"][1]["type"]["symbols"].remove("REPORTED")


@pytest.mark.parametrize("breaking_change", [_add_required_field, _drop_enum_symbol])
def test_checker_catches_a_breaking_change(breaking_change: Any) -> None:
    """Proves the compatibility test above can fail."""
    released = _load(SCHEMA_DIR / "released" / "0.1.0" / "metadata_event.avsc")
    changed = copy.deepcopy(released)
    breaking_change(changed)
    assert not _compatible(reader=changed, writer=released)


def _as_ms(value: Any) -> Any:
    """The `avro` library returns timestamp-millis as aware datetimes; compare as epoch ms."""
    if isinstance(value, datetime):
        return (value - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)
    if isinstance(value, dict):
        return {k: _as_ms(v) for k, v in value.items()}
    return value


def test_apache_avro_reads_our_body_the_same_way() -> None:
    """A second implementation decodes fastavro's bytes, timestamp-millis included."""
    event = event_from_json(json.loads(_lines()[0]))
    schema = avro.schema.parse((SCHEMA_DIR / "metadata_event.avsc").read_text())
    body = BytesIO(encode_event(event)[10:])
    record = avro.io.DatumReader(schema).read(avro.io.BinaryDecoder(body))
    assert body.read() == b""
    expected = {
        **dict.fromkeys(("group_id", "ip_hash", "has_media")),
        **event_to_json(event),
    }
    assert isinstance(expected["target"], dict)
    expected["target"] = {"created_ts": None, "anonymous": False, **expected["target"]}
    assert _as_ms(record) == expected
