"""A fake upstream that replays the recorded provider streams over real HTTP.

Serve it with `tests.live.ServerThread(RecordedUpstream())` and point Gatehouse's upstream URLs
(or an official SDK's `base_url`) at it. The provider is chosen by the request path, the
behaviour by the requested model:

    POST /v1/chat/completions       → openai            (recordings: tests/runtime/streams/openai)
    POST /v1/responses              → openai-responses
    POST /v1/messages               → anthropic
    POST /api/v1/chat/completions   → openrouter
    (any path ending with one of these works, so a base URL with a prefix is fine)

    model "replay:<scenario>"        replay streams/<provider>/<scenario>.sse
    model "replay:<scenario>:<N>ms"  the same, sleeping N ms between chunks
    model "status:<code>"            answer HTTP <code> with the provider's JSON error body,
                                     before any token (429 also sends Retry-After)
    any other model                  replay `default_scenario` ("plain_text")

`RecordedUpstream(delay=0.02)` sleeps between chunks for every replay whose model names no
delay. The answer always streams, whatever the body's `stream` says: the runtime always asks.

Streams go out as `text/event-stream`, byte-exact but re-chunked at awkward places: inside
JSON, inside multi-byte UTF-8 characters, between the two newlines ending an event, and
across event boundaries. Every request is recorded in `requests` (method, path, headers, body).
The expected non-streamed result of each recording is next to it (`expected()`), and
`summarize()` puts an assembled `RunResult` in the same shape for comparison; `decode()`
runs a provider's decoder over a stream in given chunks.
"""

import asyncio
import itertools
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.types import Receive, Scope, Send

from runtime.adapters import adapter_for
from runtime.assembler import RunResult
from runtime.contract import EventBase
from tests.fakes.providers import Seen

STREAMS = Path(__file__).resolve().parent.parent / "runtime" / "streams"
# Checked in order: the OpenRouter path also ends with the OpenAI one.
PATH_SUFFIXES = (
    ("/api/v1/chat/completions", "openrouter"),
    ("/chat/completions", "openai"),
    ("/responses", "openai-responses"),
    ("/messages", "anthropic"),
)
_REPLAY = re.compile(r"^replay:(?P<scenario>[A-Za-z0-9_-]+)(?::(?P<delay>\d+)ms)?$")
_STATUS = re.compile(r"^status:(?P<status>\d{3})$")


def providers() -> list[str]:
    return sorted(path.name for path in STREAMS.iterdir() if path.is_dir())


def scenarios(provider: str) -> list[str]:
    return sorted(path.name.removesuffix(".sse") for path in (STREAMS / provider).glob("*.sse"))


def recording(provider: str, scenario: str) -> bytes:
    return (STREAMS / provider / f"{scenario}.sse").read_bytes()


def expected(provider: str, scenario: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(
        (STREAMS / provider / f"{scenario}.expected.json").read_text(encoding="utf-8")
    )
    return document


def decode(provider: str, chunks: Iterable[bytes], turn: int = 0) -> list[EventBase]:
    """Everything the provider's decoder makes of a stream delivered in these chunks."""
    decoder = adapter_for(provider).decoder(turn)
    events = [event for chunk in chunks for event in decoder.feed(chunk)]
    return events + decoder.close()


def summarize(result: RunResult) -> dict[str, Any]:
    """An assembled result in the shape of the `.expected.json` files."""
    error = result.error
    return {
        "text": result.text,
        "reasoning": result.reasoning,
        "tool_calls": [
            {"id": call.id, "name": call.name, "arguments": call.arguments}
            for call in result.tool_calls
        ],
        "finish_reason": result.finish_reason,
        "native_finish_reason": result.native_finish_reason,
        "usage": result.usage.model_dump() if result.usage is not None else None,
        "error": (
            {"code": error.code, "provider_code": error.provider_code, "retryable": error.retryable}
            if error is not None
            else None
        ),
    }


def awkward_chunks(stream: bytes) -> list[bytes]:
    """The stream cut where careless parsers break, the same way every time."""
    cuts: set[int] = set()
    start = 0
    for event in re.finditer(rb".*?(?:\r\n\r\n|\n\n|\r\r|$)", stream, flags=re.DOTALL):
        end = event.end()
        if end == start:
            continue
        length = end - start
        cuts.update((start + length // 3, start + 2 * length // 3, end - 1))
        multibyte = next((i for i in range(start, end) if stream[i] >= 0xC0), None)
        if multibyte is not None:
            cuts.add(multibyte + 1)  # right after a UTF-8 lead byte
        start = end
    positions = sorted(cut for cut in cuts if 0 < cut < len(stream))
    # The final newline of each event travels with the start of the next one.
    return [stream[a:b] for a, b in itertools.pairwise([0, *positions, len(stream)])]


@dataclass
class RecordedUpstream:
    delay: float = 0.0  # seconds between chunks, unless the model names its own
    default_scenario: str = "plain_text"
    requests: list[Seen] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        raw = b""
        while True:
            message = await receive()
            raw += message.get("body", b"")
            if not message.get("more_body"):
                break
        try:
            body: dict[str, Any] = json.loads(raw) if raw else {}
        except ValueError:
            body = {}
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        path = scope["path"]
        query = scope["query_string"].decode()
        self.requests.append(Seen(scope["method"], path, query, headers, body))
        provider = next((name for suffix, name in PATH_SUFFIXES if path.endswith(suffix)), None)
        if provider is None or scope["method"] != "POST":
            await _json(send, 404, {"error": {"message": f"no route {path}", "type": "not_found"}})
            return
        model = str(body.get("model", ""))
        if status := _STATUS.match(model):
            code = int(status["status"])
            extra = [(b"retry-after", b"1")] if code == 429 else []
            await _json(send, code, error_body(provider, code, f"replayed HTTP {code}"), extra)
            return
        replay = _REPLAY.match(model)
        scenario = replay["scenario"] if replay else self.default_scenario
        if scenario not in scenarios(provider):
            await _json(send, 404, error_body(provider, 404, f"no recording {scenario!r}"))
            return
        delay = int(replay["delay"]) / 1000 if replay and replay["delay"] else self.delay
        await self._replay(send, provider, recording(provider, scenario), delay)

    async def _replay(self, send: Send, provider: str, stream: bytes, delay: float) -> None:
        headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
        if provider == "openrouter":
            headers.append((b"x-generation-id", b"gen-1718000000-Xk2pQ8mZ"))
        elif provider == "anthropic":
            headers.append((b"request-id", b"req_011CRecorded"))
        else:
            headers.append((b"x-request-id", b"req_recorded"))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for chunk in awkward_chunks(stream):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            if delay:
                await asyncio.sleep(delay)
        await send({"type": "http.response.body", "body": b"", "more_body": False})


_OPENAI_ERRORS = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "unsupported_country_region_territory"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
    503: ("server_error", "service_unavailable"),
}
_ANTHROPIC_ERRORS = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    504: "timeout_error",
    529: "overloaded_error",
}


def error_body(provider: str, status: int, message: str) -> dict[str, Any]:
    """The error document each provider sends with a non-2xx status."""
    if provider == "anthropic":
        kind = _ANTHROPIC_ERRORS.get(status, "api_error")
        return {"type": "error", "error": {"type": kind, "message": message}}
    if provider == "openrouter":
        return {"error": {"code": status, "message": message}}
    kind, code = _OPENAI_ERRORS.get(status, ("server_error", None))
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


async def _json(
    send: Send,
    status: int,
    document: dict[str, Any],
    extra_headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    payload = json.dumps(document).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
        *(extra_headers or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
