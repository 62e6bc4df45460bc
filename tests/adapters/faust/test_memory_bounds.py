"""The worker's memory bounds outside Python (issue 18's soak: RSS grew while state stayed flat).

The state table's RocksDB is opened through Faust's own option plumbing (`RocksDBOptions`),
as the store does, with the worker's options; the bound is read back from RocksDB's own
accounting. On Faust's defaults the same writes stay in memory (64 MiB memtables, up to 3 per
partition): that contrast is what the soak's memory probe measured (~8 MiB a minute on 4
partitions).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer
from faust.stores.rocksdb import RocksDBOptions

from streams.adapters.faust.cluster import make_app
from streams.adapters.faust.consumer import FETCH_MAX_BYTES
from streams.adapters.faust.settings import ROCKSDB_WRITE_BUFFERS, WorkerSettings, rocksdb_options
from streams.config import load_config
from streams.kafka_settings import KafkaSettings

MIB = 1024 * 1024
WRITTEN_MIB = 24  # several write buffers' worth, well under Faust's default single buffer


def fill(db: Any) -> None:
    """WRITTEN_MIB of distinct keys, 1 KiB values (random: as incompressible as state)."""
    for i in range(WRITTEN_MIB * 1024):
        db[f"subject-{i}".encode()] = os.urandom(1024)


def memtables(db: Any) -> int:
    return int(db.property_int_value("rocksdb.cur-size-all-mem-tables"))


def settings() -> WorkerSettings:
    return WorkerSettings(bootstrap="127.0.0.1:9", config=load_config(None))


def test_the_state_stores_memtables_stay_within_their_write_buffers(tmp_path: Path) -> None:
    options: dict[str, Any] = rocksdb_options(settings())
    db = RocksDBOptions(**options).open(tmp_path / "bounded")
    try:
        fill(db)
        bound = ROCKSDB_WRITE_BUFFERS * options["write_buffer_size"]
        assert memtables(db) <= bound + MIB  # RocksDB stalls writes at the bound, never past
        assert db.property_int_value("rocksdb.block-cache-capacity") == 8 * MIB
    finally:
        db.close()
    # Faust's defaults keep everything written in memory: what the soak saw grow.
    db = RocksDBOptions().open(tmp_path / "faust-defaults")
    try:
        fill(db)
        assert memtables(db) >= (WRITTEN_MIB - 1) * MIB
    finally:
        db.close()


def test_the_kafka_client_hands_on_a_bounded_number_of_records_per_poll() -> None:
    """Unbounded, a worker with a backlog turned whole fetches into records at once."""
    worker = settings()
    app = make_app(worker, KafkaSettings(), scheduler=None)
    assert app.conf.broker_max_poll_records == worker.max_poll_records == 2000


def test_a_fetch_response_is_bounded_in_bytes() -> None:
    """The worker's aiokafka client asks for FETCH_MAX_BYTES per response, not aiokafka's
    50 MiB (noida-db answered past the per-partition limit up to it)."""

    async def clients() -> tuple[Any, Any]:
        app = make_app(settings(), KafkaSettings(), scheduler=None)
        consumer: Any = app.consumer
        worker_client = consumer._thread._create_worker_consumer(app.transport)
        return worker_client, AIOKafkaConsumer(fetch_max_bytes=12345)

    worker_client, plain = asyncio.run(clients())
    assert plain._fetch_max_bytes == 12345  # where aiokafka keeps it for its fetcher
    assert worker_client._fetch_max_bytes == FETCH_MAX_BYTES == 4 * MIB
