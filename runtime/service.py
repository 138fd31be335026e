"""The runtime's rules: which agent a credential may run, who may see a run, and how tool
results reach the run that waits for them.

Tenant context comes only from the verified credential's claims. A run or agent of another
workspace answers 404, as if it did not exist.

Tool results reach a waiting run in one of two ways (`runtime.waiting`): handed over at once
when the run lives in this process, else written to the run's row, which the process that owns
the run polls (the runtime may run several worker processes).
"""

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from controlplane.agent_runtime.models import (
    DEFAULT_MODEL,
    DEFAULT_PROVIDER,
    AgentRuntimeConfig,
)
from controlplane.db import transaction
from controlplane.errors import BadRequest, Conflict, Forbidden, NotFound
from controlplane.identity.models import Agent
from runtime.credential import RuntimeClaims
from runtime.schemas import ToolResult
from runtime.store import repository
from runtime.store.models import RuntimeRun

T = TypeVar("T")
AWAITING_TOOLS = "awaiting_tools"
RUNNING = "running"


class RunBusy(Conflict):
    """The run is between two tool waits on another worker: it may be waiting a moment later."""


async def in_transaction(
    factory: Callable[[], Session], work: Callable[[Session], T], *, read_only: bool = False
) -> T:
    """The boundary for the runtime's database work: one short transaction, in the threadpool
    so the event loop never waits on the database.

    A transaction, once asked for, is seen through even when the caller is cancelled: a thread
    cannot be interrupted, so a cancellation that returned at once would leave it running
    while the caller moves on. A run cancelled while its tool-wait row was being written would
    then write its final row concurrently, and whichever committed last would win (a
    duplicate-key failure, or a run left `awaiting_tools` for good). The cancellation is
    delivered once the transaction has ended."""

    def run() -> T:
        with transaction(factory, read_only=read_only) as session:
            return work(session)

    task = asyncio.ensure_future(run_in_threadpool(run))
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        await asyncio.wait({task})
        if not task.cancelled():
            task.exception()  # retrieved: the caller is gone, and its cancellation wins
        raise


@dataclass(frozen=True)
class AgentPlan:
    """What a run needs to know about its agent, loaded once before the stream starts."""

    workspace_id: str
    agent_id: str
    provider: str
    model: str
    parameters: dict[str, Any]
    instructions: str | None


def _agent_and_config(
    session: Session, claims: RuntimeClaims, requested: str | None
) -> tuple[Agent, AgentRuntimeConfig | None]:
    """The agent a request names (id or name), else the credential's; within its workspace."""
    ref = requested or claims.agent_id
    if ref is None:
        raise BadRequest(
            "name an agent: this credential is not bound to one", code="agent_required"
        )
    found = repository.find_agent(session, claims.workspace_id, ref)
    if found is None:
        raise NotFound("agent not found")
    if claims.agent_id is not None and found[0].id != claims.agent_id:
        raise Forbidden("this credential is bound to another agent", code="agent_mismatch")
    return found


def agent_for(session: Session, claims: RuntimeClaims, requested: str | None) -> Agent:
    return _agent_and_config(session, claims, requested)[0]


def plan_run(session: Session, claims: RuntimeClaims, requested: str | None) -> AgentPlan:
    agent, config = _agent_and_config(session, claims, requested)
    if config is None:
        return AgentPlan(claims.workspace_id, agent.id, DEFAULT_PROVIDER, DEFAULT_MODEL, {}, None)
    return AgentPlan(
        workspace_id=claims.workspace_id,
        agent_id=agent.id,
        provider=config.provider,
        model=config.model,
        parameters=dict(config.parameters or {}),
        instructions=config.instructions,
    )


def visible_run(session: Session, claims: RuntimeClaims, run_id: str) -> RuntimeRun:
    row = repository.run_in_workspace(session, claims.workspace_id, run_id)
    if row is None or not agent_visible(claims, row.agent_id):
        raise NotFound("run not found")
    return row


def agent_visible(claims: RuntimeClaims, agent_id: str) -> bool:
    # A credential bound to one agent sees only that agent's runs.
    return claims.agent_id is None or claims.agent_id == agent_id


def not_waiting() -> Conflict:
    return Conflict("the run is not waiting for tool results", code="run_not_waiting")


def not_awaited(ids: Sequence[str]) -> BadRequest:
    return BadRequest(
        f"the run is not waiting for tool calls {sorted(ids)}", code="unknown_tool_call"
    )


def store_tool_results(
    session: Session, claims: RuntimeClaims, run_id: str, results: Sequence[ToolResult]
) -> list[str]:
    """For a run another worker executes: add the results to its row, for it to pick up."""
    row = repository.run_in_workspace(session, claims.workspace_id, run_id, for_update=True)
    if row is None or not agent_visible(claims, row.agent_id):
        raise NotFound("run not found")
    if row.status == RUNNING:
        raise RunBusy("the run is not waiting for tool results yet", code="run_not_waiting")
    if row.status != AWAITING_TOOLS:
        raise not_waiting()
    pending = list(row.pending_tool_results or [])
    answered = {item.get("tool_call_id") for item in pending}
    awaited = set(row.awaiting_tool_calls or []) - answered
    unknown = [r.tool_call_id for r in results if r.tool_call_id not in awaited]
    if unknown:
        raise not_awaited(unknown)
    row.pending_tool_results = [*pending, *(r.model_dump() for r in results)]
    session.flush()
    return [result.tool_call_id for result in results]


def stored_results(session: Session, run_id: str) -> list[dict[str, Any]] | None:
    return repository.pending_tool_results(session, run_id)


def mark_awaiting(session: Session, run: RuntimeRun) -> None:
    repository.add_run(session, run)


def mark_resumed(session: Session, run_id: str) -> None:
    repository.update_run(
        session,
        run_id,
        {"status": RUNNING, "awaiting_tool_calls": None, "pending_tool_results": None},
    )


def record_finished(session: Session, run: RuntimeRun) -> None:
    """The run's one final write: an insert, or an update of the row a tool wait created."""
    if repository.run_by_id(session, run.id) is None:
        repository.add_run(session, run)
        return
    values = {
        column.key: getattr(run, column.key)
        for column in RuntimeRun.__table__.columns
        if column.key != "id"
    }
    repository.update_run(session, run.id, values)
