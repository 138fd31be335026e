"""The supervision loop: launch the runtime, health-check it, restart it, stop it; its status.

One asyncio task on the server's event loop. A managed runtime is a child process: one that
exits is restarted, and one that is alive but fails `runtime_unhealthy_after` consecutive health
checks is hung, so its process group is killed and it is restarted. Restarts wait
`runtime_backoff_initial_seconds * 2**n`, capped at `runtime_backoff_max_seconds`; the backoff
starts afresh once a child has stayed healthy for `STABLE_AFTER_INTERVALS` health intervals. An
external runtime (`runtime_url`) is only health-checked.
"""

import asyncio
import logging
import os
import sys
import time
from collections import deque
from collections.abc import Sequence
from datetime import datetime

import httpx

from controlplane.config import Settings
from controlplane.kit.clock import utcnow
from controlplane.supervisor import health
from controlplane.supervisor.backoff import Backoff
from controlplane.supervisor.process import Child
from controlplane.supervisor.schemas import RuntimeState, RuntimeStatus
from runtime.credential import load_or_create_signing_key

CONTROL_PLANE_SECRETS = frozenset(
    {
        "GATEHOUSE_DATA_KEY",
        "GATEHOUSE_DATA_KEY_FILE",
        "GATEHOUSE_TOKEN_HMAC_KEY",
        "GATEHOUSE_TOKEN_HMAC_KEY_FILE",
        "GATEHOUSE_SIGNING_KEY_FILE",
        "GATEHOUSE_RUNTIME_SIGNING_KEY_FILE",
    }
)
log = logging.getLogger(__name__)

# A restart this recent still counts against the runtime: degraded, not up.
RECENT_RESTART_SECONDS = 60.0
STABLE_AFTER_INTERVALS = 10
STOP_GRACE_SECONDS = 5.0
# A child that has never answered yet is starting, not hung, for at least this long: a cold
# start on a loaded machine must not be killed over and over before it ever listens.
STARTUP_GRACE_SECONDS = 30.0
NOT_CONFIGURED = "the runtime is not configured"


def runtime_command(settings: Settings) -> list[str]:
    return [
        sys.executable,
        "-m",
        "runtime",
        "--host",
        settings.runtime_host,
        "--port",
        str(settings.runtime_port),
        "--workers",
        str(settings.runtime_workers),
    ]


def public_url(url: str) -> str:
    """The URL without any user:password part, fit for a status page."""
    return str(httpx.URL(url).copy_with(username=None, password=None))


def not_configured(settings: Settings) -> RuntimeStatus:
    return RuntimeStatus(
        state="down",
        managed=False,
        url=public_url(settings.resolved_runtime_url),
        workers=settings.runtime_workers,
        last_error=NOT_CONFIGURED,
    )


class RuntimeSupervisor:
    def __init__(
        self,
        settings: Settings,
        *,
        command: Sequence[str] | None = None,
        startup_grace_seconds: float = STARTUP_GRACE_SECONDS,
    ) -> None:
        self.managed = settings.runtime_url is None
        self.url = settings.resolved_runtime_url
        self.workers = settings.runtime_workers
        self.backoff = Backoff(
            settings.runtime_backoff_initial_seconds, settings.runtime_backoff_max_seconds
        )
        # The delays actually waited before restarts, newest last: for the log and the tests.
        self.recent_delays: deque[float] = deque(maxlen=32)
        self.restarts = 0
        self._settings = settings
        self._command = list(command) if command is not None else runtime_command(settings)
        self._startup_grace = startup_grace_seconds
        self._interval = settings.runtime_health_interval_seconds
        self._task: asyncio.Task[None] | None = None
        self._child: Child | None = None
        self._launched_at: float | None = None
        self._last_restart_at: float | None = None
        self._healthy_since: float | None = None
        self._last_ok = False
        self._version: str | None = None
        self._last_error: str | None = None
        self._last_exit_code: int | None = None
        self._last_check_at: datetime | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> "RuntimeSupervisor | None":
        """None when there is nothing to supervise: not managed, and no external runtime."""
        if settings.runtime_url is None and not settings.runtime_managed:
            return None
        return cls(settings)

    # --- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Start supervising on the running loop; returns at once (the child starts later)."""
        if self._task is not None:
            raise RuntimeError("the runtime supervisor is already running")
        if self.managed:
            # Before the first child: it verifies the credentials this key signs. A broken key
            # file fails the server's start-up here, loudly.
            await asyncio.to_thread(
                load_or_create_signing_key,
                self._settings.runtime_signing_key_path,
                self._settings.runtime_trust_key_path,
            )
        self._task = asyncio.create_task(self._run(), name="runtime-supervisor")

    async def stop(self, grace_seconds: float = STOP_GRACE_SECONDS) -> None:
        """Stop supervising; SIGTERM the child's group, SIGKILL it after `grace_seconds`."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        child, self._child = self._child, None
        if child is not None:
            self._last_exit_code = await child.stop(grace_seconds)
            log.info("runtime: stopped (pid %d, exit code %s)", child.pid, self._last_exit_code)
        self._healthy_since = None
        self._last_ok = False

    # --- the loop -----------------------------------------------------------------------------

    async def _run(self) -> None:
        timeout = self._settings.runtime_health_timeout_seconds
        # trust_env=False: an HTTP(S)_PROXY meant for the outside world must not carry checks.
        async with httpx.AsyncClient(timeout=timeout, trust_env=False) as http:
            try:
                if self.managed:
                    await self._supervise(http)
                else:
                    await self._watch_external(http)
            except Exception:
                # Supervision has stopped, which the status must not hide; stop() still works.
                log.exception("runtime: the supervisor failed")
                self._last_error = "the supervisor failed; see the control plane's log"
                raise

    async def _supervise(self, http: httpx.AsyncClient) -> None:
        while True:
            child = self._launch()
            if child is not None:
                await self._watch_child(http, child)
            delay = self.backoff.next_delay()
            self.recent_delays.append(delay)
            log.warning("runtime: %s; restarting in %.2fs", self._last_error, delay)
            await asyncio.sleep(delay)

    def _launch(self) -> Child | None:
        now = time.monotonic()
        if self._launched_at is not None:
            self.restarts += 1
            self._last_restart_at = now
        self._launched_at = now
        self._healthy_since, self._last_ok, self._version = None, False, None
        try:
            # In the loop's own thread, never a worker thread: see process._die_with_parent.
            child = Child(self._command, self._environment())
        except OSError as error:
            self._last_error = f"could not start: {error.strerror or type(error).__name__}"
            return None
        self._child = child
        log.info("runtime: started pid %d, %s", child.pid, public_url(self.url))
        return child

    def _environment(self) -> dict[str, str]:
        # Keys only the control plane uses stay out of the runtime: it verifies credentials
        # with a public key, holds no provider keys and reads no token hashes.
        # The child reads everything else from the GATEHOUSE_* settings it inherits; these two
        # reflect this process's effective values (`serve --host/--port`, a generated key path).
        inherited = {k: v for k, v in os.environ.items() if k not in CONTROL_PLANE_SECRETS}
        return {
            **inherited,
            "GATEHOUSE_RUNTIME_PROXY_URL": self._settings.resolved_runtime_proxy_url,
            "GATEHOUSE_RUNTIME_TRUST_KEY_FILE": str(
                self._settings.runtime_trust_key_path.absolute()
            ),
        }

    async def _watch_child(self, http: httpx.AsyncClient, child: Child) -> None:
        failures = 0
        while child.exit_code() is None:
            result = await self._check(http, record_error=self._healthy_since is not None)
            failures = 0 if result.ok else failures + 1
            if failures >= self._settings.runtime_unhealthy_after and self._hung(child):
                code = await child.kill()
                self._ended(code, f"not answering health checks ({result.error}); killed")
                return
            # Returns early when the child exits, so an exit is noticed within milliseconds.
            await child.wait(self._interval)
        code = child.exit_code()
        self._ended(code, f"exited with code {code}")

    def _hung(self, child: Child) -> bool:
        if child.exit_code() is not None:
            return False  # it exited meanwhile: not hung, and the loop reports the exit
        started = self._launched_at or 0.0
        return self._healthy_since is not None or time.monotonic() - started >= self._startup_grace

    def _ended(self, code: int | None, error: str) -> None:
        self._child = None
        self._healthy_since, self._last_ok = None, False
        self._last_exit_code = code
        self._last_error = error

    async def _watch_external(self, http: httpx.AsyncClient) -> None:
        failures = 0
        while True:
            result = await self._check(http, record_error=True)
            failures = 0 if result.ok else failures + 1
            if failures >= self._settings.runtime_unhealthy_after:
                self._healthy_since = None  # a blip is degraded; this many in a row is down
            await asyncio.sleep(self._interval)

    async def _check(self, http: httpx.AsyncClient, *, record_error: bool) -> health.Health:
        result = await health.check(http, self.url)
        now = time.monotonic()
        self._last_check_at = utcnow()
        self._last_ok = result.ok
        if result.ok:
            self._version = result.version
            if self._healthy_since is None:
                self._healthy_since = now
                log.info("runtime: healthy, version %s", result.version)
            elif now - self._healthy_since >= STABLE_AFTER_INTERVALS * self._interval:
                self.backoff.reset()
        elif record_error:
            # A child still starting up refuses connections: that is not worth reporting.
            self._last_error = result.error
        return result

    # --- status -------------------------------------------------------------------------------

    def status(self) -> RuntimeStatus:
        now = time.monotonic()
        child = self._child
        return RuntimeStatus(
            state=self._state(now),
            managed=self.managed,
            url=public_url(self.url),
            pid=child.pid if child is not None else None,
            restarts=self.restarts,
            version=self._version,
            uptime_seconds=None if self._healthy_since is None else now - self._healthy_since,
            last_error=self._last_error,
            last_exit_code=self._last_exit_code,
            last_check_at=self._last_check_at,
            workers=self.workers,
        )

    def _state(self, now: float) -> RuntimeState:
        if not self.managed:
            if self._last_ok:
                return "up"
            return "degraded" if self._healthy_since is not None else "down"
        if self._child is None or self._healthy_since is None:
            return "down"  # not running, waiting in backoff, or not healthy yet
        if not self._last_ok:
            return "degraded"
        restarted = self._last_restart_at
        if restarted is not None and now - restarted < RECENT_RESTART_SECONDS:
            return "degraded"
        return "up"
