"""OpenAI Responses: the typed event lifecycle, authoritative arguments, failures, request."""

import json

import pytest

from runtime.adapters import adapter_for
from runtime.contract import Error, RunFinish
from runtime.conversation import Message, ModelCall, ToolCall, ToolSpec
from tests.fakes.recorded import recording, scenarios
from tests.runtime.adapters import check_recording, kinds, outline

PROVIDER = "openai-responses"


@pytest.mark.parametrize("scenario", scenarios(PROVIDER))
def test_recorded_stream(scenario: str) -> None:
    check_recording(PROVIDER, scenario)


def test_lifecycle_of_a_plain_answer() -> None:
    totals = {"input_tokens": 30, "output_tokens": 12, "cached_tokens": 10, "reasoning_tokens": 0}
    assert outline(check_recording(PROVIDER, "plain_text")) == [
        ("text.start", "blk_0_0"),
        ("text.delta", "blk_0_0", "Hello"),
        ("text.delta", "blk_0_0", " from Zürich 🌍"),
        ("text.delta", "blk_0_0", "! 日本語 — ça va?"),
        ("text.end", "blk_0_0"),
        ("usage", 30, 12, 10, 0, False),
        ("run.finish", "stop", "completed", totals),
    ]


def test_parallel_calls_keyed_by_item_id() -> None:
    events = outline(check_recording(PROVIDER, "parallel_tool_calls"))
    assert events[:6] == [
        ("tool_call.start", "blk_0_0", "call_w", "get_weather", 0),
        ("tool_call.start", "blk_0_1", "call_t", "get_time", 1),
        ("tool_call.delta", "blk_0_0", '{"ci'),
        ("tool_call.delta", "blk_0_1", '{"tz":'),
        ("tool_call.delta", "blk_0_1", ' "Europe/Paris"}'),
        ("tool_call.delta", "blk_0_0", 'ty": "Paris"}'),
    ]


def test_output_item_done_is_authoritative() -> None:
    events = outline(check_recording(PROVIDER, "authoritative_done"))
    deltas = [event[2] for event in events if event[0] == "tool_call.delta"]
    # The missing end of the arguments is sent as one more delta before the end.
    assert deltas == ['{"query": "gate', 'house"}']


def test_response_failed() -> None:
    events = check_recording(PROVIDER, "response_failed")
    error, finish = events[-2:]
    assert isinstance(error, Error)
    assert (error.code, error.provider_code) == ("provider_error", "server_error")
    assert isinstance(finish, RunFinish)
    assert finish.finish_reason == "error"


def test_error_event() -> None:
    error = next(e for e in check_recording(PROVIDER, "error_event") if isinstance(e, Error))
    assert (error.code, error.provider_code, error.retryable) == (
        "rate_limited",
        "rate_limit_exceeded",
        True,
    )


def test_incomplete_is_a_length_finish() -> None:
    finish = check_recording(PROVIDER, "incomplete")[-1]
    assert isinstance(finish, RunFinish)
    assert (finish.finish_reason, finish.native_finish_reason) == ("length", "max_output_tokens")


def test_truncated_lifecycle() -> None:
    decoder = adapter_for(PROVIDER).decoder(0)
    decoder.feed(recording(PROVIDER, "truncated"))
    closing = decoder.close()
    assert kinds(closing) == ["text.end", "error", "run.finish"]


def test_build_request() -> None:
    call = ModelCall(
        provider=PROVIDER,
        model="gpt-4.1-mini",
        instructions="Be brief.",
        parameters={"max_tokens": 200, "temperature": 0.1, "input": "ignored"},
        messages=[
            Message(role="user", content="Weather?"),
            Message(
                role="assistant",
                tool_calls=[ToolCall(id="call_w", name="get_weather", arguments={"city": "Oslo"})],
            ),
            Message(role="tool", tool_call_id="call_w", content="3°C"),
            Message(role="assistant", content="3°C."),
        ],
        tools=[ToolSpec(name="get_weather", description="Weather now")],
    )
    request = adapter_for(PROVIDER).build_request(call)
    assert (request.upstream, request.path, request.headers) == ("openai", "v1/responses", {})
    assert request.body == {
        "model": "gpt-4.1-mini",
        "stream": True,
        "instructions": "Be brief.",
        "temperature": 0.1,
        "max_output_tokens": 200,
        "input": [
            {"role": "user", "content": "Weather?"},
            {
                "type": "function_call",
                "call_id": "call_w",
                "name": "get_weather",
                "arguments": '{"city":"Oslo"}',
            },
            {"type": "function_call_output", "call_id": "call_w", "output": "3°C"},
            {"role": "assistant", "content": "3°C."},
        ],
        "tools": [
            {
                "type": "function",
                "name": "get_weather",
                "description": "Weather now",
                "parameters": {"type": "object", "properties": {}},
                "strict": False,
            }
        ],
    }


def test_error_from_status() -> None:
    body = {"error": {"message": "bad", "type": "invalid_request_error", "code": None}}
    error, finish = adapter_for(PROVIDER).error_from_status(400, json.dumps(body).encode())
    assert isinstance(error, Error)
    assert (error.code, error.provider_code, error.retryable) == (
        "invalid_request",
        "invalid_request_error",
        False,
    )
    assert isinstance(finish, RunFinish)
