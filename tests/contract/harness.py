"""Two ways to run the pipeline on the same input, for the contract suite (`test_contract.py`).

- `memory`: `streams.adapters.memory.MemoryAdapter`, in process, milliseconds.
- `faust`: a real `guardline worker` process (the Faust adapter) on a noida-db of its own.

Each takes the input records and a config file, runs until the pipeline is done with them (every
input and routed record committed) and returns every topic's records. Another adapter (plain
aiokafka, say) needs only a third `run_*` here to be held to the same contract.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from streams import topics
from streams.adapters.memory import MemoryAdapter, MemoryLog
from streams.config import load_config

Inputs = list[tuple[bytes | None, bytes]]
TOPICS = (topics.EVENTS, topics.ROUTED, topics.ALERTS, topics.PRIORITY, topics.SHADOW,
          topics.DEAD_LETTER)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Outcome:
    records: dict[str, list[tuple[int, bytes | None, bytes]]]  # topic -> (partition, key, value)
    lag: dict[str, int]  # records not committed, input and routed topics
    seconds: float  # wall time of the run

    def values(self, topic: str) -> list[bytes]:
        return [value for _p, _k, value in self.records[topic]]


def run_memory(inputs: Inputs, config: Path | None, work: Path) -> Outcome:
    started = time.perf_counter()
    log = MemoryLog()
    for key, value in inputs:
        log.append(topics.EVENTS.name, key, value)
    MemoryAdapter(load_config(config), log).run()
    records = {
        spec.name: [
            (p, key, value) for p, part in enumerate(log.topic(spec.name)) for key, value, _ in part
        ]
        for spec in TOPICS
    }
    lag = {spec.name: log.lag(spec.name) for spec in (topics.EVENTS, topics.ROUTED)}
    return Outcome(records, lag, time.perf_counter() - started)


def run_faust(inputs: Inputs, config: Path | None, work: Path) -> Outcome:
    from kafka import KafkaConsumer, KafkaProducer

    from streams.broker import EmbeddedBroker
    from tests.streaming import running_worker, wait_for

    started = time.perf_counter()
    with EmbeddedBroker() as broker:
        bootstrap = broker.bootstrap
        topics.ensure_topics(bootstrap)
        extra = () if config is None else ("--config", str(config))
        with running_worker(bootstrap, work, "contract", *extra):
            producer = KafkaProducer(bootstrap_servers=bootstrap)
            for key, value in inputs:
                producer.send(topics.EVENTS.name, key=key, value=value)
            producer.flush()
            producer.close()

            def lags() -> dict[str, int]:
                return {
                    spec.name: sum(topics.consumer_lag(bootstrap, "contract", spec.name).values())
                    for spec in (topics.EVENTS, topics.ROUTED)
                }

            lag = wait_for(lambda: (now := lags()) and not any(now.values()) and now, 120,
                           "every input and routed record committed")  # fmt: skip
        records: dict[str, list[tuple[int, bytes | None, bytes]]] = {}
        for spec in TOPICS:
            consumer = KafkaConsumer(
                spec.name, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                group_id=None, enable_auto_commit=False, consumer_timeout_ms=1500,
            )  # fmt: skip
            try:
                records[spec.name] = [(r.partition, r.key, r.value) for r in consumer]
            finally:
                consumer.close()
    return Outcome(records, lag, time.perf_counter() - started)


ADAPTERS: dict[str, Callable[[Inputs, Path | None, Path], Outcome]] = {
    "memory": run_memory,
    "faust": run_faust,
}
