"""Guardline's Kafka settings (`streams/kafka_settings.py`) as Faust app settings.

Faust hands `broker_credentials` to every aiokafka client it makes (consumer, producer, the
admin client that creates its topics) and `topic_replication_factor` to every topic it
creates: the table's changelog and the assignor's leader topic.
"""

from __future__ import annotations

from typing import Any

from faust.auth import SASLCredentials, SSLCredentials

from streams.kafka_settings import KafkaSettings


def app_settings(settings: KafkaSettings) -> dict[str, Any]:
    """Keyword arguments for `faust.App`: credentials (if any) and the replication factor."""
    out: dict[str, Any] = {"topic_replication_factor": settings.replication_factor}
    context = settings.ssl_context()
    if settings.sasl:
        out["broker_credentials"] = SASLCredentials(
            username=settings.sasl_username,
            password=settings.sasl_password,
            ssl_context=context,
            mechanism=settings.sasl_mechanism,
        )
    elif context is not None:
        out["broker_credentials"] = SSLCredentials(context)
    return out
