"""The servers under test, each a process of its own on 127.0.0.1, and what is known about them.

- direct:    the upstream stub (`bench.proxy_stub`); requests go straight to it.
- bare:      the bare pass-through (`bench.proxy_bare`) in front of the stub.
- gatehouse: `gatehouse serve` on a fresh GATEHOUSE_HOME (SQLite, or PostgreSQL in a schema of
             its own), set up over its HTTP API as an operator would: an OpenAI key for the
             workspace and a workspace token with `proxy:invoke`.
"""

import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

from tests.e2e.harness import GATEHOUSE, environment, free_port, init_json

REPO = Path(__file__).resolve().parents[1]
CHAT_PATH = "/v1/chat/completions"
GATEHOUSE_CHAT_PATH = "/proxy/openai" + CHAT_PATH
BENCH_PROVIDER_KEY = "sk-bench-0123456789abcdef"


class Service:
    """A server subprocess; stdout and stderr go to files, kept for when something fails."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], logs: Path) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.stderr_path = logs / f"{name}.err"
        self.stdout_path = logs / f"{name}.out"
        self._process: subprocess.Popen[bytes] | None = None
        self._files: list[IO[bytes]] = []

    @property
    def pid(self) -> int:
        if self._process is None:
            raise RuntimeError(f"{self.name} is not running")
        return self._process.pid

    def start(self, ready_url: str, timeout: float = 60) -> "Service":
        out, err = self.stdout_path.open("wb"), self.stderr_path.open("wb")
        self._files = [out, err]
        self._process = subprocess.Popen(  # noqa: S603 - our own entry points, fixed arguments
            self.argv, env=self.env, cwd=REPO, stdout=out, stderr=err
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"{self.name} exited early:\n{self.stderr_path.read_text()}")
            try:
                if httpx.get(ready_url, timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not become ready:\n{self.stderr_path.read_text()}")

    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def rss_kib(self) -> int:
        """Resident set size from /proc/<pid>/status (VmRSS, in KiB)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError(f"no VmRSS for {self.name}")

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


@dataclass
class Target:
    key: str
    label: str
    port: int
    path: str
    service: Service
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"


def raise_open_files_limit(wanted: int) -> int:
    """Raise the soft RLIMIT_NOFILE (inherited by the servers started later); returns it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft


def _python_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEHOUSE_")}
    env["PYTHONPATH"] = str(REPO)
    return env


def start_stub(
    logs: Path, chunks: int, hold_seconds: float, hold_interval: float
) -> tuple[Target, str]:
    """The direct target; also returns the stub's base URL for the proxies in front of it."""
    port = free_port()
    argv = [sys.executable, "-m", "bench.proxy_stub", "--port", str(port)]
    argv += ["--chunks", str(chunks), "--hold-seconds", str(hold_seconds)]
    argv += ["--hold-interval", str(hold_interval)]
    base = f"http://127.0.0.1:{port}"
    service = Service("stub", argv, _python_env(), logs).start(f"{base}/ready")
    return Target("direct", "direct (stub)", port, CHAT_PATH, service), base


def start_bare(logs: Path, upstream: str) -> Target:
    port = free_port()
    argv = [sys.executable, "-m", "bench.proxy_bare", "--port", str(port), "--upstream", upstream]
    service = Service("bare", argv, _python_env(), logs)
    service.start(f"http://127.0.0.1:{port}/ready")
    return Target("bare", "bare pass-through", port, CHAT_PATH, service)


def start_gatehouse(
    key: str, label: str, logs: Path, home: Path, upstream: str, database_url: str | None
) -> Target:
    env = environment(
        home,
        database_url,
        GATEHOUSE_UPSTREAM_OPENAI_URL=upstream,
        # uvicorn's access log is emitted at INFO: WARNING turns it off, as for the others.
        GATEHOUSE_LOG_LEVEL="WARNING",
    )
    created = init_json(env)  # migrates the (fresh) database and prints the admin token
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    service = Service(key, [GATEHOUSE, "serve", "--port", str(port)], env, logs)
    service.start(f"{base}/readyz")
    workspace = created["workspace_id"]
    admin = {"Authorization": f"Bearer {created['admin_token']}"}
    with httpx.Client(base_url=base, headers=admin, timeout=30) as client:
        client.put(
            f"/v1/workspaces/{workspace}/providers/openai", json={"api_key": BENCH_PROVIDER_KEY}
        ).raise_for_status()
        issued = client.post(
            f"/v1/workspaces/{workspace}/tokens",
            json={"scopes": ["proxy:invoke"], "description": "proxy benchmark"},
        )
        issued.raise_for_status()
    token: str = issued.json()["token"]
    return Target(
        key, label, port, GATEHOUSE_CHAT_PATH, service, {"Authorization": f"Bearer {token}"}
    )
