"""One batch of concurrent runs, two ways, measured the same way.

- in-process: the local provider's async generator of contract events, the one the runtime's
  engine iterates for provider "local" (`runtime.upstream.model_turn`), consumed as the engine
  consumes it, one asyncio task per run;
- HTTP: `POST /proxy/runtime/v1/runs` (SSE) through `gatehouse serve` and its runtime, with
  aiohttp, the body read incrementally and split into events by the runtime's own SSE parser.

TTFT is monotonic time from the start of a run (the first line of its task, before the
generator is created or the request sent) to its first content event (`is_content`). Runs are
all launched at once; the time from the launch to the first content event is kept too. Unpaced,
a local run never waits on anything, so in-process the loop runs the batch one run after the
other: from its own start, a run's TTFT is the provider's alone; from the launch, it includes
the runs ahead of it.
"""

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench.environment import bench_settings
from controlplane.agent_runtime.models import DEFAULT_MODEL, DEFAULT_PROVIDER
from runtime.contract import EVENT_TYPES, RunFinish, is_content, parse_event
from runtime.conversation import Message, ModelCall
from runtime.sse import SseParser
from runtime.upstream import UpstreamClient, model_turn

CONTENT_TYPE = "text.delta"
# Each event class's `type`, looked up per event as the runtime's writer does.
EVENT_NAMES = {cls: str(cls.model_fields["type"].default) for cls in EVENT_TYPES}
MAX_ERROR_SAMPLES = 5


def prompt(words: int) -> str:
    return f"/long {words}"


@dataclass
class Tally:
    """What one run delivered: events, text deltas, the first content's time, how it ended."""

    started: float
    words: int
    run_id: str | None = None  # through the runtime: its `x-gatehouse-run-id`
    first_content: float | None = None
    events: int = 0
    deltas: int = 0
    finish_reason: str | None = None
    error: str | None = None

    def event(self, kind: str) -> None:
        self.events += 1
        if kind == CONTENT_TYPE:
            self.deltas += 1
        elif kind == "error" and self.error is None:
            self.error = "error event"

    def content(self) -> None:
        if self.first_content is None:
            self.first_content = time.monotonic()

    def failure(self) -> str | None:
        if self.error is not None:
            return self.error
        if self.finish_reason != "stop":
            return f"finish {self.finish_reason}"
        if self.first_content is None or self.deltas != self.words:
            return f"{self.deltas} text deltas for {self.words} words"
        return None


@dataclass
class Batch:
    """The runs of one batch, launched together at `launched`, all done at `ended`."""

    launched: float
    ended: float
    tallies: list[Tally] = field(default_factory=list)

    def stats(self) -> dict[str, Any]:
        good = [t for t in self.tallies if t.failure() is None]
        failures = [f for t in self.tallies if (f := t.failure()) is not None]
        ttft = [1000 * (t.first_content or 0) - 1000 * t.started for t in good]
        from_launch = [1000 * (t.first_content or 0) - 1000 * self.launched for t in good]
        events = sum(t.events for t in good)
        wall = self.ended - self.launched
        stats: dict[str, Any] = {
            "runs": len(self.tallies),
            "errors": len(failures),
            "error_samples": sorted(set(failures))[:MAX_ERROR_SAMPLES],
            "events": events,
            "events_per_run": events / len(good) if good else None,
            "wall_seconds": wall,
            "events_per_second": events / wall if wall > 0 else None,
        }
        for name, values in (("ttft", ttft), ("ttft_from_launch", from_launch)):
            for fraction in (0.50, 0.95, 0.99):
                key = f"{name}_p{round(fraction * 100)}_ms"
                stats[key] = percentile(values, fraction) if values else None
        return stats


def percentile(values: Sequence[float], fraction: float) -> float:
    """Linear interpolation between closest ranks (numpy's default), on a sorted copy."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


async def _batch(runs: int, one: Callable[[Tally], Awaitable[None]], words: int) -> Batch:
    async def run() -> Tally:
        tally = Tally(started=time.monotonic(), words=words)
        try:
            await one(tally)
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            tally.error = f"{type(error).__name__}: {error}"[:200]
        return tally

    launched = time.monotonic()
    tallies = await asyncio.gather(*(run() for _ in range(runs)))
    return Batch(launched, time.monotonic(), list(tallies))


# --- in-process -----------------------------------------------------------------------------


def local_call(words: int) -> ModelCall:
    """What the engine builds for the demo agent (no runtime configuration: the defaults)."""
    messages = [Message(role="user", content=prompt(words))]
    return ModelCall(provider=DEFAULT_PROVIDER, model=DEFAULT_MODEL, messages=messages)


async def in_process(upstream: UpstreamClient, runs: int, words: int) -> Batch:
    """`runs` concurrent runs of the local provider, unpaced (turn 1, no credential needed)."""
    call = local_call(words)

    async def one(tally: Tally) -> None:
        async for event in model_turn(upstream, call, 1, "", 0.0):
            tally.event(EVENT_NAMES[type(event)])
            if is_content(event):
                tally.content()
            if isinstance(event, RunFinish):
                tally.finish_reason = event.finish_reason

    return await _batch(runs, one, words)


def bench_upstream(home: Path) -> UpstreamClient:
    """An UpstreamClient as the runtime builds one; the local provider never touches it."""
    return UpstreamClient(bench_settings(home, None))


# --- through the proxy and the runtime ------------------------------------------------------


def session() -> aiohttp.ClientSession:
    # No pool limit: every run has a connection of its own, as every concurrent client would.
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0),
        timeout=aiohttp.ClientTimeout(total=300, sock_connect=10),
    )


async def over_http(
    http: aiohttp.ClientSession, url: str, token: str, agent: str, runs: int, words: int
) -> Batch:
    body = {
        "agent_id": agent,
        "messages": [{"role": "user", "content": prompt(words)}],
        "stream": True,
    }
    headers = {
        "Authorization": f"Bearer {token}",
        "Accept": "text/event-stream",
        "Accept-Encoding": "identity",
    }

    async def one(tally: Tally) -> None:
        async with http.post(url, json=body, headers=headers) as response:
            tally.run_id = response.headers.get("x-gatehouse-run-id")
            if response.status != 200:
                text = (await response.text())[:120]
                tally.error = f"HTTP {response.status}: {text}"
                return
            parser = SseParser()
            async for chunk in response.content.iter_any():
                for sse in parser.feed(chunk):
                    _observe(tally, sse.event or "", sse.data)
            for sse in parser.close():
                _observe(tally, sse.event or "", sse.data)

    return await _batch(runs, one, words)


def _observe(tally: Tally, kind: str, data: str) -> None:
    """The `event:` line names the type; the JSON is parsed only where it matters: until the
    first content event (the same `is_content` test as in-process) and at the finish."""
    tally.event(kind)
    if tally.first_content is None or kind == "run.finish":
        event = parse_event(data)
        if is_content(event):
            tally.content()
        elif isinstance(event, RunFinish):
            tally.finish_reason = event.finish_reason
