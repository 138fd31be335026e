"""The golden path's moving parts: a `gatehouse serve` that supervises its runtime, a fake
provider replaying recorded streams, and `gatehouse run` driven as a user drives it."""

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx

from runtime.contract import Event, parse_event
from tests.e2e.harness import GATEHOUSE, Server

# `gatehouse run` as started from a terminal, where Ctrl-C (SIGINT) raises KeyboardInterrupt.
# A test runner started by a shell without job control (`make test &`, nohup, many CI runners)
# has SIGINT ignored, and an ignored signal stays ignored across fork and exec: the run would
# never see the interrupt a test sends. So the child puts the default back before it becomes
# `gatehouse` (exec keeps the pid, which is what the test signals).
_WITH_DEFAULT_SIGINT = (
    "import os, signal, sys; "
    "signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "os.execv(sys.argv[1], sys.argv[1:])"
)

# Runs compared event by event: deltas of one kind collapse into one entry, since how many
# there are is the provider's business; everything else must appear exactly as listed.
COLLAPSED = {"text.delta", "reasoning.delta", "tool_call.delta"}


def shape(events: list[Event]) -> list[str]:
    out: list[str] = []
    for event in events:
        if event.type in COLLAPSED and out and out[-1] == event.type:
            continue
        out.append(event.type)
    return out


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@dataclass
class Deployment:
    server: Server
    env: dict[str, str]  # the CLI's environment: GATEHOUSE_URL and the admin token
    admin_token: str
    workspace_id: str

    def api(self) -> httpx.Client:
        return self.server.client(self.admin_token)

    def status(self) -> dict[str, Any]:
        with self.api() as api:
            response = api.get("/v1/runtime/status")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def wait_until_up(self) -> dict[str, Any]:
        """Until the runtime is `up`: healthy, and not restarted within the last minute."""
        found: dict[str, Any] = {}

        def up() -> bool:
            found.update(self.status())
            return found["state"] == "up"

        wait_for(up, "the runtime to be up")
        return found

    def wait_until_restarted(self, restarts_at_least: int) -> dict[str, Any]:
        """Until a restarted runtime answers its health checks. It is `degraded`, not `up`, for
        a minute after its restart (a recent restart counts against it), so anything but
        `down` means its new process is serving."""
        found: dict[str, Any] = {}

        def serving() -> bool:
            found.update(self.status())
            return found["restarts"] >= restarts_at_least and found["state"] != "down"

        wait_for(serving, "the restarted runtime to answer its health checks")
        return found

    def run(self, agent: str, prompt: str, *tools: str) -> tuple[list[Event], str, int]:
        """`gatehouse run --json`: the events, stderr and the exit code."""
        args = [GATEHOUSE, "run", "--agent", agent, prompt, "--json"]
        for tool in tools:
            args += ["--tool", tool]
        done = subprocess.run(  # noqa: S603 - our own console script with fixed arguments
            args, env=self.env, capture_output=True, text=True, timeout=120, check=False
        )
        return (
            [parse_event(line) for line in done.stdout.splitlines()],
            done.stderr,
            done.returncode,
        )

    def start_run(self, agent: str, prompt: str, output: Path) -> "LiveRun":
        handle = output.open("w")
        argv = [GATEHOUSE, "run", "--agent", agent, prompt, "--json"]
        process = subprocess.Popen(  # noqa: S603 - our own console script with fixed arguments
            [sys.executable, "-c", _WITH_DEFAULT_SIGINT, *argv],
            env=self.env,
            stdout=handle,
            stderr=subprocess.PIPE,
            text=True,
        )
        return LiveRun(process, output, handle)

    def configure(self, agent: str, provider: str, model: str) -> str:
        """Create the agent (if needed) and point it at a provider; its id."""
        with self.api() as api:
            base = f"/v1/workspaces/{self.workspace_id}/agents"
            created = api.post(base, json={"name": agent})
            if created.status_code == 409:
                agents = api.get(base, params={"limit": 500}).json()["items"]
                agent_id = next(item["id"] for item in agents if item["name"] == agent)
            else:
                assert created.status_code == 201, created.text
                agent_id = created.json()["id"]
            response = api.put(
                f"{base}/{agent_id}/runtime", json={"provider": provider, "model": model}
            )
            assert response.status_code == 200, response.text
        return str(agent_id)

    def store_key(self, provider: str, key: str) -> None:
        with self.api() as api:
            response = api.put(
                f"/v1/workspaces/{self.workspace_id}/providers/{provider}", json={"api_key": key}
            )
            assert response.status_code in (200, 201), response.text


@dataclass
class LiveRun:
    process: subprocess.Popen[str]
    output: Path
    handle: IO[str]

    def events(self) -> list[Event]:
        return [parse_event(line) for line in self.output.read_text().splitlines() if line]

    def wait_for_events(self, count: int) -> list[Event]:
        wait_for(lambda: len(self.events()) >= count, f"{count} events from the run")
        return self.events()

    def interrupt(self) -> None:
        os.kill(self.process.pid, signal.SIGINT)

    def finish(self) -> tuple[list[Event], str, int]:
        try:
            _, stderr = self.process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            # Not left running, holding its run open, under the tests that follow.
            self.process.kill()
            self.process.communicate()
            raise
        finally:
            self.handle.close()
        return self.events(), stderr, self.process.returncode


def dumps(events: list[Event]) -> str:
    return json.dumps([event.model_dump(mode="json") for event in events], indent=1)
