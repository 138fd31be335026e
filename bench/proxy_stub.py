"""A fast local stand-in for OpenAI's chat completions endpoint, for the proxy benchmark.

    .venv/bin/python -m bench.proxy_stub --port P [--chunks N] [--hold-seconds S]

Raw ASGI under uvicorn (httptools; uvloop when installed), in a process of its own so it
never shares a GIL with the proxies it feeds. Every answer is built once at start-up:
- `POST /v1/chat/completions` without `"stream": true`: one small chat completion with usage;
- with `"stream": true`: `--chunks` SSE chunks in OpenAI's chunk format, then `data: [DONE]`,
  each chunk its own write, as providers send them;
- with `"stream": true` and model `bench-hold`: a chunk at once, then one every
  `--hold-interval` seconds until `--hold-seconds` have passed or the caller goes away
  (the 1,000-open-streams measurement);
- any `GET`: 200 `ok` (readiness probe).
"""

import argparse
import asyncio
import json
from collections.abc import Sequence
from typing import Any

from starlette.types import Receive, Scope, Send

from bench.proxy_servers import run_uvicorn

HOLD_MODEL = "bench-hold"
DEFAULT_CHUNKS = 20
DEFAULT_HOLD_SECONDS = 60.0
DEFAULT_HOLD_INTERVAL = 1.0

_JSON_HEADERS = [(b"content-type", b"application/json")]
_SSE_HEADERS = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
_USAGE = {"prompt_tokens": 12, "completion_tokens": 20, "total_tokens": 32}


def completion(model: str) -> bytes:
    document = {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "A short benchmark answer."},
                "finish_reason": "stop",
            }
        ],
        "usage": _USAGE,
    }
    return json.dumps(document, separators=(",", ":")).encode()


def _chunk(model: str, delta: dict[str, str], finish: str | None, usage: Any = None) -> bytes:
    document = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        "usage": usage,
    }
    return b"data: " + json.dumps(document, separators=(",", ":")).encode() + b"\n\n"


def stream_chunks(model: str, count: int) -> list[bytes]:
    """`count` chunks: the role, content tokens, the finish with usage; then `[DONE]`."""
    chunks = [_chunk(model, {"role": "assistant", "content": ""}, None)]
    chunks += [_chunk(model, {"content": f"tok{i} "}, None) for i in range(max(count - 2, 0))]
    if count > 1:
        chunks.append(_chunk(model, {}, "stop", _USAGE))
    chunks.append(b"data: [DONE]\n\n")
    return chunks


class Stub:
    def __init__(self, chunks: int, hold_seconds: float, hold_interval: float) -> None:
        self.hold_seconds = hold_seconds
        self.hold_interval = hold_interval
        self._json = completion("gpt-bench")
        self._json_headers = [*_JSON_HEADERS, (b"content-length", str(len(self._json)).encode())]
        self._chunks = stream_chunks("gpt-bench", chunks)
        self._hold_chunk = _chunk(HOLD_MODEL, {"content": "."}, None)
        self._hold_end = stream_chunks(HOLD_MODEL, 2)[1:]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        if scope["method"] == "GET":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})
            return
        request = json.loads(body) if body else {}
        if not request.get("stream"):
            start = {"type": "http.response.start", "status": 200, "headers": self._json_headers}
            await send(start)
            await send({"type": "http.response.body", "body": self._json})
            return
        await send({"type": "http.response.start", "status": 200, "headers": _SSE_HEADERS})
        if request.get("model") == HOLD_MODEL:
            await self._hold(receive, send)
            return
        for chunk in self._chunks:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _hold(self, receive: Receive, send: Send) -> None:
        # Ends early when the caller goes away, as a provider would stop generating.
        gone = asyncio.ensure_future(_disconnected(receive))
        try:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self.hold_seconds
            while not gone.done() and loop.time() < deadline:
                await send(
                    {"type": "http.response.body", "body": self._hold_chunk, "more_body": True}
                )
                await asyncio.wait({gone}, timeout=self.hold_interval)
            for chunk in self._hold_end:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            gone.cancel()


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.proxy_stub")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--chunks", type=int, default=DEFAULT_CHUNKS)
    parser.add_argument("--hold-seconds", type=float, default=DEFAULT_HOLD_SECONDS)
    parser.add_argument("--hold-interval", type=float, default=DEFAULT_HOLD_INTERVAL)
    options = parser.parse_args(argv)
    run_uvicorn(
        Stub(options.chunks, options.hold_seconds, options.hold_interval),
        options.port,
        lifespan="off",
    )


if __name__ == "__main__":
    main()
