"""Every provider-credential query lives here. Functions flush at most; the boundary commits."""

from collections.abc import Sequence

from sqlalchemy import ColumnElement, delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from controlplane.errors import Conflict
from controlplane.providers.models import ProviderCredential

# A PostgreSQL advisory lock id that nothing else uses: "gthkeys" in ASCII.
ROTATION_LOCK = int.from_bytes(b"gthkeys", "big")


def get(
    session: Session, workspace_id: str, provider: str, agent_id: str | None, *, lock: bool = False
) -> ProviderCredential | None:
    query = select(ProviderCredential).where(
        ProviderCredential.workspace_id == workspace_id,
        ProviderCredential.provider == provider,
        ProviderCredential.agent_id.is_(None)
        if agent_id is None
        else ProviderCredential.agent_id == agent_id,
    )
    if lock:
        query = query.with_for_update()
    return session.scalars(query).one_or_none()


def default_and_override(
    session: Session, workspace_id: str, provider: str, agent_id: str | None
) -> Sequence[ProviderCredential]:
    """The workspace default and, if there is one, the agent's override: one indexed query."""
    scope: ColumnElement[bool] = ProviderCredential.agent_id.is_(None)
    if agent_id is not None:
        scope = or_(scope, ProviderCredential.agent_id == agent_id)
    return session.scalars(
        select(ProviderCredential).where(
            ProviderCredential.workspace_id == workspace_id,
            ProviderCredential.provider == provider,
            scope,
        )
    ).all()


def list_for_workspace(
    session: Session, workspace_id: str, *, agent_id: str | None, after: str | None, limit: int
) -> Sequence[ProviderCredential]:
    query = select(ProviderCredential).where(ProviderCredential.workspace_id == workspace_id)
    if agent_id is not None:
        query = query.where(ProviderCredential.agent_id == agent_id)
    if after is not None:
        query = query.where(ProviderCredential.id > after)
    return session.scalars(query.order_by(ProviderCredential.id).limit(limit)).all()


def list_all(session: Session) -> Sequence[ProviderCredential]:
    """Every stored provider credential, of every workspace, by id."""
    return session.scalars(select(ProviderCredential).order_by(ProviderCredential.id)).all()


def lock_for_rotation(session: Session) -> Sequence[ProviderCredential]:
    """Every credential, locked until the transaction ends, behind the rotation lock.

    SQLite's BEGIN IMMEDIATE already serializes writers. PostgreSQL also needs a lock that holds
    when there is no row to lock, so two rotations can never write key files at the same time.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(ROTATION_LOCK)))
    return session.scalars(
        select(ProviderCredential).order_by(ProviderCredential.id).with_for_update()
    ).all()


def add(session: Session, row: ProviderCredential) -> None:
    session.add(row)
    try:
        session.flush()
    except IntegrityError:
        # Two first writes for the same provider and agent raced; the other one won.
        raise Conflict("this credential was just set by another request; retry") from None


def remove(session: Session, row: ProviderCredential) -> None:
    session.execute(delete(ProviderCredential).where(ProviderCredential.id == row.id))
