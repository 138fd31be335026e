"""Anomaly tables: alerts, false-positive suppressions, the scanner's state, and its scans.

An alert's identity is (detector, entity type, entity, window start): a later scan that sees
more of the same window updates that alert rather than opening another. Suppressions are kept
after they expire: they record who judged what a false positive, and until when.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Double,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from controlplane.db import Base
from controlplane.kit.clock import utcnow

_WORKSPACE = "workspaces.id"


class AnomalyAlert(Base):
    __tablename__ = "anomaly_alerts"
    __table_args__ = (
        UniqueConstraint(
            "detector", "entity_type", "entity", "window_start", name="uq_anomaly_alerts_key"
        ),
        Index("ix_anomaly_alerts_workspace_id_id", "workspace_id", "id"),
        Index("ix_anomaly_alerts_status_id", "status", "id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    detector: Mapped[str] = mapped_column(String(40))
    severity: Mapped[str] = mapped_column(String(10))
    entity_type: Mapped[str] = mapped_column(String(16))
    entity: Mapped[str] = mapped_column(String(64))
    # None: no workspace can be named (failures with unknown tokens); instance admins only.
    workspace_id: Mapped[str | None] = mapped_column(ForeignKey(_WORKSPACE, ondelete="CASCADE"))
    # Set when every evidence row names one agent: an agent-bound token sees only those.
    agent_id: Mapped[str | None] = mapped_column(String(40))
    token_accessor: Mapped[str | None] = mapped_column(String(40))
    window_start: Mapped[datetime]
    window_end: Mapped[datetime]
    score: Mapped[float] = mapped_column(Double)
    evidence_count: Mapped[int] = mapped_column(Integer)
    explanation: Mapped[str] = mapped_column(Text)
    evidence: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default="open")
    status_changed_at: Mapped[datetime | None]
    status_changed_by: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)
    # What Gatehouse did about it on its own: {"action", "tokens", "at"} (auto-suspension).
    response: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)


class AnomalySuppression(Base):
    """A false-positive verdict: this detector stays quiet for this entity until `until`."""

    __tablename__ = "anomaly_suppressions"
    __table_args__ = (Index("ix_anomaly_suppressions_key", "detector", "entity_type", "entity"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    detector: Mapped[str] = mapped_column(String(40))
    entity_type: Mapped[str] = mapped_column(String(16))
    entity: Mapped[str] = mapped_column(String(64))
    workspace_id: Mapped[str | None] = mapped_column(ForeignKey(_WORKSPACE, ondelete="CASCADE"))
    alert_id: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    until: Mapped[datetime]


class AnomalyState(Base):
    """The database source's progress: every access-log row up to `watermark` (a seq) has been
    scanned, and `baselines` is what the detectors learned from them."""

    __tablename__ = "anomaly_state"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    watermark: Mapped[int] = mapped_column(BigInteger)
    baselines: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class AnomalyScan(Base):
    """One committed scan of the access log: seqs (after_seq, through_seq], by whom."""

    __tablename__ = "anomaly_scans"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    after_seq: Mapped[int] = mapped_column(BigInteger)
    through_seq: Mapped[int] = mapped_column(BigInteger, index=True)
    events: Mapped[int] = mapped_column(Integer)
    alerts_opened: Mapped[int] = mapped_column(Integer)
    alerts_updated: Mapped[int] = mapped_column(Integer)
    scanned_by: Mapped[str] = mapped_column(String(128))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime]
