"""A run that waits: keep-alives while it does, its timeout, its turn limit, and a failure
inside the runtime, which still ends the stream by the contract."""

from typing import Any

import httpx
import pytest

from runtime import engine, waiting
from runtime.contract import Error, RunFinish, ToolCallEnd
from runtime.guard import violations
from tests.runtime.server.conftest import Runtime
from tests.runtime.server.wire import (
    OpenRun,
    bearer,
    finished_run,
    post_results,
    sse_frames,
    stream_run,
    types,
    user,
)

pytestmark = pytest.mark.usefixtures("engine_kind")

TOOL = {"name": "lookup", "parameters": {"type": "object", "properties": {"query": {}}}}


def tool_run() -> dict[str, Any]:
    return {"agent_id": "helper", "messages": [user("/tools what")], "tools": [TOOL]}


def test_a_waiting_run_sends_keep_alives(
    monkeypatch: pytest.MonkeyPatch, client: httpx.Client, token: str
) -> None:
    monkeypatch.setattr(waiting, "KEEP_ALIVE_SECONDS", 0.05)
    headers = {**bearer(token), "accept": "text/event-stream"}
    with client.stream("POST", "/v1/runs", json=tool_run(), headers=headers) as response:
        frames = sse_frames(response.iter_lines())
        for frame in frames:
            assert frame is not None, "a keep-alive before the run waits"
            if frame.event == "usage":  # the tool-call turn's last event
                break
        # Nothing else can come until results do: the next frame is a keep-alive comment.
        assert next(frames) is None


def test_ndjson_keep_alives_are_blank_lines(
    monkeypatch: pytest.MonkeyPatch, client: httpx.Client, token: str
) -> None:
    monkeypatch.setattr(waiting, "KEEP_ALIVE_SECONDS", 0.05)
    headers = {**bearer(token), "accept": "application/x-ndjson"}
    with client.stream("POST", "/v1/runs", json=tool_run(), headers=headers) as response:
        lines = response.iter_lines()
        for line in lines:
            if '"type":"usage"' in line:
                break
        assert next(lines) == ""


def test_unanswered_tool_calls_time_out(
    monkeypatch: pytest.MonkeyPatch, runtime: Runtime, client: httpx.Client, token: str
) -> None:
    settings = runtime.app.state.runtime.settings
    monkeypatch.setattr(settings, "runtime_tool_result_timeout_seconds", 0.2)
    _, events = stream_run(client, token, tool_run())

    assert types(events)[-3:] == ["usage", "error", "run.finish"]
    error, finish = events[-2], events[-1]
    assert isinstance(error, Error)
    assert error.code == "tool_results_timeout"
    assert isinstance(finish, RunFinish)
    assert finish.finish_reason == "error"
    assert finish.usage is not None
    row = finished_run(runtime.session_factory, events[0].run_id)
    assert (row.error_code, row.awaiting_tool_calls) == ("tool_results_timeout", None)


def test_a_run_stops_at_its_turn_limit(
    monkeypatch: pytest.MonkeyPatch, client: httpx.Client, token: str
) -> None:
    monkeypatch.setattr(engine, "MAX_TURNS", 1)
    _, events = stream_run(client, token, tool_run())

    error = events[-2]
    assert isinstance(error, Error)
    assert error.code == "runtime_error"
    assert "limit" in error.message


def test_a_failure_inside_the_runtime_still_ends_the_stream_well(
    monkeypatch: pytest.MonkeyPatch, runtime: Runtime, client: httpx.Client, token: str
) -> None:
    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("the database is on fire: secret prompt text")

    monkeypatch.setattr(engine, "record_memory", broken)
    _, events = stream_run(client, token, {"agent_id": "helper", "messages": [user("/remember x")]})

    assert violations(events) == []
    assert types(events)[-2:] == ["error", "run.finish"]
    error = events[-2]
    assert isinstance(error, Error)
    assert error.code == "runtime_error"
    assert "secret prompt text" not in error.message
    row = finished_run(runtime.session_factory, events[0].run_id)
    assert (row.finish_reason, row.error_code) == ("error", "runtime_error")


def test_results_arriving_before_the_turn_ends_are_kept(
    runtime: Runtime, client: httpx.Client, token: str, open_runs: list[OpenRun]
) -> None:
    run = OpenRun(client, token, tool_run())
    open_runs.append(run)
    run.read_until(1, "tool_call.end")
    call = next(e for e in run.events if isinstance(e, ToolCallEnd))

    # Posted the moment the call is announced, whether or not the run has reached its wait.
    assert post_results(client, token, run.run_id, {call.tool_call_id: "early"}).status_code == 202
    events = run.finish()
    assert types(events)[-1] == "run.finish"
    assert isinstance(events[-1], RunFinish)
    assert events[-1].finish_reason == "stop"
