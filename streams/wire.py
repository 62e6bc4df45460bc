"""The two message framings Guardline reads and writes, as pure byte logic (no I/O).

- Avro single-object encoding: `C3 01`, the 8-byte schema fingerprint, the Avro body. Needs no
  registry: the default, and what `streams/codec.py` writes unless told otherwise.
- Confluent wire format: `00`, the 4-byte big-endian schema id of a schema registry, the Avro
  body. What Confluent serializers, Kafka Connect and ksqlDB expect; written when a schema
  registry is configured (`streams/registry.py` is the HTTP side).

The first byte tells them apart (`C3` vs `00`), so every reader accepts both.
"""

from __future__ import annotations

from enum import Enum
from typing import Final

SINGLE_OBJECT_MAGIC: Final = b"\xc3\x01"
CONFLUENT_MAGIC: Final = b"\x00"
CONFLUENT_HEADER_LEN: Final = 5
MAX_SCHEMA_ID: Final = (1 << 31) - 1  # Confluent ids are signed 32-bit, positive


class Framing(Enum):
    SINGLE_OBJECT = "single-object"
    CONFLUENT = "confluent"


def framing_of(data: bytes | None) -> Framing | None:
    """Which framing `data` claims by its first bytes; None for neither (or too short)."""
    if data is None:
        return None
    if data[:2] == SINGLE_OBJECT_MAGIC:
        return Framing.SINGLE_OBJECT
    if len(data) >= CONFLUENT_HEADER_LEN and data[:1] == CONFLUENT_MAGIC:
        return Framing.CONFLUENT
    return None


def confluent_header(schema_id: int) -> bytes:
    """`00` + the id, 4 bytes big-endian; refuses ids the format cannot carry."""
    if not 0 <= schema_id <= MAX_SCHEMA_ID:
        raise ValueError(f"schema id {schema_id} outside 0..{MAX_SCHEMA_ID}")
    return CONFLUENT_MAGIC + schema_id.to_bytes(4, "big")


def confluent_schema_id(data: bytes) -> int:
    """The schema id of a Confluent-framed message (the body starts at CONFLUENT_HEADER_LEN)."""
    if framing_of(data) is not Framing.CONFLUENT:
        raise ValueError("not a Confluent-framed message (00 + 4-byte schema id)")
    return int.from_bytes(data[1:CONFLUENT_HEADER_LEN], "big")


def value_subject(topic: str) -> str:
    """The registry subject of a topic's values under TopicNameStrategy (Confluent's default)."""
    return f"{topic}-value"
