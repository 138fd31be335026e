"""security audits: runs, findings, check results, suppressions, attestations and job claims

Revision ID: 2026_11_22_audits
Revises: 2026_11_22_runtime
Create Date: 2026-11-22 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2026_11_22_audits"
down_revision: str | None = "2026_11_22_runtime"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_AWARE = sa.DateTime(timezone=True)


def _workspace_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["workspace_id"],
        ["workspaces.id"],
        name=op.f(f"fk_{table}_workspace_id_workspaces"),
        ondelete="CASCADE",
    )


def _run_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["run_id"],
        ["audit_runs.id"],
        name=op.f(f"fk_{table}_run_id_audit_runs"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "job_claims",
        sa.Column("job", sa.String(length=64), nullable=False),
        sa.Column("slot", _AWARE, nullable=False),
        sa.Column("claimed_by", sa.String(length=200), nullable=False),
        sa.Column("claimed_at", _AWARE, nullable=False),
        sa.Column("finished_at", _AWARE, nullable=True),
        sa.Column("outcome", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("job", "slot", name=op.f("pk_job_claims")),
    )

    op.create_table(
        "audit_runs",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("target", sa.String(length=500), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("started_at", _AWARE, nullable=False),
        sa.Column("finished_at", _AWARE, nullable=False),
        sa.Column("stored_at", _AWARE, nullable=False),
        sa.Column("stored_by", sa.String(length=64), nullable=True),
        sa.Column("tool_versions", sa.JSON(), nullable=False),
        sa.Column("stats", sa.JSON(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("file_suppressions", sa.JSON(), nullable=False),
        _workspace_fk("audit_runs"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_runs")),
    )
    with op.batch_alter_table("audit_runs", schema=None) as batch_op:
        batch_op.create_index("ix_audit_runs_workspace_id_id", ["workspace_id", "id"], unique=False)
        batch_op.create_index(
            "ix_audit_runs_workspace_id_target_id", ["workspace_id", "target", "id"], unique=False
        )

    op.create_table(
        "audit_findings",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("target", sa.String(length=500), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("tool", sa.String(length=40), nullable=False),
        sa.Column("rule", sa.String(length=200), nullable=False),
        sa.Column("severity", sa.String(length=20), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("last_line", sa.Integer(), nullable=True),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("first_seen_at", _AWARE, nullable=False),
        sa.Column("first_seen_run_id", sa.String(length=40), nullable=False),
        sa.Column("last_seen_at", _AWARE, nullable=False),
        sa.Column("last_run_id", sa.String(length=40), nullable=False),
        _workspace_fk("audit_findings"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_findings")),
        sa.UniqueConstraint(
            "workspace_id", "target", "fingerprint", name="uq_audit_findings_identity"
        ),
    )
    with op.batch_alter_table("audit_findings", schema=None) as batch_op:
        batch_op.create_index(
            "ix_audit_findings_workspace_id_id", ["workspace_id", "id"], unique=False
        )

    op.create_table(
        "audit_run_findings",
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("finding_id", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("line", sa.Integer(), nullable=True),
        sa.Column("commits", sa.JSON(), nullable=False),
        sa.Column("liveness", sa.String(length=20), nullable=True),
        sa.Column("suppression", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["finding_id"],
            ["audit_findings.id"],
            name=op.f("fk_audit_run_findings_finding_id_audit_findings"),
            ondelete="CASCADE",
        ),
        _run_fk("audit_run_findings"),
        sa.PrimaryKeyConstraint("run_id", "finding_id", name=op.f("pk_audit_run_findings")),
    )
    with op.batch_alter_table("audit_run_findings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_audit_run_findings_finding_id"), ["finding_id"], unique=False
        )

    op.create_table(
        "audit_check_results",
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("item_id", sa.String(length=64), nullable=False),
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        _run_fk("audit_check_results"),
        _workspace_fk("audit_check_results"),
        sa.PrimaryKeyConstraint("run_id", "item_id", name=op.f("pk_audit_check_results")),
    )
    with op.batch_alter_table("audit_check_results", schema=None) as batch_op:
        batch_op.create_index(
            "ix_audit_check_results_workspace_id_item_id",
            ["workspace_id", "item_id", "run_id"],
            unique=False,
        )

    op.create_table(
        "audit_suppressions",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=True),
        sa.Column("rule", sa.String(length=200), nullable=True),
        sa.Column("path_glob", sa.String(length=500), nullable=True),
        sa.Column("justification", sa.Text(), nullable=False),
        sa.Column("approver", sa.String(length=200), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", _AWARE, nullable=False),
        sa.Column("expires_at", _AWARE, nullable=False),
        sa.Column("revoked_at", _AWARE, nullable=True),
        sa.Column("revoked_by", sa.String(length=64), nullable=True),
        _workspace_fk("audit_suppressions"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_suppressions")),
    )
    with op.batch_alter_table("audit_suppressions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_audit_suppressions_workspace_id_id", ["workspace_id", "id"], unique=False
        )

    op.create_table(
        "audit_attestations",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("item_id", sa.String(length=64), nullable=False),
        sa.Column("attested_by", sa.String(length=64), nullable=False),
        sa.Column("attested_at", _AWARE, nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("expires_at", _AWARE, nullable=False),
        _workspace_fk("audit_attestations"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_attestations")),
    )
    with op.batch_alter_table("audit_attestations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_audit_attestations_workspace_id_item_id",
            ["workspace_id", "item_id"],
            unique=False,
        )


def downgrade() -> None:
    # Children before parents; dropping a table drops its indexes on both engines.
    for table in (
        "audit_attestations",
        "audit_suppressions",
        "audit_check_results",
        "audit_run_findings",
        "audit_findings",
        "audit_runs",
        "job_claims",
    ):
        op.drop_table(table)
