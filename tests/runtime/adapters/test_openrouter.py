"""OpenRouter: the OpenAI format plus keep-alive comments, native reasons and in-band errors."""

import json

import pytest

from runtime.adapters import adapter_for
from runtime.contract import Error, RunFinish
from runtime.conversation import Message, ModelCall
from tests.fakes.recorded import decode, scenarios
from tests.runtime.adapters import check_recording, kinds, outline

PROVIDER = "openrouter"


@pytest.mark.parametrize("scenario", scenarios(PROVIDER))
def test_recorded_stream(scenario: str) -> None:
    check_recording(PROVIDER, scenario)


def test_comments_are_skipped_and_the_native_reason_kept() -> None:
    events = outline(check_recording(PROVIDER, "plain_text"))
    assert events[0] == ("text.start", "blk_0_0")
    assert events[-1][:3] == ("run.finish", "stop", "end_turn")


def test_finish_reason_error_with_top_level_error() -> None:
    events = outline(check_recording(PROVIDER, "mid_stream_error"))
    assert events == [
        ("text.start", "blk_0_0"),
        ("text.delta", "blk_0_0", "Partial ans"),
        ("text.delta", "blk_0_0", "wer"),
        ("text.end", "blk_0_0"),
        (
            "error",
            "provider_error",
            "server_error",
            "Provider disconnected unexpectedly",
            True,
            True,
        ),
        ("run.finish", "error", "error", None),
    ]


def test_numeric_error_code_is_an_http_status() -> None:
    error = next(e for e in check_recording(PROVIDER, "error_status_code") if isinstance(e, Error))
    assert (error.code, error.provider_code, error.retryable) == ("rate_limited", "429", True)


def test_finish_reason_error_without_an_error_object() -> None:
    chunk = {"choices": [{"index": 0, "delta": {}, "finish_reason": "error"}]}
    events = decode(PROVIDER, [f"data: {json.dumps(chunk)}\n\n".encode()])
    assert kinds(events) == ["error", "run.finish"]
    error = events[0]
    assert isinstance(error, Error)
    assert error.code == "provider_error"
    assert error.after_first_token is False


def test_reasoning_deltas_become_a_reasoning_block() -> None:
    events = outline(check_recording(PROVIDER, "reasoning"))
    assert events[:5] == [
        ("reasoning.start", "blk_0_0"),
        ("reasoning.delta", "blk_0_0", "Let me think"),
        ("reasoning.delta", "blk_0_0", " about 2+2."),
        ("reasoning.end", "blk_0_0", None),
        ("text.start", "blk_0_1"),
    ]


def test_build_request() -> None:
    call = ModelCall(
        provider=PROVIDER,
        model="anthropic/claude-3.5-sonnet",
        parameters={"temperature": 0.5, "transforms": ["middle-out"]},
        messages=[Message(role="user", content="hi")],
    )
    request = adapter_for(PROVIDER).build_request(call)
    assert (request.upstream, request.path) == ("openrouter", "api/v1/chat/completions")
    assert request.body == {
        "model": "anthropic/claude-3.5-sonnet",
        "messages": [{"role": "user", "content": "hi"}],
        "stream": True,
        "stream_options": {"include_usage": True},
        "temperature": 0.5,
        "transforms": ["middle-out"],
    }


def test_error_from_status() -> None:
    body = json.dumps({"error": {"code": 402, "message": "Insufficient credits"}}).encode()
    error, finish = adapter_for(PROVIDER).error_from_status(402, body)
    assert isinstance(error, Error)
    assert (error.code, error.provider_code, error.message) == (
        "rate_limited",
        "402",
        "Insufficient credits",
    )
    assert isinstance(finish, RunFinish)
