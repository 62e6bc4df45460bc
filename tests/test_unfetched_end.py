"""An input partition not fetched since another one's later event was routed is not taken as
caught up (issue 18, run 136: `streams/pipeline/progress.py`, `FreshEnds`).

The worker (`tests/unfetched_end.py`) stops fetching input partition 2. Event `a` is then
written to it and event `b` (same subject, later) to partition 1: `b` is routed, `a` is on
the log but unread, and partition 2's known end is from before it. Fetching resumes only
after the router announced an IDLE and the detect stage applied something, or stayed quiet
past the idle timeout. Taking that old end as "caught up", the router announced partition 1
idle with partition 2 already idle, `b` was applied and `a` then skipped as late.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from streams import topics
from streams.backtest import run_backtest
from streams.broker import EmbeddedBroker
from streams.codec import encode_event
from streams.engine.core import routes
from streams.model import Event
from streams.ops.launcher import free_port, start_worker, stop_worker, wait_ready
from streams.pipeline.envelope import IDLE, unpack
from streams.produce import make_producer
from streams.simulate import simulate
from tests.applied_events import APPLIED_ENV, read_outcomes
from tests.streaming import (
    CONFIG,
    WITH_CONFIG,
    assert_same_outputs,
    read_topic,
    wait_drained,
    wait_for,
)
from tests.test_broker_kill import expected_pairs
from tests.test_resilience import SMALL
from tests.test_resilience import broker as broker
from tests.unfetched_end import FLAG_ENV, PARTITION_ENV, RESUMED, STOPPED

pytestmark = [pytest.mark.broker, pytest.mark.slow]


def two_events_of_one_subject() -> tuple[Event, Event]:
    """The simulation's first two events of different actors that share a subject, in
    event-time order."""
    detectors, last = CONFIG.active(), dict[str, Event]()
    for event in simulate(SMALL).events:
        for key in routes(detectors, event):
            before = last.get(key)
            if before is not None and before.actor.id != event.actor.id:
                assert before.ts_ms < event.ts_ms
                return before, event
            last[key] = event
    raise AssertionError("no two actors share a subject")


def idle_sources(bootstrap: str) -> set[int]:
    """Input partitions some routed packet announced IDLE."""
    packets = (unpack(value) for value in read_topic(bootstrap, topics.ROUTED.name))
    return {p.source_partition for p in packets if p.watermark_ms == IDLE}


def test_a_partition_not_fetched_since_a_later_event_was_routed_holds_the_idle(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    a, b = two_events_of_one_subject()
    bootstrap, app_id, port = broker.bootstrap, "unfetched-end", free_port()
    audit, flag = tmp_path / "applied.tsv", tmp_path / "stop-fetching"
    env = {PARTITION_ENV: "2", FLAG_ENV: str(flag), APPLIED_ENV: str(audit)}
    proc, ready, log = start_worker(
        bootstrap, tmp_path, app_id=app_id, metrics_port=port, extra=WITH_CONFIG,
        module="tests.unfetched_end", env=env,
    )  # fmt: skip
    try:
        wait_ready(proc, ready, log, timeout_s=60)
        # Every input partition read once (its end known) and announced idle: the worker
        # is caught up before partition 2 stops being fetched.
        wait_for(lambda: idle_sources(bootstrap) >= {0, 1, 2, 3}, 60, "every partition idle")
        flag.touch()
        wait_for(lambda: STOPPED in log.read_text(), 60, "partition 2 left out of a fetch", 0.1)
        producer = make_producer(bootstrap)
        for event, partition in ((a, 2), (b, 1)):
            value = encode_event(event)
            producer.send(topics.EVENTS.name, value=value, partition=partition).get(timeout=30)
        producer.close()
        wait_for(lambda: RESUMED in log.read_text(), 60, "partition 2 fetched again", 0.1)
        outputs = wait_drained(bootstrap, app_id, timeout_s=120, metrics_port=port)
    finally:
        stop_worker(proc)
    print(next(line for line in log.read_text().splitlines() if RESUMED in line))
    outcomes = read_outcomes(audit)
    late = {p for p in expected_pairs([a, b]) if not outcomes.get(p, Counter())["applied"]}
    assert not late, f"late skips: {sorted(late)} never applied"
    assert_same_outputs(outputs, run_backtest([a, b], CONFIG), CONFIG)
