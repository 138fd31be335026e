"""Every agent-runtime-settings query lives here. Functions flush at most."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from controlplane.agent_runtime.models import AgentRuntimeConfig


def get(session: Session, agent_id: str) -> AgentRuntimeConfig | None:
    return session.scalars(
        select(AgentRuntimeConfig).where(AgentRuntimeConfig.agent_id == agent_id)
    ).one_or_none()


def add(session: Session, row: AgentRuntimeConfig) -> None:
    session.add(row)
    session.flush()
