"""The `cli` fixture: the `gatehouse` CLI pointed at this test's live loopback server."""

from pathlib import Path

import pytest
from fastapi import FastAPI

from tests.controlplane.cli.helpers import Cli
from tests.live import ServerThread


@pytest.fixture
def cli(app: FastAPI, server: tuple[FastAPI, ServerThread], tmp_path: Path) -> Cli:
    """The CLI pointed at the server; `app` binds this test's database to the server."""
    return Cli(url=server[1].url, home=tmp_path / "home")


@pytest.fixture
def offline_cli(tmp_path: Path) -> Cli:
    """The CLI for cases that never reach a server: no database, so one run, not one per engine."""
    return Cli(url="http://127.0.0.1:9", home=tmp_path / "home")
