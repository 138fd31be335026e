"""The `fake` fixture: a steerable stand-in for the runtime, on a port of its own."""

from pathlib import Path

import pytest

from tests.controlplane.supervisor.helpers import FakeRuntime


@pytest.fixture
def fake(tmp_path: Path) -> FakeRuntime:
    return FakeRuntime(tmp_path / "fake")
