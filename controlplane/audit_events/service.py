"""Recording and reading the admin audit trail."""

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from controlplane.audit_events import repository
from controlplane.audit_events.models import AuditEvent
from controlplane.auth.policy import Resource, authorize, granted_scopes
from controlplane.auth.scopes import Scope
from controlplane.context import Ctx
from controlplane.kit.ids import new_id


def record(
    ctx: Ctx,
    action: str,
    *,
    target_type: str,
    target_id: str | None,
    workspace_id: str | None,
    outcome: str = "success",
    details: Mapping[str, Any] | None = None,
    actor_id: str | None = None,
    actor_type: str | None = None,
) -> None:
    """Append one event. Tokens must be named by accessor only; callers never pass secrets."""
    principal = ctx.principal
    repository.add(
        ctx.session,
        AuditEvent(
            id=new_id("evt"),
            actor_type=actor_type or (principal.kind if principal else "anonymous"),
            actor_id=actor_id or (principal.actor_id if principal else None),
            action=action,
            outcome=outcome,
            target_type=target_type,
            target_id=target_id,
            workspace_id=workspace_id,
            client_ip=ctx.client_ip,
            request_id=ctx.request_id,
            details=dict(details or {}),
        ),
    )


def count_recent(
    ctx: Ctx,
    action: str,
    since: datetime,
    *,
    target_id: str | None = None,
    client_ip: str | None = None,
) -> int:
    return repository.count_since(
        ctx.session, action, since, target_id=target_id, client_ip=client_ip
    )


def list_events(
    ctx: Ctx,
    *,
    workspace_id: str | None,
    action: str | None,
    since: datetime | None,
    until: datetime | None,
    after: str | None,
    limit: int,
) -> Sequence[AuditEvent]:
    """Events in workspaces where the caller holds audit:read; instance events for admins."""
    principal = ctx.require_principal()
    if workspace_id is not None:
        authorize(principal, Scope.AUDIT_READ, Resource("workspace", workspace_id))
        readable = [workspace_id]
    else:
        bound = principal.workspace_bound
        candidates = [bound] if bound is not None else list(principal.roles)
        readable = [ws for ws in candidates if Scope.AUDIT_READ in granted_scopes(principal, ws)]
    include_instance = workspace_id is None and Scope.USERS_WRITE in granted_scopes(principal, None)
    return repository.list_visible(
        ctx.session,
        workspace_ids=readable,
        include_instance=include_instance,
        action=action,
        since=since,
        until=until,
        after=after,
        limit=limit,
    )
