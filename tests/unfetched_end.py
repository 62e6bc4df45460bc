"""A worker that stops fetching one input partition for a while, for tests only.

Issue 18, run 136: the consumer knows an input partition's log end only from the last fetch
response that included it. Input partition 2 was not fetched again after records 273-280 were
written to it, while partition 1's later event 281 was fetched and routed; with that old end,
partition 2 counted as fully routed, the router announced every partition idle, 281 was
applied and 279/280 (same subject) were then skipped as late.

Here, once the file named by `GUARDLINE_TEST_NOFETCH_FLAG` exists, input partition
`GUARDLINE_TEST_NOFETCH` is left out of every fetch request (aiokafka's fetcher), and the
worker prints `STOPPED` once a request went out without it. Fetching resumes (`RESUMED`) once
the router has routed records since and then either announced an IDLE and the detect stage
applied something after it (the worst order: what the partition holds arrives after; at most
`AFTER_IDLE_S` later), or stayed quiet past the idle timeout without announcing one.
Applications are recorded as in `tests/applied_events.py`. Nothing in `streams/` imports
this, and it is not packaged.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from aiokafka.consumer.fetcher import Fetcher

from streams import topics
from streams.pipeline.envelope import IDLE
from streams.pipeline.ports import Record
from streams.pipeline.stage import Pipeline, RouteStep
from tests.applied_events import APPLIED_ENV, record_to

PARTITION_ENV = "GUARDLINE_TEST_NOFETCH"
FLAG_ENV = "GUARDLINE_TEST_NOFETCH_FLAG"
STOPPED = "input partition fetching stopped"
RESUMED = "input partition fetching resumed"
QUIET_MARGIN_S = 0.3  # past the idle timeout: the router had its ticks to announce an IDLE
AFTER_IDLE_S = 10.0


class _Without:
    """An aiokafka assignment as the fetcher reads it, one partition left out."""

    def __init__(self, assignment: Any, left_out: object) -> None:
        self._assignment = assignment
        self.tps = frozenset(tp for tp in assignment.tps if tp != left_out)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._assignment, name)


class Fault:
    def __init__(self, partition: int, flag: Path) -> None:
        self.tp = (topics.EVENTS.name, partition)
        self.flag = flag
        self.state = "waiting"  # then "stopped", then "resumed"
        self.applied_before = 0
        self.routed = self.announced = self.told = False

    def install(self) -> None:
        fault, original_actions = self, Fetcher._get_actions_per_node
        original_route = Pipeline.route

        def actions(fetcher: Any, assignment: Any) -> Any:
            if fault.state == "waiting" and fault.flag.exists():
                fault.state = "stopped"
            if fault.state != "stopped":
                return original_actions(fetcher, assignment)
            found = original_actions(fetcher, _Without(assignment, fault.tp))
            if found[0] and not fault.told:  # a request went out without the partition
                fault.told = True
                print(STOPPED, flush=True)
            return found

        def route(
            pipeline: Pipeline[Any],
            batches: Mapping[int, Sequence[Record[Any]]],
            *,
            heartbeats: bool = False,
            caught_up: Any = None,
        ) -> RouteStep[Any]:
            step = original_route(pipeline, batches, heartbeats=heartbeats, caught_up=caught_up)
            if fault.state == "stopped":
                fault.observe(pipeline, step, heartbeats and caught_up is not None)
            return step

        Fetcher._get_actions_per_node = actions  # type: ignore[method-assign]
        Pipeline.route = route  # type: ignore[method-assign]

    def observe(self, pipeline: Pipeline[Any], step: RouteStep[Any], tick: bool) -> None:
        if not self.routed:
            self.routed = step.records > 0
            self.applied_before = pipeline.totals["applied"]
            return
        self.announced |= any(p.watermark_ms == IDLE for _d, p in step.output.packets)
        now, last = time.monotonic(), pipeline.router.last_arrival
        # After an IDLE, until the detect stage applied something; a bound in case nothing
        # is (an IDLE that did not complete the set).
        margin = AFTER_IDLE_S if self.announced else QUIET_MARGIN_S
        quiet = tick and all(
            now - last.get(s, 0.0) >= pipeline.idle_after_s + margin for s in pipeline.owned_sources
        )
        if quiet or (self.announced and pipeline.totals["applied"] > self.applied_before):
            self.state = "resumed"
            print(f"{RESUMED} ({'after an IDLE' if self.announced else 'no IDLE'})", flush=True)


if __name__ == "__main__":
    from streams.cli import main

    record_to(Path(os.environ[APPLIED_ENV]))
    Fault(int(os.environ[PARTITION_ENV]), Path(os.environ[FLAG_ENV])).install()
    raise SystemExit(main(sys.argv[1:]))
