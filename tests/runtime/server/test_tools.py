"""Tool calls: parallel calls, results posted while the run's stream stays open, the next turn
on the same stream; results through another worker; refusals."""

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from runtime.app import create_app
from runtime.contract import RunFinish, StreamChunk, ToolCallEnd, ToolCallStart
from tests.live import ServerThread
from tests.runtime.server.conftest import Runtime, runtime_settings
from tests.runtime.server.wire import (
    OpenRun,
    bearer,
    finished_run,
    post_results,
    stored_run,
    types,
    user,
    wait_for,
)

pytestmark = pytest.mark.usefixtures("engine_kind")

SEARCH = {
    "name": "search",
    "description": "Search the web",
    "parameters": {"type": "object", "properties": {"query": {"type": "string"}}},
}
CLOCK = {"name": "clock", "parameters": {"type": "object", "properties": {}}}


def tool_run(prompt: str = "/tools find cats") -> dict[str, Any]:
    return {"agent_id": "helper", "messages": [user(prompt)], "tools": [SEARCH, CLOCK]}


def test_parallel_tool_calls_and_their_results_on_one_stream(
    runtime: Runtime, client: httpx.Client, token: str, open_runs: list[OpenRun]
) -> None:
    run = OpenRun(client, token, tool_run())
    open_runs.append(run)
    run.read_until(2, "tool_call.end")
    run_id = run.run_id
    ends = [e for e in run.events if isinstance(e, ToolCallEnd)]
    search, clock = sorted(ends, key=lambda e: e.name != "search")
    assert search.arguments == {"query": "find cats"}
    assert (clock.arguments, clock.arguments_raw) == ({}, "")
    starts = [e for e in run.events if isinstance(e, ToolCallStart)]
    assert [(s.name, s.index) for s in starts] == [("search", 0), ("clock", 1)]

    accepted = post_results(
        client, token, run_id, {search.tool_call_id: "3 cats", clock.tool_call_id: "noon"}
    )
    assert accepted.status_code == 202
    assert accepted.json() == {
        "run_id": run_id,
        "accepted": [search.tool_call_id, clock.tool_call_id],
    }
    events = run.finish()

    deltas = types(events).count("tool_call.delta")
    assert deltas > 1  # the arguments arrive in fragments
    text_words = len(
        ["Tool", "search", "returned", "3", "cats.", "Tool", "clock", "returned", "noon."]
    )
    assert types(events) == [
        "run.start",
        "tool_call.start",
        "tool_call.start",
        *["tool_call.delta"] * deltas,
        "tool_call.end",
        "tool_call.end",
        "usage",
        "text.start",
        *["text.delta"] * text_words,
        "text.end",
        "usage",
        "run.finish",
    ]
    text = "".join(e.text for e in events if isinstance(e, StreamChunk))
    assert text == "Tool search returned 3 cats. Tool clock returned noon."
    finish = events[-1]
    assert isinstance(finish, RunFinish)
    assert finish.finish_reason == "stop"
    assert finish.usage is not None
    # Summed over both turns: the prompt's 3 words and the results' 3 in; the argument
    # fragments and the answer's words out.
    assert finish.usage.input_tokens == 3 + 3
    assert finish.usage.output_tokens == deltas + text_words
    row = finished_run(runtime.session_factory, run_id)
    assert (row.finish_reason, row.input_tokens) == ("stop", 6)
    assert row.awaiting_tool_calls is None


def test_the_row_says_which_calls_a_waiting_run_awaits(
    runtime: Runtime, client: httpx.Client, token: str, open_runs: list[OpenRun]
) -> None:
    run = OpenRun(client, token, tool_run())
    open_runs.append(run)
    run.read_until(2, "tool_call.end")
    run_id = run.run_id
    ids = [e.tool_call_id for e in run.events if isinstance(e, ToolCallEnd)]

    row = wait_for(lambda: stored_run(runtime.session_factory, run_id), "the awaiting row")
    assert row.status == "awaiting_tools"
    assert sorted(row.awaiting_tool_calls or []) == sorted(ids)
    fetched = client.get(f"/v1/runs/{run_id}", headers=bearer(token)).json()
    assert fetched["status"] == "awaiting_tools"

    unknown = post_results(client, token, run_id, {"call_nope": "x"})
    assert unknown.status_code == 400
    assert unknown.json()["error"] == "unknown_tool_call"
    # One at a time: the run goes on once every call has its answer.
    assert post_results(client, token, run_id, {ids[0]: "first"}).status_code == 202
    again = post_results(client, token, run_id, {ids[0]: "twice"})
    assert again.status_code == 400
    assert post_results(client, token, run_id, {ids[1]: "second"}).status_code == 202
    events = run.finish()
    assert isinstance(events[-1], RunFinish)
    assert events[-1].finish_reason == "stop"
    assert "returned first." in "".join(e.text for e in events if isinstance(e, StreamChunk))


def test_stream_false_ends_at_the_tool_calls(client: httpx.Client, token: str) -> None:
    body = {**tool_run(), "stream": False}
    result = client.post("/v1/runs", json=body, headers=bearer(token)).json()

    assert result["finish_reason"] == "tool_calls"
    calls = {call["name"]: call for call in result["tool_calls"]}
    assert calls["search"]["arguments"] == {"query": "find cats"}
    assert calls["clock"]["arguments"] == {}


def test_without_declared_tools_the_directive_is_just_text(
    client: httpx.Client, token: str
) -> None:
    body = {"agent_id": "helper", "messages": [user("/tools please")], "stream": False}
    result = client.post("/v1/runs", json=body, headers=bearer(token)).json()

    assert result["finish_reason"] == "stop"
    assert result["tool_calls"] == []


def test_results_for_a_run_that_is_not_waiting_are_refused(
    runtime: Runtime, client: httpx.Client, token: str
) -> None:
    result = client.post(
        "/v1/runs",
        json={"agent_id": "helper", "messages": [user("done")], "stream": False},
        headers=bearer(token),
    ).json()
    finished_run(runtime.session_factory, result["run_id"])

    refused = post_results(client, token, result["run_id"], {"call_1_0": "late"})
    assert refused.status_code == 409
    assert refused.json()["error"] == "run_not_waiting"
    assert set(refused.json()) >= {"error", "detail", "request_id"}


def test_results_for_a_run_still_generating_are_refused(
    client: httpx.Client, token: str, open_runs: list[OpenRun]
) -> None:
    run = OpenRun(client, token, {"agent_id": "helper", "messages": [user("/hang")]})
    open_runs.append(run)
    run.read_until(1, "text.delta")

    refused = post_results(client, token, run.run_id, {"call_1_0": "early"})
    assert refused.status_code == 409
    assert refused.json()["error"] == "run_not_waiting"


def test_results_for_another_workspaces_run_are_not_found(
    runtime: Runtime, client: httpx.Client, token: str, open_runs: list[OpenRun]
) -> None:
    run = OpenRun(client, token, tool_run())
    open_runs.append(run)
    run.read_until(2, "tool_call.end")
    run_id = run.run_id
    wait_for(lambda: stored_run(runtime.session_factory, run_id), "the awaiting row")

    stranger = runtime.minter.mint(runtime.tenants.stranger_workspace_id)
    hidden = post_results(client, stranger, run_id, {"call_1_0": "x"})
    assert hidden.status_code == 404
    assert client.get(f"/v1/runs/{run_id}", headers=bearer(stranger)).status_code == 404


@pytest.fixture
def second_worker(runtime: Runtime, signing_key: tuple[Ed25519PrivateKey, Any]) -> Iterator[str]:
    """Another app on the same database, as a second uvicorn worker process would be."""
    _, home = signing_key
    app = create_app(runtime_settings(home, str(runtime.settings.database_url)))
    with ServerThread(app) as server:
        yield server.url


def test_results_posted_to_another_worker_reach_the_run(
    runtime: Runtime,
    client: httpx.Client,
    token: str,
    second_worker: str,
    open_runs: list[OpenRun],
) -> None:
    run = OpenRun(client, token, tool_run())
    open_runs.append(run)
    run.read_until(2, "tool_call.end")
    run_id = run.run_id
    ids = [e.tool_call_id for e in run.events if isinstance(e, ToolCallEnd)]

    with httpx.Client(base_url=second_worker, timeout=30) as elsewhere:
        # Posted at once: the other worker waits a moment for the owner's awaiting row.
        accepted = post_results(elsewhere, token, run_id, {ids[0]: "far", ids[1]: "away"})
    assert accepted.status_code == 202
    events = run.finish()
    text = "".join(e.text for e in events if isinstance(e, StreamChunk))
    assert text == "Tool search returned far. Tool clock returned away."
