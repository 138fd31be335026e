"""Raw-socket HTTP/1.1 clients (asyncio streams): time to first byte, and many open streams.

wrk times whole responses; a stream's first event is what a caller waits for, so it is timed
here with nothing between the socket and the clock: the request is written, the response head
read, and the clock stops when the first body chunk (the first SSE event) has arrived.
"""

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

HOST = "127.0.0.1"
_READ_TIMEOUT = 30.0


class ProtocolError(RuntimeError):
    pass


def build_request(path: str, port: int, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: {HOST}:{port}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def stream_body(model: str) -> bytes:
    document = {"model": model, "stream": True, "messages": [{"role": "user", "content": "Hi."}]}
    return json.dumps(document).encode()


def json_body(model: str) -> bytes:
    return json.dumps({"model": model, "messages": [{"role": "user", "content": "Hi."}]}).encode()


class Response:
    """Reads one response off a keep-alive connection: the head, then the body piece by piece."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self.reader = reader
        self.status = 0
        self.headers: dict[str, str] = {}
        self._chunked = False
        self._remaining = 0
        self.done = False

    async def read_head(self) -> None:
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
            raise ProtocolError(f"bad status line {status_line!r}")
        self.status = int(parts[1])
        for line in lines:
            if line:
                name, _, value = line.partition(":")
                self.headers[name.strip().lower()] = value.strip()
        self._chunked = self.headers.get("transfer-encoding", "").lower() == "chunked"
        self._remaining = int(self.headers.get("content-length", "0"))
        self.done = not self._chunked and self._remaining == 0

    async def read_piece(self) -> bytes:
        """The next body piece (a chunk, or the whole sized body); b"" once the body is over."""
        if self.done:
            return b""
        if not self._chunked:
            data = await self.reader.readexactly(self._remaining)
            self.done = True
            return data
        size_line = await self.reader.readuntil(b"\r\n")
        size = int(size_line.split(b";", 1)[0], 16)
        if size == 0:
            await self.reader.readuntil(b"\r\n")  # no trailers are sent: the final CRLF
            self.done = True
            return b""
        data = await self.reader.readexactly(size + 2)
        return data[:-2]

    async def read_rest(self) -> bytes:
        pieces = []
        while piece := await self.read_piece():
            pieces.append(piece)
        return b"".join(pieces)


# --- time to first byte -------------------------------------------------------------------


@dataclass
class TtfbSeries:
    ttfb_ms: list[float] = field(default_factory=list)
    overhead_ms: list[float] = field(default_factory=list)  # Gatehouse's own header, if sent
    errors: list[str] = field(default_factory=list)


async def ttfb_series(
    port: int, path: str, headers: dict[str, str], count: int, into: TtfbSeries
) -> None:
    """`count` sequential streamed requests on one keep-alive connection (as SDKs reuse theirs)."""
    request = build_request(path, port, stream_body("gpt-bench"), headers)
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        for _ in range(count):
            try:
                started = time.perf_counter()
                writer.write(request)
                await writer.drain()
                response = Response(reader)
                await asyncio.wait_for(response.read_head(), _READ_TIMEOUT)
                first = await asyncio.wait_for(response.read_piece(), _READ_TIMEOUT)
                elapsed = (time.perf_counter() - started) * 1000
                rest = await asyncio.wait_for(response.read_rest(), _READ_TIMEOUT)
            except (OSError, TimeoutError, asyncio.IncompleteReadError, ProtocolError) as error:
                into.errors.append(f"{type(error).__name__}: {error}")
                return  # the connection is in an unknown state; this series ends here
            if response.status != 200 or not first or not (first + rest).endswith(b"[DONE]\n\n"):
                into.errors.append(f"status {response.status}, {len(first + rest)} body bytes")
                continue
            into.ttfb_ms.append(elapsed)
            overhead = response.headers.get("x-gatehouse-overhead-ms")
            if overhead is not None:
                into.overhead_ms.append(float(overhead))
    finally:
        writer.close()


# --- many open streams ----------------------------------------------------------------------


@dataclass
class HeldStreams:
    requested: int
    opened: int = 0
    chunks_while_open: list[int] = field(default_factory=list)  # per stream open at the sample
    stalled: int = 0  # open streams that received nothing while the sample was taken
    errors: dict[str, int] = field(default_factory=dict)
    open_seconds: float = 0.0

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())


async def _one_stream(
    port: int,
    request: bytes,
    release: asyncio.Event,
    counted: list[int],
    is_open: list[bool],
    index: int,
    ready: "asyncio.Future[None]",
    result: HeldStreams,
    connect_gate: asyncio.Semaphore,
) -> None:
    writer: asyncio.StreamWriter | None = None
    try:
        async with connect_gate:
            reader, connected = await asyncio.wait_for(
                asyncio.open_connection(HOST, port), _READ_TIMEOUT
            )
            writer = connected
            connected.write(request)
            await connected.drain()
            response = Response(reader)
            await asyncio.wait_for(response.read_head(), _READ_TIMEOUT)
            if response.status != 200:
                result.error(f"status {response.status}")
                return
            if not await asyncio.wait_for(response.read_piece(), _READ_TIMEOUT):
                result.error("ended before its first chunk")
                return
        result.opened += 1
        is_open[index] = True
        ready.set_result(None)
        # Keep reading until told to let go; count the chunks that keep arriving meanwhile.
        reading = asyncio.ensure_future(response.read_piece())
        while True:
            waiter = asyncio.ensure_future(release.wait())
            await asyncio.wait({reading, waiter}, return_when=asyncio.FIRST_COMPLETED)
            if waiter.done():
                reading.cancel()
                return
            waiter.cancel()
            if not reading.result():
                is_open[index] = False
                result.error("ended while it should be open")
                return
            counted[index] += 1
            reading = asyncio.ensure_future(response.read_piece())
    except (OSError, TimeoutError, asyncio.IncompleteReadError, ProtocolError) as error:
        result.error(type(error).__name__)
    finally:
        if not ready.done():
            ready.set_result(None)  # settled: failed before its first chunk
        if writer is not None:
            writer.close()


async def hold_streams(
    port: int,
    path: str,
    headers: dict[str, str],
    count: int,
    model: str,
    settle_seconds: float,
    on_open: Callable[[], Any],
    open_timeout: float = 120.0,
) -> tuple[HeldStreams, Any]:
    """Open `count` streams at once, wait until all have their first chunk (or failed), wait
    `settle_seconds` more, call `on_open()` (the RSS sample) while every stream is still open,
    then close them all. Returns the counts and what `on_open` returned."""
    result = HeldStreams(requested=count)
    request = build_request(path, port, stream_body(model), headers)
    release = asyncio.Event()
    counted = [0] * count
    is_open = [False] * count
    # Connects in waves of 200, so the listen backlog is never what is being measured.
    gate = asyncio.Semaphore(200)
    loop = asyncio.get_running_loop()
    readies: list[asyncio.Future[None]] = [loop.create_future() for _ in range(count)]
    started = time.perf_counter()
    tasks = [
        asyncio.ensure_future(
            _one_stream(port, request, release, counted, is_open, i, readies[i], result, gate)
        )
        for i in range(count)
    ]
    # Every stream settles (first chunk, or failure) before the clock and the sample are read.
    await asyncio.wait(readies, timeout=open_timeout)
    result.open_seconds = time.perf_counter() - started
    before = list(counted)
    await asyncio.sleep(settle_seconds)
    sample = on_open()
    result.chunks_while_open = [
        after - seen for after, seen, live in zip(counted, before, is_open, strict=True) if live
    ]
    result.stalled = sum(1 for chunks in result.chunks_while_open if chunks == 0)
    release.set()
    done, pending = await asyncio.wait(tasks, timeout=30)
    for task in pending:
        task.cancel()
        result.error("did not close")
    for task in done:
        if task.exception() is not None:
            result.error(f"client failure: {task.exception()!r}")
    return result, sample
