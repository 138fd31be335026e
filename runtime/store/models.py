"""What the runtime keeps: one row per run (its measurements, and its state while it waits
for tool results) and the memories agents write. Same database as the control plane."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from controlplane.db import Base
from controlplane.kit.clock import utcnow


class RuntimeRun(Base):
    __tablename__ = "runtime_runs"
    __table_args__ = (Index("ix_runtime_runs_started_at", "started_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    # No foreign keys: measurements outlive the agents they describe (SLO history).
    workspace_id: Mapped[str] = mapped_column(String(40))
    agent_id: Mapped[str] = mapped_column(String(40))
    token_accessor: Mapped[str | None] = mapped_column(String(40))
    provider: Mapped[str] = mapped_column(String(40))
    model: Mapped[str] = mapped_column(String(200))
    # "running", "awaiting_tools" or "finished"
    status: Mapped[str] = mapped_column(String(20))
    finish_reason: Mapped[str | None] = mapped_column(String(20))
    error_code: Mapped[str | None] = mapped_column(String(40))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    # Milliseconds. ttft: run received → first content event sent; upstream_ttft: model call
    # sent → first content from the provider; overhead = ttft - upstream_ttft.
    ttft_ms: Mapped[float | None] = mapped_column(Float)
    upstream_ttft_ms: Mapped[float | None] = mapped_column(Float)
    overhead_ms: Mapped[float | None] = mapped_column(Float)
    e2e_ms: Mapped[float | None] = mapped_column(Float)
    events: Mapped[int] = mapped_column(Integer, default=0)
    input_tokens: Mapped[int | None] = mapped_column(Integer)
    output_tokens: Mapped[int | None] = mapped_column(Integer)
    # While status is "awaiting_tools": the tool call ids the run waits for, and results
    # submitted through another worker process (the run's own process polls for them).
    awaiting_tool_calls: Mapped[list[str] | None] = mapped_column(JSON)
    pending_tool_results: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)


class AgentMemory(Base):
    __tablename__ = "agent_memories"
    __table_args__ = (Index("ix_agent_memories_agent_id_created_at", "agent_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    run_id: Mapped[str | None] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(40))
    scope: Mapped[str] = mapped_column(String(40))
    content: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
