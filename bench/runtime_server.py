"""`gatehouse serve` with its supervised runtime, for the runtime benchmark.

A fresh GATEHOUSE_HOME (SQLite), `gatehouse init --json` for the admin token and the demo agent,
the runtime on a port of its own, the local provider unpaced; then a workspace token with
`runtime:invoke`, issued over the API as an operator would.
"""

import sqlite3
import time
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.e2e.harness import Server, environment, init_json, runtime_environment

RUNS_PATH = "/proxy/runtime/v1/runs"
DEMO_AGENT = "demo"


@dataclass
class Deployment:
    server: Server
    token: str  # workspace token with runtime:invoke
    database: Path  # the SQLite file of the fresh home

    @property
    def runs_url(self) -> str:
        return f"{self.server.url}{RUNS_PATH}"

    def runtime_ttft_ms(self, run_ids: Sequence[str | None]) -> list[float]:
        """The runtime's own TTFT of these runs (request received to first content sent), as
        it stores it once a run's stream is over: the part of the client's TTFT spent inside."""
        wanted = [run_id for run_id in run_ids if run_id]
        if not wanted:
            return []
        marks = ",".join("?" * len(wanted))
        query = f"SELECT ttft_ms FROM runtime_runs WHERE ttft_ms IS NOT NULL AND id IN ({marks})"  # noqa: S608 - placeholders only
        with closing(sqlite3.connect(f"file:{self.database}?mode=ro", uri=True)) as db:
            return [float(row[0]) for row in db.execute(query, wanted)]


def _wait_until_up(server: Server, admin_token: str, timeout: float = 60) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    status: dict[str, object] = {}
    with server.client(admin_token) as api:
        while time.monotonic() < deadline:
            response = api.get("/v1/runtime/status")
            response.raise_for_status()
            status = response.json()
            if status.get("state") == "up":
                return status
            time.sleep(0.1)
    raise RuntimeError(f"the runtime did not come up: {status}")


def start(home: Path, logs: Path) -> tuple[Deployment, dict[str, object]]:
    """The running deployment and the runtime's status once it is up; stop() the server."""
    env = runtime_environment(
        environment(home, None),
        GATEHOUSE_RUNTIME_LOCAL_PACING_MS="0",
        # uvicorn's access log is emitted at INFO: WARNING turns it off, as in bench.proxy.
        GATEHOUSE_LOG_LEVEL="WARNING",
    )
    created = init_json(env)
    server = Server(env, logs).start()
    try:
        status = _wait_until_up(server, created["admin_token"])
        with server.client(created["admin_token"]) as api:
            issued = api.post(
                f"/v1/workspaces/{created['workspace_id']}/tokens",
                json={"scopes": ["runtime:invoke"], "description": "runtime benchmark"},
            )
            issued.raise_for_status()
    except (httpx.HTTPError, RuntimeError):
        server.stop()
        raise
    return Deployment(server, str(issued.json()["token"]), home / "gatehouse.db"), status
