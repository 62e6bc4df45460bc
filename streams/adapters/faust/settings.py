"""What a `guardline worker` is started with (the CLI's flags, as one value)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from streams import topics
from streams.config import GuardlineConfig
from streams.kafka_settings import KafkaSettings
from streams.ops.endpoints import DEFAULT_HOST, DEFAULT_PORT
from streams.pipeline.route import IDLE_AFTER_S


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    bootstrap: str
    config: GuardlineConfig
    app_id: str = "guardline"
    partitions: int = topics.DEFAULT_PARTITIONS
    data_dir: Path = Path(".guardline")
    store: str = "rocksdb://"
    instance_id: str | None = None  # static group membership (KIP-345); see README operations
    batch_size: int = 2000
    idle_after_s: float = IDLE_AFTER_S
    flush_every_s: float = 0.1  # a partial batch waits at most this long (alert latency)
    # New records are processed this long after they arrive rather than at the next tick:
    # long enough for a fetch's records to gather, short against the 1 s latency target.
    gather_s: float = 0.01
    ready_file: Path | None = (
        None  # touched once partitions are assigned (demo and tests wait on it)
    )
    stats_file: Path | None = None  # totals as JSON, rewritten every tick (`guardline bench`)
    metrics_host: str = DEFAULT_HOST
    metrics_port: int | None = DEFAULT_PORT  # /metrics, /healthz, /readyz; None = no server
    gauges_every_s: float = 1.0  # lag, watermarks and state size refresh (state: x5)
    lost_grace_s: float = 10.0  # offsets neither acked nor held this long are read again
    schema_registry_url: str | None = None  # set: write the Confluent wire format (registry.py)
    intake: bool = True  # input in batches past Faust's per-message path (intake.py)
    kafka: KafkaSettings | None = None  # TLS, SASL, replication; None = kafka_settings.current()
