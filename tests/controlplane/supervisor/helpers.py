"""The fake runtime child (tests/fakes/child_runtime.py), fast settings, and polling helpers.

Nothing here waits a fixed time: every wait polls for a condition with a generous deadline.
"""

import asyncio
import json
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from controlplane.config import Settings
from tests.conftest import test_settings

FAKE_RUNTIME = str(Path(__file__).parents[2] / "fakes" / "child_runtime.py")
DEADLINE_SECONDS = 20.0

# Small intervals so each scenario takes well under a second of supervision.
FAST: dict[str, Any] = {
    "runtime_managed": True,
    "runtime_health_interval_seconds": 0.05,
    "runtime_health_timeout_seconds": 1.0,
    "runtime_unhealthy_after": 3,
    "runtime_backoff_initial_seconds": 0.05,
    "runtime_backoff_max_seconds": 0.2,
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class FakeRuntime:
    """Where the fake listens and the control file that steers it."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.port = free_port()
        self.control = directory / "control.json"
        self.steer()

    def steer(self, **behaviour: Any) -> None:
        # Replaced in one rename, so the fake never reads a half-written file.
        draft = self.control.with_suffix(".draft")
        draft.write_text(json.dumps(behaviour))
        draft.replace(self.control)

    def command(self, workers: int = 1) -> list[str]:
        return [
            sys.executable,
            FAKE_RUNTIME,
            "--port",
            str(self.port),
            "--workers",
            str(workers),
            "--control",
            str(self.control),
        ]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def worker_pids(self) -> list[int]:
        path = Path(f"{self.control}.workers")
        return [int(line) for line in path.read_text().split()] if path.exists() else []

    def settings(self, **overrides: Any) -> Settings:
        values = {**FAST, "runtime_port": self.port, **overrides}
        return test_settings(self.directory / "home", **values)


def gone(pid: int) -> bool:
    """No such process, or only its zombie (an orphan's reaper may be slow, or absent)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in {"Z", "X"}


async def until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting until {what}")
        await asyncio.sleep(0.01)


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting until {what}")
        time.sleep(0.01)
