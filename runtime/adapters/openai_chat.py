"""OpenAI Chat Completions: the request for one turn, and its stream decoder.

The body asks for `stream_options.include_usage`, without which the stream carries no token
counts at all. The message translation is shared with OpenRouter, which speaks the same format.
"""

from typing import Any

from runtime.adapters.base import StreamDecoder, UpstreamRequest
from runtime.adapters.chat_stream import ChatDecoder
from runtime.adapters.errors import error_from_body
from runtime.adapters.request import arguments_json, with_parameters
from runtime.contract import EventBase
from runtime.conversation import Message, ModelCall, ToolSpec


def chat_messages(call: ModelCall) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    if call.instructions:
        messages.append({"role": "system", "content": call.instructions})
    messages.extend(_message(message) for message in call.messages)
    return messages


def _message(message: Message) -> dict[str, Any]:
    if message.role == "tool":
        return {"role": "tool", "tool_call_id": message.tool_call_id, "content": message.content}
    if message.role == "assistant" and message.tool_calls:
        return {
            "role": "assistant",
            # OpenAI wants null, not "", beside tool calls that came with no text.
            "content": message.content or None,
            "tool_calls": [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": arguments_json(call.arguments)},
                }
                for call in message.tool_calls
            ],
        }
    return {"role": message.role, "content": message.content}


def chat_tools(tools: list[ToolSpec]) -> list[dict[str, Any]]:
    return [
        {
            "type": "function",
            "function": {
                "name": tool.name,
                **({"description": tool.description} if tool.description else {}),
                "parameters": tool.parameters,
            },
        }
        for tool in tools
    ]


def chat_body(call: ModelCall) -> dict[str, Any]:
    options = call.parameters.get("stream_options")
    body: dict[str, Any] = {
        "model": call.model,
        "messages": chat_messages(call),
        "stream": True,
        "stream_options": {**(options if isinstance(options, dict) else {}), "include_usage": True},
    }
    if call.tools:
        body["tools"] = chat_tools(call.tools)
    return with_parameters(call, body)


class OpenAIChatAdapter:
    name = "openai"

    def build_request(self, call: ModelCall) -> UpstreamRequest:
        return UpstreamRequest(upstream="openai", path="v1/chat/completions", body=chat_body(call))

    def decoder(self, turn: int) -> StreamDecoder:
        return ChatDecoder(turn)

    def error_from_status(self, status: int, body: bytes) -> list[EventBase]:
        return error_from_body(status, body)
