"""Fixtures of the case tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.cases.postgres import postgres_cluster


@pytest.fixture(scope="session")
def cluster() -> Iterator[str]:
    """A PostgreSQL cluster of the session's own: DSN prefix (append a database name)."""
    with postgres_cluster() as prefix:
        yield prefix
