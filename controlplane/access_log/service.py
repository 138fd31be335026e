"""The access log's rules: appending to the chain, who reads what, verification, retention.

Services never commit: the flusher, the API request and the CLI command own the transactions.
"""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Row
from sqlalchemy.orm import Session

from controlplane.access_log import chain, repository
from controlplane.access_log.chain import Link, Point, Report
from controlplane.access_log.models import ANCHOR, HEAD
from controlplane.access_log.reader import Entry
from controlplane.access_log.records import FIELD_NAMES, Decision
from controlplane.auth.policy import Resource, authorize, is_instance_admin, workspaces_granting
from controlplane.auth.scopes import Scope
from controlplane.context import Ctx
from controlplane.errors import Conflict

PAGE = 1_000


class ChainConflictError(Conflict):
    """Rows appeared that did not go through the chain lock; the batch is rolled back."""


def append(session: Session, entries: Sequence[Entry]) -> int:
    """Append the entries not stored yet, in order, as the next links of the chain.

    Runs under the chain lock (FOR UPDATE on the head; SQLite's BEGIN IMMEDIATE), so the
    lookup of stored entry ids and the insert cannot interleave with another flusher's.
    """
    batch = {entry.entry_id: entry.record for entry in entries}  # a replay may repeat one
    head = repository.read_point(session, HEAD, lock=True)
    stored = repository.existing_entries(session, batch)
    fresh = [(entry_id, record) for entry_id, record in batch.items() if entry_id not in stored]
    if not fresh:
        return 0
    links = chain.extend(head, [record.values() for _, record in fresh])
    repository.ensure_partitions(session, (record.ts for _, record in fresh))
    rows = [
        {
            **link.values,
            "entry_id": entry_id,
            "seq": link.seq,
            "prev_hash": link.prev_hash,
            "hash": link.hash,
        }
        for (entry_id, _), link in zip(fresh, links, strict=True)
    ]
    if repository.insert_new(session, rows) != len(rows):
        # Skipping a row would leave a hole in the chain; refuse the batch instead.
        raise ChainConflictError("access-log entries were stored outside the chain lock")
    repository.move_point(session, HEAD, Point(links[-1].seq, links[-1].hash))
    return len(rows)


def list_records(
    ctx: Ctx,
    *,
    workspace_id: str | None,
    token_accessor: str | None,
    agent_id: str | None,
    status: int | None,
    decision: Decision | None,
    since: datetime | None,
    until: datetime | None,
    after: int | None,
    limit: int,
) -> Sequence[Row[Any]]:
    """Records in workspaces where the caller holds access-log:read; records outside any
    workspace (refused before a credential was known) for instance admins."""
    principal = ctx.require_principal()
    if workspace_id is not None:
        authorize(principal, Scope.ACCESS_LOG_READ, Resource("workspace", workspace_id))
        readable = [workspace_id]
    else:
        readable = workspaces_granting(principal, Scope.ACCESS_LOG_READ)
    # An agent-bound token sees its own agent's traffic only, as it sees only its own agent.
    bound_agent = principal.token.agent_id if principal.token is not None else None
    if bound_agent is not None:
        if agent_id not in (None, bound_agent):
            return []
        agent_id = bound_agent
    return repository.list_entries(
        ctx.session,
        workspace_ids=readable,
        include_unscoped=workspace_id is None and is_instance_admin(principal),
        agent_id=agent_id,
        token_accessor=token_accessor,
        status=status,
        decision=decision,
        since=since,
        until=until,
        after=after,
        limit=limit,
    )


def export(
    session: Session, *, since: datetime | None, until: datetime | None
) -> Iterator[Row[Any]]:
    """Every record in the window, by seq, page by page (local operator command)."""
    after = None
    while True:
        rows = repository.list_entries(
            session, workspace_ids=None, since=since, until=until, after=after, limit=PAGE
        )
        yield from rows
        if len(rows) < PAGE:
            return
        after = rows[-1].seq


def verify(session: Session, limit: int = chain.MAX_FINDINGS) -> Report:
    """Walk the chain from the anchor to the head, in one consistent snapshot."""
    repository.snapshot(session)
    anchor = repository.read_point(session, ANCHOR)
    head = repository.read_point(session, HEAD)
    return chain.verify(anchor, head, _links(session, anchor.seq), limit)


def _links(session: Session, start_after: int) -> Iterator[Link]:
    resume = None
    while True:
        rows = repository.chain_page(session, start_after=start_after, resume=resume, limit=PAGE)
        for row in rows:
            values = {name: getattr(row, name) for name in FIELD_NAMES}
            yield Link(row.seq, row.prev_hash, row.hash, values)
        if len(rows) < PAGE:
            return
        resume = (rows[-1].seq, rows[-1].ts)


@dataclass
class Pruned:
    anchor: Point
    rows: int = 0
    partitions: list[str] = field(default_factory=list)
    more: bool = False

    def then(self, step: "Pruned") -> "Pruned":
        """This step followed by the next one."""
        return Pruned(
            step.anchor, self.rows + step.rows, self.partitions + step.partitions, step.more
        )


def prune_step(session: Session, cutoff: datetime, batch_size: int) -> Pruned:
    """Delete the oldest rows with ts before `cutoff`, keeping the chain verifiable.

    Only a seq prefix is ever removed (rows up to the first one at or after the cutoff; a late
    row older than the cutoff waits for a later prune) and the anchor moves to the last removed
    row in the same transaction. PostgreSQL drops whole monthly partitions and deletes the rest
    in this one transaction; SQLite deletes `batch_size` rows per call (`more` says go on).
    """
    anchor = repository.read_point(session, ANCHOR, lock=True)
    # The head first: rows committed after it have higher seqs and are never touched.
    head = repository.read_point(session, HEAD)
    first_recent = repository.first_seq_since(session, cutoff)
    through = head.seq if first_recent is None else min(head.seq, first_recent - 1)
    if not repository.is_partitioned(session):
        through = min(through, anchor.seq + batch_size)
    last = repository.last_point_through(session, through) if through > anchor.seq else None
    if last is None or last.seq <= anchor.seq:
        return Pruned(anchor)
    result = Pruned(last)
    if repository.is_partitioned(session):
        _prune_partitions(session, cutoff, last.seq, result)
    else:
        result.rows = repository.delete_through(session, last.seq)
        result.more = result.rows >= batch_size
    repository.move_point(session, ANCHOR, last)
    return result


def _prune_partitions(session: Session, cutoff: datetime, through: int, result: Pruned) -> None:
    droppable = []
    for partition in repository.partitions(session):
        newest = repository.max_seq(session, partition)
        if partition.end <= cutoff and (newest is None or newest <= through):
            droppable.append(partition)
        elif newest is not None:
            result.rows += repository.delete_through(session, through, partition)
    # Last, so that the brief lock on the parent table is held only until the commit.
    for partition in droppable:
        repository.drop_partition(session, partition)
        result.partitions.append(partition.name)
