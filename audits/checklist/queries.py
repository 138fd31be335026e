"""The reads the checks need that no domain repository offers: across every workspace at once.

The repositories answer per workspace, as the API asks; an audit asks about the whole instance.
These stay plain SELECTs, so that they can move into `controlplane/tokens/repository.py` and
`controlplane/providers/repository.py` unchanged.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from controlplane.providers.models import ProviderCredential
from controlplane.tokens.models import Token, TokenSecret


@dataclass(frozen=True)
class LiveToken:
    accessor: str
    workspace_id: str | None  # None: a user's personal token
    scopes: frozenset[str]
    created_at: datetime
    expires_at: datetime
    # When its newest secret was issued: at creation, then at each rotation.
    secret_issued_at: datetime


def live_tokens(session: Session, now: datetime) -> list[LiveToken]:
    """Every token that can still authenticate (not revoked, not expired), by accessor."""
    newest = (
        select(TokenSecret.token_id, func.max(TokenSecret.created_at).label("issued_at"))
        .group_by(TokenSecret.token_id)
        .subquery()
    )
    rows = session.execute(
        select(
            Token.accessor,
            Token.workspace_id,
            Token.scopes,
            Token.created_at,
            Token.expires_at,
            newest.c.issued_at,
        )
        .outerjoin(newest, newest.c.token_id == Token.id)
        .where(Token.revoked_at.is_(None), Token.expires_at > now)
        .order_by(Token.accessor)
    ).all()
    return [
        LiveToken(
            accessor=row.accessor,
            workspace_id=row.workspace_id,
            scopes=frozenset(row.scopes or ()),
            created_at=row.created_at,
            expires_at=row.expires_at,
            # A token without any secret row cannot authenticate; date it from its creation.
            secret_issued_at=row.issued_at or row.created_at,
        )
        for row in rows
    ]


def provider_credentials(session: Session) -> Sequence[ProviderCredential]:
    """Every stored provider credential, of every workspace, by id."""
    return session.scalars(select(ProviderCredential).order_by(ProviderCredential.id)).all()
