"""The runtime child process: started in a process group of its own, stopped as a group.

A group, because the runtime may run worker processes of its own: signalling the group reaches
all of them. On Linux the child also asks the kernel for SIGKILL when its parent dies
(`PR_SET_PDEATHSIG`), so a control plane killed with SIGKILL leaves no runtime behind.
"""

import asyncio
import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence

_PR_SET_PDEATHSIG = 1
_EXIT_POLL_SECONDS = 0.02
_STDERR = 2


def _die_with_parent() -> Callable[[], None] | None:
    """A `preexec_fn` that arms PR_SET_PDEATHSIG, or None where prctl does not exist.

    The kernel sends the signal when the *thread* that forked the child exits, so the child must
    be spawned from a thread that lives as long as the control plane: the event loop's thread,
    never a worker thread.
    """
    if sys.platform != "linux":
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()
    kill = int(signal.SIGKILL)

    def arm() -> None:
        # Runs in the child between fork and exec: nothing here may take a lock that another
        # thread of the parent could have held at fork time (a foreign call and getppid do not).
        prctl(_PR_SET_PDEATHSIG, kill)
        if os.getppid() != parent:
            # The parent died before the signal was armed: it would never come.
            os._exit(1)

    return arm


class Child:
    """One runtime process; `pid` doubles as its process group id."""

    def __init__(self, command: Sequence[str], env: Mapping[str, str]) -> None:
        self._process = subprocess.Popen(  # noqa: S603 - our own interpreter and fixed arguments
            list(command),
            env=dict(env),
            stdin=subprocess.DEVNULL,
            # Operators read the runtime's output where they read ours.
            stdout=_STDERR,
            start_new_session=True,
            preexec_fn=_die_with_parent(),  # noqa: PLW1509 - only prctl and getppid, see above
        )
        self.pid = self._process.pid

    def exit_code(self) -> int | None:
        """The exit status once the process has ended (negative: killed by that signal)."""
        return self._process.poll()

    def signal_group(self, signum: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):  # the whole group is already gone
            os.killpg(self.pid, signum)

    async def wait(self, seconds: float) -> int | None:
        """The exit code, or None if the process is still running after `seconds`."""
        deadline = time.monotonic() + seconds
        # No event says a child exited (short of a SIGCHLD handler, which is the server's to
        # own); a non-blocking waitpid every few milliseconds costs nothing.
        while (code := self.exit_code()) is None and time.monotonic() < deadline:  # noqa: ASYNC110 - see above
            await asyncio.sleep(_EXIT_POLL_SECONDS)
        return code

    async def kill(self) -> int | None:
        self.signal_group(signal.SIGKILL)
        return await self.wait(5.0)

    async def stop(self, grace_seconds: float) -> int | None:
        """SIGTERM the group, SIGKILL it after `grace_seconds`; returns the leader's exit code."""
        self.signal_group(signal.SIGTERM)
        code = await self.wait(grace_seconds)
        # Also when the leader exited in time: a worker that outlived it must not linger.
        self.signal_group(signal.SIGKILL)
        if code is None:
            code = await self.wait(5.0)
        return code
