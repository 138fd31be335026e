"""The official SDKs work through the proxy unchanged, streamed and not, tool calls included."""

import anthropic
import openai

from tests.controlplane.proxy.conftest import ANTHROPIC_KEY, OPENAI_KEY, Proxied
from tests.fakes.providers import FakeProvider

WEATHER_TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}},
    {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object"}}},
]


def _openai(proxied: Proxied) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{proxied.url}/openai/v1", api_key=proxied.agent_token)


def _anthropic(proxied: Proxied) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=f"{proxied.url}/anthropic", api_key=proxied.agent_token)


def _no_gatehouse_token_upstream(fake: FakeProvider, proxied: Proxied) -> None:
    for seen in fake.requests:
        assert proxied.agent_token not in str(seen.headers)
        assert "gth_" not in str(seen.headers)


def test_openai_chat_completion(proxied: Proxied, fake: FakeProvider) -> None:
    raw = _openai(proxied).chat.completions.with_raw_response.create(
        model="gpt-fake", messages=[{"role": "user", "content": "hi"}]
    )
    completion = raw.parse()
    assert completion.choices[0].message.content == "Hello, world!"
    assert completion.usage is not None
    assert completion.usage.total_tokens == 18
    assert raw.headers["x-request-id"]
    assert float(raw.headers["x-gatehouse-overhead-ms"]) >= 0
    [seen] = fake.requests
    assert seen.path == "/v1/chat/completions"
    assert seen.headers["authorization"] == f"Bearer {OPENAI_KEY}"
    assert seen.headers["x-request-id"] == raw.headers["x-request-id"]
    _no_gatehouse_token_upstream(fake, proxied)


def test_openai_streaming_parallel_tool_calls(proxied: Proxied, fake: FakeProvider) -> None:
    stream = _openai(proxied).chat.completions.create(
        model="gpt-fake",
        messages=[{"role": "user", "content": "weather and time?"}],
        tools=WEATHER_TOOLS,  # type: ignore[arg-type] - plain dicts are what users pass
        stream=True,
        stream_options={"include_usage": True},
    )
    calls: dict[int, dict[str, str]] = {}
    usage = None
    finish = None
    for chunk in stream:
        usage = chunk.usage or usage
        for choice in chunk.choices:
            finish = choice.finish_reason or finish
            for call in choice.delta.tool_calls or []:
                entry = calls.setdefault(call.index, {"name": "", "arguments": ""})
                if call.function and call.function.name:
                    entry["name"] = call.function.name
                if call.function and call.function.arguments:
                    entry["arguments"] += call.function.arguments
    assert calls == {
        0: {"name": "get_weather", "arguments": '{"city": "Paris"}'},
        1: {"name": "get_time", "arguments": '{"tz": "CET"}'},
    }
    assert finish == "tool_calls"
    assert usage is not None
    assert usage.completion_tokens == 7
    _no_gatehouse_token_upstream(fake, proxied)


def test_openai_models(proxied: Proxied) -> None:
    assert [model.id for model in _openai(proxied).models.list()] == ["gpt-fake"]


def test_anthropic_message(proxied: Proxied, fake: FakeProvider) -> None:
    message = _anthropic(proxied).messages.create(
        model="claude-fake", max_tokens=64, messages=[{"role": "user", "content": "hi"}]
    )
    assert message.content[0].type == "text"
    assert message.content[0].text == "Hello, world!"
    [seen] = fake.requests
    assert seen.path == "/v1/messages"
    assert seen.headers["x-api-key"] == ANTHROPIC_KEY
    assert "authorization" not in seen.headers
    assert "anthropic-version" in seen.headers
    _no_gatehouse_token_upstream(fake, proxied)


def test_anthropic_streaming_tool_use(proxied: Proxied, fake: FakeProvider) -> None:
    with _anthropic(proxied).messages.stream(
        model="claude-fake",
        max_tokens=64,
        messages=[{"role": "user", "content": "weather?"}],
        tools=[{"name": "get_weather", "input_schema": {"type": "object"}}],
    ) as stream:
        texts = list(stream.text_stream)
        final = stream.get_final_message()
    assert "".join(texts) == "Hello, world!"
    tool = final.content[1]
    assert tool.type == "tool_use"
    assert tool.input == {"city": "Paris"}
    assert final.stop_reason == "tool_use"
    assert final.usage.output_tokens == 9
    _no_gatehouse_token_upstream(fake, proxied)
