"""Figure 3's scaling row: one worker, then W workers, on the same fresh traffic, like for like.

Measured so that only processing is timed:
- each group starts with its offsets committed at the end of the input and routed topics, so
  it reads only the traffic sent for it (the routed topic is shared by every group: a new group
  reading it from the start would apply the earlier phases' routed packets too);
- the traffic is sent only once every worker holds input partitions and the assignment has
  not changed for `SETTLE_S` (no worker starts alone and then hands partitions over);
- a worker rewrites its ready file on every assignment: one rewritten inside the timed window
  (a rebalance, even to the same partitions) voids the row;
- CPU per process over the window (`cpu.py`) says how many cores workers, broker and the
  bench's producer used, and how busy the machine was, so a ratio below W can be explained.

noida-db sometimes never completes a join (README, "Operating on the embedded broker"): every
wait has a timeout that ends the phase with a message naming it, never a hang.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from kafka import KafkaConsumer, TopicPartition
from kafka.structs import OffsetAndMetadata

from guardline_bench.cpu import CpuMeter, CpuUse, Roles, descendants
from guardline_bench.report import Rate
from streams import kafka_settings, topics
from streams.codec import encode_event
from streams.model import Event
from streams.ops.launcher import start_worker, stop_worker, wait_ready
from streams.ops.totals import read_stats
from streams.progress import Progress

SETTLE_S = 2.0  # the assignment must stay unchanged this long before traffic is sent
SETTLE_TIMEOUT_S = 90.0
READY_TIMEOUT_S = 120.0
STALL_S = 120.0  # no pair applied for this long: the group is stuck
STUCK_HINT = (
    "noida-db sometimes leaves a consumer-group join or rebalance stuck (README, 'Operating "
    "on the embedded broker'; `noida-db restart kafka --data-dir DIR` unsticks it)"
)


@dataclass(slots=True)
class GroupRun:
    workers: int
    rate: Rate
    cpu: CpuUse
    applied: int
    assignment: list[list[int]]  # input partitions of each worker during the window
    send_s: float  # how long sending the traffic took (well inside the window)


def commit_at_end(bootstrap: str, group: str, partitions: int) -> None:
    """Commit `group`'s offsets at the end of the input and routed topics before it exists."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        **kafka_settings.current().kafka_python(),
    )
    try:
        tps = [
            TopicPartition(topic.name, p)
            for topic in (topics.EVENTS, topics.ROUTED)
            for p in range(partitions)
        ]
        ends = consumer.end_offsets(tps)
        consumer.commit({tp: OffsetAndMetadata(end, "", -1) for tp, end in ends.items()})
    finally:
        consumer.close()


def read_assignment(ready: Path) -> list[int] | None:
    """Input partitions a worker last wrote to its ready file (None: not written yet)."""
    try:
        text = ready.read_text().strip()
    except FileNotFoundError:
        return None
    return sorted(int(p) for p in text.split(",") if p)


def settled(assignments: list[list[int] | None], partitions: int) -> bool:
    """Every worker holds some input partitions, none twice, and all of them are held."""
    if any(not a for a in assignments):
        return False
    held = [p for a in assignments if a for p in a]
    return len(held) == len(set(held)) == partitions


def run_group(
    bootstrap: str,
    work: Path,
    *,
    workers: int,
    partitions: int,
    values: list[tuple[bytes, bytes]],
    pairs: int,
    timeout_s: float,
) -> GroupRun:
    """Start `workers` in a fresh group, wait until they settle, send `values`, time them."""
    group = f"guardline-bench-scale-{workers}"
    commit_at_end(bootstrap, group, partitions)
    procs = []
    try:
        for i in range(workers):
            name = f"{group}-w{i + 1}"
            stats = work / f"{name}.stats.json"
            extra = ("--partitions", str(partitions), "--stats-file", str(stats))
            proc, ready, log = start_worker(bootstrap, work, app_id=group, name=name, extra=extra)
            procs.append((proc, ready, log, stats))
        for proc, ready, log, _stats in procs:
            try:
                wait_ready(proc, ready, log, timeout_s=READY_TIMEOUT_S)
            except TimeoutError as err:
                raise TimeoutError(f"{err}; {STUCK_HINT}") from err
        readies = [ready for _p, ready, _l, _s in procs]
        assignment = _await_settled(readies, partitions)
        written = [r.stat().st_mtime_ns for r in readies]  # rewritten on every assignment
        pids = [proc.pid for proc, *_rest in procs]
        stats_files = [stats for *_rest, stats in procs]
        with CpuMeter(lambda: roles(pids)) as meter:
            send_s = send_fast(bootstrap, values)
            _await_applied(stats_files, pairs, timeout_s, [p for p, *_rest in procs])
        if [r.stat().st_mtime_ns for r in readies] != written:
            raise RuntimeError(
                f"a rebalance happened inside the timed window ({assignment} -> "
                f"{[read_assignment(r) for r in readies]}): the {workers}-worker row is void"
            )
        first, last = stats_window(stats_files)
        return GroupRun(
            workers,
            Rate(len(values), last - first),
            meter.use(first, last),
            applied_pairs(stats_files),
            [a or [] for a in assignment],
            send_s,
        )
    finally:
        for proc, *_rest in procs:
            stop_worker(proc)


def roles(pids: list[int], label: str = "worker", bench: str = "bench (producer)") -> Roles:
    """The consumers (`label`, numbered when several), the embedded broker (none for an
    external cluster) and the bench's own process."""
    named = (
        {label: pids} if len(pids) == 1 else {f"{label} {i + 1}": [p] for i, p in enumerate(pids)}
    )
    return {
        **named,
        "broker": descendants(os.getpid(), named="noida-db"),
        bench: [os.getpid()],
    }


def _await_settled(readies: list[Path], partitions: int) -> list[list[int] | None]:
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    stable_since, last = time.monotonic(), [read_assignment(r) for r in readies]
    while True:
        now = [read_assignment(r) for r in readies]
        if now != last:
            stable_since, last = time.monotonic(), now
        if settled(now, partitions) and time.monotonic() - stable_since >= SETTLE_S:
            return now
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"the group did not settle in {SETTLE_TIMEOUT_S:.0f} s (input partitions per "
                f"worker: {now}); {STUCK_HINT}"
            )
        time.sleep(0.2)


def send_fast(bootstrap: str, values: list[tuple[bytes, bytes]]) -> float:
    """Send pre-encoded records in whole batches per partition; returns the seconds it took.

    ~20x faster than a record-at-a-time producer here (aiokafka's batch builder, ~90k records/s
    against ~5k/s), so the sending is over long before the workers are: the window measures
    them, not the producer. Keys are partitioned as every Kafka client does (murmur2)."""
    started = time.perf_counter()
    asyncio.run(_send_batches(bootstrap, values))
    return time.perf_counter() - started


async def _send_batches(bootstrap: str, values: list[tuple[bytes, bytes]]) -> None:
    from aiokafka import AIOKafkaProducer
    from aiokafka.partitioner import DefaultPartitioner

    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        linger_ms=20,
        **kafka_settings.current().kafka_python(),
    )
    await producer.start()
    try:
        partitions = sorted(await producer.partitions_for(topics.EVENTS.name))
        partitioner = DefaultPartitioner()
        per_partition: dict[int, list[tuple[bytes, bytes]]] = {p: [] for p in partitions}
        for key, value in values:
            per_partition[partitioner(key, partitions, partitions)].append((key, value))
        sent = []
        for partition, records in per_partition.items():
            batch = producer.create_batch()
            for key, value in records:
                if batch.append(key=key, value=value, timestamp=None) is None:  # batch is full
                    sent.append(
                        await producer.send_batch(batch, topics.EVENTS.name, partition=partition)
                    )
                    batch = producer.create_batch()
                    batch.append(key=key, value=value, timestamp=None)
            sent.append(await producer.send_batch(batch, topics.EVENTS.name, partition=partition))
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


def _await_applied(
    stats_files: list[Path], pairs: int, timeout_s: float, procs: list[subprocess.Popen[bytes]]
) -> None:
    progress = Progress("[bench] scaling (pairs applied)", pairs)
    deadline = time.monotonic() + timeout_s
    done, moved = 0, time.monotonic()
    try:
        while done < pairs:
            now = applied_pairs(stats_files)
            if now > done:
                progress.advance(now - done)
                done, moved = now, time.monotonic()
            if done >= pairs:
                break
            for proc in procs:
                if proc.poll() is not None:
                    raise RuntimeError(f"a worker exited with {proc.returncode}")
            if time.monotonic() - moved > STALL_S:
                raise TimeoutError(
                    f"no progress for {STALL_S:.0f} s ({done:,} of {pairs:,} pairs); {STUCK_HINT}"
                )
            if time.monotonic() > deadline:
                raise TimeoutError(f"{done:,} of {pairs:,} pairs after {timeout_s:.0f} s")
            time.sleep(0.2)
    finally:
        progress.close()


def stats_window(stats_files: Sequence[Path]) -> tuple[float, float]:
    """Wall-clock times of the first input record and the last applied event, over workers."""
    stats = [read_stats(path) for path in stats_files]
    firsts = [float(s["first_in_s"]) for s in stats if s.get("first_in_s")]
    return min(firsts, default=0.0), max(float(s.get("last_applied_s", 0.0)) for s in stats)


def applied_pairs(stats_files: Sequence[Path]) -> int:
    """(event, subject) pairs the workers applied, from their stats files."""
    return sum(int(read_stats(path).get("applied", 0)) for path in stats_files)


def encode_all(events: list[Event]) -> list[tuple[bytes, bytes]]:
    """Keys and Avro values, encoded before the timed window (as the pre-produced phases)."""
    return [(e.actor.id.encode(), encode_event(e)) for e in events]
