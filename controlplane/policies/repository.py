"""Every policy and rate-window query lives here. Functions flush at most; the boundary commits."""

from collections.abc import Sequence

from sqlalchemy import ColumnElement, and_, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from controlplane.errors import Conflict
from controlplane.policies.models import ProxyPolicy, RateWindow


def get(
    session: Session, workspace_id: str, agent_id: str | None, *, lock: bool = False
) -> ProxyPolicy | None:
    query = select(ProxyPolicy).where(
        ProxyPolicy.workspace_id == workspace_id,
        ProxyPolicy.agent_id.is_(None) if agent_id is None else ProxyPolicy.agent_id == agent_id,
    )
    if lock:
        query = query.with_for_update()
    return session.scalars(query).one_or_none()


def default_and_override(
    session: Session, workspace_id: str, agent_id: str | None
) -> tuple[ProxyPolicy | None, ProxyPolicy | None]:
    """The workspace default and the agent's override, in one indexed query."""
    scope: ColumnElement[bool] = ProxyPolicy.agent_id.is_(None)
    if agent_id is not None:
        scope = or_(scope, ProxyPolicy.agent_id == agent_id)
    rows = session.scalars(
        select(ProxyPolicy).where(ProxyPolicy.workspace_id == workspace_id, scope)
    ).all()
    default = next((row for row in rows if row.agent_id is None), None)
    override = next((row for row in rows if row.agent_id is not None), None)
    return default, override


def auto_suspend_setting(session: Session, workspace_id: str) -> bool | None:
    """The workspace policy's `anomaly_auto_suspend`; None without a workspace policy."""
    return session.scalars(
        select(ProxyPolicy.anomaly_auto_suspend).where(
            ProxyPolicy.workspace_id == workspace_id, ProxyPolicy.agent_id.is_(None)
        )
    ).one_or_none()


def list_overrides(session: Session, workspace_id: str) -> Sequence[ProxyPolicy]:
    return session.scalars(
        select(ProxyPolicy)
        .where(ProxyPolicy.workspace_id == workspace_id, ProxyPolicy.agent_id.is_not(None))
        .order_by(ProxyPolicy.agent_id)
    ).all()


def add(session: Session, row: ProxyPolicy) -> None:
    session.add(row)
    try:
        session.flush()
    except IntegrityError:
        # Two first writes of the same policy raced past the (empty) locked read; one won.
        raise Conflict("this policy was just set by another request; retry") from None


def remove(session: Session, row: ProxyPolicy) -> None:
    session.delete(row)
    session.flush()


def take(
    session: Session, subject: str, window: int, request_limit: int | None, token_limit: int | None
) -> bool:
    """Count one request against `subject` if it is under both limits; False if it is not.

    One statement: insert the window's row, or increment it only while under the limits. The
    row lock the upsert takes makes concurrent callers queue, so exactly `request_limit` pass.
    """
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(RateWindow).values(subject=subject, window=window, requests=1, tokens=0)
    conditions: list[ColumnElement[bool]] = []
    if request_limit is not None:
        conditions.append(RateWindow.requests < request_limit)
    if token_limit is not None:
        conditions.append(RateWindow.tokens < token_limit)
    upsert = statement.on_conflict_do_update(
        index_elements=[RateWindow.subject, RateWindow.window],
        set_={"requests": RateWindow.requests + 1},
        where=and_(*conditions),
    ).returning(RateWindow.requests)
    return session.execute(upsert).first() is not None


def spend_tokens(session: Session, subjects: Sequence[str], window: int, tokens: int) -> None:
    session.execute(
        update(RateWindow)
        .where(RateWindow.subject.in_(subjects), RateWindow.window == window)
        .values(tokens=RateWindow.tokens + tokens)
    )


def prune_windows(session: Session, before: int) -> int:
    result = session.execute(delete(RateWindow).where(RateWindow.window < before))
    return int(getattr(result, "rowcount", 0))
