"""access log: hash-chained records of proxied requests

On PostgreSQL `access_log` is partitioned by month on `ts`; the flusher creates each month's
partition when it first needs it. SQLite has one plain table.

Revision ID: 2026_11_22_access_log
Revises: 2026_11_22_providers
Create Date: 2026-11-22 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2026_11_22_access_log"
down_revision: str | None = "2026_11_22_providers"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS_HASH = "0" * 64


def upgrade() -> None:
    op.create_table(
        "access_log",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("entry_id", sa.String(length=64), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("token_accessor", sa.String(length=40), nullable=True),
        sa.Column("workspace_id", sa.String(length=40), nullable=True),
        sa.Column("agent_id", sa.String(length=40), nullable=True),
        sa.Column("user_id", sa.String(length=40), nullable=True),
        sa.Column("client_ip", sa.String(length=45), nullable=True),
        sa.Column("user_agent", sa.Text(), nullable=True),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("upstream", sa.String(length=64), nullable=True),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("model", sa.String(length=128), nullable=True),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("decision", sa.String(length=8), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("latency_ms", sa.Double(), nullable=False),
        sa.Column("ttfb_ms", sa.Double(), nullable=True),
        sa.Column("bytes_in", sa.BigInteger(), nullable=False),
        sa.Column("bytes_out", sa.BigInteger(), nullable=False),
        sa.Column("tokens_in", sa.BigInteger(), nullable=True),
        sa.Column("tokens_out", sa.BigInteger(), nullable=True),
        sa.Column("streamed", sa.Boolean(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", "ts", name=op.f("pk_access_log")),
        sa.UniqueConstraint("entry_id", "ts", name="uq_access_log_entry_id_ts"),
        postgresql_partition_by="RANGE (ts)",
    )
    op.create_index("ix_access_log_ts", "access_log", ["ts"])
    op.create_index("ix_access_log_workspace_id_seq", "access_log", ["workspace_id", "seq"])
    op.create_index("ix_access_log_token_accessor_seq", "access_log", ["token_accessor", "seq"])
    op.create_index("ix_access_log_agent_id_seq", "access_log", ["agent_id", "seq"])

    chain = op.create_table(
        "access_log_chain",
        sa.Column("name", sa.String(length=16), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_access_log_chain")),
    )
    op.bulk_insert(
        chain,
        [
            {"name": "head", "seq": 0, "hash": GENESIS_HASH},
            {"name": "anchor", "seq": 0, "hash": GENESIS_HASH},
        ],
    )


def downgrade() -> None:
    op.drop_table("access_log_chain")
    # On PostgreSQL this drops every monthly partition with it.
    op.drop_index("ix_access_log_agent_id_seq", table_name="access_log")
    op.drop_index("ix_access_log_token_accessor_seq", table_name="access_log")
    op.drop_index("ix_access_log_workspace_id_seq", table_name="access_log")
    op.drop_index("ix_access_log_ts", table_name="access_log")
    op.drop_table("access_log")
