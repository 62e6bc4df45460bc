"""The internal routed-topic record: validated events re-keyed by subject, packed per batch.

One Kafka message carries every event one input partition routed to one internal partition in
one batch, plus that input partition's event-time watermark, so the detect stage pays Faust's
per-message cost once per batch and can tell how far each input partition has progressed.
Internal only (never read outside Guardline); the events inside stay Avro single-object bytes.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

MAGIC = b"GLR1"
IDLE = (1 << 63) - 1  # watermark of an input partition with nothing pending: never holds back
_HEADER = struct.Struct(">4sHqI")
_ITEM = struct.Struct(">HI")


@dataclass(frozen=True, slots=True)
class Packet:
    source_partition: int
    watermark_ms: int  # highest event time seen on the source partition, or IDLE
    items: Sequence[tuple[str, bytes]]  # (subject key, event bytes)


def pack(packet: Packet) -> bytes:
    parts = [_HEADER.pack(MAGIC, packet.source_partition, packet.watermark_ms, len(packet.items))]
    for key, value in packet.items:
        raw_key = key.encode()
        parts.append(_ITEM.pack(len(raw_key), len(value)))
        parts.append(raw_key)
        parts.append(value)
    return b"".join(parts)


def unpack(data: bytes) -> Packet:
    magic, source, watermark, count = _HEADER.unpack_from(data, 0)
    if magic != MAGIC:
        raise ValueError("not a Guardline routed packet")
    pos = _HEADER.size
    items: list[tuple[str, bytes]] = []
    view = memoryview(data)
    for _ in range(count):
        key_len, value_len = _ITEM.unpack_from(data, pos)
        pos += _ITEM.size
        key = bytes(view[pos : pos + key_len]).decode()
        pos += key_len
        items.append((key, bytes(view[pos : pos + value_len])))
        pos += value_len
    return Packet(source, watermark, items)
