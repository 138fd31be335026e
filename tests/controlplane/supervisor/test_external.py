"""An external runtime (`runtime_url` set): no child, only health checks and the status."""

import asyncio
import subprocess

from controlplane.supervisor.supervisor import RuntimeSupervisor
from tests.controlplane.supervisor.helpers import FakeRuntime, until


def test_an_external_runtime_is_watched_not_managed(fake: FakeRuntime) -> None:
    fake.steer(version="ext-1")
    supervisor = RuntimeSupervisor(fake.settings(runtime_url=f"{fake.url}/"))
    started: list[subprocess.Popen[bytes]] = []

    def start_runtime() -> None:
        started.append(subprocess.Popen(fake.command()))  # noqa: S603 - the fake, fixed arguments

    async def scenario() -> None:
        await supervisor.start()
        try:
            await until(lambda: supervisor.status().last_check_at is not None, "a first check")
            status = supervisor.status()
            assert (status.state, status.managed, status.pid) == ("down", False, None)
            assert status.last_error == "health check could not connect"

            start_runtime()
            await until(lambda: supervisor.status().state == "up", "the runtime is up")
            status = supervisor.status()
            assert (status.managed, status.pid, status.version) == (False, None, "ext-1")
            assert status.url == fake.url

            started[0].kill()
            await until(lambda: supervisor.status().state == "down", "the runtime is down")
            assert supervisor.status().restarts == 0, "an external runtime is never restarted"

            start_runtime()
            await until(lambda: supervisor.status().state == "up", "the runtime is up again")
        finally:
            await supervisor.stop()

    try:
        asyncio.run(scenario())
    finally:
        for process in started:
            process.kill()
            process.wait()
    # Stopping the supervisor never touches a runtime it did not start.
    assert started[-1].returncode == -9


def test_credentials_in_the_runtime_url_are_not_reported(fake: FakeRuntime) -> None:
    supervisor = RuntimeSupervisor(fake.settings(runtime_url="http://ops:hunter2@127.0.0.1:9"))
    assert supervisor.status().url == "http://127.0.0.1:9"
