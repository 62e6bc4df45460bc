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
    # Records the Kafka client hands on per poll. Unbounded (Faust's default), a worker with a
    # backlog turned whole fetches into Python objects at once: 256k records (~400 MiB) in one
    # batch after a restart on the embedded broker, which answers past the fetch size limit
    # (issue 18's memory probe). Fetched bytes wait compactly in the client instead.
    max_poll_records: int = 2000
    # While a backlog is read, an input partition this far ahead in event time of the slowest
    # one with records left is not fetched (`streams/pipeline/alignment.py`): bounds what
    # waits in the reorder buffer. Live traffic (no backlog) is never held.
    max_skew_ms: int = 10 * 60_000
    # The state store's memory, per table partition (RocksDB; the worker's own state is in
    # Python): memtables at most ROCKSDB_WRITE_BUFFERS x this, and the block cache. Faust's
    # defaults (3 x 64 MiB, 2 GiB cache per partition) let memtables alone grow by ~8 MiB a
    # minute to 768 MiB on 4 partitions for ~4 MB of state (issue 18's soak).
    rocksdb_write_buffer_mib: int = 4
    rocksdb_block_cache_mib: int = 8
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


ROCKSDB_WRITE_BUFFERS = 2  # one filling, one being flushed


def rocksdb_options(settings: WorkerSettings) -> dict[str, int]:
    """Faust's RocksDB store options for the state table: its memory, bounded per partition
    by memtables (ROCKSDB_WRITE_BUFFERS x write buffer) plus the block cache."""
    mib = 1024 * 1024
    return {
        "write_buffer_size": settings.rocksdb_write_buffer_mib * mib,
        "max_write_buffer_number": ROCKSDB_WRITE_BUFFERS,
        "block_cache_size": settings.rocksdb_block_cache_mib * mib,
    }
