"""How a run leaves the process: SSE, NDJSON or one JSON result, as raw ASGI.

Each event is written the moment the run produces it, with nothing buffered on the way. A
watcher listens for the client going away and cancels the run at once, which closes its model
call too; Starlette's own streaming response notices a disconnect only when a write fails,
which for a run waiting on a model or on tool results can be minutes later.

The run's row and metrics are written after its `run.finish` has gone out but before the body
ends, so a client that has read the whole response can read the run's measurements.
"""

import asyncio
import contextlib
import logging
import re
import secrets
import time
from typing import Literal

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from controlplane.errors import PayloadTooLarge
from controlplane.http.errors import send_error
from controlplane.http.middleware import limited_body
from runtime.assembler import assemble
from runtime.contract import EVENT_TYPES, EventBase
from runtime.engine import Run
from runtime.waiting import KeepAlive

log = logging.getLogger(__name__)

Wire = Literal["sse", "ndjson", "json"]
SSE = "text/event-stream"
NDJSON = "application/x-ndjson"
RUN_ID_HEADER = "x-gatehouse-run-id"
_STREAM_HEADERS = (
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
)


def wire_for(accept: str | None, *, stream: bool) -> Wire:
    if not stream:
        return "json"
    return "ndjson" if accept and NDJSON in accept.lower() else "sse"


# Each event class's `type`, looked up per event without touching pydantic's machinery.
_EVENT_NAMES = {cls: str(cls.model_fields["type"].default) for cls in EVENT_TYPES}


def sse_frame(event: EventBase) -> bytes:
    name = _EVENT_NAMES[type(event)]
    return f"id: {event.seq}\nevent: {name}\ndata: {event.model_dump_json()}\n\n".encode()


def ndjson_line(event: EventBase) -> bytes:
    return event.model_dump_json().encode() + b"\n"


# SSE comments are ignored by every client; NDJSON readers skip blank lines.
_KEEP_ALIVE = {"sse": b": keep-alive\n\n", "ndjson": b"\n", "json": b""}


class RunResponse(Response):
    """A Response only so that FastAPI hands it over untouched; it writes itself."""

    def __init__(self, run: Run, wire: Wire) -> None:
        super().__init__()
        self.run = run
        self.wire = wire
        self.collected: list[EventBase] = []

    async def __call__(self, _scope: Scope, receive: Receive, send: Send) -> None:
        pump = asyncio.ensure_future(self._pump(send))
        disconnect = asyncio.ensure_future(_wait_for_disconnect(receive))
        completed = False
        try:
            await asyncio.wait({pump, disconnect}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not pump.done():
                # The client went away: stop the run where it stands (cancelling closes its
                # model call) and let it unwind before recording it.
                pump.cancel()
                with contextlib.suppress(BaseException):
                    await pump
            disconnect.cancel()
            completed = not pump.cancelled() and pump.exception() is None
            if not pump.cancelled() and not completed:
                _log_failed_write(pump.exception())
            # In `finally`: a run is recorded even when the server cancels this response.
            await self.run.finalize(cancelled=not completed)
        if not completed:
            return
        if self.wire == "json":
            body = assemble(self.collected).model_dump_json().encode()
            await send(_start(200, b"application/json", self.run, len(body)))
            await send({"type": "http.response.body", "body": body, "more_body": False})
        else:
            await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _pump(self, send: Send) -> None:
        run, wire = self.run, self.wire
        if wire != "json":
            content_type = SSE if wire == "sse" else NDJSON
            await send(_start(200, content_type.encode(), run, None))
        encode = sse_frame if wire == "sse" else ndjson_line
        async with contextlib.aclosing(run.events()) as events:
            async for item in events:
                if isinstance(item, KeepAlive):
                    if wire != "json":
                        await send(_body(_KEEP_ALIVE[wire]))
                    continue
                if wire == "json":
                    self.collected.append(item)
                else:
                    await send(_body(encode(item)))
                run.sent(item)


def _start(status: int, content_type: bytes, run: Run, length: int | None) -> Message:
    headers = [
        (b"content-type", content_type),
        (RUN_ID_HEADER.encode(), run.spec.run_id.encode()),
        *_STREAM_HEADERS,
    ]
    if length is not None:
        headers.append((b"content-length", str(length).encode()))
    return {"type": "http.response.start", "status": status, "headers": headers}


def _body(chunk: bytes) -> Message:
    return {"type": "http.response.body", "body": chunk, "more_body": True}


def _log_failed_write(error: BaseException | None) -> None:
    # A write fails when the client has gone between two events: that is a cancellation.
    if error is not None and not isinstance(error, OSError):
        log.error("writing a run's events failed: %s", type(error).__name__)


async def _wait_for_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")


class RequestContext:
    """Pure ASGI, so streams pass through untouched: the request id (kept from the control
    plane's `x-request-id` when it is safe to echo), the moment the request arrived (the start
    of a run's TTFT), and a body size limit."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        received = time.perf_counter()
        request_id, length = secrets.token_hex(12), None
        for name, value in scope.get("headers", ()):
            if name == b"x-request-id" and _REQUEST_ID.fullmatch(value.decode("latin-1")):
                request_id = value.decode("latin-1")
            elif name == b"content-length" and value.isdigit():
                length = int(value)
        state = scope.setdefault("state", {})
        state["request_id"], state["received"] = request_id, received
        header = (b"x-request-id", request_id.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        if length is not None and length > self.max_body_bytes:
            too_large = PayloadTooLarge(f"request body exceeds {self.max_body_bytes} bytes")
            too_large.headers["Connection"] = "close"
            await send_error(send_with_id, too_large, request_id)
            return
        await self.app(scope, limited_body(receive, self.max_body_bytes), send_with_id)
