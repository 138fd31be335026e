"""Agents' memories: written when a provider emits `memory.write`, listed per agent."""

from collections.abc import Sequence

from sqlalchemy.orm import Session

from controlplane.kit.ids import new_id
from runtime.contract import MemoryWriteEvent
from runtime.credential import RuntimeClaims
from runtime.service import agent_for
from runtime.store import repository
from runtime.store.models import AgentMemory

MEMORY_ID_PREFIX = "amem"


def record(
    session: Session, workspace_id: str, agent_id: str, run_id: str, event: MemoryWriteEvent
) -> AgentMemory:
    """Persist a provider's memory and return the row; the event is filled in by the caller
    only once this has committed, so a client never sees the id of a memory that was lost."""
    memory = AgentMemory(
        id=new_id(MEMORY_ID_PREFIX),
        workspace_id=workspace_id,
        agent_id=agent_id,
        run_id=run_id,
        kind=event.kind,
        scope=event.scope,
        content=event.content,
    )
    repository.add_memory(session, memory)
    return memory


def list_for(
    session: Session, claims: RuntimeClaims, agent_ref: str, limit: int
) -> Sequence[AgentMemory]:
    agent = agent_for(session, claims, agent_ref)
    return repository.memories(session, claims.workspace_id, agent.id, limit)
