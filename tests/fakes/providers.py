"""A fake upstream provider on loopback that speaks the providers' documented wire formats.

It is the only fake in the proxy tests: Gatehouse, its database and the official SDKs are real.
Behaviour is chosen by the requested model:
- any model: a normal answer (streamed when asked), with parallel tool calls when tools are sent;
- "slow": stream chunks 150 ms apart and note when each was sent;
- "endless": stream until the client goes away, and note that it did;
- "die": send two chunks, then cut the connection mid-stream;
- "hang": accept the request and never answer (until the client gives up and goes away).
"""

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.types import Receive, Scope, Send


@dataclass
class Seen:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class FakeProvider:
    requests: list[Seen] = field(default_factory=list)
    sent_at: list[float] = field(default_factory=list)
    disconnected: asyncio.Event | None = None
    client_went_away: bool = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        raw = b""
        while True:
            message = await receive()
            raw += message.get("body", b"")
            if not message.get("more_body"):
                break
        body = json.loads(raw) if raw else {}
        self.requests.append(
            Seen(
                scope["method"],
                scope["path"],
                scope["query_string"].decode(),
                {k.decode(): v.decode() for k, v in scope["headers"]},
                body,
            )
        )
        path = scope["path"]
        if path.endswith("/models"):
            await _json(
                send,
                200,
                {
                    "object": "list",
                    "data": [
                        {"id": "gpt-fake", "object": "model", "created": 0, "owned_by": "fake"}
                    ],
                },
            )
        elif path.endswith("/chat/completions"):
            await self._chat(body, receive, send)
        elif path.endswith("/messages"):
            await self._messages(body, send)
        else:
            await _json(send, 404, {"error": {"message": "unknown path", "type": "not_found"}})

    async def _chat(self, body: dict[str, Any], receive: Receive, send: Send) -> None:
        model = body.get("model", "gpt-fake")
        if model == "hang":
            # Not a sleep: a handler still pending would hold up the server's shutdown.
            await _until_disconnected(receive)
            return
        if not body.get("stream"):
            await _json(send, 200, _chat_completion(model, bool(body.get("tools"))))
            return
        await _sse_start(send)
        if model == "endless":
            await self._endless(receive, send)
            return
        chunks = chat_chunks(model, bool(body.get("tools")), _include_usage(body))
        for number, chunk in enumerate(chunks):
            if model == "die" and number == 2:
                raise ConnectionResetError("upstream died mid-stream")  # uvicorn drops the socket
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            self.sent_at.append(time.monotonic())
            if model == "slow":
                await asyncio.sleep(0.15)
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _endless(self, receive: Receive, send: Send) -> None:
        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            self.client_went_away = True

        watcher = asyncio.ensure_future(watch())
        try:
            while not watcher.done():
                chunk = _sse(
                    {
                        "id": "c",
                        "object": "chat.completion.chunk",
                        "created": 0,
                        "model": "endless",
                        "choices": [{"index": 0, "delta": {"content": "."}, "finish_reason": None}],
                    }
                )
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await asyncio.sleep(0.05)
        except OSError:
            self.client_went_away = True
        finally:
            watcher.cancel()

    async def _messages(self, body: dict[str, Any], send: Send) -> None:
        model = body.get("model", "claude-fake")
        tools = bool(body.get("tools"))
        if not body.get("stream"):
            await _json(send, 200, _anthropic_message(model, tools))
            return
        await _sse_start(send)
        for name, data in anthropic_events(model, tools):
            chunk = f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _until_disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def _include_usage(body: dict[str, Any]) -> bool:
    options = body.get("stream_options") or {}
    return bool(options.get("include_usage"))


async def _json(send: Send, status: int, document: dict[str, Any]) -> None:
    payload = json.dumps(document).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


async def _sse_start(send: Send) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")],
        }
    )


def _sse(document: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(document)}\n\n".encode()


def _chunk(model: str, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        "usage": None,
    }


def chat_chunks(model: str, tools: bool, include_usage: bool) -> list[bytes]:
    chunks = [
        b": keep-alive comment\n\n",
        _sse(_chunk(model, {"role": "assistant", "content": ""})),
    ]
    if tools:
        # Two parallel calls, keyed by index, interleaved; the first carries its arguments in
        # the same chunk as its name.
        chunks += [
            _sse(
                _chunk(
                    model,
                    {
                        "tool_calls": [
                            {
                                "index": 0,
                                "id": "call_a",
                                "type": "function",
                                "function": {"name": "get_weather", "arguments": '{"city": '},
                            }
                        ]
                    },
                )
            ),
            _sse(
                _chunk(
                    model,
                    {
                        "tool_calls": [
                            {
                                "index": 1,
                                "id": "call_b",
                                "type": "function",
                                "function": {"name": "get_time", "arguments": ""},
                            }
                        ]
                    },
                )
            ),
            _sse(
                _chunk(model, {"tool_calls": [{"index": 0, "function": {"arguments": '"Paris"}'}}]})
            ),
            _sse(
                _chunk(
                    model,
                    {"tool_calls": [{"index": 1, "function": {"arguments": '{"tz": "CET"}'}}]},
                )
            ),
            _sse(_chunk(model, {}, "tool_calls")),
        ]
    else:
        chunks += [_sse(_chunk(model, {"content": word})) for word in ("Hello", ", ", "world", "!")]
        chunks.append(_sse(_chunk(model, {}, "stop")))
    if include_usage:
        chunks.append(
            _sse(
                {
                    "id": "chatcmpl-fake",
                    "object": "chat.completion.chunk",
                    "created": 0,
                    "model": model,
                    "choices": [],
                    "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
                }
            )
        )
    chunks.append(b"data: [DONE]\n\n")
    return chunks


def _chat_completion(model: str, tools: bool) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": None if tools else "Hello, world!"}
    if tools:
        message["tool_calls"] = [
            {
                "id": "call_a",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
            },
            {
                "id": "call_b",
                "type": "function",
                "function": {"name": "get_time", "arguments": '{"tz": "CET"}'},
            },
        ]
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [
            {"index": 0, "message": message, "finish_reason": "tool_calls" if tools else "stop"}
        ],
        "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
    }


def _anthropic_message(model: str, tools: bool) -> dict[str, Any]:
    content: list[dict[str, Any]] = [{"type": "text", "text": "Hello, world!"}]
    if tools:
        content.append(
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}
        )
    return {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": "tool_use" if tools else "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 12, "output_tokens": 9},
    }


def anthropic_events(model: str, tools: bool) -> list[tuple[str, dict[str, Any]]]:
    message = {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": 12, "output_tokens": 1},
    }
    events: list[tuple[str, dict[str, Any]]] = [
        ("message_start", {"type": "message_start", "message": message}),
        ("ping", {"type": "ping"}),
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": "Hello, "},
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": "world!"},
            },
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
    ]
    if tools:
        events += [
            (
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": 1,
                    "content_block": {
                        "type": "tool_use",
                        "id": "toolu_1",
                        "name": "get_weather",
                        "input": {},
                    },
                },
            ),
            (
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": 1,
                    "delta": {"type": "input_json_delta", "partial_json": ""},
                },
            ),
            (
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": 1,
                    "delta": {"type": "input_json_delta", "partial_json": '{"city": "Pa'},
                },
            ),
            (
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": 1,
                    "delta": {"type": "input_json_delta", "partial_json": 'ris"}'},
                },
            ),
            ("content_block_stop", {"type": "content_block_stop", "index": 1}),
        ]
    events += [
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {
                    "stop_reason": "tool_use" if tools else "end_turn",
                    "stop_sequence": None,
                },
                "usage": {"output_tokens": 9},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    return events
