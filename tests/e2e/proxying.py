"""Shared pieces for the proxy's end-to-end tests: a set-up workspace, proxied calls, the log.

The upstream is the in-process FakeProvider on loopback; Gatehouse runs as real `gatehouse
serve` processes (tests/e2e/harness.py) pointed at it through GATEHOUSE_UPSTREAM_*_URL.
"""

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from tests.e2e.harness import Server

OPENAI_KEY = "sk-fake-openai-key-e2e-0001"  # pragma: allowlist secret
CHAT_PATH = "/proxy/openai/v1/chat/completions"


def upstream_environment(upstream_url: str) -> dict[str, str]:
    """Point every upstream at the fake provider."""
    return {
        "GATEHOUSE_UPSTREAM_OPENAI_URL": upstream_url,
        "GATEHOUSE_UPSTREAM_ANTHROPIC_URL": upstream_url,
        "GATEHOUSE_UPSTREAM_OPENROUTER_URL": upstream_url,
    }


@contextmanager
def serving(*servers: Server) -> Iterator[None]:
    """Start the servers at once, as replicas do, and stop every one of them on the way out."""
    try:
        with ThreadPoolExecutor(max_workers=len(servers)) as pool:
            list(pool.map(Server.start, servers))
        yield
    finally:
        for server in servers:
            server.stop()


def issue_token(
    server: Server, admin_token: str, workspace_id: str, *scopes: str
) -> tuple[str, str]:
    """A workspace token with `scopes`, issued through the API: (token, accessor)."""
    with server.client(admin_token) as api:
        issued = api.post(f"/v1/workspaces/{workspace_id}/tokens", json={"scopes": list(scopes)})
    assert issued.status_code == 201, issued.text
    return issued.json()["token"], issued.json()["accessor"]


def configure_openai(server: Server, admin_token: str, workspace_id: str) -> None:
    with server.client(admin_token) as api:
        stored = api.put(
            f"/v1/workspaces/{workspace_id}/providers/openai", json={"api_key": OPENAI_KEY}
        )
    assert stored.status_code in (200, 201), stored.text


@dataclass(frozen=True)
class Completed:
    """A proxied request whose whole response reached the client."""

    request_id: str
    status: int
    streamed: bool


def chat(client: httpx.Client, token: str, request_id: str, *, stream: bool) -> Completed:
    """One chat completion through the proxy, read to its last byte, checked for completeness.

    Raises httpx.TransportError when the server goes away before the response is complete.
    """
    body: dict[str, Any] = {
        "model": "gpt-fake",
        "stream": stream,
        "messages": [{"role": "user", "content": f"hello from {request_id}"}],
    }
    headers = {"Authorization": f"Bearer {token}", "X-Request-Id": request_id}
    with client.stream("POST", CHAT_PATH, json=body, headers=headers) as response:
        content = response.read()
    assert response.headers["x-request-id"] == request_id, "the proxy keeps the client's id"
    if response.status_code == 200:
        if stream:
            assert content.endswith(b"data: [DONE]\n\n"), content[-200:]
        else:
            assert json.loads(content)["choices"][0]["message"]["content"] == "Hello, world!"
    return Completed(request_id, response.status_code, stream)


def access_log(server: Server, token: str, workspace_id: str) -> list[dict[str, Any]]:
    """Every record of the workspace, following the cursor to the end."""
    records: list[dict[str, Any]] = []
    cursor: str | None = None
    with server.client(token) as api:
        while True:
            params: dict[str, str | int] = {"workspace_id": workspace_id, "limit": 500}
            if cursor is not None:
                params["cursor"] = cursor
            page = api.get("/v1/access-log", params=params)
            assert page.status_code == 200, page.text
            records += page.json()["items"]
            cursor = page.json()["next_cursor"]
            if cursor is None:
                return records


def wait_for_records(
    server: Server, token: str, workspace_id: str, request_ids: set[str], timeout: float = 60
) -> list[dict[str, Any]]:
    """The whole log, once every id in `request_ids` has reached the database (or the deadline
    passed: the caller's assertions then say which are missing)."""
    deadline = time.monotonic() + timeout
    while True:
        records = access_log(server, token, workspace_id)
        if request_ids <= {record["request_id"] for record in records}:
            return records
        if time.monotonic() > deadline:
            return records
        time.sleep(0.2)
