# --- Broker fixtures (streams/broker.py) ------------------------------------------------------
# One embedded noida-db per test session, unless GUARDLINE_BOOTSTRAP_SERVERS names a cluster.
# Tests share that broker: give each test its own topics and group ids (`unique_suffix`).
from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from streams.broker import EmbeddedBroker, external_bootstrap


@pytest.fixture(scope="session")
def embedded_broker() -> Iterator[EmbeddedBroker]:
    """The session's own noida-db, for tests that kill or restart it (restart it afterwards).

    noida-db persists about once a second: wait `PERSIST_INTERVAL_S` before `kill()`, or the
    last writes of earlier tests are lost.
    """
    with EmbeddedBroker() as broker:
        yield broker


@pytest.fixture(scope="session")
def bootstrap(request: pytest.FixtureRequest) -> str:
    """`host:port` of the broker: the external cluster, else the session's embedded broker."""
    external = external_bootstrap()
    if external is not None:
        return external
    broker: EmbeddedBroker = request.getfixturevalue("embedded_broker")
    return broker.bootstrap


@pytest.fixture
def unique_suffix() -> str:
    """A fresh suffix for topic names and group ids, so tests never see each other's data."""
    return uuid.uuid4().hex[:10]


# --- End of broker fixtures ---------------------------------------------------------------------


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Count the runs the embedded broker failed (tests.streaming.EnvironmentFailure) apart
    from Guardline's own failures: still failures, never passes."""
    failed = terminalreporter.stats.get("failed", [])
    broker = [r.nodeid for r in failed if "EnvironmentFailure" in str(r.longrepr)]
    if broker:
        terminalreporter.write_line(
            f"environment failures (noida-db group stuck after its recovery): {len(broker)}: "
            + ", ".join(broker)
        )


@pytest.fixture(autouse=True)
def fresh_kafka_settings() -> Iterator[None]:
    """Kafka settings are read once per process: each test reads its own environment."""
    from streams import kafka_settings

    kafka_settings.current.cache_clear()
    yield
    kafka_settings.current.cache_clear()
