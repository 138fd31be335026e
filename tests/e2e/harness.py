"""Real `gatehouse` processes on loopback, driven the way an operator would drive them."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any, Self

import httpx

GATEHOUSE = str(Path(sys.executable).parent / "gatehouse")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def environment(home: Path, database_url: str | None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEHOUSE_")}
    env["GATEHOUSE_HOME"] = str(home)
    # Servers start no streaming runtime unless a test asks (`runtime_environment`).
    env["GATEHOUSE_RUNTIME_MANAGED"] = "false"
    if database_url is not None:
        env["GATEHOUSE_DATABASE_URL"] = database_url
    env.update(extra)
    return env


def runtime_environment(env: dict[str, str], **extra: str) -> dict[str, str]:
    """`env` for a server that starts and supervises its runtime on a port of its own."""
    return {
        **env,
        "GATEHOUSE_RUNTIME_MANAGED": "true",
        "GATEHOUSE_RUNTIME_PORT": str(free_port()),
        **extra,
    }


def run_cli(
    env: dict[str, str], *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own console script with fixed arguments
        [GATEHOUSE, *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def init_json(env: dict[str, str]) -> dict[str, Any]:
    result = run_cli(env, "init", "--json")
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


class Process:
    """A server subprocess, ready once `ready_url` answers 200; stdout and stderr go to files
    for later inspection. The e2e tests and the benchmarks start theirs through this."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        env: dict[str, str],
        logs: Path,
        ready_url: str,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.ready_url = ready_url
        self.cwd = cwd
        self.stdout_path = logs / f"{name}.out"
        self.stderr_path = logs / f"{name}.err"
        self._process: subprocess.Popen[bytes] | None = None
        self._files: list[IO[bytes]] = []

    def start(self, timeout: float = 60) -> Self:
        out, err = self.stdout_path.open("wb"), self.stderr_path.open("wb")
        self._files = [out, err]
        self._process = subprocess.Popen(  # noqa: S603 - our own entry points, fixed arguments
            self.argv, env=self.env, cwd=self.cwd, stdout=out, stderr=err
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"{self.name} exited early:\n{self.stderr_path.read_text()}")
            try:
                if httpx.get(self.ready_url, timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not become ready:\n{self.stderr_path.read_text()}")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        for handle in self._files:
            handle.close()

    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int:
        """The serving process itself (`gatehouse serve` runs uvicorn in-process)."""
        assert self._process is not None, "not started"
        return self._process.pid

    def kill(self) -> None:
        """SIGKILL, as a crash: no shutdown hook runs. `stop()` still closes the log files."""
        assert self._process is not None, "not started"
        os.kill(self._process.pid, signal.SIGKILL)
        assert self._process.wait(timeout=15) == -signal.SIGKILL


class Server(Process):
    """`gatehouse serve` as a subprocess."""

    def __init__(self, env: dict[str, str], logs: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        super().__init__(
            f"serve-{self.port}",
            [GATEHOUSE, "serve", "--port", str(self.port)],
            env,
            logs,
            f"{self.url}/readyz",
        )

    @property
    def stdout(self) -> str:
        return self.stdout_path.read_text()

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def __enter__(self) -> "Server":
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


_CACHE_HITS = re.compile(r'gatehouse_token_cache_lookups_total\{result="hit"\} ([0-9.e+]+)')


def token_cache_hits(server: Server, admin_token: str) -> float:
    """The server's count of tokens served from its cache (each read adds at most one)."""
    with server.client(admin_token) as api:
        match = _CACHE_HITS.search(api.get("/metrics").text)
    return float(match.group(1)) if match else 0.0
