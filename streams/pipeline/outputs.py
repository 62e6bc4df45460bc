"""What the stages send, as records: routed packets, dead letters, alerts and their fan-out.

- Every enforced alert goes to the alert topic, and HIGH or CRITICAL ones also to the priority
  topic (what the moderation queue reads); a shadow detector's alerts go to the shadow topic
  only. Keyed `KIND:id` of the subject, so a subject's alerts and case updates stay in order.
- A refused input record goes to the dead-letter topic under its original key, with its reason
  code, reason, field, source position and original bytes. An event a detector failed on in
  the detect stage goes there too (`processing_error`), keyed and encoded as on the input
  topic, so it can be sent again once the bug is fixed; its source is the routed record.
- A routed packet goes to its internal partition with the input record's Kafka timestamp
  (ingest-to-alert latency).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from streams import topics
from streams.codec import encode_alert, encode_dead_letter, encode_event
from streams.config import Mode
from streams.engine.core import StepFailure
from streams.model import Alert, Severity
from streams.pipeline.envelope import Packet, pack
from streams.pipeline.ports import Headers, Outgoing
from streams.pipeline.route import Rejected


def alert_key(alert: Alert) -> bytes:
    return f"{alert.subject.kind.value}:{alert.subject.id}".encode()


def alert_records(alert: Alert, mode: Mode, headers: Headers) -> list[Outgoing]:
    """One alert's records: shadow topic only, or the alert topic (+ priority at HIGH+)."""
    key = alert_key(alert)
    if mode is Mode.SHADOW:
        shadow = topics.SHADOW.name
        return [Outgoing(shadow, key, encode_alert(alert, headers[shadow]))]
    value = encode_alert(alert, headers[topics.ALERTS.name])
    out = [Outgoing(topics.ALERTS.name, key, value)]
    if alert.severity.rank >= Severity.HIGH.rank:
        if headers[topics.PRIORITY.name] != headers[topics.ALERTS.name]:
            value = encode_alert(alert, headers[topics.PRIORITY.name])
        out.append(Outgoing(topics.PRIORITY.name, key, value))
    return out


def dead_letter_record(rejected: Rejected, headers: Headers, failed_at_ms: int) -> Outgoing:
    error = rejected.error
    value = encode_dead_letter(
        reason_code=error.code,
        reason=str(error),
        field=error.field,
        source_topic=rejected.topic,
        source_partition=rejected.partition,
        source_offset=rejected.offset,
        original_key=rejected.key,
        original_value=rejected.value,
        failed_at_ms=failed_at_ms,
        header=headers[topics.DEAD_LETTER.name],
    )
    return Outgoing(topics.DEAD_LETTER.name, rejected.key, value)


def failure_dead_letter(
    failure: StepFailure, partition: int, offset: int, headers: Headers, failed_at_ms: int
) -> Outgoing:
    """A detect-stage failure: the event, as the input topic carries it, with the reason."""
    key = failure.event.actor.id.encode()
    value = encode_dead_letter(
        reason_code="processing_error",
        reason=failure.reason,
        field=None,
        source_topic=topics.ROUTED.name,
        source_partition=partition,
        source_offset=offset,
        original_key=key,
        original_value=encode_event(failure.event),
        failed_at_ms=failed_at_ms,
        header=headers[topics.DEAD_LETTER.name],
    )
    return Outgoing(topics.DEAD_LETTER.name, key, value)


def routed_records(
    packets: Sequence[tuple[int, Packet]], ingest_s: Mapping[int, float]
) -> list[Outgoing]:
    """(internal partition, packet) pairs; `ingest_s`: newest input timestamp per source."""
    routed = topics.ROUTED.name
    return [
        Outgoing(routed, None, pack(packet), dest, ingest_s.get(packet.source_partition))
        for dest, packet in packets
    ]
