"""proxy policies and rate-limit windows

Revision ID: 2026_11_22_policies
Revises: 2026_11_22_access_log
Create Date: 2026-11-22 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2026_11_22_policies"
down_revision: str | None = "2026_11_22_access_log"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WORKSPACE_DEFAULT = sa.text("agent_id IS NULL")
AGENT_OVERRIDE = sa.text("agent_id IS NOT NULL")
# The caches these epochs guard; seeded so that the first bump is an update, never a racing insert.
EPOCHS = ("policies", "providers")


def upgrade() -> None:
    op.create_table(
        "proxy_policies",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("agent_id", sa.String(length=40), nullable=True),
        sa.Column("upstreams", sa.JSON(), nullable=True),
        sa.Column("models", sa.JSON(), nullable=True),
        sa.Column("required_scope", sa.String(length=40), nullable=True),
        sa.Column("token_rpm", sa.Integer(), nullable=True),
        sa.Column("token_tpm", sa.Integer(), nullable=True),
        sa.Column("workspace_rpm", sa.Integer(), nullable=True),
        sa.Column("workspace_tpm", sa.Integer(), nullable=True),
        sa.Column("max_body_bytes", sa.Integer(), nullable=True),
        sa.Column("max_streams_per_token", sa.Integer(), nullable=True),
        sa.Column("cidrs", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
            name=op.f("fk_proxy_policies_agent_id_agents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_proxy_policies_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proxy_policies")),
    )
    with op.batch_alter_table("proxy_policies", schema=None) as batch_op:
        batch_op.create_index(
            "uq_proxy_policies_agent_override",
            ["agent_id"],
            unique=True,
            sqlite_where=AGENT_OVERRIDE,
            postgresql_where=AGENT_OVERRIDE,
        )
        batch_op.create_index(
            "uq_proxy_policies_workspace_default",
            ["workspace_id"],
            unique=True,
            sqlite_where=WORKSPACE_DEFAULT,
            postgresql_where=WORKSPACE_DEFAULT,
        )
    op.create_table(
        "rate_windows",
        sa.Column("subject", sa.String(length=80), nullable=False),
        sa.Column("window", sa.Integer(), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("tokens", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("subject", "window", name=op.f("pk_rate_windows")),
    )
    cache_epochs = sa.table(
        "cache_epochs", sa.column("name", sa.String), sa.column("epoch", sa.Integer)
    )
    op.bulk_insert(cache_epochs, [{"name": name, "epoch": 0} for name in EPOCHS])


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM cache_epochs WHERE name IN ('policies', 'providers')"))
    op.drop_table("rate_windows")
    with op.batch_alter_table("proxy_policies", schema=None) as batch_op:
        batch_op.drop_index("uq_proxy_policies_workspace_default")
        batch_op.drop_index("uq_proxy_policies_agent_override")
    op.drop_table("proxy_policies")
