"""The client's wire handling: decoding SSE or NDJSON into contract events that keep the
contract whatever the connection does, building requests, and turning refusals into errors.
`runtime.client` builds the sync and async clients on top."""

import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal, Protocol, cast
from urllib.parse import quote

import httpx
from pydantic import ValidationError

from runtime.contract import EVENT_TYPES, ErrorCode, Event, RunFinish, parse_event
from runtime.conversation import Message, ToolSpec
from runtime.guard import Sequencer
from runtime.schemas import ToolResult
from runtime.sse import SseParser

Wire = Literal["sse", "ndjson"]
MessageLike = Message | Mapping[str, Any]
ToolLike = ToolSpec | Mapping[str, Any]

ACCEPT = {"sse": "text/event-stream", "ndjson": "application/x-ndjson"}
NDJSON_TYPES = ("application/x-ndjson", "application/ndjson", "application/jsonl")
# A runtime that is down should be reported at once, not after the long read timeout.
CONNECT_TIMEOUT_SECONDS = 10.0
RUN_ID_HEADER = "x-gatehouse-run-id"
KNOWN_TYPES = frozenset(str(model.model_fields["type"].default) for model in EVENT_TYPES)


class RuntimeClientError(Exception):
    def __init__(self, status: int | None, code: str, detail: str, request_id: str | None) -> None:
        super().__init__(f"{detail} ({code})")
        self.status = status
        self.code = code
        self.detail = detail
        self.request_id = request_id


class RuntimeUnreachable(RuntimeClientError):
    def __init__(self, url: str, error: httpx.TransportError) -> None:
        reason = str(error) or type(error).__name__
        super().__init__(None, "runtime_unavailable", f"cannot reach {url}: {reason}", None)


# --- decoding the body --------------------------------------------------------------------


class Decoder(Protocol):
    def feed(self, chunk: bytes) -> list[bytes]:
        """The complete payloads in the bytes received so far; chunks may be cut anywhere."""
        ...

    def close(self) -> list[bytes]:
        """The body ended: whatever complete payload is still held."""
        ...


class SseDecoder:
    """Server-sent events to the `data` of each event (`runtime.sse` does the parsing);
    `event:` and `id:` repeat what the JSON carries."""

    def __init__(self) -> None:
        self._parser = SseParser()

    def feed(self, chunk: bytes) -> list[bytes]:
        return [event.data.encode() for event in self._parser.feed(chunk)]

    def close(self) -> list[bytes]:
        return [event.data.encode() for event in self._parser.close()]


class NdjsonDecoder:
    """One JSON object per line; a last line without its newline still counts."""

    def __init__(self) -> None:
        self._pending = b""

    def feed(self, chunk: bytes) -> list[bytes]:
        *lines, self._pending = (self._pending + chunk).split(b"\n")
        return [line.strip() for line in lines if line.strip()]

    def close(self) -> list[bytes]:
        rest, self._pending = self._pending.strip(), b""
        return [rest] if rest else []


def decoder_for(response: httpx.Response) -> Decoder:
    content_type = response.headers.get("content-type", "").lower()
    if content_type.startswith(NDJSON_TYPES):
        return NdjsonDecoder()
    return SseDecoder()


# --- keeping the contract -----------------------------------------------------------------


class StreamKeeper:
    """Payloads in, the events to hand the caller out. It tracks open blocks by running a copy
    of each event through a `Sequencer`, which then writes the ending if the wire did not."""

    def __init__(self, decoder: Decoder) -> None:
        self._decoder = decoder
        self._sequencer = Sequencer(run_id="")
        self._last_seq = 0
        self.finished = False

    def feed(self, chunk: bytes) -> list[Event]:
        return self._accept_all(self._decoder.feed(chunk))

    def end(self) -> list[Event]:
        """The body ended cleanly."""
        events = self._accept_all(self._decoder.close())
        return events + self.fail("truncated", "the stream ended before run.finish")

    def fail(self, code: ErrorCode, message: str, *, retryable: bool = False) -> list[Event]:
        """`error` then `run.finish(error)` after what was received; nothing once finished."""
        if self.finished:
            return []
        self.finished = True
        self._sequencer.next_seq = self._last_seq + 1
        ending = self._sequencer.fail(code, message, retryable=retryable)
        # Sequencer speaks EventBase; what it builds here are members of the Event union.
        return cast("list[Event]", ending)

    def _accept_all(self, payloads: list[bytes]) -> list[Event]:
        events: list[Event] = []
        for payload in payloads:
            if self.finished:
                break
            events.extend(self._accept(payload))
        return events

    def _accept(self, payload: bytes) -> list[Event]:
        try:
            event = parse_event(payload)
        except ValidationError as error:
            if unknown_type(payload):
                return []  # a newer minor version's event type: skipped, not fatal
            problem = error.errors()[0]["msg"]
            return self.fail("runtime_error", f"the runtime sent an invalid event: {problem}")
        self._sequencer.run_id = event.run_id or self._sequencer.run_id
        self._last_seq = max(self._last_seq, event.seq)
        if isinstance(event, RunFinish):
            self.finished = True
        else:
            # A copy: the sequencer re-stamps what it is given, and the caller's event must not.
            self._sequencer.stamp(event.model_copy())
        return [event]


def unknown_type(payload: bytes) -> bool:
    try:
        value = json.loads(payload)
    except ValueError:
        return False
    kind = value.get("type") if isinstance(value, dict) else None
    return isinstance(kind, str) and kind not in KNOWN_TYPES


def broken(keeper: StreamKeeper, error: httpx.TransportError, timeout: float) -> list[Event]:
    if isinstance(error, httpx.TimeoutException):
        return keeper.fail("timeout", f"no data from the runtime for {timeout:g}s", retryable=True)
    reason = str(error) or type(error).__name__
    return keeper.fail(
        "runtime_unavailable", f"the connection to the runtime broke: {reason}", retryable=True
    )


# --- requests and refusals ----------------------------------------------------------------


def run_body(
    agent_id: str | None,
    messages: Sequence[MessageLike],
    tools: Sequence[ToolLike] | None,
    *,
    stream: bool,
) -> dict[str, Any]:
    """A run request; with no `agent_id`, the runtime runs the agent the token is bound to."""
    body: dict[str, Any] = {
        "messages": [
            m.model_dump(mode="json", exclude_defaults=True) if isinstance(m, Message) else dict(m)
            for m in messages
        ],
        "stream": stream,
    }
    if agent_id is not None:
        body["agent_id"] = agent_id
    if tools:
        body["tools"] = [
            t.model_dump(mode="json") if isinstance(t, ToolSpec) else dict(t) for t in tools
        ]
    return body


def results_body(results: Sequence[ToolResult | Mapping[str, Any]]) -> dict[str, Any]:
    return {"results": [r.model_dump() if isinstance(r, ToolResult) else dict(r) for r in results]}


def refusal(response: httpx.Response) -> RuntimeClientError:
    """The error for a non-2xx answer; its body has been read."""
    request_id = response.headers.get("x-request-id")
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        detail = str(body.get("detail") or body["error"])
        return RuntimeClientError(
            response.status_code, body["error"], detail, body.get("request_id") or request_id
        )
    detail = response.text.strip()[:200] or response.reason_phrase
    return RuntimeClientError(
        response.status_code, f"http_{response.status_code}", detail, request_id
    )


def auth_headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "User-Agent": "gatehouse-runtime-client"}


def timeout_of(seconds: float) -> httpx.Timeout:
    return httpx.Timeout(seconds, connect=min(seconds, CONNECT_TIMEOUT_SECONDS))


def stream_headers(wire: Wire) -> dict[str, str]:
    # identity: a compressing hop would hold events back until it has a block to compress.
    return {"Accept": ACCEPT[wire], "Accept-Encoding": "identity"}


def tool_results_path(run_id: str) -> str:
    return f"/v1/runs/{quote(run_id, safe='')}/tool-results"


def memories_path(agent_id: str) -> str:
    return f"/v1/agents/{quote(agent_id, safe='')}/memories"


def json_of(response: httpx.Response) -> Any:
    if response.status_code == 204 or not response.content:
        return None
    try:
        return response.json()
    except ValueError as error:
        detail = f"the runtime answered HTTP {response.status_code} with a body that is not JSON"
        raise RuntimeClientError(
            response.status_code,
            "invalid_response",
            detail,
            response.headers.get("x-request-id"),
        ) from error
