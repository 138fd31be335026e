"""anomaly detection: alerts, false-positive suppressions, the scanner's state and its scans

Revision ID: 2026_11_22_anomaly
Revises: 2026_11_22_suspension
Create Date: 2026-11-22 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2026_11_22_anomaly"
down_revision: str | None = "2026_11_22_suspension"
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


def upgrade() -> None:
    op.create_table(
        "anomaly_alerts",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("detector", sa.String(length=40), nullable=False),
        sa.Column("severity", sa.String(length=10), nullable=False),
        sa.Column("entity_type", sa.String(length=16), nullable=False),
        sa.Column("entity", sa.String(length=64), nullable=False),
        sa.Column("workspace_id", sa.String(length=40), nullable=True),
        sa.Column("agent_id", sa.String(length=40), nullable=True),
        sa.Column("token_accessor", sa.String(length=40), nullable=True),
        sa.Column("window_start", _AWARE, nullable=False),
        sa.Column("window_end", _AWARE, nullable=False),
        sa.Column("score", sa.Double(), nullable=False),
        sa.Column("evidence_count", sa.Integer(), nullable=False),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_changed_at", _AWARE, nullable=True),
        sa.Column("status_changed_by", sa.String(length=64), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("response", sa.JSON(), nullable=True),
        sa.Column("first_seen_at", _AWARE, nullable=False),
        sa.Column("last_seen_at", _AWARE, nullable=False),
        _workspace_fk("anomaly_alerts"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_anomaly_alerts")),
        sa.UniqueConstraint(
            "detector", "entity_type", "entity", "window_start", name="uq_anomaly_alerts_key"
        ),
    )
    op.create_index("ix_anomaly_alerts_workspace_id_id", "anomaly_alerts", ["workspace_id", "id"])
    op.create_index("ix_anomaly_alerts_status_id", "anomaly_alerts", ["status", "id"])

    op.create_table(
        "anomaly_suppressions",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("detector", sa.String(length=40), nullable=False),
        sa.Column("entity_type", sa.String(length=16), nullable=False),
        sa.Column("entity", sa.String(length=64), nullable=False),
        sa.Column("workspace_id", sa.String(length=40), nullable=True),
        sa.Column("alert_id", sa.String(length=40), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", _AWARE, nullable=False),
        sa.Column("until", _AWARE, nullable=False),
        _workspace_fk("anomaly_suppressions"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_anomaly_suppressions")),
    )
    op.create_index(
        "ix_anomaly_suppressions_key",
        "anomaly_suppressions",
        ["detector", "entity_type", "entity"],
    )

    op.create_table(
        "anomaly_state",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("watermark", sa.BigInteger(), nullable=False),
        sa.Column("baselines", sa.JSON(), nullable=False),
        sa.Column("updated_at", _AWARE, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_anomaly_state")),
    )

    op.create_table(
        "anomaly_scans",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("after_seq", sa.BigInteger(), nullable=False),
        sa.Column("through_seq", sa.BigInteger(), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("alerts_opened", sa.Integer(), nullable=False),
        sa.Column("alerts_updated", sa.Integer(), nullable=False),
        sa.Column("scanned_by", sa.String(length=128), nullable=False),
        sa.Column("started_at", _AWARE, nullable=False),
        sa.Column("finished_at", _AWARE, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_anomaly_scans")),
    )
    op.create_index(op.f("ix_anomaly_scans_through_seq"), "anomaly_scans", ["through_seq"])


def downgrade() -> None:
    op.drop_index(op.f("ix_anomaly_scans_through_seq"), table_name="anomaly_scans")
    op.drop_table("anomaly_scans")
    op.drop_table("anomaly_state")
    op.drop_index("ix_anomaly_suppressions_key", table_name="anomaly_suppressions")
    op.drop_table("anomaly_suppressions")
    op.drop_index("ix_anomaly_alerts_status_id", table_name="anomaly_alerts")
    op.drop_index("ix_anomaly_alerts_workspace_id_id", table_name="anomaly_alerts")
    op.drop_table("anomaly_alerts")
