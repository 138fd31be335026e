"""First start: the first admin, the default workspace, the demo agent and the admin's token."""

from typing import Any

from controlplane.audit_events import service as audit
from controlplane.auth.scopes import Role
from controlplane.context import Ctx
from controlplane.errors import Conflict
from controlplane.identity import repository
from controlplane.identity.models import Agent, Membership, User, Workspace
from controlplane.kit.ids import new_id
from controlplane.tokens import service as tokens

DEFAULT_WORKSPACE = "default"
DEMO_AGENT = "demo"


def is_initialised(ctx: Ctx) -> bool:
    return repository.any_user_exists(ctx.session)


def _record(
    ctx: Ctx,
    action: str,
    target_type: str,
    target_id: str,
    workspace_id: str | None,
    details: dict[str, Any],
) -> None:
    audit.record(
        ctx,
        action,
        target_type=target_type,
        target_id=target_id,
        workspace_id=workspace_id,
        details=details,
        actor_type="system",
        actor_id="gatehouse init",
    )


def bootstrap(ctx: Ctx, username: str = "admin") -> tuple[User, Workspace, str]:
    """Everything a first start creates; the admin's token is returned to be printed once."""
    if is_initialised(ctx):
        raise Conflict("Gatehouse is already initialised")
    user = User(id=new_id("usr"), username=username, is_admin=True)
    workspace = Workspace(id=new_id("ws"), name=DEFAULT_WORKSPACE, created_by=user.id)
    repository.add(ctx.session, user)
    repository.add(ctx.session, workspace)
    repository.add(
        ctx.session,
        Membership(id=new_id("mem"), workspace_id=workspace.id, user_id=user.id, role=Role.OWNER),
    )
    _record(ctx, "user.create", "user", user.id, None, {"username": username, "is_admin": True})
    _record(
        ctx, "workspace.create", "workspace", workspace.id, workspace.id, {"name": workspace.name}
    )
    token, raw = tokens.issue_personal_token(ctx, user, description="admin token from init")
    _record(ctx, "token.create", "token", token.accessor, None, {"scopes": token.scopes})
    # Runs on the local provider (no key, no network): `gatehouse run --agent demo "hello"`.
    demo = Agent(
        id=new_id("agt"),
        workspace_id=workspace.id,
        name=DEMO_AGENT,
        description="Streams from the built-in local provider; needs no API key.",
        created_by=user.id,
    )
    repository.add(ctx.session, demo)
    _record(ctx, "agent.create", "agent", demo.id, workspace.id, {"name": demo.name})
    return user, workspace, raw
