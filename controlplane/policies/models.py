"""Proxy policy: one row per workspace (the default) and at most one per agent (an override).

Every rule column is nullable: NULL means "no rule here", so an override names only what it
changes and the workspace default fills in the rest (see `engine.merge`).
"""

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from controlplane.db import Base
from controlplane.kit.clock import utcnow

_DEFAULT = text("agent_id IS NULL")
_OVERRIDE = text("agent_id IS NOT NULL")


class ProxyPolicy(Base):
    __tablename__ = "proxy_policies"
    __table_args__ = (
        # Two partial indexes, because a plain unique constraint treats NULL agent_ids as distinct.
        Index(
            "uq_proxy_policies_workspace_default",
            "workspace_id",
            unique=True,
            sqlite_where=_DEFAULT,
            postgresql_where=_DEFAULT,
        ),
        Index(
            "uq_proxy_policies_agent_override",
            "agent_id",
            unique=True,
            sqlite_where=_OVERRIDE,
            postgresql_where=_OVERRIDE,
        ),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    agent_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    upstreams: Mapped[list[str] | None] = mapped_column(JSON)
    models: Mapped[list[str] | None] = mapped_column(JSON)
    required_scope: Mapped[str | None] = mapped_column(String(40))
    token_rpm: Mapped[int | None] = mapped_column(Integer)
    token_tpm: Mapped[int | None] = mapped_column(Integer)
    workspace_rpm: Mapped[int | None] = mapped_column(Integer)
    workspace_tpm: Mapped[int | None] = mapped_column(Integer)
    max_body_bytes: Mapped[int | None] = mapped_column(Integer)
    max_streams_per_token: Mapped[int | None] = mapped_column(Integer)
    cidrs: Mapped[list[str] | None] = mapped_column(JSON)
    # Not a proxy rule: the workspace's consent to anomaly detection suspending its tokens.
    # Workspace policy only; NULL (a row written before the column existed) reads as false.
    anomaly_auto_suspend: Mapped[bool | None] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class RateWindow(Base):
    """Requests and tokens counted for one subject (a token or a workspace) in one minute.

    Shared by every process on the database, and updated with one conditional upsert, so the
    count is exact under any concurrency. Windows older than the current one are pruned.
    """

    __tablename__ = "rate_windows"

    subject: Mapped[str] = mapped_column(String(80), primary_key=True)
    window: Mapped[int] = mapped_column(Integer, primary_key=True)  # minutes since the epoch
    requests: Mapped[int] = mapped_column(Integer, default=0)
    tokens: Mapped[int] = mapped_column(Integer, default=0)
