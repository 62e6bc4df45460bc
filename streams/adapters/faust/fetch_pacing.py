"""The worker's aiokafka fetcher, paced after fetches a broker answers at once and empty.

aiokafka sends the next fetch to a broker as soon as the last one is answered; against
noida-db, which does not hold empty fetches for `fetch_max_wait_ms`, an idle worker spins.
Each fetch to a broker waits here for what `streams/fetch_pacing.py` says before it counts as
done (aiokafka sends nothing more to that broker meanwhile). The wait ends early once the
worker could fetch more: a paused partition resumed, or buffered records consumed. A busy
worker pauses its input partitions while it catches up and resumes them after each batch; a
wait that ignored that stalled them (measured: the saturated rate fell from 9.2k to 2.4k
events/s). Against Kafka, which holds empty fetches, the pacer never waits.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiokafka.consumer.fetcher import Fetcher

from streams.fetch_pacing import FetchPacer

_ORIGINAL = Fetcher._proc_fetch_request


async def _paced(self: Any, assignment: Any, node_id: int, request: Any) -> bool:
    pacers: dict[int, FetchPacer] = self.__dict__.setdefault("_guardline_pacers", {})
    pacer = pacers.get(node_id)
    if pacer is None:
        pacer = pacers[node_id] = FetchPacer(getattr(self, "_fetch_max_wait_ms", 500) / 1000)
    started = time.monotonic()
    records: bool = await _ORIGINAL(self, assignment, node_id, request)
    now = time.monotonic()
    delay = pacer.after_fetch(now - started, records, now)
    if delay:
        try:
            await _wait_unless_fetchable(self, assignment, delay)
        except asyncio.CancelledError:
            # Closed, or the assignment changed: aiokafka's own fetch returns False then, and
            # `Fetcher.close()` awaits these tasks expecting no error.
            return False
    return records


async def _wait_unless_fetchable(fetcher: Any, assignment: Any, delay_s: float) -> None:
    """Wait `delay_s`, or less: until a paused partition resumes or records are consumed."""
    wake = [
        future
        for tp in assignment.tps
        if (future := assignment.state_value(tp).resume_fut) is not None
    ]
    consumed = getattr(fetcher, "_wait_consume_future", None)  # set as records are taken
    if consumed is not None:
        wake.append(consumed)
    if wake:
        await asyncio.wait(wake, timeout=delay_s)
    else:
        await asyncio.sleep(delay_s)


def install() -> None:
    """Pace every aiokafka consumer of this process (the worker has one: Faust's)."""
    Fetcher._proc_fetch_request = _paced
