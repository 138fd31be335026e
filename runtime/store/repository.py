"""The runtime's queries: the only place in the runtime that builds them. Flushes, never commits;
the caller's `transaction()` does."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from controlplane.agent_runtime.models import AgentRuntimeConfig
from controlplane.identity.models import Agent
from runtime.store.models import AgentMemory, RuntimeRun


def find_agent(
    session: Session, workspace_id: str, ref: str
) -> tuple[Agent, AgentRuntimeConfig | None] | None:
    """An agent of the workspace by id or, failing that, by name (unique per workspace), with
    its runtime configuration if it has one: one query, since every run starts with it."""
    rows = session.execute(
        select(Agent, AgentRuntimeConfig)
        .outerjoin(
            AgentRuntimeConfig,
            (AgentRuntimeConfig.agent_id == Agent.id)
            & (AgentRuntimeConfig.workspace_id == Agent.workspace_id),
        )
        .where(Agent.workspace_id == workspace_id, or_(Agent.id == ref, Agent.name == ref))
    ).all()
    found = next((row for row in rows if row[0].id == ref), rows[0] if rows else None)
    return None if found is None else (found[0], found[1])


def add_memory(session: Session, memory: AgentMemory) -> None:
    session.add(memory)
    session.flush()


def memories(
    session: Session, workspace_id: str, agent_id: str, limit: int
) -> Sequence[AgentMemory]:
    return session.scalars(
        select(AgentMemory)
        .where(AgentMemory.workspace_id == workspace_id, AgentMemory.agent_id == agent_id)
        .order_by(AgentMemory.created_at.desc(), AgentMemory.id.desc())
        .limit(limit)
    ).all()


def add_run(session: Session, run: RuntimeRun) -> None:
    session.add(run)
    session.flush()


def run_by_id(session: Session, run_id: str) -> RuntimeRun | None:
    return session.get(RuntimeRun, run_id)


def update_run(session: Session, run_id: str, values: dict[str, Any]) -> None:
    session.execute(update(RuntimeRun).where(RuntimeRun.id == run_id).values(**values))


def run_in_workspace(
    session: Session, workspace_id: str, run_id: str, *, for_update: bool = False
) -> RuntimeRun | None:
    query = select(RuntimeRun).where(
        RuntimeRun.id == run_id, RuntimeRun.workspace_id == workspace_id
    )
    if for_update:
        # Two workers taking results for the same run serialise here (SQLite takes its write
        # lock at BEGIN IMMEDIATE instead, and ignores this).
        query = query.with_for_update()
    return session.scalars(query).one_or_none()


def pending_tool_results(session: Session, run_id: str) -> list[dict[str, Any]] | None:
    return session.scalars(
        select(RuntimeRun.pending_tool_results).where(RuntimeRun.id == run_id)
    ).one_or_none()
