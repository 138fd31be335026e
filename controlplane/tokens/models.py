"""Token tables. Only an HMAC of each secret is stored, in `token_secrets`.

A token keeps its accessor for life; rotation adds a secret and retires the old one at the end
of the overlap, so logs and alerts keep following one accessor across rotations.
"""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from controlplane.db import Base
from controlplane.kit.clock import utcnow


class Token(Base):
    __tablename__ = "tokens"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    accessor: Mapped[str] = mapped_column(String(40), unique=True)
    # NULL only for a user's personal token (the admin token from `gatehouse init`), which acts
    # as that user within the user's memberships, capped by its scopes.
    workspace_id: Mapped[str | None] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    agent_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    created_by: Mapped[str] = mapped_column(String(40))
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("tokens.id"), index=True)
    scopes: Mapped[list[str]] = mapped_column(JSON)
    description: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    use_limit: Mapped[int | None] = mapped_column(Integer)
    use_count: Mapped[int] = mapped_column(Integer, default=0)
    cidrs: Mapped[list[str]] = mapped_column(JSON, default=list)
    last_used_at: Mapped[datetime | None]
    last_used_ip: Mapped[str | None] = mapped_column(String(45))
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[str | None] = mapped_column(String(40))
    revocation_reason: Mapped[str | None] = mapped_column(Text)
    # A suspended token does not authenticate until it is resumed. Suspending a token suspends
    # its live subtree with the same time and actor, which is how resuming finds exactly those.
    suspended_at: Mapped[datetime | None]
    suspended_by: Mapped[str | None] = mapped_column(String(40))
    suspension_reason: Mapped[str | None] = mapped_column(Text)


class TokenSecret(Base):
    __tablename__ = "token_secrets"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    token_id: Mapped[str] = mapped_column(ForeignKey("tokens.id", ondelete="CASCADE"), index=True)
    secret_hmac: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # NULL while current; after a rotation, the end of the overlap during which it still works.
    valid_until: Mapped[datetime | None]


# The warm-path caches, each guarded by its own epoch row.
TOKENS_EPOCH = "tokens"
POLICIES_EPOCH = "policies"
PROVIDERS_EPOCH = "providers"


class CacheEpoch(Base):
    """A counter per cache; bumping it tells every process to drop that cache."""

    __tablename__ = "cache_epochs"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    epoch: Mapped[int] = mapped_column(Integer, default=0)
