"""Usage is read on the side from each provider's format, including its traps."""

import json

import pytest

from controlplane.proxy.usage import UsageReader
from tests.fakes.providers import anthropic_events, chat_chunks


def _feed(reader: UsageReader, payload: bytes, step: int) -> UsageReader:
    # Arbitrary chunk boundaries: a line may be split anywhere, even inside a UTF-8 sequence.
    for start in range(0, len(payload), step):
        reader.feed(payload[start : start + step])
    reader.finish()
    return reader


@pytest.mark.parametrize("step", [1, 7, 4096])
def test_openai_stream_with_a_usage_only_final_chunk(step: int) -> None:
    payload = b"".join(chat_chunks("gpt-fake", tools=True, include_usage=True))
    reader = _feed(UsageReader(streamed=True), payload, step)
    assert (reader.tokens_in, reader.tokens_out) == (11, 7)


def test_openai_stream_without_usage_reports_none() -> None:
    payload = b"".join(chat_chunks("gpt-fake", tools=False, include_usage=False))
    reader = _feed(UsageReader(streamed=True), payload, 5)
    assert (reader.tokens_in, reader.tokens_out) == (None, None)


@pytest.mark.parametrize("step", [1, 13, 4096])
def test_anthropic_stream_cumulative_output(step: int) -> None:
    payload = b"".join(
        f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()
        for name, data in anthropic_events("claude-fake", tools=True)
    )
    reader = _feed(UsageReader(streamed=True), payload, step)
    assert (reader.tokens_in, reader.tokens_out) == (12, 9)


def test_openrouter_comments_and_errors_are_not_fatal() -> None:
    payload = (
        b": OPENROUTER PROCESSING\n\n"
        b"data: not json at all\n\n"
        b'data: {"error": {"message": "overloaded"}, "choices": [{"finish_reason": "error"}]}\n\n'
        b'data: {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2}}\n\n'
    )
    reader = _feed(UsageReader(streamed=True), payload, 3)
    assert (reader.tokens_in, reader.tokens_out) == (3, 2)


def test_responses_api_completed_event() -> None:
    completed = {
        "type": "response.completed",
        "response": {"usage": {"input_tokens": 5, "output_tokens": 4}},
    }
    payload = f"event: response.completed\ndata: {json.dumps(completed)}\n\n".encode()
    reader = _feed(UsageReader(streamed=True), payload, 2)
    assert (reader.tokens_in, reader.tokens_out) == (5, 4)


def test_plain_json_body() -> None:
    body = json.dumps({"usage": {"input_tokens": 8, "output_tokens": 1}}).encode()
    reader = _feed(UsageReader(streamed=False), body, 3)
    assert (reader.tokens_in, reader.tokens_out) == (8, 1)
