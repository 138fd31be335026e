"""provider credentials

Revision ID: 2026_11_22_providers
Revises: 2026_11_22_identity
Create Date: 2026-11-22 14:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2026_11_22_providers"
down_revision: str | None = "2026_11_22_identity"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WORKSPACE_DEFAULT = sa.text("agent_id IS NULL")
AGENT_OVERRIDE = sa.text("agent_id IS NOT NULL")


def upgrade() -> None:
    op.create_table(
        "provider_credentials",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("agent_id", sa.String(length=40), nullable=True),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("base_url", sa.String(length=500), nullable=True),
        sa.Column("fingerprint", sa.String(length=16), nullable=False),
        sa.Column("last4", sa.String(length=4), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),
        sa.Column("key_nonce", sa.LargeBinary(), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("nonce", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
            name=op.f("fk_provider_credentials_agent_id_agents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_provider_credentials_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_credentials")),
    )
    with op.batch_alter_table("provider_credentials", schema=None) as batch_op:
        batch_op.create_index(
            "ix_provider_credentials_workspace_id_id", ["workspace_id", "id"], unique=False
        )
        batch_op.create_index(
            "uq_provider_credentials_agent_override",
            ["agent_id", "provider"],
            unique=True,
            sqlite_where=AGENT_OVERRIDE,
            postgresql_where=AGENT_OVERRIDE,
        )
        batch_op.create_index(
            "uq_provider_credentials_workspace_default",
            ["workspace_id", "provider"],
            unique=True,
            sqlite_where=WORKSPACE_DEFAULT,
            postgresql_where=WORKSPACE_DEFAULT,
        )


def downgrade() -> None:
    with op.batch_alter_table("provider_credentials", schema=None) as batch_op:
        batch_op.drop_index("uq_provider_credentials_workspace_default")
        batch_op.drop_index("uq_provider_credentials_agent_override")
        batch_op.drop_index("ix_provider_credentials_workspace_id_id")

    op.drop_table("provider_credentials")
