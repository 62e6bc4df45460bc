"""A worker that loses a range of routed records once, the way Faust's read-offset race does,
for tests only.

Seen in broker-kill runs (`streams/adapters/faust/commits.py`): a routed partition's offsets
72-90 were handed on by Faust's fetch loop but never reached the detect stage, while 91 and on
did. Here the routed records of partition `GUARDLINE_TEST_HOLE` with offsets in
[`GUARDLINE_TEST_HOLE_FROM`, `GUARDLINE_TEST_HOLE_TO`) are dropped the first time they reach the
worker's inbox: handed on, never collected, never acked. Read again, they pass. Nothing in
`streams/` imports this, and it is not packaged.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from streams import topics
from streams.pipeline.inbox import Inbox

PARTITION_ENV = "GUARDLINE_TEST_HOLE"
FROM_ENV = "GUARDLINE_TEST_HOLE_FROM"
TO_ENV = "GUARDLINE_TEST_HOLE_TO"


def drop_once(partition: int, offsets: range) -> None:
    original = Inbox.add
    seen: set[int] = set()

    def add(self: Inbox[Any], topic: str, record: Any) -> int:
        offset = record.offset
        if (
            topic == topics.ROUTED.name
            and record.token.partition == partition
            and offset in offsets
            and offset not in seen
        ):
            seen.add(offset)
            if len(seen) == len(offsets):
                print(f"routed partition {partition}: offsets {offsets} dropped", flush=True)
            return self.count
        return original(self, topic, record)

    Inbox.add = add  # type: ignore[method-assign]


if __name__ == "__main__":
    from streams.cli import main

    hole = range(int(os.environ[FROM_ENV]), int(os.environ[TO_ENV]))
    drop_once(int(os.environ[PARTITION_ENV]), hole)
    raise SystemExit(main(sys.argv[1:]))
