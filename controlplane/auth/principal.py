"""Who is calling: a user (session JWT) or a scoped token. Built only from a verified credential."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from controlplane.auth.scopes import Role


@dataclass(frozen=True)
class TokenGrant:
    """The cached, verified view of a token; enough to authorize without the database."""

    token_id: str
    accessor: str
    workspace_id: str | None
    agent_id: str | None
    user_id: str
    scopes: frozenset[str]
    expires_at: datetime
    secret_valid_until: datetime | None
    use_limit: int | None
    cidrs: tuple[str, ...]


@dataclass(frozen=True)
class Principal:
    kind: Literal["user", "token"]
    user_id: str
    is_admin: bool = False
    token: TokenGrant | None = None
    roles: Mapping[str, Role] = field(default_factory=dict)

    @property
    def actor_id(self) -> str:
        """What the audit trail records: a user id, or a token's accessor (never its secret)."""
        return self.token.accessor if self.token else self.user_id

    @property
    def workspace_bound(self) -> str | None:
        return self.token.workspace_id if self.token else None
