"""Runs on a real provider adapter, through a stand-in for the Gatehouse proxy.

The stand-in is the fake provider the proxy tests use: it answers `/proxy/openai/v1/chat/
completions` as OpenAI would and records what it was sent. The proxy itself, with its keys and
policies, is covered end to end elsewhere; this checks the runtime's side of the call.
"""

import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from controlplane.agent_runtime.models import AgentRuntimeConfig
from controlplane.db import transaction
from runtime.app import create_app
from runtime.contract import Error, RunFinish, StreamChunk, ToolCallEnd
from tests.fakes.providers import FakeProvider
from tests.live import ServerThread
from tests.runtime.server.conftest import Runtime, runtime_settings
from tests.runtime.server.wire import (
    bearer,
    finished_run,
    sse_events,
    stream_run,
    types,
    user,
    wait_for,
)

pytestmark = pytest.mark.usefixtures("engine_kind")


@pytest.fixture(scope="module")
def fake_proxy() -> Iterator[tuple[FakeProvider, str]]:
    fake = FakeProvider()
    with ServerThread(fake) as server:
        yield fake, server.url


@pytest.fixture(scope="module")
def runtime_overrides(fake_proxy: tuple[FakeProvider, str]) -> dict[str, object]:
    return {"runtime_proxy_url": fake_proxy[1]}


def configure(runtime: Runtime, model: str, provider: str = "openai") -> None:
    tenants = runtime.tenants
    with transaction(runtime.session_factory) as session:
        row = session.get(AgentRuntimeConfig, tenants.helper_id)
        if row is None:
            row = AgentRuntimeConfig(agent_id=tenants.helper_id, workspace_id=tenants.workspace_id)
            session.add(row)
        row.provider, row.model, row.parameters = provider, model, {}
        row.instructions = "Be brief."


def test_a_model_call_goes_through_the_proxy_with_the_runs_credential(
    runtime: Runtime,
    client: httpx.Client,
    token: str,
    fake_proxy: tuple[FakeProvider, str],
) -> None:
    configure(runtime, "gpt-fake")
    fake, _ = fake_proxy
    seen = len(fake.requests)

    _, events = stream_run(client, token, {"agent_id": "helper", "messages": [user("hi")]})

    request = fake.requests[seen]
    assert request.path == "/proxy/openai/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {token}"
    assert request.body["model"] == "gpt-fake"
    assert request.body["stream"] is True
    assert request.body["messages"][0] == {"role": "system", "content": "Be brief."}
    assert "".join(e.text for e in events if isinstance(e, StreamChunk)) == "Hello, world!"
    finish = events[-1]
    assert isinstance(finish, RunFinish)
    assert finish.finish_reason == "stop"
    assert finish.usage is not None
    assert (finish.usage.input_tokens, finish.usage.output_tokens) == (11, 7)
    row = finished_run(runtime.session_factory, events[0].run_id)
    assert (row.provider, row.model, row.input_tokens) == ("openai", "gpt-fake", 11)
    assert row.upstream_ttft_ms is not None
    assert row.overhead_ms is not None


def test_provider_tool_calls_come_back_with_their_arguments(
    runtime: Runtime, client: httpx.Client, token: str
) -> None:
    configure(runtime, "gpt-fake")
    tools = [
        {"name": "get_weather", "parameters": {"type": "object", "properties": {}}},
        {"name": "get_time", "parameters": {"type": "object", "properties": {}}},
    ]
    body = {"agent_id": "helper", "messages": [user("weather?")], "tools": tools}
    result = client.post("/v1/runs", json={**body, "stream": False}, headers=bearer(token))

    calls = {call["name"]: call["arguments"] for call in result.json()["tool_calls"]}
    assert calls == {"get_weather": {"city": "Paris"}, "get_time": {"tz": "CET"}}
    assert result.json()["finish_reason"] == "tool_calls"


def test_a_stream_that_breaks_ends_with_an_error(
    runtime: Runtime, client: httpx.Client, token: str
) -> None:
    configure(runtime, "die")
    _, events = stream_run(client, token, {"agent_id": "helper", "messages": [user("hi")]})

    assert types(events)[-2:] == ["error", "run.finish"]
    error = events[-2]
    assert isinstance(error, Error)
    assert error.code in ("upstream_unreachable", "truncated")


def test_cancelling_a_run_closes_its_model_call(
    runtime: Runtime,
    client: httpx.Client,
    token: str,
    fake_proxy: tuple[FakeProvider, str],
) -> None:
    configure(runtime, "endless")
    fake, _ = fake_proxy
    fake.client_went_away = False
    body = {"agent_id": "helper", "messages": [user("go on")]}
    with client.stream("POST", "/v1/runs", json=body, headers=bearer(token)) as response:
        for event in sse_events(response.iter_lines()):
            if isinstance(event, StreamChunk):
                break

    wait_for(lambda: fake.client_went_away, "the model call to be closed")
    row = finished_run(runtime.session_factory, event.run_id)
    assert row.finish_reason == "cancelled"


def test_an_unknown_provider_is_reported_in_the_stream(
    runtime: Runtime, client: httpx.Client, token: str
) -> None:
    configure(runtime, "x", provider="nonesuch")
    _, events = stream_run(client, token, {"agent_id": "helper", "messages": [user("hi")]})

    assert types(events) == ["run.start", "error", "run.finish"]
    error = events[1]
    assert isinstance(error, Error)
    assert error.code == "invalid_request"


def test_an_unreachable_proxy_is_reported_in_the_stream(
    runtime: Runtime,
    signing_key: tuple[Ed25519PrivateKey, Path],
    token: str,
) -> None:
    configure(runtime, "gpt-fake")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    settings = runtime_settings(
        signing_key[1],
        str(runtime.settings.database_url),
        runtime_proxy_url=f"http://127.0.0.1:{closed_port}",
    )
    with (
        ServerThread(create_app(settings)) as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        _, events = stream_run(client, token, {"agent_id": "helper", "messages": [user("hi")]})

    assert types(events) == ["run.start", "error", "run.finish"]
    error = events[1]
    assert isinstance(error, Error)
    assert (error.code, error.retryable) == ("upstream_unreachable", True)
    assert not any(isinstance(e, ToolCallEnd) for e in events)
