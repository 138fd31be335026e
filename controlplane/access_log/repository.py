"""Access-log queries, and PostgreSQL's monthly partitions. Rows are appended by the flusher
under the chain lock and deleted only by retention; nothing updates them."""

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Row,
    Table,
    column,
    delete,
    false,
    func,
    or_,
    select,
    table,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import TableClause

from controlplane.access_log.chain import Point
from controlplane.access_log.models import AccessLogChain, AccessLogEntry

# The table itself, for Core statements: no identity map, and dialect inserts.
_TABLE = cast(Table, AccessLogEntry.__table__)
_PARTITION_NAME = re.compile(r"access_log_y(\d{4})m(\d{2})")


@dataclass(frozen=True)
class Partition:
    name: str
    start: datetime
    end: datetime


def is_partitioned(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


# --- the chain's ends ------------------------------------------------------------------------


def read_point(session: Session, name: str, *, lock: bool = False) -> Point:
    """`lock`: FOR UPDATE on PostgreSQL; SQLite's writers are already serialised (BEGIN
    IMMEDIATE), and FOR UPDATE renders as nothing there."""
    query = select(AccessLogChain.seq, AccessLogChain.hash).where(AccessLogChain.name == name)
    row = session.execute(query.with_for_update() if lock else query).one()
    return Point(row.seq, row.hash)


def move_point(session: Session, name: str, point: Point) -> None:
    session.execute(
        update(AccessLogChain)
        .where(AccessLogChain.name == name)
        .values(seq=point.seq, hash=point.hash)
    )


def snapshot(session: Session) -> None:
    """Make every following read of this transaction see one snapshot (verify reads the head,
    then the rows). SQLite's read transactions already do; must run before any other query."""
    if is_partitioned(session):
        session.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"))


# --- appending -------------------------------------------------------------------------------


def existing_entries(session: Session, entry_ids: Collection[str]) -> set[str]:
    query = select(AccessLogEntry.entry_id).where(AccessLogEntry.entry_id.in_(list(entry_ids)))
    return set(session.scalars(query))


def insert_new(session: Session, rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert, skipping any whose (entry_id, ts) is already stored; returns how many went in."""
    dialect_insert = postgresql.insert if is_partitioned(session) else sqlite.insert
    statement = dialect_insert(_TABLE).on_conflict_do_nothing().returning(_TABLE.c.entry_id)
    return len(session.execute(statement, list(rows)).all())


def ensure_partitions(session: Session, instants: Iterable[datetime]) -> None:
    """On PostgreSQL, create the monthly partitions these instants fall in, if missing."""
    if not is_partitioned(session):
        return
    for year, month in sorted({(ts.year, ts.month) for ts in instants}):
        start, end = _month(year, month)
        name = f"access_log_y{year:04d}m{month:02d}"
        if session.scalar(select(func.to_regclass(name))) is None:
            # DDL takes no bind parameters; every interpolated value is generated above.
            session.execute(
                text(
                    f'CREATE TABLE IF NOT EXISTS "{name}" PARTITION OF access_log '
                    f"FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"
                )
            )


# --- reading ---------------------------------------------------------------------------------


def list_entries(
    session: Session,
    *,
    workspace_ids: Collection[str] | None,
    include_unscoped: bool = False,
    agent_id: str | None = None,
    token_accessor: str | None = None,
    status: int | None = None,
    decision: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after: int | None = None,
    limit: int,
) -> Sequence[Row[Any]]:
    """Rows by seq. `workspace_ids=None` means every row (local operator commands only).

    Plain rows, not ORM objects: exports and verification stream millions of them through one
    session, and an identity map would keep every one alive.
    """
    query = select(_TABLE)
    if workspace_ids is not None:
        visibility: list[ColumnElement[bool]] = [
            AccessLogEntry.workspace_id.in_(list(workspace_ids))
        ]
        if include_unscoped:
            visibility.append(AccessLogEntry.workspace_id.is_(None))
        query = query.where(or_(false(), *visibility))
    conditions = {
        AccessLogEntry.agent_id: agent_id,
        AccessLogEntry.token_accessor: token_accessor,
        AccessLogEntry.status: status,
        AccessLogEntry.decision: decision,
    }
    for criterion, value in conditions.items():
        if value is not None:
            query = query.where(criterion == value)
    if since is not None:
        query = query.where(AccessLogEntry.ts >= since)
    if until is not None:
        query = query.where(AccessLogEntry.ts < until)
    if after is not None:
        query = query.where(AccessLogEntry.seq > after)
    return session.execute(query.order_by(AccessLogEntry.seq).limit(limit)).all()


def chain_page(
    session: Session, *, start_after: int, resume: tuple[int, datetime] | None, limit: int
) -> Sequence[Row[Any]]:
    """Rows after seq `start_after` ordered by (seq, ts), so that a duplicated seq is seen too;
    `resume` is the last (seq, ts) of the previous page."""
    query = select(_TABLE).where(AccessLogEntry.seq > start_after)
    if resume is not None:
        query = query.where(tuple_(AccessLogEntry.seq, AccessLogEntry.ts) > tuple_(*resume))
    query = query.order_by(AccessLogEntry.seq, AccessLogEntry.ts).limit(limit)
    return session.execute(query).all()


# --- retention -------------------------------------------------------------------------------


def first_seq_since(session: Session, cutoff: datetime) -> int | None:
    return session.scalar(select(func.min(AccessLogEntry.seq)).where(AccessLogEntry.ts >= cutoff))


def last_point_through(session: Session, seq: int) -> Point | None:
    row = session.execute(
        select(AccessLogEntry.seq, AccessLogEntry.hash)
        .where(AccessLogEntry.seq <= seq)
        .order_by(AccessLogEntry.seq.desc())
        .limit(1)
    ).one_or_none()
    return None if row is None else Point(row.seq, row.hash)


def delete_through(session: Session, seq: int, partition: Partition | None = None) -> int:
    target = _TABLE if partition is None else _partition_table(partition)
    result = session.execute(delete(target).where(target.c.seq <= seq))
    return int(getattr(result, "rowcount", 0) or 0)


def partitions(session: Session) -> list[Partition]:
    """The monthly partitions, oldest first (PostgreSQL only)."""
    names = session.scalars(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = to_regclass('access_log')"
        )
    ).all()
    found = []
    for name in names:
        match = _PARTITION_NAME.fullmatch(name)
        if match is not None:
            found.append(Partition(name, *_month(int(match.group(1)), int(match.group(2)))))
    return sorted(found, key=lambda partition: partition.start)


def max_seq(session: Session, partition: Partition) -> int | None:
    newest: int | None = session.scalar(select(func.max(_partition_table(partition).c.seq)))
    return newest


def drop_partition(session: Session, partition: Partition) -> None:
    # Dropping a partition locks the parent table briefly; never wait long for that lock.
    session.execute(text("SET LOCAL lock_timeout = '5s'"))
    session.execute(text(f'DROP TABLE "{partition.name}"'))


def _partition_table(partition: Partition) -> TableClause:
    return table(partition.name, column("seq"))


def _month(year: int, month: int) -> tuple[datetime, datetime]:
    """The month's bounds in UTC: [first instant, first instant of the next month)."""
    start = datetime(year, month, 1, tzinfo=UTC)
    return start, datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
