"""The run loop: model turns, tool waits, memories and measurements, as one contract stream.

A run is one `run.start`, the events of one or more model turns, and exactly one `run.finish`.
A turn whose finish says `tool_calls` (on a streamed request that declared tools) does not end
the run: the run waits for the caller's tool results on the same open stream, then sends the
next turn. Every event leaves through the run's `Sequencer`, so numbering spans turns and the
contract holds whatever a provider does. Nothing here touches the database before the first
token: the agent's configuration is loaded before the run starts, memories are written when a
provider asks, and the measurements once, at the end.
"""

import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy.orm import Session

from controlplane.config import Settings
from controlplane.kit.clock import utcnow
from runtime.contract import (
    Error,
    ErrorCode,
    EventBase,
    MemoryWriteEvent,
    RunFinish,
    RunStart,
    StreamChunk,
    ToolCallEnd,
    Usage,
    is_content,
)
from runtime.conversation import Message, ModelCall, ToolCall, ToolSpec
from runtime.guard import Sequencer
from runtime.memory import record as record_memory
from runtime.metrics import RunClock, millis, observe
from runtime.service import AWAITING_TOOLS, AgentPlan, in_transaction, record_finished
from runtime.store.models import RuntimeRun
from runtime.trust import Caller
from runtime.upstream import UpstreamClient, model_turn
from runtime.usage import UsageCounter
from runtime.waiting import KeepAlive, LiveRun, LiveRuns, wait_for_results

log = logging.getLogger(__name__)

MAX_TURNS = 8


@dataclass
class TurnOutcome:
    """What one model turn said, beyond the events themselves."""

    finish: RunFinish | None = None
    usage: UsageCounter = field(default_factory=UsageCounter)
    text: list[str] = field(default_factory=list)
    calls: list[ToolCall] = field(default_factory=list)

    def observe(self, event: EventBase) -> None:
        if isinstance(event, Usage):
            self.usage.add(event)
        elif isinstance(event, StreamChunk):
            self.text.append(event.text)
        elif isinstance(event, ToolCallEnd):
            self.calls.append(
                ToolCall(id=event.tool_call_id, name=event.name, arguments=event.arguments)
            )


@dataclass
class Runtime:
    """The process-wide objects every run uses, built once by `create_app`."""

    settings: Settings
    session_factory: Callable[[], Session]
    trust_key: Ed25519PublicKey
    upstream: UpstreamClient
    live: LiveRuns = field(default_factory=LiveRuns)


@dataclass(frozen=True)
class RunSpec:
    run_id: str
    caller: Caller
    agent: AgentPlan
    messages: list[Message]
    tools: list[ToolSpec]
    stream: bool
    received: float  # perf_counter() when the request arrived


class Run:
    def __init__(self, runtime: Runtime, spec: RunSpec) -> None:
        self.runtime = runtime
        self.spec = spec
        self.sequencer = Sequencer(spec.run_id)
        self.clock = RunClock(received=spec.received)
        self.usage = UsageCounter()
        self.events_sent = 0
        self.finish_reason: str | None = None
        self.error_code: str | None = None
        self.started_at = utcnow()
        self.live = LiveRun(
            workspace_id=spec.agent.workspace_id,
            agent_id=spec.agent.agent_id,
            accepts_tool_results=spec.stream and bool(spec.tools),
        )
        runtime.live.add(spec.run_id, self.live)

    # --- what the writer drives ---------------------------------------------------------

    async def events(self) -> AsyncGenerator[EventBase | KeepAlive, None]:
        """Stamped events, ending with `run.finish` unless the consumer cancels the run."""
        agent = self.spec.agent
        start = RunStart(
            workspace_id=agent.workspace_id,
            agent_id=agent.agent_id,
            provider=agent.provider,
            model=agent.model,
        )
        try:
            for event in self._stamp(start):
                yield event
            async for item in self._turns():
                yield item
        except Exception as error:  # noqa: BLE001 - any failure still ends the stream well
            # The type only: messages can carry prompts or provider answers.
            log.error("run %s failed: %s", self.spec.run_id, type(error).__name__)  # noqa: TRY400 - no traceback: its message may quote a prompt
            for event in self._fail("runtime_error", "the runtime failed running this request"):
                yield event

    def sent(self, event: EventBase) -> None:
        """The writer has handed `event` to the client."""
        self.events_sent += 1
        if is_content(event):
            self.clock.content_sent()
        elif isinstance(event, RunFinish):
            self.clock.finished()

    async def finalize(self, *, cancelled: bool) -> None:
        """Once, after the last event: the run's row and its metrics."""
        self.runtime.live.remove(self.spec.run_id)
        reason = self.finish_reason or ("cancelled" if cancelled else "error")
        totals = self.usage.totals()
        agent = self.spec.agent
        row = self._row(
            status="finished",
            finish_reason=reason,
            error_code=self.error_code,
            finished_at=utcnow(),
            ttft_ms=millis(self.clock.ttft()),
            upstream_ttft_ms=millis(self.clock.upstream_first_content),
            overhead_ms=millis(self.clock.overhead()),
            e2e_ms=millis(self.clock.e2e()),
            input_tokens=totals.input_tokens if totals else None,
            output_tokens=totals.output_tokens if totals else None,
            awaiting_tool_calls=None,
        )
        observe(self.clock, agent.provider, agent.model, reason)
        try:
            await in_transaction(self.runtime.session_factory, partial(record_finished, run=row))
        except Exception as error:  # noqa: BLE001 - the stream is over; losing a row is logged
            log.error("run %s: measurements not stored: %s", row.id, type(error).__name__)  # noqa: TRY400 - the type is enough; the stream is over

    # --- the loop --------------------------------------------------------------------------

    async def _turns(self) -> AsyncIterator[EventBase | KeepAlive]:
        messages = list(self.spec.messages)
        for turn in range(1, MAX_TURNS + 1):
            outcome = TurnOutcome()
            async for stamped in self._turn(messages, turn, outcome):
                yield stamped
            finish = outcome.finish or RunFinish(finish_reason="error")
            self.usage.add_totals(finish.usage or outcome.usage.totals())
            wants_results = finish.finish_reason == "tool_calls" and bool(outcome.calls)
            if not (wants_results and self.live.accepts_tool_results):
                final = RunFinish(
                    finish_reason=finish.finish_reason,
                    native_finish_reason=finish.native_finish_reason,
                    usage=self.usage.totals(),
                )
                for stamped in self._stamp(final):
                    yield stamped
                return
            if turn == MAX_TURNS:
                break
            ids = [call.id for call in outcome.calls]
            async for tick in wait_for_results(
                self.live,
                ids,
                factory=self.runtime.session_factory,
                awaiting=self._row(status=AWAITING_TOOLS, awaiting_tool_calls=ids),
                patience_seconds=self.runtime.settings.runtime_tool_result_timeout_seconds,
            ):
                yield tick
            if not self.live.complete(ids):
                for stamped in self._fail(
                    "tool_results_timeout", "no tool results arrived in time"
                ):
                    yield stamped
                return
            messages.append(
                Message(role="assistant", content="".join(outcome.text), tool_calls=outcome.calls)
            )
            messages.extend(
                Message(role="tool", tool_call_id=call_id, content=self.live.results[call_id])
                for call_id in ids
            )
        for stamped in self._fail(
            "runtime_error", f"the run reached its limit of {MAX_TURNS} model turns"
        ):
            yield stamped

    async def _turn(
        self, messages: list[Message], turn: int, outcome: "TurnOutcome"
    ) -> AsyncIterator[EventBase]:
        """One model turn's events, stamped; its own `run.finish` is kept in `outcome`."""
        self.live.new_turn()
        self.clock.turn_start()
        async with aclosing(self._model_turn(messages, turn)) as produced:
            async for event in produced:
                if outcome.finish is not None:
                    continue  # a turn ends at its finish, whatever a provider adds
                if isinstance(event, RunFinish):
                    outcome.finish = event
                    continue
                if is_content(event):
                    self.clock.provider_content()
                outcome.observe(event)
                if isinstance(event, ToolCallEnd):
                    self.live.announce(event.tool_call_id)
                elif isinstance(event, MemoryWriteEvent) and not event.memory_id:
                    await self._remember(event)
                for stamped in self._stamp(event):
                    yield stamped
        if outcome.finish is None:  # decoders always finish; this is the last line of defence
            truncated = Error(
                code="truncated",
                message="the model turn ended without a finish",
                retryable=True,
                after_first_token=False,
            )
            for stamped in self._stamp(truncated):
                yield stamped

    def _fail(self, code: ErrorCode, message: str) -> list[EventBase]:
        return self._note(self.sequencer.fail(code, message, usage=self.usage.totals()))

    def _model_turn(self, messages: list[Message], turn: int) -> AsyncGenerator[EventBase, None]:
        agent = self.spec.agent
        call = ModelCall(
            provider=agent.provider,
            model=agent.model,
            parameters=agent.parameters,
            instructions=agent.instructions,
            messages=messages,
            tools=self.spec.tools,
        )
        runtime = self.runtime
        pacing = runtime.settings.runtime_local_pacing_ms
        return model_turn(runtime.upstream, call, turn, self.spec.caller.credential, pacing)

    async def _remember(self, event: MemoryWriteEvent) -> None:
        agent = self.spec.agent
        memory = await in_transaction(
            self.runtime.session_factory,
            partial(
                record_memory,
                workspace_id=agent.workspace_id,
                agent_id=agent.agent_id,
                run_id=self.spec.run_id,
                event=event,
            ),
        )
        event.memory_id = memory.id
        event.workspace_id = agent.workspace_id
        event.agent_id = agent.agent_id

    def _row(self, **values: Any) -> RuntimeRun:
        agent = self.spec.agent
        return RuntimeRun(
            id=self.spec.run_id,
            workspace_id=agent.workspace_id,
            agent_id=agent.agent_id,
            token_accessor=self.spec.caller.claims.token_accessor,
            provider=agent.provider,
            model=agent.model,
            started_at=self.started_at,
            events=self.events_sent,
            pending_tool_results=None,
            **values,
        )

    # --- stamping --------------------------------------------------------------------------

    def _stamp(self, event: EventBase) -> list[EventBase]:
        return self._note(self.sequencer.stamp(event))

    def _note(self, stamped: list[EventBase]) -> list[EventBase]:
        for event in stamped:
            if isinstance(event, Error) and self.error_code is None:
                self.error_code = event.code
            elif isinstance(event, RunFinish):
                self.finish_reason = event.finish_reason
        return stamped
