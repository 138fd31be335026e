"""A managed runtime: real child processes (tests/fakes/child_runtime.py), started, health-checked,
restarted with backoff, killed when hung, and stopped without leaving a process behind."""

import asyncio
import os
import signal
from collections.abc import Awaitable, Callable

import httpx

from controlplane.supervisor.schemas import RuntimeStatus
from controlplane.supervisor.supervisor import RuntimeSupervisor
from tests.controlplane.supervisor.helpers import FakeRuntime, gone, until, wait_until

Scenario = Callable[[RuntimeSupervisor], Awaitable[None]]


def supervise(supervisor: RuntimeSupervisor, scenario: Scenario) -> None:
    """Run the scenario with the supervisor started, and always stop it after."""

    async def run() -> None:
        await supervisor.start()
        try:
            await scenario(supervisor)
        finally:
            await supervisor.stop()

    asyncio.run(run())


def healthy_child(supervisor: RuntimeSupervisor, not_pid: int | None = None) -> bool:
    status = supervisor.status()
    return status.pid not in (None, not_pid) and status.state != "down"


def test_a_started_runtime_comes_up_with_its_version(fake: FakeRuntime) -> None:
    fake.steer(version="9.9.9")
    settings = fake.settings()
    supervisor = RuntimeSupervisor(settings, command=fake.command())
    seen: list[RuntimeStatus] = []

    async def scenario(runtime: RuntimeSupervisor) -> None:
        await until(lambda: runtime.status().state == "up", "the runtime is up")
        seen.append(runtime.status())
        async with httpx.AsyncClient() as http:
            seen_env = (await http.get(f"{fake.url}/healthz")).json()
        # The child is told where this control plane is and which key to trust.
        assert seen_env["proxy_url"] == settings.resolved_runtime_proxy_url
        assert seen_env["trust_key_file"] == str(settings.runtime_trust_key_path.absolute())

    supervise(supervisor, scenario)

    [status] = seen
    assert status.managed is True
    assert status.url == fake.url
    assert status.version == "9.9.9"
    assert status.restarts == 0
    assert status.workers == 1
    assert status.last_error is None
    assert status.last_exit_code is None
    assert status.last_check_at is not None
    assert status.uptime_seconds is not None
    assert status.uptime_seconds >= 0
    assert status.pid is not None
    # The key pair exists before the first child starts.
    assert settings.runtime_signing_key_path.is_file()
    assert settings.runtime_trust_key_path.is_file()
    assert gone(status.pid), "stop() leaves no child behind"
    after = supervisor.status()
    assert (after.state, after.pid) == ("down", None)


def test_a_killed_runtime_is_restarted_and_counted(fake: FakeRuntime) -> None:
    supervisor = RuntimeSupervisor(fake.settings(), command=fake.command())

    async def scenario(runtime: RuntimeSupervisor) -> None:
        await until(lambda: runtime.status().state == "up", "the runtime is up")
        first = runtime.status().pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        await until(lambda: healthy_child(runtime, not_pid=first), "a new child answers")
        status = runtime.status()
        assert status.restarts == 1
        assert status.last_exit_code == -signal.SIGKILL
        assert status.last_error == "exited with code -9"
        # Healthy again, but it has just restarted.
        assert status.state == "degraded"
        assert list(runtime.recent_delays) == [0.05]

    supervise(supervisor, scenario)


def test_repeated_crashes_back_off_exponentially_up_to_the_cap(fake: FakeRuntime) -> None:
    fake.steer(crash=3)
    supervisor = RuntimeSupervisor(fake.settings(), command=fake.command())

    async def scenario(runtime: RuntimeSupervisor) -> None:
        await until(lambda: runtime.restarts >= 5, "five restarts")
        status = runtime.status()
        assert status.state == "down"
        assert status.last_exit_code == 3
        assert status.last_error == "exited with code 3"
        assert status.version is None
        assert status.uptime_seconds is None
        # initial * 2**n, capped at runtime_backoff_max_seconds.
        assert list(runtime.recent_delays)[:5] == [0.05, 0.1, 0.2, 0.2, 0.2]

        # Once a child has stayed healthy for a while, the next crash starts from the
        # initial delay again.
        fake.steer()
        await until(lambda: healthy_child(runtime), "a child stays up")
        await until(lambda: runtime.backoff.attempts == 0, "the backoff resets")
        pid = runtime.status().pid
        assert pid is not None
        waited = len(runtime.recent_delays)
        os.kill(pid, signal.SIGKILL)
        await until(lambda: len(runtime.recent_delays) > waited, "the next restart")
        assert runtime.recent_delays[-1] == 0.05

    supervise(supervisor, scenario)


def test_a_hung_runtime_is_killed_and_restarted(fake: FakeRuntime) -> None:
    settings = fake.settings(runtime_health_timeout_seconds=0.25)
    supervisor = RuntimeSupervisor(settings, command=fake.command())

    async def scenario(runtime: RuntimeSupervisor) -> None:
        await until(lambda: runtime.status().state == "up", "the runtime is up")
        hung = runtime.status().pid
        assert hung is not None
        fake.steer(hang=True)
        await until(lambda: runtime.restarts >= 1, "the hung child is replaced")
        status = runtime.status()
        assert status.last_exit_code == -signal.SIGKILL
        assert status.last_error == ("not answering health checks (health check timed out); killed")
        assert gone(hung)
        # The replacement also hangs at first: starting, not yet hung, so it is left alone.
        fake.steer(version="2")
        await until(lambda: runtime.status().version == "2", "the new child answers")
        status = runtime.status()
        assert status.restarts == 1
        assert status.state == "degraded"

    supervise(supervisor, scenario)


def test_a_runtime_that_stops_answering_is_degraded_until_declared_hung(
    fake: FakeRuntime,
) -> None:
    # Far from the hung threshold, so the degraded state holds long enough to be seen.
    settings = fake.settings(runtime_health_timeout_seconds=0.1, runtime_unhealthy_after=100)
    supervisor = RuntimeSupervisor(settings, command=fake.command())

    async def scenario(runtime: RuntimeSupervisor) -> None:
        await until(lambda: runtime.status().state == "up", "the runtime is up")
        fake.steer(hang=True)
        await until(lambda: runtime.status().state == "degraded", "the runtime is degraded")
        status = runtime.status()
        assert status.pid is not None
        assert status.restarts == 0
        assert status.last_error == "health check timed out"

    supervise(supervisor, scenario)


def test_shutdown_stops_the_whole_process_group(fake: FakeRuntime) -> None:
    supervisor = RuntimeSupervisor(fake.settings(runtime_workers=3), command=fake.command(3))
    pids: list[int] = []

    async def scenario(runtime: RuntimeSupervisor) -> None:
        await until(lambda: runtime.status().state == "up", "the runtime is up")
        await until(lambda: len(fake.worker_pids()) == 2, "the workers are started")
        leader = runtime.status().pid
        assert leader is not None
        pids.extend([leader, *fake.worker_pids()])
        assert not any(gone(pid) for pid in pids)

    supervise(supervisor, scenario)

    assert supervisor.status().workers == 3
    assert gone(pids[0]), "the leader is reaped before stop() returns"
    # The workers were sent SIGKILL; the kernel finishes them a moment later.
    wait_until(lambda: all(gone(pid) for pid in pids), "every worker is gone")


def test_a_runtime_that_ignores_sigterm_is_killed(fake: FakeRuntime) -> None:
    fake.steer(ignore_sigterm=True)
    supervisor = RuntimeSupervisor(fake.settings(), command=fake.command())

    async def run() -> int:
        await supervisor.start()
        await until(lambda: supervisor.status().state == "up", "the runtime is up")
        pid = supervisor.status().pid
        assert pid is not None
        await supervisor.stop(grace_seconds=0.2)
        return pid

    pid = asyncio.run(run())

    assert gone(pid)
    assert supervisor.status().last_exit_code == -signal.SIGKILL


def test_a_command_that_cannot_start_is_retried(fake: FakeRuntime) -> None:
    supervisor = RuntimeSupervisor(fake.settings(), command=[str(fake.directory / "missing")])

    async def scenario(runtime: RuntimeSupervisor) -> None:
        await until(lambda: runtime.restarts >= 2, "two restarts")
        status = runtime.status()
        assert status.state == "down"
        assert status.pid is None
        assert status.last_error == "could not start: No such file or directory"

    supervise(supervisor, scenario)
