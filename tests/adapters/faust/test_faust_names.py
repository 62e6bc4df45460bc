"""The 14 private Faust names the adapter uses are checked when the worker starts."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from streams.adapters.faust import faust_names
from streams.adapters.faust.app import GuardlineWorker, WorkerSettings
from streams.adapters.faust.faust_names import PRIVATE_NAMES, check_faust_names, missing_names
from streams.config import load_config


def a_worker() -> GuardlineWorker:
    settings = WorkerSettings(
        bootstrap="127.0.0.1:9", config=load_config(), store="memory://", metrics_port=None
    )
    return GuardlineWorker(settings)


def test_this_faust_has_all_fourteen() -> None:
    assert PRIVATE_NAMES == 14
    worker = a_worker()
    assert missing_names(worker.app.consumer) == []
    check_faust_names(worker.app)  # no SystemExit


def test_a_missing_name_is_named() -> None:
    consumer = a_worker().app.consumer
    del consumer._acked_index

    class Renamed:  # a Faust whose consumer lost `_add_gap`
        def _new_offset(self) -> None: ...
        def _wait_next_records(self) -> None: ...
        def _to_message(self) -> None: ...

    missing = missing_names(consumer, Renamed)
    assert [m.rsplit(" ", 1)[-1].rsplit(".", 1)[-1] for m in missing] == [
        "_acked_index",
        "_add_gap",
    ]
    with pytest.raises(SystemExit, match="_acked_index"):
        check_faust_names(SimpleNamespace(consumer=consumer))


def test_the_worker_refuses_to_start(monkeypatch: pytest.MonkeyPatch) -> None:
    worker = a_worker()
    monkeypatch.setattr(faust_names, "CONSUMER_STATE", (*faust_names.CONSUMER_STATE, "_gone"))
    started = []
    monkeypatch.setattr(worker, "start_endpoints", lambda: started.append(1))
    with pytest.raises(SystemExit, match="_gone"):
        worker.run()
    assert not started
