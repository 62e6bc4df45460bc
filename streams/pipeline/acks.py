"""The commit rule, as pure functions on offsets: a commit never passes a record still held.

The detect stage acks routed packets out of order: a packet with events waits, unacked, in the
reorder buffer until the release bound passes them, while a watermark-only packet after it is
acked at once. A commit that moved past the waiting packet would lose its events to a crash
(issue 7). So a partition's commit goes up to the end of the run of consecutive done offsets
from the committed one, and never past the lowest offset handed on and not acked yet ("held").
While nothing is committed, the run starts where reading started, never anywhere else.

`commit_point` is the whole rule (the in-memory adapter commits with it); Faust keeps its own
rule, which `may_commit_run` makes strict (`streams/adapters/faust/consumer.py`).
"""

from __future__ import annotations

from collections.abc import Iterable


def lowest_held(held: Iterable[int], since: int) -> int | None:
    """The lowest held offset at or after `since` (the committed offset), if any."""
    return min((offset for offset in held if offset >= since), default=None)


def may_commit_run(base: int | None, run_start: int, held: Iterable[int]) -> bool:
    """Whether a commit may take a run of done offsets beginning at `run_start`.

    `base` is where this partition's reading began: its committed offset, or, while nothing is
    committed, the offset the consumer was explicitly put at (the log start); None while that
    is not known, and then nothing may be committed. The run may begin at most one offset past
    the base (Faust's allowance for an offset that never arrives, such as a transaction
    marker), and not after a record still held: a commit from a run that begins further on
    would pass offsets nobody processed (issue 18: a broker restart left records fetched
    before it unread, and the commit passed them while nothing was committed yet).
    """
    if base is None or run_start > base + 1:
        return False
    lowest = lowest_held(held, base)
    return lowest is None or lowest >= run_start


def commit_point(committed: int, done: Iterable[int], held: Iterable[int]) -> int:
    """The next offset to commit: past every consecutive done offset from `committed`, and
    never past a held one (a held offset is not done, so the run stops before it anyway;
    the bound also covers an adapter that counts an offset done twice)."""
    finished = set(done)
    end = committed
    while end in finished:
        end += 1
    lowest = lowest_held(held, committed)
    return end if lowest is None else min(end, lowest)
