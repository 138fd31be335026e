"""Audit tables: runs, the current state of each finding, and what each run saw of it.

A finding's identity is (workspace, target, fingerprint). `audit_findings` holds its latest
state; `audit_run_findings` holds what every run reported (status, line, commits, liveness),
so a run's report can be rebuilt exactly as it was. Suppressions and attestations are kept
after they expire or are revoked: they are the record of who accepted what, and until when.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from controlplane.db import Base
from controlplane.kit.clock import utcnow

_WORKSPACE = "workspaces.id"


class AuditRun(Base):
    __tablename__ = "audit_runs"
    __table_args__ = (
        Index("ix_audit_runs_workspace_id_id", "workspace_id", "id"),
        # The previous run of a target, and a target's history for trends.
        Index("ix_audit_runs_workspace_id_target_id", "workspace_id", "target", "id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey(_WORKSPACE, ondelete="CASCADE"))
    target: Mapped[str] = mapped_column(String(500))
    source: Mapped[str] = mapped_column(String(20))  # api, import, schedule
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime]
    stored_at: Mapped[datetime] = mapped_column(default=utcnow)
    stored_by: Mapped[str | None] = mapped_column(String(64))
    tool_versions: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    stats: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # {"status": {status: n}, "severity": {severity: n}, "checks": {check status: n}}
    counts: Mapped[dict[str, dict[str, int]]] = mapped_column(JSON, default=dict)
    # The scanned tree's own suppressions: they apply when this run's findings are read later.
    file_suppressions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class AuditFinding(Base):
    """The latest state of one finding; its status as of its latest run, before suppressions
    (which are applied when it is read, so that an expiry takes effect without a new run)."""

    __tablename__ = "audit_findings"
    __table_args__ = (
        UniqueConstraint(
            "workspace_id", "target", "fingerprint", name="uq_audit_findings_identity"
        ),
        Index("ix_audit_findings_workspace_id_id", "workspace_id", "id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey(_WORKSPACE, ondelete="CASCADE"))
    target: Mapped[str] = mapped_column(String(500))
    fingerprint: Mapped[str] = mapped_column(String(64))
    tool: Mapped[str] = mapped_column(String(40))
    rule: Mapped[str] = mapped_column(String(200))
    severity: Mapped[str] = mapped_column(String(20))
    category: Mapped[str] = mapped_column(String(40))
    path: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))  # new, open or fixed
    # Where it was last seen, kept apart from its identity: moving a line is not a new finding.
    last_line: Mapped[int | None] = mapped_column(Integer)
    # The rest of the Finding as last seen (message, redacted preview, CWE...), never a secret.
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    first_seen_at: Mapped[datetime]
    first_seen_run_id: Mapped[str] = mapped_column(String(40))
    last_seen_at: Mapped[datetime]
    last_run_id: Mapped[str] = mapped_column(String(40))


class AuditRunFinding(Base):
    __tablename__ = "audit_run_findings"

    run_id: Mapped[str] = mapped_column(
        ForeignKey("audit_runs.id", ondelete="CASCADE"), primary_key=True
    )
    finding_id: Mapped[str] = mapped_column(
        ForeignKey("audit_findings.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    status: Mapped[str] = mapped_column(String(20))
    line: Mapped[int | None] = mapped_column(Integer)
    commits: Mapped[list[str]] = mapped_column(JSON, default=list)
    liveness: Mapped[str | None] = mapped_column(String(20))
    # The suppression that covered it in this run, as it read then.
    suppression: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class AuditCheckResult(Base):
    __tablename__ = "audit_check_results"
    __table_args__ = (
        # The latest result of each checklist item in a workspace.
        Index("ix_audit_check_results_workspace_id_item_id", "workspace_id", "item_id", "run_id"),
    )

    run_id: Mapped[str] = mapped_column(
        ForeignKey("audit_runs.id", ondelete="CASCADE"), primary_key=True
    )
    item_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey(_WORKSPACE, ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(20))
    result: Mapped[dict[str, Any]] = mapped_column(JSON)  # the whole CheckResult


class AuditSuppression(Base):
    __tablename__ = "audit_suppressions"
    __table_args__ = (Index("ix_audit_suppressions_workspace_id_id", "workspace_id", "id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey(_WORKSPACE, ondelete="CASCADE"))
    # One finding (fingerprint), or every finding of a rule, optionally under a path glob.
    fingerprint: Mapped[str | None] = mapped_column(String(64))
    rule: Mapped[str | None] = mapped_column(String(200))
    path_glob: Mapped[str | None] = mapped_column(String(500))
    justification: Mapped[str] = mapped_column(Text)
    approver: Mapped[str] = mapped_column(String(200))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[str | None] = mapped_column(String(64))


class AuditAttestation(Base):
    __tablename__ = "audit_attestations"
    __table_args__ = (
        Index("ix_audit_attestations_workspace_id_item_id", "workspace_id", "item_id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey(_WORKSPACE, ondelete="CASCADE"))
    item_id: Mapped[str] = mapped_column(String(64))
    attested_by: Mapped[str] = mapped_column(String(64))
    attested_at: Mapped[datetime] = mapped_column(default=utcnow)
    evidence: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime]
