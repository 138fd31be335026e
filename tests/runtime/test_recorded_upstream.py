"""The recorded-stream upstream over real HTTP: what end-to-end tests rely on it to do.

The official SDKs read the same recordings, which checks that they follow the real formats.
Their clients are closed by the test that opens them: a client left to the garbage collector
closes its connection pool from a finalizer, at whatever point of a later test the collector
happens to run, and anything a finalizer raises there fails that other test.
"""

from collections.abc import Iterator

import anthropic
import httpx
import openai
import pytest

from runtime.adapters import adapter_for
from runtime.assembler import assemble
from runtime.contract import Error, EventBase
from tests.fakes.recorded import RecordedUpstream, expected, summarize
from tests.live import ServerThread

# The recording answers whatever key it is sent; the SDKs insist on one.
FAKE_KEY = "sk-test"  # pragma: allowlist secret

PATHS = {
    "openai": "/v1/chat/completions",
    "openai-responses": "/v1/responses",
    "anthropic": "/v1/messages",
    "openrouter": "/api/v1/chat/completions",
}


@pytest.fixture(scope="module")
def upstream() -> Iterator[tuple[RecordedUpstream, str]]:
    app = RecordedUpstream()
    with ServerThread(app) as server:
        yield app, server.url


def stream_through_decoder(url: str, provider: str, model: str) -> list[EventBase]:
    decoder = adapter_for(provider).decoder(0)
    events: list[EventBase] = []
    body = {"model": model, "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    with httpx.stream("POST", url + PATHS[provider], json=body, timeout=30) as response:
        if response.status_code != 200:
            return adapter_for(provider).error_from_status(response.status_code, response.read())
        assert response.headers["content-type"] == "text/event-stream"
        for chunk in response.iter_raw():
            events.extend(decoder.feed(chunk))
    return events + decoder.close()


@pytest.mark.parametrize("provider", sorted(PATHS))
@pytest.mark.parametrize("scenario", ["plain_text", "parallel_tool_calls", "truncated"])
def test_replays_over_http(
    upstream: tuple[RecordedUpstream, str], provider: str, scenario: str
) -> None:
    _, url = upstream
    events = stream_through_decoder(url, provider, f"replay:{scenario}")
    assert summarize(assemble(events)) == expected(provider, scenario)


def test_per_chunk_delay_in_the_model_name(upstream: tuple[RecordedUpstream, str]) -> None:
    _, url = upstream
    events = stream_through_decoder(url, "anthropic", "replay:thinking:1ms")
    assert summarize(assemble(events)) == expected("anthropic", "thinking")


def test_other_models_replay_the_default_scenario(upstream: tuple[RecordedUpstream, str]) -> None:
    _, url = upstream
    events = stream_through_decoder(url, "openai", "gpt-4o-mini")
    assert summarize(assemble(events)) == expected("openai", "plain_text")


@pytest.mark.parametrize(
    ("provider", "status", "code"),
    [
        ("openai", 429, "rate_limited"),
        ("openai-responses", 401, "unauthorized"),
        ("anthropic", 529, "overloaded"),
        ("openrouter", 502, "upstream_unreachable"),
    ],
)
def test_status_models_refuse_before_any_token(
    upstream: tuple[RecordedUpstream, str], provider: str, status: int, code: str
) -> None:
    _, url = upstream
    error, _ = stream_through_decoder(url, provider, f"status:{status}")
    assert isinstance(error, Error)
    assert error.code == code


def test_unknown_scenario_is_a_404(upstream: tuple[RecordedUpstream, str]) -> None:
    _, url = upstream
    response = httpx.post(url + "/v1/messages", json={"model": "replay:nope"})
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found_error"


def test_requests_are_recorded(upstream: tuple[RecordedUpstream, str]) -> None:
    app, url = upstream
    httpx.post(
        url + "/v1/messages",
        json={"model": "status:400", "max_tokens": 5},
        headers={"x-api-key": FAKE_KEY, "anthropic-version": "2023-06-01"},
    )
    seen = app.requests[-1]
    assert (seen.method, seen.path) == ("POST", "/v1/messages")
    assert seen.headers["anthropic-version"] == "2023-06-01"
    assert seen.body == {"model": "status:400", "max_tokens": 5}


def test_openai_sdk_reads_the_chat_recording(upstream: tuple[RecordedUpstream, str]) -> None:
    _, url = upstream
    arguments: dict[int, str] = {}
    with (
        openai.OpenAI(base_url=url + "/v1", api_key=FAKE_KEY) as client,
        client.chat.completions.create(
            model="replay:parallel_tool_calls",
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
            stream_options={"include_usage": True},
        ) as stream,
    ):
        for chunk in stream:
            for choice in chunk.choices:
                for call in choice.delta.tool_calls or []:
                    fragment = call.function.arguments if call.function else None
                    arguments[call.index] = arguments.get(call.index, "") + (fragment or "")
    assert arguments == {0: '{"city": "Paris"}', 1: '{"tz": "Europe/Paris"}'}


def test_openai_sdk_reads_the_responses_recording(upstream: tuple[RecordedUpstream, str]) -> None:
    _, url = upstream
    with (
        openai.OpenAI(base_url=url + "/v1", api_key=FAKE_KEY) as client,
        client.responses.stream(model="replay:plain_text", input="hi") as stream,
    ):
        final = stream.get_final_response()
    assert final.status == "completed"
    assert final.usage is not None
    assert final.usage.input_tokens == 30


def test_anthropic_sdk_reads_the_messages_recording(
    upstream: tuple[RecordedUpstream, str],
) -> None:
    _, url = upstream
    with (
        anthropic.Anthropic(base_url=url, api_key=FAKE_KEY) as client,
        client.messages.stream(
            model="replay:thinking", max_tokens=100, messages=[{"role": "user", "content": "2+2?"}]
        ) as stream,
    ):
        message = stream.get_final_message()
    assert [block.type for block in message.content] == ["thinking", "text"]
    assert message.stop_reason == "end_turn"
    assert message.usage.output_tokens == 40
