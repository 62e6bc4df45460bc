"""Sizes of the worker's buffers and stores, for the opt-in memory probe
(`streams/ops/memory_probe.py`): the candidates for memory that grows while state stays flat.

Reads Faust's, aiokafka's and RocksDB's internals (names checked at start by
`faust_names.py` only where the worker relies on them; here a missing one is reported as
absent, never an error: diagnostics must not stop a worker). Counts and bytes only.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

# RocksDB's own accounting, per open database (one per table partition), summed.
ROCKSDB_PROPERTIES = {
    "memtables": "rocksdb.cur-size-all-mem-tables",
    "block_cache": "rocksdb.block-cache-usage",
    "block_cache_pinned": "rocksdb.block-cache-pinned-usage",
    "table_readers": "rocksdb.estimate-table-readers-mem",
    "live_sst": "rocksdb.live-sst-files-size",
}


def buffer_sizes(worker: Any) -> dict[str, float]:
    """Every size below, flat: `area.what` -> a count, or bytes where the name says so."""
    out: dict[str, float] = {}
    for area, sizes in (
        ("faust", _faust),
        ("aiokafka", _aiokafka),
        ("rocksdb", _rocksdb),
        ("pipeline", _pipeline),
    ):
        try:
            out.update(sizes(worker))
        except Exception as exc:  # diagnostics only: say what failed, by type, and go on
            out[f"error.{area}.{type(exc).__name__}"] = 1.0
    return out


def _faust(worker: Any) -> Iterator[tuple[str, float]]:
    consumer = worker.app.consumer
    yield "faust.acked_offsets", sum(len(v) for v in consumer._acked.values())
    yield "faust.acked_index", sum(len(v) for v in consumer._acked_index.values())
    yield "faust.gap_intervals", sum(len(t) for t in consumer._gap.values())
    yield "faust.unacked_messages", len(consumer._unacked_messages)
    yield "faust.producer_buffer", worker.app.producer.buffer.size
    yield "faust.in_recovery", float(bool(worker.app.in_recovery))
    yield "faust.flow_active", float(bool(consumer.flow_active))
    yield "faust.active_partitions", len(consumer._active_partitions or ())
    yield "faust.buffered_partitions", len(consumer._buffered_partitions)
    yield "faust.paused_partitions", len(consumer._paused_partitions)
    queued = 0
    for channel in list(worker.app.topics._topics):
        queue = getattr(channel, "_queue", None)
        queued += queue.qsize() if queue is not None else 0
    yield "faust.channel_queues", queued


def _aiokafka(worker: Any) -> Iterator[tuple[str, float]]:
    client = worker.app.consumer._thread._consumer
    fetcher = client._fetcher
    yield "aiokafka.fetched_partitions", len(fetcher._records)
    raw = 0
    for result in list(fetcher._records.values()):
        records = getattr(getattr(result, "_partition_records", None), "_records", None)
        size = getattr(records, "size_in_bytes", None)
        raw += size() if callable(size) else 0
    yield "aiokafka.fetched_bytes", raw
    producer = worker.app.producer._producer
    if producer is not None:
        acc = producer._message_accumulator
        yield "aiokafka.producer_batches", sum(len(q) for q in acc._batches.values())
        yield "aiokafka.producer_pending_batches", len(acc._pending_batches)


def _rocksdb(worker: Any) -> Iterator[tuple[str, float]]:
    dbs = getattr(worker.table.data, "_dbs", {})
    yield "rocksdb.open_dbs", len(dbs)
    for name, prop in ROCKSDB_PROPERTIES.items():
        yield f"rocksdb.{name}_bytes", sum(db.property_int_value(prop) or 0 for db in dbs.values())
    yield "rocksdb.key_index", len(getattr(worker.table.data, "_key_index", ()))


def _pipeline(worker: Any) -> Iterator[tuple[str, float]]:
    yield "pipeline.inbox", worker.inbox.count
    if worker.intake is not None:
        yield "pipeline.intake", worker.intake.count
        yield "pipeline.intake_peak", worker.intake.peak  # since the previous sample
        worker.intake.peak = worker.intake.count
        yield "pipeline.intake_gaps", len(worker.intake._gaps)
    runtimes = list(worker.pipeline.runtimes.values())
    yield "pipeline.reorder_buffer", sum(len(rt.buffer) for rt in runtimes)
    yield "pipeline.subjects", sum(len(rt.engine.subjects) for rt in runtimes)
    yield "pipeline.dirty", sum(len(rt.engine.dirty) for rt in runtimes)
    yield "pipeline.poisoned", sum(len(rt.engine.poisoned) for rt in runtimes)
    yield "pipeline.table_context", len(worker.port.context)
    registry = worker.metrics.registry
    yield "metrics.series", sum(len(f.samples) for f in registry.collect())
