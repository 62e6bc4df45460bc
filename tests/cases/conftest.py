"""Fixtures of the case tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from streams import topics
from streams.broker import EmbeddedBroker
from tests.cases.postgres import postgres_cluster


@pytest.fixture(scope="session")
def cluster() -> Iterator[str]:
    """A PostgreSQL cluster of the session's own: DSN prefix (append a database name)."""
    with postgres_cluster() as prefix:
        yield prefix


@pytest.fixture(scope="module")
def broker() -> Iterator[str]:
    """A broker of the module's own (0.1 s to start), so its topics hold only its data."""
    with EmbeddedBroker() as b:
        topics.ensure_topics(b.bootstrap)
        yield b.bootstrap
