"""End-to-end fixtures: a committed database of the parametrized engine, and a home directory."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.databases import database_url


@pytest.fixture
def e2e_database(engine_kind: str, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database URL that real server processes may commit to."""
    with database_url(engine_kind, tmp_path) as url:
        yield url
