"""token suspension, and the workspace policy's anomaly auto-suspend opt-in

Revision ID: 2026_11_22_suspension
Revises: 2026_11_22_audits
Create Date: 2026-11-22 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2026_11_22_suspension"
down_revision: str | None = "2026_11_22_audits"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Nullable columns only, so the previous release keeps working against the new schema: it never
# writes them, and NULL reads as "not suspended" and "not opted in".
#
# Plain ALTER TABLE rather than a batch (copy-and-rename) on SQLite: rebuilding `tokens` would
# drop the old table, and with foreign keys on, that cascades into `token_secrets`. SQLite has
# added and dropped plain columns in place since 3.35.


def upgrade() -> None:
    op.add_column("tokens", sa.Column("suspended_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("tokens", sa.Column("suspended_by", sa.String(length=40), nullable=True))
    op.add_column("tokens", sa.Column("suspension_reason", sa.Text(), nullable=True))
    op.add_column("proxy_policies", sa.Column("anomaly_auto_suspend", sa.Boolean(), nullable=True))


def downgrade() -> None:
    op.drop_column("proxy_policies", "anomaly_auto_suspend")
    op.drop_column("tokens", "suspension_reason")
    op.drop_column("tokens", "suspended_by")
    op.drop_column("tokens", "suspended_at")
