"""Where each owned input partition is, read from Faust, aiokafka and the intake (issue 18).

For the gauges (`guardline_input_offset`, `guardline_input_fetch_state`), alignment and the
stall watch (`streams/pipeline/read_progress.py`): a partition that stops being read shows
why, from a worker in another process, through /metrics alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from faust.types import TP

from streams.adapters.faust.intake import Intake


@dataclass(frozen=True)
class InputPartition:
    handed_on: int | None  # first offset never handed to the pipeline (None: log start)
    fetched: int | None  # aiokafka's fetch position (None: not known)
    committed: int | None
    end: int | None  # log end, known once a fetch for the partition returned
    state: str  # fetching, held, full, paused or unfetched (`metrics.INPUT_STATES`)

    def offsets(self) -> dict[str, int | None]:
        return {
            "handed_on": self.handed_on,
            "fetched": self.fetched,
            "committed": self.committed,
            "end": self.end,
        }


def input_partitions(app: Any, intake: Intake, partitions: set[int]) -> dict[int, InputPartition]:
    consumer: Any = app.consumer
    held, full = intake.waiting()
    stopped = not getattr(consumer, "flow_active", True) or app.rebalancing
    views: dict[int, InputPartition] = {}
    for partition in partitions:
        tp = TP(intake.topic, partition)
        committed = consumer._committed_offset.get(tp)
        base = consumer.commit_base(tp)  # committed, else where reading started
        handed = intake.next_offset(partition)
        if stopped or tp in consumer._paused_partitions:
            state = "paused"
        elif partition in held:
            state = "held"
        elif partition in full:
            state = "full"
        elif tp in (consumer._active_partitions or ()):
            state = "fetching"
        else:
            state = "unfetched"
        views[partition] = InputPartition(
            handed_on=None if handed is None and base is None else max(handed or 0, base or 0),
            fetched=fetch_position(consumer, tp),
            committed=committed,
            end=consumer.highwater(tp),
            state=state,
        )
    return views


def fetch_position(consumer: Any, tp: TP) -> int | None:
    """aiokafka's position for `tp` (read without its thread's lock: a gauge, not a decision)."""
    try:
        client = consumer._thread._consumer
        state = client._subscription.subscription.assignment.state_value(tp)
        position: int | None = state._position
    except (AttributeError, KeyError, TypeError):
        return None
    return position


def known_end(consumer: Any, tp: TP) -> tuple[int | None, int | None]:
    """aiokafka's log end for `tp` (its highwater) and the stamp of the fetch response that
    told it (wall-clock ms, set with it on every response that included the partition):
    (None, None) while none is known. The stamp is read first: a response landing in between
    pairs a newer end with an older stamp, which only delays "caught up" (`FreshEnds`)."""
    try:
        client = consumer._thread._consumer
        state = client._subscription.subscription.assignment.state_value(tp)
        stamp: int | None = state.timestamp
        end: int | None = state.highwater
    except (AttributeError, KeyError, TypeError):
        return None, None
    return end, stamp
