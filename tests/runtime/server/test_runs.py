"""Runs on the local provider, over SSE, NDJSON and as one JSON result."""

import httpx
import pytest

from runtime.contract import (
    Error,
    MemoryWriteEvent,
    ReasoningDelta,
    RunFinish,
    RunStart,
    StreamChunk,
)
from runtime.local import GREETING
from tests.runtime.server.conftest import Runtime
from tests.runtime.server.wire import bearer, finished_run, stream_run, types, user

pytestmark = pytest.mark.usefixtures("engine_kind")


def test_plain_text_streams_as_sse_word_by_word(
    runtime: Runtime, client: httpx.Client, token: str
) -> None:
    body = {"agent_id": "helper", "messages": [user("hi there")]}
    response, events = stream_run(client, token, body)

    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-accel-buffering"] == "no"
    words = ["Hello ", "from ", "the ", "local ", "provider. ", "You ", "said: ", "hi ", "there"]
    assert types(events) == [
        "run.start",
        "text.start",
        *["text.delta"] * len(words),
        "text.end",
        "usage",
        "run.finish",
    ]
    start, finish = events[0], events[-1]
    assert isinstance(start, RunStart)
    assert (start.workspace_id, start.agent_id) == (
        runtime.tenants.workspace_id,
        runtime.tenants.helper_id,
    )
    assert (start.provider, start.model) == ("local", "local-scripted")
    assert [e.text for e in events if isinstance(e, StreamChunk)] == words
    assert "".join(words) == GREETING + "hi there"
    assert isinstance(finish, RunFinish)
    assert finish.finish_reason == "stop"
    assert finish.usage is not None
    assert (finish.usage.input_tokens, finish.usage.output_tokens) == (2, len(words))
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert {e.run_id for e in events} == {start.run_id}
    assert response.headers["x-gatehouse-run-id"] == start.run_id


def test_ndjson_when_the_client_asks_for_it(client: httpx.Client, token: str) -> None:
    body = {"agent_id": "helper", "messages": [user("hello")]}
    response, events = stream_run(client, token, body, accept="application/x-ndjson")

    assert response.headers["content-type"].startswith("application/x-ndjson")
    assert types(events)[0] == "run.start"
    assert types(events)[-1] == "run.finish"
    assert "".join(e.text for e in events if isinstance(e, StreamChunk)) == GREETING + "hello"


def test_stream_false_returns_the_assembled_result(
    runtime: Runtime, client: httpx.Client, token: str
) -> None:
    body = {"agent_id": "helper", "messages": [user("/reason all at once")], "stream": False}
    response = client.post("/v1/runs", json=body, headers=bearer(token))

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    result = response.json()
    assert result["text"] == GREETING + "all at once"
    assert result["reasoning"]
    assert result["finish_reason"] == "stop"
    assert result["error"] is None
    assert result["usage"]["output_tokens"] > 0
    row = finished_run(runtime.session_factory, result["run_id"])
    assert row.finish_reason == "stop"


def test_reasoning_comes_before_the_text(client: httpx.Client, token: str) -> None:
    _, events = stream_run(client, token, {"agent_id": "helper", "messages": [user("/reason x")]})

    sequence = types(events)
    assert sequence.index("reasoning.end") < sequence.index("text.start")
    assert any(isinstance(e, ReasoningDelta) and e.text for e in events)


def test_a_mid_stream_error_ends_with_error_then_finish(
    runtime: Runtime, client: httpx.Client, token: str
) -> None:
    _, events = stream_run(client, token, {"agent_id": "helper", "messages": [user("/error")]})

    sequence = types(events)
    assert sequence[:2] == ["run.start", "text.start"]
    assert sequence[-3:] == ["text.end", "error", "run.finish"]
    error, finish = events[-2], events[-1]
    assert isinstance(error, Error)
    assert (error.code, error.provider_code) == ("provider_error", "local_error")
    assert error.retryable
    assert error.after_first_token
    assert isinstance(finish, RunFinish)
    assert finish.finish_reason == "error"
    row = finished_run(runtime.session_factory, events[0].run_id)
    assert (row.finish_reason, row.error_code) == ("error", "provider_error")


def test_long_answers_stream_the_words_asked_for(client: httpx.Client, token: str) -> None:
    _, events = stream_run(client, token, {"agent_id": "helper", "messages": [user("/long 300")]})

    deltas = [e for e in events if isinstance(e, StreamChunk)]
    assert len(deltas) == 300
    assert deltas[-1].text == "word300"


def test_memory_writes_are_stored_and_listed(
    runtime: Runtime, client: httpx.Client, token: str
) -> None:
    tenants = runtime.tenants
    for fact in ("the cat is called Tom", "tea, no sugar"):
        _, events = stream_run(
            client, token, {"agent_id": "helper", "messages": [user(f"/remember {fact}")]}
        )
        memory = next(e for e in events if isinstance(e, MemoryWriteEvent))
        assert memory.memory_id
        assert (memory.workspace_id, memory.agent_id) == (tenants.workspace_id, tenants.helper_id)
        assert (memory.kind, memory.scope, memory.content) == ("fact", "agent", fact)
        text = "".join(e.text for e in events if isinstance(e, StreamChunk))
        assert text == "I will remember that."

    listed = client.get(f"/v1/agents/{tenants.helper_id}/memories", headers=bearer(token))
    assert listed.status_code == 200
    items = listed.json()["items"]
    assert [item["content"] for item in items[:2]] == ["tea, no sugar", "the cat is called Tom"]
    assert set(items[0]) == {
        "id",
        "workspace_id",
        "agent_id",
        "run_id",
        "kind",
        "scope",
        "content",
        "created_at",
    }
    assert items[0]["run_id"] is not None
    by_name = client.get("/v1/agents/helper/memories?limit=1", headers=bearer(token))
    assert [item["id"] for item in by_name.json()["items"]] == [items[0]["id"]]
    # Another workspace cannot see them, or even that the agent exists.
    stranger = runtime.minter.mint(tenants.stranger_workspace_id)
    hidden = client.get(f"/v1/agents/{tenants.helper_id}/memories", headers=bearer(stranger))
    assert hidden.status_code == 404
    assert hidden.json()["error"] == "not_found"


def test_the_run_row_holds_the_measurements(
    runtime: Runtime, client: httpx.Client, token: str
) -> None:
    _, events = stream_run(client, token, {"agent_id": "helper", "messages": [user("measure")]})

    row = finished_run(runtime.session_factory, events[0].run_id)
    assert row.status == "finished"
    assert row.finish_reason == "stop"
    assert row.error_code is None
    assert row.provider == "local"
    assert row.token_accessor == runtime.minter.accessor
    assert row.events == len(events)
    assert row.ttft_ms is not None
    assert row.upstream_ttft_ms is not None
    assert row.overhead_ms is not None
    assert row.e2e_ms is not None
    assert row.e2e_ms >= row.ttft_ms >= row.overhead_ms >= 0
    assert (row.input_tokens, row.output_tokens) == (1, 8)
    assert row.finished_at is not None
    assert row.awaiting_tool_calls is None

    fetched = client.get(f"/v1/runs/{row.id}", headers=bearer(token))
    assert fetched.status_code == 200
    assert fetched.json()["ttft_ms"] == row.ttft_ms
    assert fetched.json()["status"] == "finished"
