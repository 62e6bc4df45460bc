"""A worker that stops fetching one input partition once, for tests only.

Issue 18's stall, made to happen: under load after a broker restart an input partition stopped
being read for good (60 records left for four minutes, the worker alive and idle). Whatever
put it there, the result is a partition in none of Faust's fetch sets (not active, not
buffered, not paused), which nothing in Faust or aiokafka ever puts back. Here, once the
intake has handed on `GUARDLINE_TEST_UNFETCH_AFTER` records of input partition
`GUARDLINE_TEST_UNFETCH`, the partition is taken out of Faust's active set. Alignment is off
in this worker: releasing a hold puts a partition back into the set, which would undo the
fault at random. Nothing in `streams/` imports this, and it is not packaged.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Any

from faust.types import TP

from streams.adapters.faust.intake import Intake

PARTITION_ENV = "GUARDLINE_TEST_UNFETCH"
AFTER_ENV = "GUARDLINE_TEST_UNFETCH_AFTER"


def unfetch_once(partition: int, after: int) -> None:
    from streams.adapters.faust import app

    app.ahead = lambda *_: set()  # type: ignore[assignment]
    original = Intake.divert
    done = [False]

    def divert(self: Intake, records: Mapping[Any, list[Any]]) -> Mapping[Any, list[Any]]:
        rest = original(self, records)
        handed = self.next_offset(partition)
        active = self.app.consumer._active_partitions
        if not done[0] and handed is not None and handed >= after and active:
            done[0] = True
            active.discard(TP(self.topic, partition))
            print(f"input partition {partition} taken out of Faust's fetch sets", flush=True)
        return rest

    Intake.divert = divert  # type: ignore[method-assign]


if __name__ == "__main__":
    from streams.cli import main

    unfetch_once(int(os.environ[PARTITION_ENV]), int(os.environ[AFTER_ENV]))
    raise SystemExit(main(sys.argv[1:]))
