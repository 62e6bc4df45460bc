"""Finds offsets Faust will wait for forever, so the worker can have them read again.

Faust commits a partition only up to the first offset not acked since its committed offset
(`Consumer._new_offset`), and its fetch loop drops every record below its read offset (the last
one it handed on). Both numbers are written by coroutines that a rebalance or a seek can
interleave (issue 7, seen in worker logs): records handed on while the post-rebalance seek is
still running get acked and committed, then the seek writes the older committed offset it had
fetched; the fetch loop stores the offset of a record it held across the seek, so the re-fetched
records below it are dropped; a commit or a seek begun in one generation writes its offsets
into the next. Offsets between Faust's committed offset and the first acked one are then never
delivered again and never acked, and the partition's commit stops for good (lag constant, yet
every alert published). Faust's own seek to the broker's committed offsets resets all three;
what it re-reads was handed on before, so the engine's per-subject high-water mark skips it.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Container, Hashable, Iterable
from typing import Any

log = logging.getLogger("guardline.worker")


def lost_offsets(
    base: int | None, read: int | None, acked: Iterable[int], held: Iterable[int]
) -> range | None:
    """Offsets from the commit's base that Faust handed on but nothing acked or holds now.

    `base` is the committed offset, or where reading started while nothing is committed
    (`HeadGuardConsumer.commit_base`). None unless they stop the commit: it tolerates one
    missing offset at the head, and moves nowhere while the base is unknown.
    """
    if base is None or read is None or read < base:
        return None  # the head has not been handed on yet: it is on its way
    # Acks below the base (from before a seek) are only dropped by Faust.
    end = min((offset for offset in acked if offset >= base), default=read + 1)
    if end - base <= 1:
        return None
    lost = range(base, end)
    if any(offset in lost for offset in held):
        return None  # a record of the head is still being worked on: its ack will come
    return lost


def held_offsets(messages: Iterable[Any], generation: int) -> dict[Any, list[int]]:
    """Per partition, the offsets of Faust messages handed on and not acked yet (the worker's
    inbox, intake and reorder buffers hold them): neither a commit nor a re-read may pass one.

    Only the current consumer generation's: an older one's records are read again after the
    rebalance's seek, and one still referenced somewhere would hold the commit for ever.
    """
    held: dict[Any, list[int]] = defaultdict(list)
    for message in list(messages):  # a WeakSet: copied before it can change under us
        if not message.acked and message.generation_id == generation:
            held[message.tp].append(message.offset)
    return held


class StallWatch:
    """Reports lost offsets once they stayed lost for `grace_s`, then again every `grace_s`.

    A record on its way from Faust's buffer to the agent is briefly neither acked nor held;
    the grace lets that pass. Reporting again covers a re-read that raced the fetch loop.
    """

    def __init__(self, grace_s: float) -> None:
        self.grace_s = grace_s
        self._since: dict[Hashable, tuple[int, float]] = {}

    def check(self, key: Hashable, lost: range | None, now: float) -> range | None:
        if lost is None:
            self._since.pop(key, None)
            return None
        start, since = self._since.get(key, (lost.start, now))
        if start != lost.start:
            start, since = lost.start, now
        if now - since >= self.grace_s:
            self._since[key] = (start, now)
            return lost
        self._since[key] = (start, since)
        return None


async def reread_lost(app: Any, stalls: StallWatch, consumed: Container[str]) -> None:
    """Have Faust read again the offsets of `consumed` topics it will otherwise wait for
    forever: once they stayed lost for the grace (`stalls`), it seeks every partition back to
    the broker's committed offset (`consumer.py`, `reread`)."""
    consumer: Any = app.consumer  # ours: streams/adapters/faust/consumer.py
    if app.rebalancing or not getattr(consumer, "flow_active", True):
        return
    acked = consumer._acked
    read = consumer._read_offset
    held: dict[Any, list[int]] | None = None
    now = time.monotonic()
    stuck = False
    for tp in consumer.assignment():
        if tp.topic not in consumed:
            continue
        base = consumer.commit_base(tp)  # committed, else where reading started
        lost = lost_offsets(base, read.get(tp), acked.get(tp, ()), ())
        if lost is not None:
            if held is None:
                held = held_offsets(consumer.unacked, app.consumer_generation_id)
            lost = lost_offsets(base, read.get(tp), acked.get(tp, ()), held.get(tp, ()))
        lost = stalls.check(tp, lost, now)
        if lost is None:
            continue
        log.warning(
            "%s[%d]: offsets %d-%d were handed on but are neither acked nor held, so the "
            "commit cannot pass them (Faust's offset bookkeeping raced a rebalance); "
            "reading again from the committed offsets (read offset was %s, first acked %s)",
            tp.topic, tp.partition, lost.start, lost.stop - 1,
            read.get(tp), min(acked.get(tp) or [None]),
        )  # fmt: skip
        stuck = True
    if stuck:
        await read_again(app)


async def read_again(app: Any) -> bool:
    """Seek every assigned partition back to its committed offset (`consumer.py`'s
    `reread`); False, and said so, when that cannot happen now."""
    consumer: Any = app.consumer  # ours: consumer.py
    if await consumer.reread():
        return True
    log.warning("not read again now (a rebalance began, or the fetch loop did not pause)")
    return False
