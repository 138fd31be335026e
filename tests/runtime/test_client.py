"""The runtime client against a real loopback server that streams recorded contract events.

The server is a small ASGI app under uvicorn. It sends each stream in awkward pieces (inside
`data:`, between CR and LF, inside a UTF-8 character) with keep-alive comments between events,
and it can end a stream early, break the connection, refuse with the JSON error shape, or stream
until the client goes away.
"""

import asyncio
import itertools
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from runtime.client import (
    AsyncRuntimeClient,
    RunResult,
    RuntimeClient,
    RuntimeClientError,
    RuntimeUnreachable,
    ToolResult,
)
from runtime.client_wire import NdjsonDecoder, SseDecoder, StreamKeeper
from runtime.contract import (
    Error,
    EventBase,
    MemoryWriteEvent,
    ReasoningDelta,
    ReasoningEnd,
    ReasoningStart,
    RunFinish,
    RunStart,
    StreamChunk,
    TextEnd,
    TextStart,
    TokenTotals,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallStart,
    Usage,
)
from runtime.conversation import Message, ToolSpec
from runtime.guard import Sequencer, violations
from tests.live import ServerThread

RUN_ID = "run_0001"
TEXT = ["Héllo", " wörld ", "👋", "!"]
# Awkward piece sizes: 1 byte cuts "data:" and multi-byte characters; 2 cuts CRLF.
PIECES = [1, 2, 3, 5, 1, 7, 2, 11, 1, 13]
GATE_SECONDS = 10  # only bounds a failing test; nothing waits this long when the code works


def recorded() -> list[EventBase]:
    """A whole run: reasoning, streamed text, a tool call, a memory write, usage, finish."""
    produced: list[EventBase] = [
        RunStart(workspace_id="ws_1", agent_id="ag_1", provider="local", model="echo"),
        ReasoningStart(block_id="blk_0_0"),
        ReasoningDelta(block_id="blk_0_0", text="thinking"),
        ReasoningEnd(block_id="blk_0_0"),
        TextStart(block_id="blk_0_1"),
        *(StreamChunk(block_id="blk_0_1", text=piece) for piece in TEXT),
        TextEnd(block_id="blk_0_1"),
        ToolCallStart(block_id="blk_0_2", tool_call_id="call_1", name="lookup", index=0),
        ToolCallDelta(block_id="blk_0_2", arguments_delta='{"query": '),
        ToolCallDelta(block_id="blk_0_2", arguments_delta='"tea"}'),
        ToolCallEnd(
            block_id="blk_0_2",
            tool_call_id="call_1",
            name="lookup",
            arguments={"query": "tea"},
            arguments_raw='{"query": "tea"}',
        ),
        MemoryWriteEvent(
            memory_id="mem_1",
            workspace_id="ws_1",
            agent_id="ag_1",
            kind="fact",
            scope="agent",
            content="likes tea",
        ),
        Usage(input_tokens=12, output_tokens=7, cumulative=False),
        RunFinish(finish_reason="stop", usage=TokenTotals(input_tokens=12, output_tokens=7)),
    ]
    return Sequencer(RUN_ID).stamp_all(produced)


RECORDED = recorded()  # stamped once: the server sends these and the tests expect them


def sse(events: list[EventBase]) -> bytes:
    frames = []
    for n, event in enumerate(events):
        newline = "\r\n" if n % 2 else "\n"  # both line endings in one stream
        frames.append(f": keep-alive{newline}")
        data = event.model_dump_json()
        frame = f"id: {event.seq}\nevent: {json.loads(data)['type']}\ndata: {data}\n\n"
        frames.append(frame.replace("\n", newline))
    return "".join(frames).encode()


def ndjson(events: list[EventBase]) -> bytes:
    return "".join(f"{event.model_dump_json()}\n" for event in events).encode()


def awkward(data: bytes) -> list[bytes]:
    pieces: list[bytes] = []
    start = 0
    for size in itertools.cycle(PIECES):
        if start >= len(data):
            return pieces
        pieces.append(data[start : start + size])
        start += size
    return pieces


def dumps(events: list[Any]) -> list[dict[str, Any]]:
    return [event.model_dump(mode="json") for event in events]


@dataclass
class FakeRuntime:
    """Chooses its behaviour by the run's `agent_id`: recorded, gated, cut, broken, garbled,
    refuse, unavailable, endless."""

    requests: list[tuple[str, str, dict[str, str], Any]] = field(default_factory=list)
    gate: threading.Event = field(default_factory=threading.Event)
    disconnected: threading.Event = field(default_factory=threading.Event)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        raw = b""
        while True:
            message = await receive()
            raw += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        body: Any = json.loads(raw) if raw else None
        # The raw path: it shows how the client escaped ids.
        self.requests.append((scope["method"], scope["raw_path"].decode(), headers, body))
        path = scope["path"].removeprefix("/proxy/runtime")
        if path == "/v1/runs" and body["stream"]:
            await self._stream(body["agent_id"], headers, receive, send)
        elif path == "/v1/runs":
            result = {"run_id": RUN_ID, "text": "".join(TEXT), "finish_reason": "stop", "events": 9}
            await _reply(send, 200, result)
        elif path.endswith("/tool-results"):
            await _reply(send, 202, {"accepted": len(body["results"])})
        elif path.endswith("/memories"):
            await _reply(send, 200, {"items": [{"id": "mem_1", "content": "likes tea"}]})
        else:
            await _reply(send, 404, {"error": "not_found", "detail": "no such route"})

    async def _stream(
        self, behaviour: str, headers: dict[str, str], receive: Any, send: Any
    ) -> None:
        if behaviour == "refuse":
            await _reply(
                send,
                403,
                {"error": "scope_missing", "detail": "needs runtime:invoke", "request_id": "req_9"},
            )
            return
        if behaviour == "unavailable":
            await _start(send, 502, b"text/plain", [(b"x-request-id", b"req_502")])
            await send({"type": "http.response.body", "body": b"Bad Gateway"})
            return
        wire = "ndjson" if "ndjson" in headers.get("accept", "") else "sse"
        encode = ndjson if wire == "ndjson" else sse
        content_type = b"application/x-ndjson" if wire == "ndjson" else b"text/event-stream"
        await _start(send, 200, content_type, [(b"x-gatehouse-run-id", RUN_ID.encode())])
        events = list(RECORDED)
        if behaviour == "endless":
            await self._endless(send, receive, encode)
            return
        if behaviour == "gated":
            await _pieces(send, encode(events[:1]))
            # Released once the client has the first event; if it never does, the rest is
            # withheld and the stream ends truncated, so buffering clients fail the test.
            released = await asyncio.to_thread(self.gate.wait, GATE_SECONDS)
            events = events[1:] if released else []
        if behaviour in ("cut", "broken"):
            events = events[:7]  # mid-text: the text block is open
            events.append(
                ToolCallStart(
                    run_id=RUN_ID, seq=50, block_id="blk_x", tool_call_id="c", name="f", index=0
                )
            )
        data = encode(events)
        if behaviour == "garbled":
            garbled = b'data: {"type": "text.delta", "seq": 99}\n\n'
            data = encode(events[:-1]) + garbled + encode(events[-1:])
        await _pieces(send, data)
        if behaviour == "broken":
            return  # without the final body message: uvicorn drops the connection mid-body
        await send({"type": "http.response.body", "body": b""})

    async def _endless(self, send: Any, receive: Any, encode: Any) -> None:
        watcher = asyncio.create_task(receive())
        sequencer = Sequencer(RUN_ID)
        await _pieces(send, encode(sequencer.stamp_all([TextStart(block_id="b")])))
        try:
            while not watcher.done():
                await _pieces(send, encode(sequencer.stamp(StreamChunk(block_id="b", text="."))))
                await asyncio.wait({watcher}, timeout=0.01)
            if (await watcher)["type"] == "http.disconnect":
                self.disconnected.set()
        finally:
            watcher.cancel()


async def _start(send: Any, status: int, content_type: bytes, extra: Any = ()) -> None:
    headers = [(b"content-type", content_type), *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})


async def _pieces(send: Any, data: bytes) -> None:
    for piece in awkward(data):
        await send({"type": "http.response.body", "body": piece, "more_body": True})


async def _reply(send: Any, status: int, body: Any) -> None:
    await _start(send, status, b"application/json")
    await send({"type": "http.response.body", "body": json.dumps(body).encode()})


@pytest.fixture(scope="module")
def runtime_server() -> Iterator[tuple[FakeRuntime, str]]:
    fake = FakeRuntime()
    with ServerThread(fake) as server:
        yield fake, f"{server.url}/proxy/runtime"


@pytest.fixture
def runtime(runtime_server: tuple[FakeRuntime, str]) -> tuple[FakeRuntime, str]:
    fake, url = runtime_server
    fake.requests.clear()
    fake.gate.clear()
    fake.disconnected.clear()
    return fake, url


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


# --- decoders -----------------------------------------------------------------------------


def test_sse_decoder_gives_the_same_payloads_however_the_bytes_are_cut() -> None:
    data = sse(RECORDED)
    whole = SseDecoder().feed(data)
    assert [json.loads(payload) for payload in whole] == dumps(RECORDED)
    for cut in range(len(data)):
        decoder = SseDecoder()
        assert decoder.feed(data[:cut]) + decoder.feed(data[cut:]) + decoder.close() == whole
    one_by_one = SseDecoder()
    assert [p for i in range(len(data)) for p in one_by_one.feed(data[i : i + 1])] == whole


def test_sse_decoder_keeps_the_spec_rules() -> None:
    decoder = SseDecoder()
    data = b": ping\rdata: a\rdata:b\r\rretry: 5\nevent: x\n\n\ndata: tail-without-blank-line\n"
    assert decoder.feed(data) == [b"a\nb"]
    # The shared parser (`runtime.sse`) keeps a whole last event whose blank line never came:
    # providers close right after their final event. Its JSON is still checked by the keeper.
    assert decoder.close() == [b"tail-without-blank-line"]


def test_ndjson_decoder_takes_a_last_line_without_newline() -> None:
    decoder = NdjsonDecoder()
    assert decoder.feed(b'{"a":1}\n\n{"b"') == [b'{"a":1}']
    assert decoder.feed(b":2}\r\n{") == [b'{"b":2}']
    assert decoder.feed(b'"c":3}') == []
    assert decoder.close() == [b'{"c":3}']


# --- sync client --------------------------------------------------------------------------


@pytest.mark.parametrize("wire", ["sse", "ndjson"])
def test_stream_arrives_typed_and_whole(runtime: tuple[FakeRuntime, str], wire: Any) -> None:
    fake, url = runtime
    with (
        RuntimeClient(url, "gh_token", wire=wire) as client,
        client.stream("recorded", [Message(role="user", content="hi")]) as events,
    ):
        assert events.run_id == RUN_ID
        received = list(events)
    assert dumps(received) == dumps(RECORDED)
    assert [type(event) for event in received] == [type(event) for event in RECORDED]
    assert violations(received) == []
    method, path, headers, body = fake.requests[0]
    assert (method, path) == ("POST", "/proxy/runtime/v1/runs")
    assert headers["authorization"] == "Bearer gh_token"
    assert body == {
        "agent_id": "recorded",
        "messages": [{"role": "user", "content": "hi"}],
        "stream": True,
    }


def test_events_are_handed_over_before_the_body_ends(runtime: tuple[FakeRuntime, str]) -> None:
    fake, url = runtime
    with RuntimeClient(url, "t") as client, client.stream("gated", user("hi")) as events:
        first = next(events)
        # The server holds the rest of the body until it sees that the first event arrived.
        fake.gate.set()
        rest = list(events)
    assert isinstance(first, RunStart)
    assert isinstance(rest[-1], RunFinish)
    assert rest[-1].finish_reason == "stop"


def test_a_clean_end_without_finish_is_reported_as_truncated(
    runtime: tuple[FakeRuntime, str],
) -> None:
    _, url = runtime
    with RuntimeClient(url, "t") as client:
        received = list(client.stream("cut", user("hi")))
    assert violations(received) == []
    error, *closes, finish = received[8:]
    assert isinstance(error, Error)
    assert (error.code, error.after_first_token, error.seq) == ("truncated", True, 51)
    assert {(type(end), end.model_dump()["block_id"]) for end in closes} == {
        (TextEnd, "blk_0_1"),
        (ToolCallEnd, "blk_x"),
    }
    assert isinstance(finish, RunFinish)
    assert finish.finish_reason == "error"
    assert {event.run_id for event in received} == {RUN_ID}


def test_a_broken_connection_is_reported_as_runtime_unavailable(
    runtime: tuple[FakeRuntime, str],
) -> None:
    _, url = runtime
    with RuntimeClient(url, "t", wire="ndjson") as client:
        received = list(client.stream("broken", user("hi")))
    assert violations(received) == []
    errors = [event for event in received if isinstance(event, Error)]
    assert [(e.code, e.retryable) for e in errors] == [("runtime_unavailable", True)]
    finish = received[-1]
    assert isinstance(finish, RunFinish)
    assert finish.finish_reason == "error"


def test_an_event_outside_the_contract_ends_the_stream(runtime: tuple[FakeRuntime, str]) -> None:
    _, url = runtime
    with RuntimeClient(url, "t") as client:
        received = list(client.stream("garbled", user("hi")))
    assert violations(received) == []
    error = next(event for event in received if isinstance(event, Error))
    assert error.code == "runtime_error"
    assert "invalid event" in error.message


def test_unknown_event_types_are_skipped() -> None:
    keeper = StreamKeeper(NdjsonDecoder())
    data = ndjson(RECORDED[:1]) + b'{"type": "future.thing", "seq": 2}\n' + ndjson(RECORDED[1:])
    received = keeper.feed(data) + keeper.end()
    assert dumps(received) == dumps(RECORDED)


def test_refusals_carry_the_error_shape(runtime: tuple[FakeRuntime, str]) -> None:
    _, url = runtime
    with RuntimeClient(url, "t") as client:
        with pytest.raises(RuntimeClientError) as refused:
            client.stream("refuse", user("hi")).open()
        with pytest.raises(RuntimeClientError) as bad_gateway, client.stream("unavailable", []):
            pass
    assert (refused.value.status, refused.value.code) == (403, "scope_missing")
    assert (refused.value.detail, refused.value.request_id) == ("needs runtime:invoke", "req_9")
    assert (bad_gateway.value.status, bad_gateway.value.code) == (502, "http_502")
    assert (bad_gateway.value.detail, bad_gateway.value.request_id) == ("Bad Gateway", "req_502")


def test_no_server_is_unreachable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with RuntimeClient(f"http://127.0.0.1:{port}", "t") as client:
        with pytest.raises(RuntimeUnreachable) as unreachable:
            next(client.stream("a", user("hi")))
        with pytest.raises(RuntimeUnreachable):
            client.memories("a")
    assert (unreachable.value.status, unreachable.value.code) == (None, "runtime_unavailable")


def test_leaving_early_closes_the_response(runtime: tuple[FakeRuntime, str]) -> None:
    fake, url = runtime
    with RuntimeClient(url, "t") as client:
        with client.stream("endless", user("hi")) as events:
            taken = list(itertools.islice(events, 3))
        assert list(events) == []
    assert [type(event) for event in taken] == [TextStart, StreamChunk, StreamChunk]
    assert fake.disconnected.wait(GATE_SECONDS)


def test_run_tool_results_and_memories(runtime: tuple[FakeRuntime, str]) -> None:
    fake, url = runtime
    tool = ToolSpec(name="lookup")
    with RuntimeClient(url, "t") as client:
        result = client.run("ag_1", user("hi"), tools=[tool])
        client.submit_tool_results(
            "run/1",
            [
                ToolResult(tool_call_id="call_1", content='"x"'),
                {"tool_call_id": "c2", "content": "y"},
            ],
        )
        memories = client.memories("support bot")
    assert (result.run_id, result.text, result.finish_reason) == (RUN_ID, "".join(TEXT), "stop")
    assert memories == [{"id": "mem_1", "content": "likes tea"}]
    run, submit, listing = fake.requests
    assert run[3]["stream"] is False
    assert run[3]["tools"] == [tool.model_dump(mode="json")]
    assert submit[1] == "/proxy/runtime/v1/runs/run%2F1/tool-results"
    assert submit[3] == {
        "results": [
            {"tool_call_id": "call_1", "content": '"x"'},
            {"tool_call_id": "c2", "content": "y"},
        ]
    }
    assert (listing[0], listing[1]) == ("GET", "/proxy/runtime/v1/agents/support%20bot/memories")


# --- async client -------------------------------------------------------------------------


def test_async_stream_keeps_the_contract(runtime: tuple[FakeRuntime, str]) -> None:
    _, url = runtime

    async def scenario() -> tuple[list[Any], list[Any], list[Any]]:
        async with AsyncRuntimeClient(url, "t", wire="ndjson") as client:
            async with client.stream("recorded", user("hi")) as events:
                whole = [event async for event in events]
            cut = [event async for event in client.stream("cut", user("hi"))]
            broken = [event async for event in client.stream("broken", user("hi"))]
        return whole, cut, broken

    whole, cut, broken = asyncio.run(scenario())
    assert dumps(whole) == dumps(RECORDED)
    assert [violations(events) for events in (whole, cut, broken)] == [[], [], []]
    assert [e.code for e in cut + broken if isinstance(e, Error)] == [
        "truncated",
        "runtime_unavailable",
    ]


def test_async_refusal_early_close_and_calls(runtime: tuple[FakeRuntime, str]) -> None:
    fake, url = runtime

    async def scenario() -> tuple[RuntimeClientError, list[Any], RunResult, list[Any]]:
        async with AsyncRuntimeClient(url, "t") as client:
            with pytest.raises(RuntimeClientError) as refused:
                await client.stream("refuse", user("hi")).open()
            async with client.stream("endless", user("hi")) as events:
                taken = [await anext(events), await anext(events)]
            result = await client.run("ag_1", [Message(role="user", content="hi")])
            await client.submit_tool_results("run_1", [{"tool_call_id": "c", "content": "{}"}])
            memories = await client.memories("ag_1")
        return refused.value, taken, result, memories

    refused, taken, result, memories = asyncio.run(scenario())
    assert (refused.status, refused.code, refused.request_id) == (403, "scope_missing", "req_9")
    assert [type(event) for event in taken] == [TextStart, StreamChunk]
    assert fake.disconnected.wait(GATE_SECONDS)
    assert result.finish_reason == "stop"
    assert memories == [{"id": "mem_1", "content": "likes tea"}]
    assert fake.requests[-2][3] == {"results": [{"tool_call_id": "c", "content": "{}"}]}
