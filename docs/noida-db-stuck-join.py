"""Reproduce noida-db's stuck consumer-group join with plain aiokafka consumers (no Faust).

Each trial: a fresh group on a 4-partition topic; consumer A joins alone and takes all four
partitions; consumer B joins; the join is "stuck" when, 30 s later, A and B do not share the
four partitions. Then the broker's group description (DescribeGroups) is printed. Variants:
static membership (group.instance.id, as Guardline's workers) or dynamic; idle, with a
producer writing to the topic during the join (load), or load with consumer A blocking its
event loop 0.3 s after every fetch, as a worker busy with a batch does (busy).

    .venv/bin/python docs/noida-db-stuck-join.py --trials 20

Results and what they say about whose defect it is: docs/noida-db-stuck-join.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import time

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from kafka import KafkaAdminClient
from kafka.admin import NewTopic

from streams.broker import EmbeddedBroker

TOPIC = "stuck-join"
PARTITIONS = 4
SETTLE_S = 30.0


async def poll(consumer: AIOKafkaConsumer, busy_s: float = 0.0) -> None:
    while True:
        await consumer.getmany(timeout_ms=100)
        if busy_s:
            time.sleep(busy_s)  # blocks the loop: heartbeats and rebalance callbacks wait


async def produce(bootstrap: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        n = 0
        while True:
            await producer.send(TOPIC, f"v{n}".encode(), partition=n % PARTITIONS)
            n += 1
            await asyncio.sleep(0.002)
    finally:
        await producer.stop()


def consumer(bootstrap: str, group: str, instance: str | None) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        TOPIC,
        bootstrap_servers=bootstrap,
        group_id=group,
        group_instance_id=instance,
        session_timeout_ms=6000,
        heartbeat_interval_ms=1000,
        auto_offset_reset="earliest",
    )


def owned(c: AIOKafkaConsumer) -> set[int]:
    return {tp.partition for tp in c.assignment()}


async def wait_until(condition: object, timeout_s: float) -> float | None:
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if condition():  # type: ignore[operator]
            return time.monotonic() - started
        await asyncio.sleep(0.05)
    return None


def describe(bootstrap: str, group: str) -> str:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        desc = admin.describe_groups([group])[group]
    finally:
        admin.close()
    members = []
    for m in desc["members"]:
        a = m["member_assignment"]  # undecoded bytes when the member has none yet
        owned = a.get("assigned_partitions", []) if isinstance(a, dict) else []
        parts = [p for t in owned for p in t["partitions"]]
        members.append(f"{m.get('group_instance_id') or m['member_id'][:12]}: {sorted(parts)}")
    return f"state {desc['group_state']}, members [{'; '.join(members)}]"


async def trial(bootstrap: str, n: int, static: bool, mode: str) -> tuple[str, float | None]:
    group = f"g-{'static' if static else 'dynamic'}-{mode}-{n}"
    a = consumer(bootstrap, group, "a" if static else None)
    b = consumer(bootstrap, group, "b" if static else None)
    tasks: list[asyncio.Task[None]] = []
    try:
        await a.start()
        tasks.append(asyncio.create_task(poll(a, 0.3 if mode == "busy" else 0.0)))
        if await wait_until(lambda: owned(a) == set(range(PARTITIONS)), SETTLE_S) is None:
            return f"A alone never got all partitions: {describe(bootstrap, group)}", None
        if mode != "idle":
            tasks.append(asyncio.create_task(produce(bootstrap)))
        started = time.monotonic()
        try:
            await asyncio.wait_for(b.start(), SETTLE_S)
        except TimeoutError:
            return f"STUCK: B's start hung {SETTLE_S:.0f} s; {describe(bootstrap, group)}", None
        tasks.append(asyncio.create_task(poll(b)))
        took = await wait_until(
            lambda: (
                owned(a)
                and owned(b)
                and owned(a) | owned(b) == set(range(PARTITIONS))
                and not owned(a) & owned(b)
            ),
            SETTLE_S,
        )
        if took is None:
            return (
                f"STUCK: A {sorted(owned(a))} B {sorted(owned(b))}; {describe(bootstrap, group)}",
                None,
            )
        return f"split A {sorted(owned(a))} B {sorted(owned(b))}", time.monotonic() - started
    finally:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for c in (b, a):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(c.stop(), 10)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--members", default="static,dynamic", help="static, dynamic or both")
    args = parser.parse_args()
    with EmbeddedBroker() as broker:
        admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
        admin.create_topics([NewTopic(TOPIC, PARTITIONS, 1)])
        admin.close()
        for static in [kind == "static" for kind in args.members.split(",")]:
            for mode in ("idle", "load", "busy"):
                stuck, times = 0, []
                for n in range(args.trials):
                    what, took = await trial(broker.bootstrap, n, static, mode)
                    if took is None:
                        stuck += 1
                        print(f"  trial {n}: {what}", flush=True)
                    else:
                        times.append(took)
                label = f"{'static' if static else 'dynamic'} members, {mode}"
                median = sorted(times)[len(times) // 2] if times else float("nan")
                print(
                    f"{label}: {stuck}/{args.trials} stuck; split in median {median:.2f} s,"
                    f" max {max(times, default=float('nan')):.2f} s",
                    flush=True,
                )


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # as Ctrl-C: the broker stops
    asyncio.run(main())
