"""Anomaly test helpers: stored alerts, access-log rows, and logins."""

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from controlplane.access_log import service as access_log
from controlplane.access_log.reader import Entry
from controlplane.access_log.records import AccessRecord
from controlplane.anomaly import repository
from controlplane.anomaly.models import AnomalyAlert
from controlplane.kit.ids import new_id

T0 = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)  # a Monday morning


def stored_alert(
    session: Session,
    *,
    workspace_id: str | None,
    agent_id: str | None = None,
    detector: str = "rate_spike",
    entity: str = "acc_" + "x" * 20,
    severity: str = "high",
    start: datetime = T0,
    **fields: Any,
) -> AnomalyAlert:
    row = AnomalyAlert(
        id=new_id("alr"),
        detector=detector,
        severity=severity,
        entity_type="token",
        entity=entity,
        workspace_id=workspace_id,
        agent_id=agent_id,
        token_accessor=entity,
        window_start=start,
        window_end=start + timedelta(minutes=5),
        score=12.5,
        evidence_count=3,
        explanation=f"{entity} made 300 requests in 5 minutes; its usual peak is 20.",
        evidence=[{"seq": 1, "client_ip": "203.0.113.9"}],
        status="open",
        **fields,
    )
    repository.add(session, row)
    return row


def append(session: Session, records: Iterable[AccessRecord]) -> None:
    """Store records in the access log as the flusher does, in order, and commit."""
    access_log.append(session, [Entry(new_id("ent"), record) for record in records])
    session.commit()


def record(ts: datetime, **fields: Any) -> AccessRecord:
    values: dict[str, Any] = {
        "ts": ts,
        "request_id": new_id("req"),
        "method": "POST",
        "upstream": "openai",
        "path": "/v1/chat/completions",
        "model": "gpt-4o-mini",
        "status": 200,
        "decision": "allow",
        "bytes_in": 400,
        "bytes_out": 1_200,
        "user_agent": "agent/1.0",
    }
    values.update(fields)
    return AccessRecord(**values)
