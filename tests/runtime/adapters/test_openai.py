"""OpenAI Chat Completions: the recorded streams, the traps in them, and request building."""

import json

import pytest

from runtime.adapters import adapter_for
from runtime.contract import Error, RunFinish, ToolCallEnd
from runtime.conversation import Message, ModelCall, ToolCall, ToolSpec
from tests.fakes.recorded import decode, recording, scenarios
from tests.runtime.adapters import check_recording, kinds, outline

PROVIDER = "openai"


@pytest.mark.parametrize("scenario", scenarios(PROVIDER))
def test_recorded_stream(scenario: str) -> None:
    check_recording(PROVIDER, scenario)


def test_plain_text_has_no_empty_block_for_the_role_chunk() -> None:
    usage = {"input_tokens": 42, "output_tokens": 17, "cached_tokens": 32, "reasoning_tokens": 0}
    assert outline(check_recording(PROVIDER, "plain_text")) == [
        ("text.start", "blk_0_0"),
        ("text.delta", "blk_0_0", "Hello"),
        ("text.delta", "blk_0_0", " from"),
        ("text.delta", "blk_0_0", " Zürich"),
        ("text.delta", "blk_0_0", " 🌍"),
        ("text.delta", "blk_0_0", "! 日本語 — ça va?"),
        ("usage", 42, 17, 32, 0, False),
        ("text.end", "blk_0_0"),
        ("run.finish", "stop", "stop", usage),
    ]


def test_parallel_calls_are_keyed_by_index_not_position() -> None:
    events = outline(check_recording(PROVIDER, "parallel_tool_calls"))
    assert events[:6] == [
        ("tool_call.start", "blk_0_0", "call_w", "get_weather", 0),
        ("tool_call.start", "blk_0_1", "call_t", "get_time", 1),
        ("tool_call.delta", "blk_0_0", '{"ci'),
        ("tool_call.delta", "blk_0_1", '{"tz":'),
        # One chunk carried index 1 first, then index 0.
        ("tool_call.delta", "blk_0_1", ' "Europe/Paris"}'),
        ("tool_call.delta", "blk_0_0", 'ty": "Paris"}'),
    ]


def test_usage_only_chunk_closes_nothing_and_finish_waits_for_done() -> None:
    stream = recording(PROVIDER, "usage_only_final_chunk")
    done = stream.rindex(b"data: [DONE]")
    decoder = adapter_for(PROVIDER).decoder(0)
    before_done = decoder.feed(stream[:done])
    # Everything up to the usage chunk: the call is still open and the turn is not over.
    assert kinds(before_done)[-2:] == ["tool_call.delta", "usage"]
    after = decoder.feed(stream[done:])
    assert kinds(after) == ["tool_call.end", "run.finish"]
    assert decoder.close() == []


def test_resent_arguments_become_suffix_deltas() -> None:
    events = outline(check_recording(PROVIDER, "full_argument_resend"))
    assert [event[2] for event in events if event[0] == "tool_call.delta"] == [
        '{"path": "a.txt"',
        ', "content": "hé',
        'llo"}',
    ]


def test_ids_repeated_missing_and_numeric() -> None:
    events = check_recording(PROVIDER, "tool_call_ids")
    ends = [event for event in events if isinstance(event, ToolCallEnd)]
    assert [(end.tool_call_id, end.name) for end in ends] == [
        ("call_rep", "first"),
        ("call_0_1", "second"),
        ("7", "third"),
    ]


def test_index_zero_reused_closes_each_call_as_the_next_begins() -> None:
    events = outline(check_recording(PROVIDER, "index_zero_reused"))
    assert events[:8] == [
        ("tool_call.start", "blk_0_0", "call_1", "read", 0),
        ("tool_call.delta", "blk_0_0", '{"file": "a.md"}'),
        ("tool_call.end", "blk_0_0", "call_1", "read", {"file": "a.md"}, '{"file": "a.md"}', None),
        ("tool_call.start", "blk_0_1", "call_2", "read", 1),
        ("tool_call.delta", "blk_0_1", '{"file"'),
        ("tool_call.delta", "blk_0_1", ': "b.md"}'),
        ("tool_call.end", "blk_0_1", "call_2", "read", {"file": "b.md"}, '{"file": "b.md"}', None),
        ("tool_call.start", "blk_0_2", "call_3", "stat", 2),
    ]


def test_mid_stream_error_under_http_200() -> None:
    events = check_recording(PROVIDER, "mid_stream_error")
    error, finish = events[-2:]
    assert isinstance(error, Error)
    assert (error.code, error.provider_code, error.retryable) == (
        "provider_error",
        "server_error",
        True,
    )
    assert error.after_first_token is True
    assert isinstance(finish, RunFinish)
    assert finish.finish_reason == "error"


def test_truncated_stream_is_reported_from_close() -> None:
    stream = recording(PROVIDER, "truncated")
    decoder = adapter_for(PROVIDER).decoder(0)
    assert not any(isinstance(event, RunFinish | Error) for event in decoder.feed(stream))
    closing = decoder.close()
    assert kinds(closing) == ["text.end", "error", "run.finish"]
    error = closing[1]
    assert isinstance(error, Error)
    assert error.code == "truncated"


def test_finish_reason_seen_but_done_missing_still_finishes() -> None:
    stream = recording(PROVIDER, "max_length")
    events = decode(PROVIDER, [stream[: stream.index(b"data: [DONE]")]])
    finish = events[-1]
    assert isinstance(finish, RunFinish)
    assert (finish.finish_reason, finish.native_finish_reason) == ("length", "length")


def test_nothing_after_the_finish() -> None:
    decoder = adapter_for(PROVIDER).decoder(0)
    decoder.feed(recording(PROVIDER, "plain_text"))
    assert decoder.feed(recording(PROVIDER, "plain_text")) == []
    assert decoder.close() == []


def test_block_ids_carry_the_turn() -> None:
    events = decode(PROVIDER, [recording(PROVIDER, "whole_call_one_chunk")], turn=3)
    assert {getattr(event, "block_id", "blk_3_")[:6] for event in events} == {"blk_3_"}


def conversation(**overrides: object) -> ModelCall:
    values: dict[str, object] = {
        "provider": PROVIDER,
        "model": "gpt-4o-mini",
        "instructions": "Be brief.",
        "parameters": {
            "temperature": 0.2,
            "max_tokens": 300,
            "model": "evil-override",
            "stream": False,
            "stream_options": {"extra": 1},
        },
        "messages": [
            Message(role="system", content="Extra rules."),
            Message(role="user", content="Weather and time in Paris?"),
            Message(
                role="assistant",
                tool_calls=[
                    ToolCall(id="call_w", name="get_weather", arguments={"city": "Paris"}),
                    ToolCall(id="call_t", name="get_time"),
                ],
            ),
            Message(role="tool", tool_call_id="call_w", content="18°C"),
            Message(role="tool", tool_call_id="call_t", content="14:00"),
        ],
        "tools": [
            ToolSpec(name="get_weather", description="Weather now"),
            ToolSpec(name="get_time"),
        ],
    }
    values.update(overrides)
    return ModelCall.model_validate(values)


def test_build_request() -> None:
    request = adapter_for(PROVIDER).build_request(conversation())
    assert (request.upstream, request.path, request.headers) == (
        "openai",
        "v1/chat/completions",
        {},
    )
    body = request.body
    assert body["model"] == "gpt-4o-mini"
    assert body["stream"] is True
    assert body["stream_options"] == {"extra": 1, "include_usage": True}
    assert (body["temperature"], body["max_tokens"]) == (0.2, 300)
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "system", "content": "Extra rules."},
        {"role": "user", "content": "Weather and time in Paris?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_w",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                },
                {
                    "id": "call_t",
                    "type": "function",
                    "function": {"name": "get_time", "arguments": "{}"},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "call_w", "content": "18°C"},
        {"role": "tool", "tool_call_id": "call_t", "content": "14:00"},
    ]
    empty_object = {"type": "object", "properties": {}}
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Weather now",
                "parameters": empty_object,
            },
        },
        {"type": "function", "function": {"name": "get_time", "parameters": empty_object}},
    ]


def test_build_request_without_tools_or_instructions() -> None:
    call = conversation(
        instructions=None, tools=[], parameters={}, messages=[Message(role="user", content="hi")]
    )
    body = adapter_for(PROVIDER).build_request(call).body
    assert body == {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "hi"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }


def test_error_from_status_uses_the_error_type() -> None:
    body = {
        "error": {"message": "quota", "type": "insufficient_quota", "code": "insufficient_quota"}
    }
    error, finish = adapter_for(PROVIDER).error_from_status(429, json.dumps(body).encode())
    assert isinstance(error, Error)
    assert (error.code, error.provider_code, error.retryable) == (
        "rate_limited",
        "insufficient_quota",
        False,
    )
    assert isinstance(finish, RunFinish)
    assert finish.finish_reason == "error"
