"""The Faust app a worker runs on: Guardline's Kafka settings (`streams/kafka_settings.py`)
as Faust settings, and the choices that make Faust fit the pipeline.

Faust hands `broker_credentials` to every aiokafka client it makes (consumer, producer, the
admin client that creates its topics) and `topic_replication_factor` to every topic it
creates: the table's changelog and the assignor's leader topic.
"""

from __future__ import annotations

from typing import Any

import faust
from faust.auth import SASLCredentials, SSLCredentials
from faust.sensors.monitor import Monitor

from streams.adapters.faust.consumer import install as install_consumer
from streams.adapters.faust.fetch_pacing import install as pace_fetches
from streams.adapters.faust.settings import WorkerSettings
from streams.kafka_settings import KafkaSettings

PRODUCER_BUFFER_MESSAGES = 1_000_000


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


class _PerBatchMonitor(Monitor):
    """Faust's Monitor timestamps every message and stream event; Guardline counts per batch
    (`streams/ops/metrics.py`), so those per-event hooks do nothing here (profiled: ~4% of CPU)."""

    def on_message_in(self, *args: Any) -> None:
        return None

    def on_stream_event_in(self, *args: Any) -> None:
        return None

    def on_stream_event_out(self, *args: Any, **kwargs: Any) -> None:
        return None

    def on_message_out(self, *args: Any) -> None:
        return None


def make_app(settings: WorkerSettings, kafka: KafkaSettings, scheduler: type | None) -> faust.App:
    """The worker's `faust.App`; `scheduler` (the intake's, `intake.py`) sees fetches first."""
    app_kwargs: dict[str, Any] = app_settings(kafka)
    if settings.instance_id:
        app_kwargs["consumer_group_instance_id"] = settings.instance_id
    if scheduler is not None:
        app_kwargs["ConsumerScheduler"] = scheduler
    app = faust.App(
        settings.app_id,
        broker=f"kafka://{settings.bootstrap}",
        store=settings.store,
        datadir=str(settings.data_dir),
        topic_partitions=settings.partitions,
        processing_guarantee="at_least_once",
        broker_max_poll_records=settings.max_poll_records,
        web_enabled=False,  # Faust's web views expose table contents: never serve them
        producer_acks=-1,
        # Records wait, unacked, in the reorder buffer until the watermark passes them: a
        # rebalance or shutdown that waits for every record to be acked never ends (it hung
        # the group). Unacked records are simply redelivered to the next owner instead.
        stream_wait_empty=False,
        # State and alerts are written in bursts, once per batch: let the producer batch
        # them (defaults of 16 KiB / no linger made one request per few messages).
        producer_max_batch_size=1 << 20,
        producer_linger_ms=10,
        monitor=_PerBatchMonitor(),
        **app_kwargs,
    )
    install_consumer(app)  # commits never pass a record still held (consumer.py)
    # Table writes queue in Faust's producer buffer, a batch's worth at once, and `save`
    # drains it after every batch. Faust's own threshold (100 messages) only had its
    # per-message path warn "producer buffer full" and flush beside that drain, in every
    # busy second; the drain bounds the buffer to one batch's state writes instead.
    app.producer.buffer.max_messages = PRODUCER_BUFFER_MESSAGES
    pace_fetches()  # an idle worker on a broker that answers empty fetches at once
    return app
