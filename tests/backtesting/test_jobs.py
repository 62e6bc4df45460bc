"""A job's end of input when its peer has already finished (`jobs._Job`), in one process."""

from __future__ import annotations

import io
import multiprocessing
from pathlib import Path

from streams.backtesting.decode import Decoded
from streams.backtesting.jobs import _Job, _JobPlan
from streams.backtesting.settings import Clock, Settings
from streams.config import load_config


def _unused(block: bytes) -> Decoded:
    raise AssertionError("no block is decoded here")


def test_the_end_of_input_reaching_a_job_after_its_peer_closed_its_pipe_ends_it_quietly(
    tmp_path: Path,
) -> None:
    """Seen once in CI: job 0 read the end of the input after job 1 had finished and closed
    its side, and sending job 1 the end marker raised BrokenPipeError. Job 1 needs no marker
    then; job 0 must still see the end."""
    ctx = multiprocessing.get_context("spawn")
    blocks_in, blocks_out = ctx.Pipe(duplex=False)
    results_in, results_out = ctx.Pipe(duplex=False)
    peer_in, peer_out = ctx.Pipe(duplex=False)  # job 0 -> job 1
    from_peer_in, from_peer_out = ctx.Pipe(duplex=False)  # job 1 -> job 0
    peer_in.close()  # job 1 has finished: nothing reads what job 0 sends it
    settings = Settings(load_config(None), 1000, Clock(0), 600_000)
    plan = _JobPlan(0, 2, settings, False, tmp_path, tmp_path / "job-0.alerts", _unused)
    job = _Job(plan, blocks_in, results_out, {1: from_peer_in}, {1: peer_out}, io.BytesIO())
    blocks_out.send_bytes(b"")  # the reader's end of input
    job._decode_next()
    assert job.ended
    for conn in (blocks_out, results_in, from_peer_out, peer_out):
        conn.close()
