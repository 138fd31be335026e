"""How tool results reach the run that waits for them, on one worker or across several.

A run registers in its process's `LiveRuns` for as long as it executes. Its tool calls are
announced as they are produced, so results that arrive before the model's turn has formally
ended are kept, not refused. The tool-results endpoint hands results straight to a run of its
own process; for a run another worker owns, it writes them to the run's row
(`service.store_tool_results`), and the owner polls that row while it waits.
"""

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from sqlalchemy.orm import Session

from controlplane.errors import NotFound
from runtime.credential import RuntimeClaims
from runtime.schemas import ToolResult
from runtime.service import (
    RunBusy,
    agent_visible,
    in_transaction,
    mark_awaiting,
    mark_resumed,
    not_awaited,
    not_waiting,
    store_tool_results,
    stored_results,
)
from runtime.store.models import RuntimeRun

KEEP_ALIVE_SECONDS = 15.0
RESULTS_POLL_SECONDS = 0.1
# A run another worker owns writes its awaiting row a moment after its tool calls went out;
# results posted to this worker within that moment wait for the row instead of a 404.
ROW_GRACE_SECONDS = 2.0
ROW_GRACE_POLL_SECONDS = 0.05


class KeepAlive:
    """Not an event: tells the writer to send a keep-alive while the run waits."""


KEEP_ALIVE = KeepAlive()


@dataclass
class LiveRun:
    """A run this process is executing. Tool calls are announced as they are produced, so
    results that arrive before the model's turn has formally ended are kept, not refused."""

    workspace_id: str
    agent_id: str
    accepts_tool_results: bool
    outstanding: set[str] = field(default_factory=set)  # announced, not answered yet
    results: dict[str, str] = field(default_factory=dict)
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    def new_turn(self) -> None:
        self.outstanding.clear()
        self.results.clear()

    def announce(self, tool_call_id: str) -> None:
        if self.accepts_tool_results:
            self.outstanding.add(tool_call_id)

    def deliver(self, results: Sequence[ToolResult]) -> list[str]:
        if not self.outstanding:
            raise not_waiting()
        unknown = [r.tool_call_id for r in results if r.tool_call_id not in self.outstanding]
        if unknown:
            raise not_awaited(unknown)
        for result in results:
            self.outstanding.discard(result.tool_call_id)
            self.results[result.tool_call_id] = result.content
        self.wake.set()
        return [result.tool_call_id for result in results]

    def take_stored(self, stored: Sequence[dict[str, Any]] | None) -> None:
        """Results another worker wrote to the row; ones already answered here are ignored."""
        for item in stored or ():
            call_id, content = item.get("tool_call_id"), item.get("content")
            if call_id in self.outstanding and isinstance(content, str):
                self.outstanding.discard(call_id)
                self.results[call_id] = content

    def complete(self, ids: Sequence[str]) -> bool:
        return all(call_id in self.results for call_id in ids)


class LiveRuns:
    """Runs executing in this process, by id."""

    def __init__(self) -> None:
        self._runs: dict[str, LiveRun] = {}

    def add(self, run_id: str, run: LiveRun) -> None:
        self._runs[run_id] = run

    def remove(self, run_id: str) -> None:
        self._runs.pop(run_id, None)

    def get(self, run_id: str, claims: RuntimeClaims) -> LiveRun | None:
        run = self._runs.get(run_id)
        if run is None or run.workspace_id != claims.workspace_id:
            return None
        return run if agent_visible(claims, run.agent_id) else None

    def __len__(self) -> int:
        return len(self._runs)


async def wait_for_results(
    live: LiveRun,
    ids: list[str],
    *,
    factory: Callable[[], Session],
    awaiting: RuntimeRun,
    patience_seconds: float,
) -> AsyncIterator[KeepAlive]:
    """Until every call has its result or `patience_seconds` pass, with keep-alives meanwhile. The
    run's row says it is waiting (`awaiting`) for as long as it does."""
    if live.complete(ids):
        return  # answered before the turn had even ended: nothing to record
    await in_transaction(factory, partial(mark_awaiting, run=awaiting))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + patience_seconds
    next_keep_alive = loop.time() + KEEP_ALIVE_SECONDS
    while True:
        live.wake.clear()
        if live.complete(ids):
            break
        now = loop.time()
        if now >= deadline:
            return
        if now >= next_keep_alive:
            next_keep_alive = now + KEEP_ALIVE_SECONDS
            yield KEEP_ALIVE
        try:
            async with asyncio.timeout(min(RESULTS_POLL_SECONDS, deadline - now)):
                await live.wake.wait()
        except TimeoutError:
            # Results handed to another worker process arrive through the row.
            stored = await in_transaction(
                factory, partial(stored_results, run_id=awaiting.id), read_only=True
            )
            live.take_stored(stored)
    await in_transaction(factory, partial(mark_resumed, run_id=awaiting.id))


async def submit(
    live_runs: LiveRuns,
    factory: Callable[[], Session],
    claims: RuntimeClaims,
    run_id: str,
    results: Sequence[ToolResult],
) -> list[str]:
    """Hand results to their run: directly when it lives here, else through its row."""
    live = live_runs.get(run_id, claims)
    if live is not None:
        return live.deliver(results)
    store = partial(store_tool_results, claims=claims, run_id=run_id, results=results)
    deadline = time.monotonic() + ROW_GRACE_SECONDS
    while True:
        try:
            return await in_transaction(factory, store)
        except (NotFound, RunBusy):
            if time.monotonic() >= deadline:
                raise
            await asyncio.sleep(ROW_GRACE_POLL_SECONDS)
