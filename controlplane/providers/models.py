"""Provider credentials: one API key per workspace and provider, optionally per agent.

Only an envelope is stored (see `controlplane.kit.envelope`); the plaintext key never is.
`fingerprint` and `last4` identify a key to people without revealing it.
"""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String, text
from sqlalchemy.orm import Mapped, mapped_column

from controlplane.db import Base
from controlplane.kit.clock import utcnow

_DEFAULT = text("agent_id IS NULL")
_OVERRIDE = text("agent_id IS NOT NULL")


class ProviderCredential(Base):
    __tablename__ = "provider_credentials"
    __table_args__ = (
        # One workspace default and one override per agent, for each provider. Two partial
        # indexes, because a plain unique constraint treats every NULL agent_id as distinct.
        Index(
            "uq_provider_credentials_workspace_default",
            "workspace_id",
            "provider",
            unique=True,
            sqlite_where=_DEFAULT,
            postgresql_where=_DEFAULT,
        ),
        Index(
            "uq_provider_credentials_agent_override",
            "agent_id",
            "provider",
            unique=True,
            sqlite_where=_OVERRIDE,
            postgresql_where=_OVERRIDE,
        ),
        Index("ix_provider_credentials_workspace_id_id", "workspace_id", "id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    # NULL: the workspace default; otherwise an override for this one agent.
    agent_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(20))
    base_url: Mapped[str | None] = mapped_column(String(500))
    fingerprint: Mapped[str] = mapped_column(String(16))
    last4: Mapped[str] = mapped_column(String(4))
    # The envelope: the key sealed under a per-credential DEK, the DEK wrapped under `key_id`.
    key_id: Mapped[str] = mapped_column(String(16))
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    key_nonce: Mapped[bytes] = mapped_column(LargeBinary)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    nonce: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
