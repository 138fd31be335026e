"""Anthropic Messages: named events, explicit blocks, cumulative usage, thinking, request."""

import json

import pytest

from runtime.adapters import adapter_for
from runtime.contract import Error, RunFinish, Usage
from runtime.conversation import Message, ModelCall, ToolCall, ToolSpec
from tests.fakes.recorded import recording, scenarios
from tests.runtime.adapters import check_recording, kinds, outline

PROVIDER = "anthropic"


@pytest.mark.parametrize("scenario", scenarios(PROVIDER))
def test_recorded_stream(scenario: str) -> None:
    check_recording(PROVIDER, scenario)


def test_thinking_carries_its_signature_on_reasoning_end() -> None:
    totals = {"input_tokens": 50, "output_tokens": 40, "cached_tokens": 0, "reasoning_tokens": None}
    assert outline(check_recording(PROVIDER, "thinking")) == [
        ("usage", 50, 1, 0, None, True),
        ("reasoning.start", "blk_0_0"),
        ("reasoning.delta", "blk_0_0", "The user wants 2+2. "),
        ("reasoning.delta", "blk_0_0", "That is 4."),
        ("reasoning.end", "blk_0_0", "c2lnbmF0dXJlLWZpeHR1cmU="),
        ("text.start", "blk_0_1"),
        ("text.delta", "blk_0_1", "2 + 2 = 4."),
        ("text.end", "blk_0_1"),
        ("usage", None, 40, None, None, True),
        ("run.finish", "stop", "end_turn", totals),
    ]


def test_usage_is_cumulative_and_replaces() -> None:
    events = check_recording(PROVIDER, "cumulative_usage")
    assert all(event.cumulative for event in events if isinstance(event, Usage))
    finish = events[-1]
    assert isinstance(finish, RunFinish)
    assert finish.usage is not None
    assert (finish.usage.output_tokens, finish.usage.cached_tokens) == (30, 80)


def test_error_event_under_http_200() -> None:
    events = check_recording(PROVIDER, "mid_stream_error")
    error, finish = events[-2:]
    assert isinstance(error, Error)
    assert (error.code, error.provider_code, error.retryable) == (
        "overloaded",
        "overloaded_error",
        True,
    )
    assert error.after_first_token is True
    assert isinstance(finish, RunFinish)
    assert finish.usage is not None  # what was used before the failure is still counted


def test_whole_input_in_the_start_event_is_sent_as_one_delta() -> None:
    events = outline(check_recording(PROVIDER, "whole_call_one_chunk"))
    assert events[1:4] == [
        ("tool_call.start", "blk_0_0", "toolu_01L", "lookup", 0),
        ("tool_call.delta", "blk_0_0", '{"id": 42, "note": "naïve"}'),
        (
            "tool_call.end",
            "blk_0_0",
            "toolu_01L",
            "lookup",
            {"id": 42, "note": "naïve"},
            '{"id": 42, "note": "naïve"}',
            None,
        ),
    ]


def test_tool_without_input_is_an_empty_object() -> None:
    events = outline(check_recording(PROVIDER, "no_argument_tool"))
    ends = [event for event in events if event[0] == "tool_call.end"]
    assert [(end[3], end[4], end[5]) for end in ends] == [("get_time", {}, ""), ("ping", {}, "")]


def test_a_stop_reason_without_message_stop_still_finishes() -> None:
    finish = check_recording(PROVIDER, "missing_message_stop")[-1]
    assert isinstance(finish, RunFinish)
    assert finish.finish_reason == "stop"


def test_truncated_without_any_stop_reason() -> None:
    decoder = adapter_for(PROVIDER).decoder(0)
    fed = decoder.feed(recording(PROVIDER, "truncated"))
    assert not any(isinstance(event, RunFinish) for event in fed)
    assert kinds(decoder.close()) == ["text.end", "error", "run.finish"]


def test_build_request() -> None:
    call = ModelCall(
        provider=PROVIDER,
        model="claude-sonnet-4-20250514",
        instructions="Be brief.",
        parameters={"temperature": 0.3, "messages": ["ignored"]},
        messages=[
            Message(role="system", content="Answer in French."),
            Message(role="user", content="Weather and time?"),
            Message(
                role="assistant",
                content="Checking.",
                tool_calls=[
                    ToolCall(id="toolu_1", name="get_weather", arguments={"city": "Paris"}),
                    ToolCall(id="toolu_2", name="get_time"),
                ],
            ),
            Message(role="tool", tool_call_id="toolu_1", content="18°C"),
            Message(role="tool", tool_call_id="toolu_2", content="14:00"),
            Message(role="assistant", content="18°C, 14:00."),
            Message(role="user", content="Merci"),
        ],
        tools=[ToolSpec(name="get_weather", description="Weather now"), ToolSpec(name="get_time")],
    )
    request = adapter_for(PROVIDER).build_request(call)
    assert (request.upstream, request.path) == ("anthropic", "v1/messages")
    assert request.headers == {"anthropic-version": "2023-06-01"}
    body = request.body
    assert body["model"] == "claude-sonnet-4-20250514"
    assert (body["stream"], body["max_tokens"], body["temperature"]) == (True, 1024, 0.3)
    assert body["system"] == "Be brief.\n\nAnswer in French."
    assert body["messages"] == [
        {"role": "user", "content": "Weather and time?"},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Checking."},
                {
                    "type": "tool_use",
                    "id": "toolu_1",
                    "name": "get_weather",
                    "input": {"city": "Paris"},
                },
                {"type": "tool_use", "id": "toolu_2", "name": "get_time", "input": {}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18°C"},
                {"type": "tool_result", "tool_use_id": "toolu_2", "content": "14:00"},
            ],
        },
        {"role": "assistant", "content": "18°C, 14:00."},
        {"role": "user", "content": "Merci"},
    ]
    empty_object = {"type": "object", "properties": {}}
    assert body["tools"] == [
        {"name": "get_weather", "description": "Weather now", "input_schema": empty_object},
        {"name": "get_time", "input_schema": empty_object},
    ]


def test_agent_max_tokens_wins_over_the_default() -> None:
    call = ModelCall(
        provider=PROVIDER,
        model="claude-haiku",
        parameters={"max_tokens": 64},
        messages=[Message(role="user", content="hi")],
    )
    body = adapter_for(PROVIDER).build_request(call).body
    assert body["max_tokens"] == 64
    assert "system" not in body
    assert "tools" not in body


def test_error_from_status() -> None:
    body = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    error, finish = adapter_for(PROVIDER).error_from_status(529, json.dumps(body).encode())
    assert isinstance(error, Error)
    assert (error.code, error.provider_code, error.retryable) == (
        "overloaded",
        "overloaded_error",
        True,
    )
    assert isinstance(finish, RunFinish)
