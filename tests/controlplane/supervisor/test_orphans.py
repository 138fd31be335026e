"""A control plane killed with SIGKILL runs no shutdown code; its runtime must die with it."""

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.controlplane.supervisor.helpers import gone, wait_until

REPO = Path(__file__).parents[3]


@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_PDEATHSIG is Linux's")
def test_the_runtime_dies_with_a_killed_control_plane(tmp_path: Path) -> None:
    pidfile, log = tmp_path / "child.pid", tmp_path / "parent.err"
    child: int | None = None
    # A file, not a pipe: the child inherits it, and a pipe would stay open as long as it lives.
    with log.open("wb") as stderr:
        parent = subprocess.Popen(  # noqa: S603 - this interpreter, our own module
            [
                sys.executable,
                "-m",
                "tests.controlplane.supervisor.supervising_parent",
                str(tmp_path / "fake"),
                str(pidfile),
            ],
            cwd=REPO,
            stderr=stderr,
        )
    try:
        wait_until(lambda: pidfile.exists() or parent.poll() is not None, "the child is up")
        assert pidfile.exists(), log.read_text()
        child = int(pidfile.read_text())
        assert not gone(child)

        parent.kill()
        parent.wait()

        wait_until(lambda: gone(child), "the orphaned runtime is gone")
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        if child is not None and not gone(child):
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)  # the test failed: leave nothing running
