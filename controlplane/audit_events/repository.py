"""Audit-event queries. Inserts and reads only: the trail is append-only."""

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, false, func, or_, select
from sqlalchemy.orm import Session

from controlplane.audit_events.models import AuditEvent


def add(session: Session, event: AuditEvent) -> None:
    session.add(event)
    session.flush()


def count_since(
    session: Session,
    action: str,
    since: datetime,
    *,
    target_id: str | None = None,
    client_ip: str | None = None,
) -> int:
    query = (
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.action == action, AuditEvent.ts >= since)
    )
    if target_id is not None:
        query = query.where(AuditEvent.target_id == target_id)
    if client_ip is not None:
        query = query.where(AuditEvent.client_ip == client_ip)
    return int(session.scalar(query) or 0)


def list_visible(
    session: Session,
    *,
    workspace_ids: Collection[str],
    include_instance: bool,
    action: str | None,
    since: datetime | None,
    until: datetime | None,
    after: str | None,
    limit: int,
) -> Sequence[AuditEvent]:
    visibility: list[ColumnElement[bool]] = [AuditEvent.workspace_id.in_(list(workspace_ids))]
    if include_instance:
        visibility.append(AuditEvent.workspace_id.is_(None))
    query = select(AuditEvent).where(or_(false(), *visibility))
    if action is not None:
        query = query.where(AuditEvent.action == action)
    if since is not None:
        query = query.where(AuditEvent.ts >= since)
    if until is not None:
        query = query.where(AuditEvent.ts < until)
    if after is not None:
        query = query.where(AuditEvent.id > after)
    return session.scalars(query.order_by(AuditEvent.id).limit(limit)).all()
