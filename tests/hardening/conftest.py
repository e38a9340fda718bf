"""Fixtures shared by the tests that start real web and worker processes (tests/hardening/procs.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine

from core.db import dispose_engines
from tests.conftest import _truncate_all


@pytest.fixture
def cluster_engine(_postgres_url: str) -> Iterator[Engine]:
    """An engine on an emptied PostgreSQL test database, for setting up and checking what the processes did."""
    _truncate_all(_postgres_url)
    made = create_engine(_postgres_url)
    yield made
    made.dispose()
    dispose_engines()
