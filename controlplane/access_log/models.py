"""The access-log tables: one hash-chained row per proxied request, and the chain's two ends.

On PostgreSQL `access_log` is partitioned by month on `ts` (partitions are created on demand by
the flusher, `repository.ensure_partitions`) so retention can drop whole months. A partitioned
table's unique constraints must contain the partition key, hence the primary key (seq, ts) and
the idempotency key (entry_id, ts): a replayed entry carries the ts it was spooled with, so the
pair is exactly as unique as `entry_id` alone; the flusher also looks entries up by `entry_id`
under the chain lock before inserting. No foreign keys: the log outlives deleted workspaces.
"""

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Double, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from controlplane.db import Base

GENESIS_HASH = "0" * 64
HEAD = "head"  # the last appended row
ANCHOR = "anchor"  # the last pruned row: verification starts after it


class AccessLogEntry(Base):
    __tablename__ = "access_log"
    __table_args__ = (
        UniqueConstraint("entry_id", "ts", name="uq_access_log_entry_id_ts"),
        Index("ix_access_log_ts", "ts"),
        Index("ix_access_log_workspace_id_seq", "workspace_id", "seq"),
        Index("ix_access_log_token_accessor_seq", "token_accessor", "seq"),
        Index("ix_access_log_agent_id_seq", "agent_id", "seq"),
        {"postgresql_partition_by": "RANGE (ts)"},
    )

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    ts: Mapped[datetime] = mapped_column(primary_key=True)
    # The spool's id for the request (run id + counter): the idempotency key. Not request_id,
    # which a client may choose (X-Request-Id) and so may repeat.
    entry_id: Mapped[str] = mapped_column(String(64))
    request_id: Mapped[str] = mapped_column(String(64))
    token_accessor: Mapped[str | None] = mapped_column(String(40))
    workspace_id: Mapped[str | None] = mapped_column(String(40))
    agent_id: Mapped[str | None] = mapped_column(String(40))
    user_id: Mapped[str | None] = mapped_column(String(40))
    client_ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(Text)
    method: Mapped[str] = mapped_column(String(16))
    upstream: Mapped[str | None] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(Text)
    model: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[int] = mapped_column(Integer)
    decision: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str | None] = mapped_column(Text)
    latency_ms: Mapped[float] = mapped_column(Double)
    ttfb_ms: Mapped[float | None] = mapped_column(Double)
    bytes_in: Mapped[int] = mapped_column(BigInteger)
    bytes_out: Mapped[int] = mapped_column(BigInteger)
    tokens_in: Mapped[int | None] = mapped_column(BigInteger)
    tokens_out: Mapped[int | None] = mapped_column(BigInteger)
    streamed: Mapped[bool] = mapped_column(Boolean)
    error: Mapped[str | None] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AccessLogChain(Base):
    """Two rows: `head` (seq and hash of the last row) and `anchor` (of the last pruned row).

    Flushes lock only `head` and pruning only `anchor`, so a long prune never stalls the log.
    """

    __tablename__ = "access_log_chain"

    name: Mapped[str] = mapped_column(String(16), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
