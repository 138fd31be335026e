"""What the runtime tests share: minting credentials, and reading SSE and NDJSON exactly as
the wire carries them (not through the client library, whose job is to hide the wire)."""

import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.orm import Session, sessionmaker

from controlplane.db import transaction
from runtime.contract import EventBase, parse_event
from runtime.credential import RuntimeClaims, mint, new_jwt_id
from runtime.guard import violations
from runtime.store.models import AgentMemory, RuntimeRun

T = TypeVar("T")
DEADLINE_SECONDS = 30.0  # only a failing test waits this long


@dataclass
class Minter:
    key: Ed25519PrivateKey
    accessor: str = field(default_factory=lambda: f"acc_{uuid.uuid4().hex[:12]}")

    def mint(
        self, workspace_id: str, agent_id: str | None = None, *, expires_in: float = 600
    ) -> str:
        claims = RuntimeClaims(
            workspace_id=workspace_id,
            agent_id=agent_id,
            token_id="tok_test",
            token_accessor=self.accessor,
            user_id="usr_test",
            scopes=frozenset({"runtime:run"}),
            expires_at=time.time() + expires_in,
            jwt_id=new_jwt_id(),
        )
        return mint(self.key, claims)


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def user(content: str) -> dict[str, Any]:
    return {"role": "user", "content": content}


@dataclass
class Frame:
    id: str | None
    event: str | None
    data: str


def sse_frames(lines: Iterator[str]) -> Iterator[Frame | None]:
    """Frames as they arrive; None for a comment (keep-alive)."""
    fields: dict[str, str] = {}
    for line in lines:
        if line == "":
            if fields:
                yield Frame(fields.get("id"), fields.get("event"), fields["data"])
            fields = {}
        elif line.startswith(":"):
            yield None
        else:
            name, _, value = line.partition(": ")
            fields[name] = value


def sse_events(lines: Iterator[str]) -> Iterator[EventBase]:
    """Events, checking that every frame's `id` and `event` repeat its `seq` and `type`."""
    for frame in sse_frames(lines):
        if frame is None:
            continue
        event = parse_event(frame.data)
        assert frame.id == str(event.seq)
        assert frame.event == json.loads(frame.data)["type"]
        yield event


def stream_run(
    client: httpx.Client, token: str, body: dict[str, Any], accept: str = "text/event-stream"
) -> tuple[httpx.Response, list[EventBase]]:
    headers = {**bearer(token), "accept": accept}
    with client.stream("POST", "/v1/runs", json=body, headers=headers) as response:
        if response.status_code != 200:
            response.read()
            return response, []
        lines = response.iter_lines()
        events: list[EventBase] = []
        if accept == "application/x-ndjson":
            events.extend(parse_event(line) for line in lines if line.strip())
        else:
            events.extend(sse_events(lines))
    assert violations(events) == []
    return response, events


def types(events: list[EventBase]) -> list[str]:
    return [json.loads(event.model_dump_json())["type"] for event in events]


def wait_for(probe: Callable[[], T | None], what: str) -> T:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def stored_run(session_factory: sessionmaker[Session], run_id: str) -> RuntimeRun | None:
    with transaction(session_factory, read_only=True) as session:
        return session.get(RuntimeRun, run_id)


def finished_run(session_factory: sessionmaker[Session], run_id: str) -> RuntimeRun:
    def probe() -> RuntimeRun | None:
        row = stored_run(session_factory, run_id)
        return row if row is not None and row.status == "finished" else None

    return wait_for(probe, f"run {run_id} to be recorded")


def memories_of(session_factory: sessionmaker[Session], agent_id: str) -> list[AgentMemory]:
    with transaction(session_factory, read_only=True) as session:
        return list(session.query(AgentMemory).filter(AgentMemory.agent_id == agent_id))


class OpenRun:
    """A run's stream, read step by step, so a test can act while it stays open."""

    def __init__(self, client: httpx.Client, token: str, body: dict[str, Any]) -> None:
        self.events: list[EventBase] = []
        headers = {**bearer(token), "accept": "text/event-stream"}
        self._stream = client.stream("POST", "/v1/runs", json=body, headers=headers)
        self.response = self._stream.__enter__()
        assert self.response.status_code == 200
        self._incoming = sse_events(self.response.iter_lines())

    @property
    def run_id(self) -> str:
        return self.events[0].run_id

    def read_until(self, count: int, event_type: str) -> None:
        """Reads (blocking, bounded by the client's timeout) until `count` events of a type."""
        while types(self.events).count(event_type) < count:
            event = next(self._incoming, None)
            assert event is not None, f"the stream ended before {count} x {event_type}"
            self.events.append(event)

    def finish(self) -> list[EventBase]:
        self.events.extend(self._incoming)
        self.close()
        assert violations(self.events) == []
        return self.events

    def close(self) -> None:
        self._stream.__exit__(None, None, None)


def post_results(
    client: httpx.Client, token: str, run_id: str, results: dict[str, str]
) -> httpx.Response:
    body = {"results": [{"tool_call_id": k, "content": v} for k, v in results.items()]}
    return client.post(f"/v1/runs/{run_id}/tool-results", json=body, headers=bearer(token))
