"""Every anomaly query lives here. Functions flush at most; the boundary commits."""

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, false, or_, select, update
from sqlalchemy.orm import Session

from controlplane.anomaly.models import AnomalyAlert, AnomalyScan, AnomalyState, AnomalySuppression
from controlplane.kit.clock import as_utc

Row = AnomalyAlert | AnomalySuppression | AnomalyState | AnomalyScan
Key = tuple[str, str, str, datetime]


def add(session: Session, *rows: Row) -> None:
    session.add_all(rows)
    session.flush()


# --- the scanner's state ------------------------------------------------------------------


def get_state(session: Session, name: str) -> AnomalyState | None:
    return session.get(AnomalyState, name)


def advance_state(
    session: Session,
    name: str,
    *,
    expected: int,
    watermark: int,
    baselines: dict[str, Any],
    now: datetime,
) -> bool:
    """Compare and set: move the watermark only if nobody moved it since `expected` was read.

    This is what makes a scan exactly-once between control planes without holding a lock
    while detectors run: the loser's update matches no row and its transaction rolls back.
    """
    result = session.execute(
        update(AnomalyState)
        .where(AnomalyState.name == name, AnomalyState.watermark == expected)
        .values(watermark=watermark, baselines=baselines, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0) == 1


# --- alerts -------------------------------------------------------------------------------


def alerts_by_key(session: Session, keys: Collection[Key]) -> dict[Key, AnomalyAlert]:
    """The stored alerts with these identities (detector, entity type, entity, window start)."""
    if not keys:
        return {}
    starts = sorted({key[3] for key in keys})
    entities = sorted({key[2] for key in keys})
    found = session.scalars(
        select(AnomalyAlert).where(
            AnomalyAlert.window_start.in_(starts), AnomalyAlert.entity.in_(entities)
        )
    ).all()
    wanted = set(keys)
    return {key: alert for alert in found if (key := alert_key(alert)) in wanted}


def alert_key(alert: AnomalyAlert) -> Key:
    # SQLite hands datetimes back naive; keys compare in UTC either way.
    return (alert.detector, alert.entity_type, alert.entity, as_utc(alert.window_start))


@dataclass(frozen=True)
class AlertFilter:
    workspace_ids: Collection[str]
    include_unscoped: bool
    agent_id: str | None = None
    status: str | None = None
    severities: Collection[str] | None = None
    detector: str | None = None
    entity: str | None = None
    since: datetime | None = None


def list_alerts(
    session: Session, where: AlertFilter, *, before: str | None, limit: int
) -> Sequence[AnomalyAlert]:
    """Newest first, keyset-paged by id (`before`: the last id of the previous page)."""
    visible: list[ColumnElement[bool]] = [AnomalyAlert.workspace_id.in_(list(where.workspace_ids))]
    if where.include_unscoped:
        visible.append(AnomalyAlert.workspace_id.is_(None))
    query = select(AnomalyAlert).where(or_(false(), *visible))
    equal = {
        AnomalyAlert.agent_id: where.agent_id,
        AnomalyAlert.status: where.status,
        AnomalyAlert.detector: where.detector,
        AnomalyAlert.entity: where.entity,
    }
    for column, value in equal.items():
        if value is not None:
            query = query.where(column == value)
    if where.severities is not None:
        query = query.where(AnomalyAlert.severity.in_(list(where.severities)))
    if where.since is not None:
        query = query.where(AnomalyAlert.window_end > where.since)
    if before is not None:
        query = query.where(AnomalyAlert.id < before)
    return session.scalars(query.order_by(AnomalyAlert.id.desc()).limit(limit)).all()


def get_alert(session: Session, alert_id: str, *, lock: bool = False) -> AnomalyAlert | None:
    query = select(AnomalyAlert).where(AnomalyAlert.id == alert_id)
    return session.scalars(query.with_for_update() if lock else query).one_or_none()


# --- suppressions -------------------------------------------------------------------------


def active_suppressions(session: Session, now: datetime) -> set[tuple[str, str, str]]:
    """(detector, entity type, entity) of every suppression still in force."""
    rows = session.execute(
        select(
            AnomalySuppression.detector, AnomalySuppression.entity_type, AnomalySuppression.entity
        ).where(AnomalySuppression.until > now)
    ).all()
    return {(row.detector, row.entity_type, row.entity) for row in rows}


def list_suppressions(
    session: Session, workspace_ids: Collection[str], *, include_unscoped: bool, now: datetime
) -> Sequence[AnomalySuppression]:
    visible: list[ColumnElement[bool]] = [AnomalySuppression.workspace_id.in_(list(workspace_ids))]
    if include_unscoped:
        visible.append(AnomalySuppression.workspace_id.is_(None))
    return session.scalars(
        select(AnomalySuppression)
        .where(or_(false(), *visible), AnomalySuppression.until > now)
        .order_by(AnomalySuppression.id)
    ).all()
