"""The Python client of the streaming runtime, sync (`RuntimeClient`) and async
(`AsyncRuntimeClient`), over httpx.

    with RuntimeClient("http://127.0.0.1:8080/proxy/runtime", token) as client:
        with client.stream("support-bot", [{"role": "user", "content": "hi"}]) as events:
            for event in events:
                ...

Events are typed (`runtime.contract`) and handed over as they arrive: the body is decoded
incrementally, as SSE or NDJSON, whichever the server answered with. Whatever happens on the
wire, the caller gets a stream that keeps the contract: one that stops before `run.finish` ends
with `error` (code `runtime_unavailable` when the connection broke, `truncated` when it ended
cleanly) and `run.finish(finish_reason="error")`, numbered after the last event received, with
open blocks closed. Leaving the `with` block early closes the response, which cancels the run.

    RuntimeClientError          the runtime refused the request: status, code, detail, request_id
    └── RuntimeUnreachable      no answer at all (connection refused, timeout before the headers)
"""

from collections.abc import AsyncGenerator, Generator, Mapping, Sequence
from types import TracebackType
from typing import Any, Self

import httpx

from runtime.assembler import RunResult
from runtime.client_wire import (
    RUN_ID_HEADER,
    MessageLike,
    RuntimeClientError,
    RuntimeUnreachable,
    StreamKeeper,
    ToolLike,
    Wire,
    auth_headers,
    broken,
    decoder_for,
    json_of,
    memories_path,
    refusal,
    results_body,
    run_body,
    stream_headers,
    timeout_of,
    tool_results_path,
)
from runtime.contract import Event
from runtime.schemas import ToolResult

__all__ = [
    "AsyncEventStream",
    "AsyncRuntimeClient",
    "EventStream",
    "RunResult",
    "RuntimeClient",
    "RuntimeClientError",
    "RuntimeUnreachable",
    "ToolResult",
]

# --- sync ---------------------------------------------------------------------------------


class EventStream:
    """The events of one run. The request goes out on `open()`, `with` or the first `next()`;
    `close()` (or leaving the `with` block) closes the response, cancelling an unfinished run."""

    def __init__(self, http: httpx.Client, request: httpx.Request, timeout: float) -> None:
        self._http = http
        self._request = request
        self._timeout = timeout
        self._response: httpx.Response | None = None
        self._events: Generator[Event, None, None] | None = None
        self._closed = False
        self.run_id: str | None = None  # known once the runtime has answered

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> Event:
        if self._closed:
            raise StopIteration
        return next(self._events or self.open())

    def open(self) -> Generator[Event, None, None]:
        """Send the request; raises RuntimeClientError if the runtime refuses it."""
        if self._events is not None:
            return self._events
        try:
            response = self._http.send(self._request, stream=True)
        except httpx.TransportError as error:
            raise RuntimeUnreachable(str(self._request.url), error) from error
        if not response.is_success:
            try:
                response.read()
            finally:
                response.close()
            raise refusal(response)
        self._response = response
        self.run_id = response.headers.get(RUN_ID_HEADER)
        self._events = self._read(response)
        return self._events

    def close(self) -> None:
        self._closed = True
        if self._events is not None:
            self._events.close()
        if self._response is not None:
            self._response.close()

    def _read(self, response: httpx.Response) -> Generator[Event, None, None]:
        keeper = StreamKeeper(decoder_for(response))
        chunks = response.iter_bytes()
        try:
            while not keeper.finished:
                try:
                    chunk = next(chunks)
                except StopIteration:
                    yield from keeper.end()
                except httpx.TransportError as error:
                    yield from broken(keeper, error, self._timeout)
                else:
                    yield from keeper.feed(chunk)
        finally:
            response.close()


class RuntimeClient:
    def __init__(
        self, base_url: str, token: str, *, timeout: float = 300, wire: Wire = "sse"
    ) -> None:
        self._timeout = timeout
        self._wire = wire
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"), headers=auth_headers(token), timeout=timeout_of(timeout)
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def stream(
        self,
        agent_id: str | None,
        messages: Sequence[MessageLike],
        tools: Sequence[ToolLike] | None = None,
    ) -> EventStream:
        request = self._http.build_request(
            "POST",
            "/v1/runs",
            json=run_body(agent_id, messages, tools, stream=True),
            headers=stream_headers(self._wire),
        )
        return EventStream(self._http, request, self._timeout)

    def run(
        self,
        agent_id: str | None,
        messages: Sequence[MessageLike],
        tools: Sequence[ToolLike] | None = None,
    ) -> RunResult:
        """The whole run at once (`stream: false`); tool calls end it (finish `tool_calls`)."""
        body = run_body(agent_id, messages, tools, stream=False)
        return RunResult.model_validate(self._call("POST", "/v1/runs", body))

    def submit_tool_results(
        self, run_id: str, results: Sequence[ToolResult | Mapping[str, Any]]
    ) -> None:
        self._call("POST", tool_results_path(run_id), results_body(results))

    def memories(self, agent_id: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self._call("GET", memories_path(agent_id), None)["items"]
        return items

    def _call(self, method: str, path: str, body: Mapping[str, Any] | None) -> Any:
        request = self._http.build_request(method, path, json=body)
        try:
            response = self._http.send(request)
        except httpx.TransportError as error:
            raise RuntimeUnreachable(str(request.url), error) from error
        if not response.is_success:
            raise refusal(response)
        return json_of(response)


# --- async --------------------------------------------------------------------------------


class AsyncEventStream:
    """`EventStream` for asyncio: `async with` and `async for`."""

    def __init__(self, http: httpx.AsyncClient, request: httpx.Request, timeout: float) -> None:
        self._http = http
        self._request = request
        self._timeout = timeout
        self._response: httpx.Response | None = None
        self._events: AsyncGenerator[Event, None] | None = None
        self._closed = False
        self.run_id: str | None = None

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Event:
        if self._closed:
            raise StopAsyncIteration
        events = self._events or await self.open()
        return await anext(events)

    async def open(self) -> AsyncGenerator[Event, None]:
        if self._events is not None:
            return self._events
        try:
            response = await self._http.send(self._request, stream=True)
        except httpx.TransportError as error:
            raise RuntimeUnreachable(str(self._request.url), error) from error
        if not response.is_success:
            try:
                await response.aread()
            finally:
                await response.aclose()
            raise refusal(response)
        self._response = response
        self.run_id = response.headers.get(RUN_ID_HEADER)
        self._events = self._read(response)
        return self._events

    async def aclose(self) -> None:
        self._closed = True
        if self._events is not None:
            await self._events.aclose()
        if self._response is not None:
            await self._response.aclose()

    async def _read(self, response: httpx.Response) -> AsyncGenerator[Event, None]:
        keeper = StreamKeeper(decoder_for(response))
        chunks = response.aiter_bytes()
        try:
            while not keeper.finished:
                try:
                    chunk = await anext(chunks)
                except StopAsyncIteration:
                    events = keeper.end()
                except httpx.TransportError as error:
                    events = broken(keeper, error, self._timeout)
                else:
                    events = keeper.feed(chunk)
                for event in events:
                    yield event
        finally:
            await response.aclose()


class AsyncRuntimeClient:
    def __init__(
        self, base_url: str, token: str, *, timeout: float = 300, wire: Wire = "sse"
    ) -> None:
        self._timeout = timeout
        self._wire = wire
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), headers=auth_headers(token), timeout=timeout_of(timeout)
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    def stream(
        self,
        agent_id: str | None,
        messages: Sequence[MessageLike],
        tools: Sequence[ToolLike] | None = None,
    ) -> AsyncEventStream:
        request = self._http.build_request(
            "POST",
            "/v1/runs",
            json=run_body(agent_id, messages, tools, stream=True),
            headers=stream_headers(self._wire),
        )
        return AsyncEventStream(self._http, request, self._timeout)

    async def run(
        self,
        agent_id: str | None,
        messages: Sequence[MessageLike],
        tools: Sequence[ToolLike] | None = None,
    ) -> RunResult:
        body = run_body(agent_id, messages, tools, stream=False)
        return RunResult.model_validate(await self._call("POST", "/v1/runs", body))

    async def submit_tool_results(
        self, run_id: str, results: Sequence[ToolResult | Mapping[str, Any]]
    ) -> None:
        await self._call("POST", tool_results_path(run_id), results_body(results))

    async def memories(self, agent_id: str) -> list[dict[str, Any]]:
        reply = await self._call("GET", memories_path(agent_id), None)
        items: list[dict[str, Any]] = reply["items"]
        return items

    async def _call(self, method: str, path: str, body: Mapping[str, Any] | None) -> Any:
        request = self._http.build_request(method, path, json=body)
        try:
            response = await self._http.send(request)
        except httpx.TransportError as error:
            raise RuntimeUnreachable(str(request.url), error) from error
        if not response.is_success:
            raise refusal(response)
        return json_of(response)
