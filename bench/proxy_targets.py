"""The servers under test, each a process of its own on 127.0.0.1, and what is known about them.

- direct:    the upstream stub (`bench.proxy_stub`); requests go straight to it.
- bare:      the bare pass-through (`bench.proxy_bare`) in front of the stub.
- gatehouse: `gatehouse serve` on a fresh GATEHOUSE_HOME (SQLite, or PostgreSQL in a schema of
             its own), set up over its HTTP API as an operator would: an OpenAI key for the
             workspace and a workspace token with `proxy:invoke`.
"""

import os
import resource
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.e2e.harness import GATEHOUSE, Process, environment, free_port, init_json

REPO = Path(__file__).resolve().parents[1]
CHAT_PATH = "/v1/chat/completions"
GATEHOUSE_CHAT_PATH = "/proxy/openai" + CHAT_PATH
BENCH_PROVIDER_KEY = "sk-bench-0123456789abcdef"


def rss_kib(process: Process) -> int:
    """Resident set size from /proc/<pid>/status (VmRSS, in KiB)."""
    for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {process.name}")


@dataclass
class Target:
    key: str
    label: str
    port: int
    path: str
    service: Process
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
    service = Process("stub", argv, _python_env(), logs, f"{base}/ready", REPO).start()
    return Target("direct", "direct (stub)", port, CHAT_PATH, service), base


def start_bare(logs: Path, upstream: str) -> Target:
    port = free_port()
    argv = [sys.executable, "-m", "bench.proxy_bare", "--port", str(port), "--upstream", upstream]
    ready = f"http://127.0.0.1:{port}/ready"
    service = Process("bare", argv, _python_env(), logs, ready, REPO).start()
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
    argv = [GATEHOUSE, "serve", "--port", str(port)]
    service = Process(key, argv, env, logs, f"{base}/readyz", REPO).start()
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
