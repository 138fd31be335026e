"""Which provider, model and parameters each agent runs with in the streaming runtime."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from controlplane.db import Base
from controlplane.kit.clock import utcnow

# An agent with no row runs on the deterministic local provider: a demo needs no key.
DEFAULT_PROVIDER = "local"
DEFAULT_MODEL = "local-scripted"


class AgentRuntimeConfig(Base):
    __tablename__ = "agent_runtime_configs"

    agent_id: Mapped[str] = mapped_column(
        ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True
    )
    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    provider: Mapped[str] = mapped_column(String(40))
    model: Mapped[str] = mapped_column(String(200))
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    instructions: Mapped[str | None] = mapped_column(Text)
    updated_by: Mapped[str | None] = mapped_column(String(40))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
