"""Every token query lives here. Functions flush at most; the boundary commits."""

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, or_, select, update
from sqlalchemy.orm import Session

from controlplane.tokens.models import TOKENS_EPOCH, CacheEpoch, Token, TokenSecret


def get_by_accessor(session: Session, accessor: str, *, lock: bool = False) -> Token | None:
    query = select(Token).where(Token.accessor == accessor)
    if lock:
        query = query.with_for_update()
    return session.scalars(query).one_or_none()


def get(session: Session, token_id: str, *, lock: bool = False) -> Token | None:
    query = select(Token).where(Token.id == token_id)
    if lock:
        query = query.with_for_update()
    return session.scalars(query).one_or_none()


def find_by_secrets(
    session: Session, digests: Collection[str]
) -> dict[str, tuple[Token, TokenSecret]]:
    """Every token whose secret (current or retired) has one of these HMACs, in any state,
    keyed by that HMAC."""
    if not digests:
        return {}
    rows = session.execute(
        select(Token, TokenSecret)
        .join(TokenSecret, TokenSecret.token_id == Token.id)
        .where(TokenSecret.secret_hmac.in_(sorted(digests)))
    ).all()
    return {secret.secret_hmac: (token, secret) for token, secret in rows}


@dataclass(frozen=True)
class LiveToken:
    accessor: str
    workspace_id: str | None  # None: a user's personal token
    scopes: frozenset[str]
    created_at: datetime
    expires_at: datetime
    # When its newest secret was issued: at creation, then at each rotation.
    secret_issued_at: datetime


def list_live(session: Session, now: datetime) -> list[LiveToken]:
    """Every token of the instance, in every workspace, that can still authenticate (not
    revoked, not expired), by accessor, with when its newest secret was issued. Suspended
    tokens are included: resuming one brings it back as it was."""
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


def add(session: Session, token: Token, secret: TokenSecret) -> None:
    session.add(token)
    session.flush()
    session.add(secret)
    session.flush()


def list_for_workspace(
    session: Session,
    workspace_id: str,
    *,
    after: str | None,
    limit: int,
    include_revoked: bool,
    agent_id: str | None = None,
) -> Sequence[Token]:
    query = select(Token).where(Token.workspace_id == workspace_id)
    if not include_revoked:
        query = query.where(Token.revoked_at.is_(None))
    if agent_id is not None:
        query = query.where(Token.agent_id == agent_id)
    if after is not None:
        query = query.where(Token.id > after)
    return session.scalars(query.order_by(Token.id).limit(limit)).all()


def subtree_ids(session: Session, root_ids: Iterable[str]) -> list[str]:
    """The roots and every descendant, at any depth, in one recursive query."""
    roots = list(root_ids)
    if not roots:
        return []
    tree = select(Token.id).where(Token.id.in_(roots)).cte("tree", recursive=True)
    tree = tree.union_all(select(Token.id).join(tree, Token.parent_id == tree.c.id))
    return list(session.scalars(select(tree.c.id)).all())


def revoke(
    session: Session, token_ids: Sequence[str], *, now: datetime, by: str, reason: str
) -> list[str]:
    """Revoke the live tokens among `token_ids`; return their accessors."""
    if not token_ids:
        return []
    live = session.execute(
        select(Token.id, Token.accessor).where(Token.id.in_(token_ids), Token.revoked_at.is_(None))
    ).all()
    if not live:
        return []
    session.execute(
        update(Token)
        .where(Token.id.in_([row[0] for row in live]), Token.revoked_at.is_(None))
        .values(revoked_at=now, revoked_by=by, revocation_reason=reason)
        .execution_options(synchronize_session="fetch")
    )
    return sorted(row[1] for row in live)


def suspend(
    session: Session, token_ids: Sequence[str], *, now: datetime, by: str, reason: str
) -> list[str]:
    """Suspend the tokens among `token_ids` that are neither revoked nor suspended already (a
    token suspended earlier keeps its own suspension); return their accessors."""
    if not token_ids:
        return []
    active = session.execute(
        select(Token.id, Token.accessor).where(
            Token.id.in_(token_ids), Token.revoked_at.is_(None), Token.suspended_at.is_(None)
        )
    ).all()
    if not active:
        return []
    session.execute(
        update(Token)
        .where(
            Token.id.in_([row[0] for row in active]),
            Token.revoked_at.is_(None),
            Token.suspended_at.is_(None),
        )
        .values(suspended_at=now, suspended_by=by, suspension_reason=reason)
        .execution_options(synchronize_session="fetch")
    )
    return sorted(row[1] for row in active)


def resume(
    session: Session, token_ids: Sequence[str], *, suspended_at: datetime, suspended_by: str
) -> list[str]:
    """Lift the one suspension, identified by its time and actor, from the tokens among
    `token_ids` that it suspended and that were not revoked since; return their accessors."""
    if not token_ids:
        return []
    matching = (
        Token.id.in_(token_ids),
        Token.revoked_at.is_(None),
        Token.suspended_at == suspended_at,
        Token.suspended_by == suspended_by,
    )
    rows = session.execute(select(Token.id, Token.accessor).where(*matching)).all()
    if not rows:
        return []
    session.execute(
        update(Token)
        .where(*matching)
        .values(suspended_at=None, suspended_by=None, suspension_reason=None)
        .execution_options(synchronize_session="fetch")
    )
    return sorted(row[1] for row in rows)


def ids_created_by(session: Session, user_id: str, workspace_id: str | None) -> list[str]:
    query = select(Token.id).where(Token.user_id == user_id, Token.revoked_at.is_(None))
    if workspace_id is not None:
        query = query.where(Token.workspace_id == workspace_id)
    return list(session.scalars(query).all())


def retire_current_secrets(session: Session, token_id: str, valid_until: datetime) -> None:
    session.execute(
        update(TokenSecret)
        .where(TokenSecret.token_id == token_id, TokenSecret.valid_until.is_(None))
        .values(valid_until=valid_until)
    )


def consume_use(connection: Connection, token_id: str) -> bool:
    """Atomically take one use; False when the limit is spent. Safe under any concurrency."""
    result = connection.execute(
        update(Token)
        .where(
            Token.id == token_id,
            Token.revoked_at.is_(None),
            Token.suspended_at.is_(None),
            Token.use_limit.is_not(None),
            Token.use_count < Token.use_limit,
        )
        .values(use_count=Token.use_count + 1)
    )
    return int(getattr(result, "rowcount", 0)) == 1


def record_last_used(
    connection: Connection, updates: dict[str, tuple[datetime, str | None]]
) -> None:
    for token_id, (used_at, client_ip) in updates.items():
        connection.execute(
            update(Token)
            .where(
                Token.id == token_id,
                or_(Token.last_used_at.is_(None), Token.last_used_at < used_at),
            )
            .values(last_used_at=used_at, last_used_ip=client_ip)
        )


def bump_epoch(session: Session, name: str = TOKENS_EPOCH) -> None:
    updated = session.execute(
        update(CacheEpoch).where(CacheEpoch.name == name).values(epoch=CacheEpoch.epoch + 1)
    )
    if int(getattr(updated, "rowcount", 0)) == 0:
        session.add(CacheEpoch(name=name, epoch=1))
        session.flush()


def read_epochs(connection: Connection) -> dict[str, int]:
    """Every cache's epoch in one round trip: the poller reads them all at once."""
    rows = connection.execute(select(CacheEpoch.name, CacheEpoch.epoch)).all()
    return {name: int(epoch) for name, epoch in rows}


def read_epoch(connection: Connection, name: str = TOKENS_EPOCH) -> int:
    value = connection.execute(
        select(func.coalesce(func.max(CacheEpoch.epoch), 0)).where(CacheEpoch.name == name)
    ).scalar_one()
    return int(value)
