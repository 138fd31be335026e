"""Identity rules: who exists, who belongs where, and what agents and plugins a workspace has."""

from collections.abc import Sequence
from datetime import timedelta

from controlplane.audit_events import service as audit
from controlplane.auth.policy import INSTANCE, Resource, authorize
from controlplane.auth.principal import Principal, TokenGrant
from controlplane.auth.scopes import ROLE_RANK, Role, Scope
from controlplane.context import Ctx
from controlplane.errors import Conflict, Forbidden, NotFound, RateLimited, Unauthenticated
from controlplane.identity import repository
from controlplane.identity.models import Agent, Membership, Plugin, User, Workspace
from controlplane.identity.schemas import (
    AgentCreate,
    MemberAdd,
    PasswordChange,
    PluginCreate,
    UserCreate,
    WorkspaceCreate,
)
from controlplane.kit.clock import utcnow
from controlplane.kit.ids import new_id
from controlplane.tokens import service as tokens

LOGIN_FAILURE = "login.failure"


class LoginFailed(Exception):
    """Raised by `login`; the router records it in its own transaction, then answers 401."""

    def __init__(self, username: str, reason: str) -> None:
        super().__init__(reason)
        self.username = username
        self.reason = reason


# --- principals -------------------------------------------------------------------------


def principal_for_user(ctx: Ctx, user_id: str, token: TokenGrant | None = None) -> Principal:
    user = repository.get_user(ctx.session, user_id)
    if user is None or user.disabled_at is not None:
        raise Unauthenticated("user_disabled")
    roles = {m.workspace_id: Role(m.role) for m in repository.memberships_of(ctx.session, user.id)}
    return Principal(
        kind="token" if token else "user",
        user_id=user.id,
        is_admin=user.is_admin,
        token=token,
        roles=roles,
    )


def principal_for_workspace_token(grant: TokenGrant) -> Principal:
    """A workspace token carries everything it is allowed: no database needed."""
    return Principal(kind="token", user_id=grant.user_id, token=grant)


# --- login ------------------------------------------------------------------------------


def login(ctx: Ctx, username: str, password: str) -> str:
    settings = ctx.app.settings
    since = utcnow() - timedelta(seconds=settings.login_window_seconds)
    throttled = audit.count_recent(ctx, LOGIN_FAILURE, since, target_id=username) >= (
        settings.login_max_failures_per_account
    ) or (
        ctx.client_ip is not None
        and audit.count_recent(ctx, LOGIN_FAILURE, since, client_ip=ctx.client_ip)
        >= settings.login_max_failures_per_ip
    )
    if throttled:
        raise RateLimited("too many failed logins; try again later", settings.login_window_seconds)
    user = repository.get_user_by_username(ctx.session, username)
    # Always one full argon2 verification, whether or not the user exists or is disabled.
    verified = ctx.app.passwords.verify(user.password_hash if user else None, password)
    if user is None or not verified or user.disabled_at is not None:
        raise LoginFailed(username, "bad_credentials")
    if user.password_hash and ctx.app.passwords.needs_rehash(user.password_hash):
        user.password_hash = ctx.app.passwords.hash(password)
    audit.record(
        ctx,
        "login.success",
        target_type="user",
        target_id=user.id,
        workspace_id=None,
        actor_type="user",
        actor_id=user.id,
    )
    return ctx.app.session_tokens.issue(user.id)


def record_login_failure(ctx: Ctx, failure: LoginFailed) -> None:
    audit.record(
        ctx,
        LOGIN_FAILURE,
        target_type="user",
        target_id=failure.username[:64],
        workspace_id=None,
        outcome="failure",
        actor_type="anonymous",
        details={"reason": failure.reason},
    )


# --- users ------------------------------------------------------------------------------


def _require_multi_user(ctx: Ctx) -> None:
    if not ctx.app.settings.multi_user:
        raise Forbidden(
            "single-user mode: set GATEHOUSE_MULTI_USER=true to add users and workspaces",
            code="multi_user_disabled",
        )


def create_user(ctx: Ctx, body: UserCreate) -> User:
    authorize(ctx.require_principal(), Scope.USERS_WRITE, INSTANCE)
    _require_multi_user(ctx)
    if repository.get_user_by_username(ctx.session, body.username) is not None:
        raise Conflict("a user with this username exists")
    user = User(
        id=new_id("usr"),
        username=body.username,
        password_hash=ctx.app.passwords.hash(body.password),
        is_admin=body.is_admin,
    )
    repository.add(ctx.session, user)
    audit.record(
        ctx,
        "user.create",
        target_type="user",
        target_id=user.id,
        workspace_id=None,
        details={"username": user.username, "is_admin": user.is_admin},
    )
    return user


def list_users(ctx: Ctx) -> Sequence[User]:
    authorize(ctx.require_principal(), Scope.USERS_WRITE, INSTANCE)
    return repository.list_users(ctx.session)


def disable_user(ctx: Ctx, user_id: str) -> User:
    principal = ctx.require_principal()
    authorize(principal, Scope.USERS_WRITE, INSTANCE)
    user = repository.get_user(ctx.session, user_id)
    if user is None:
        raise NotFound("user not found")
    if user.id == principal.user_id:
        raise Conflict("you cannot disable yourself")
    if user.disabled_at is None:
        user.disabled_at = utcnow()
        revoked = tokens.revoke_created_by(ctx, user.id, None, reason="user disabled")
        audit.record(
            ctx,
            "user.disable",
            target_type="user",
            target_id=user.id,
            workspace_id=None,
            details={"revoked_tokens": revoked},
        )
    return user


def change_password(ctx: Ctx, body: PasswordChange) -> None:
    principal = ctx.require_principal()
    user = repository.get_user(ctx.session, principal.user_id)
    if user is None or principal.workspace_bound is not None:
        raise Forbidden("only a user can change a password", code="user_required")
    # A session proves nothing about the password holder if the session was stolen.
    if user.password_hash is not None and not ctx.app.passwords.verify(
        user.password_hash, body.current_password or ""
    ):
        raise Forbidden("the current password is wrong", code="bad_password")
    user.password_hash = ctx.app.passwords.hash(body.new_password)
    audit.record(
        ctx, "user.password_change", target_type="user", target_id=user.id, workspace_id=None
    )


def get_user(ctx: Ctx, user_id: str) -> User:
    user = repository.get_user(ctx.session, user_id)
    if user is None:
        raise NotFound("user not found")
    return user


# --- workspaces and members -------------------------------------------------------------


def workspace_for(ctx: Ctx, workspace_id: str, action: Scope) -> Workspace:
    """Load a workspace the caller may act on; otherwise the same 404 as a missing one."""
    workspace = repository.get_workspace(ctx.session, workspace_id)
    if workspace is None:
        raise NotFound("workspace not found")
    authorize(ctx.require_principal(), action, Resource("workspace", workspace_id))
    return workspace


def create_workspace(ctx: Ctx, body: WorkspaceCreate) -> Workspace:
    principal = ctx.require_principal()
    authorize(principal, Scope.WORKSPACES_CREATE, INSTANCE)
    _require_multi_user(ctx)
    mine = repository.list_workspaces(ctx.session, list(principal.roles))
    if any(workspace.name == body.name for workspace in mine):
        raise Conflict("you already belong to a workspace with this name")
    workspace = Workspace(
        id=new_id("ws"),
        name=body.name,
        require_plugin_approval=body.require_plugin_approval,
        created_by=principal.user_id,
    )
    repository.add(ctx.session, workspace)
    repository.add(
        ctx.session,
        Membership(
            id=new_id("mem"), workspace_id=workspace.id, user_id=principal.user_id, role=Role.OWNER
        ),
    )
    audit.record(
        ctx,
        "workspace.create",
        target_type="workspace",
        target_id=workspace.id,
        workspace_id=workspace.id,
        details={"name": workspace.name},
    )
    return workspace


def list_workspaces(ctx: Ctx) -> list[tuple[Workspace, Role | None]]:
    principal = ctx.require_principal()
    bound = principal.workspace_bound
    visible = [bound] if bound is not None else list(principal.roles)
    rows = repository.list_workspaces(ctx.session, visible)
    return [(row, principal.roles.get(row.id)) for row in rows]


def _granting_rank(principal: Principal, workspace_id: str) -> int:
    role = principal.roles.get(workspace_id)
    # Tokens hold no role; with members:write they may grant up to admin, never owner.
    return ROLE_RANK[role] if role is not None else ROLE_RANK[Role.ADMIN]


def add_member(ctx: Ctx, workspace_id: str, body: MemberAdd) -> tuple[Membership, User]:
    principal = ctx.require_principal()
    workspace_for(ctx, workspace_id, Scope.MEMBERS_WRITE)
    _require_multi_user(ctx)
    if ROLE_RANK[body.role] > _granting_rank(principal, workspace_id):
        raise Forbidden("you cannot grant a role above your own", code="role_escalation")
    user = (
        repository.get_user(ctx.session, body.user_id)
        if body.user_id is not None
        else repository.get_user_by_username(ctx.session, body.username or "")
    )
    if user is None or user.disabled_at is not None:
        raise NotFound("user not found")
    if repository.get_membership(ctx.session, workspace_id, user.id) is not None:
        raise Conflict("this user is already a member")
    membership = Membership(
        id=new_id("mem"), workspace_id=workspace_id, user_id=user.id, role=body.role
    )
    repository.add(ctx.session, membership)
    audit.record(
        ctx,
        "member.add",
        target_type="user",
        target_id=user.id,
        workspace_id=workspace_id,
        details={"role": body.role},
    )
    return membership, user


def list_members(ctx: Ctx, workspace_id: str) -> Sequence[tuple[Membership, User]]:
    workspace_for(ctx, workspace_id, Scope.MEMBERS_READ)
    return repository.list_members(ctx.session, workspace_id)


def remove_member(ctx: Ctx, workspace_id: str, user_id: str) -> int:
    principal = ctx.require_principal()
    workspace_for(ctx, workspace_id, Scope.MEMBERS_WRITE)
    membership = repository.get_membership(ctx.session, workspace_id, user_id)
    if membership is None:
        raise NotFound("member not found")
    if ROLE_RANK[Role(membership.role)] > _granting_rank(principal, workspace_id):
        raise Forbidden("you cannot remove a member above your own role", code="role_escalation")
    owners = [
        m for m, _ in repository.list_members(ctx.session, workspace_id) if m.role == Role.OWNER
    ]
    if membership.role == Role.OWNER and len(owners) == 1:
        raise Conflict("a workspace keeps at least one owner")
    repository.delete_membership(ctx.session, membership)
    revoked = tokens.revoke_created_by(ctx, user_id, workspace_id, reason="membership removed")
    audit.record(
        ctx,
        "member.remove",
        target_type="user",
        target_id=user_id,
        workspace_id=workspace_id,
        details={"revoked_tokens": revoked},
    )
    return len(revoked)


# --- agents and plugins -----------------------------------------------------------------


def get_agent(ctx: Ctx, workspace_id: str, agent_id: str, action: Scope) -> Agent:
    agent = repository.get_agent(ctx.session, workspace_id, agent_id)
    if agent is None:
        raise NotFound("agent not found")
    authorize(ctx.require_principal(), action, Resource("agent", workspace_id, agent.id))
    return agent


def workspace_or_agent_for(
    ctx: Ctx, workspace_id: str, agent_id: str | None, action: Scope
) -> None:
    """The workspace, and the agent if named, must be visible and allow `action`: for
    resources kept per workspace with per-agent overrides (provider keys, policies)."""
    workspace_for(ctx, workspace_id, action)
    if agent_id is not None:
        get_agent(ctx, workspace_id, agent_id, action)


def create_agent(ctx: Ctx, workspace_id: str, body: AgentCreate) -> Agent:
    workspace_for(ctx, workspace_id, Scope.AGENTS_WRITE)
    token = ctx.require_principal().token
    if token is not None and token.agent_id is not None:
        raise Forbidden("an agent-bound token cannot create agents", code="agent_bound")
    if repository.get_agent_by_name(ctx.session, workspace_id, body.name) is not None:
        raise Conflict("an agent with this name exists in the workspace")
    agent = Agent(
        id=new_id("agt"),
        workspace_id=workspace_id,
        name=body.name,
        description=body.description,
        created_by=ctx.require_principal().actor_id,
    )
    repository.add(ctx.session, agent)
    audit.record(
        ctx,
        "agent.create",
        target_type="agent",
        target_id=agent.id,
        workspace_id=workspace_id,
        details={"name": agent.name},
    )
    return agent


def list_agents(ctx: Ctx, workspace_id: str, after: str | None, limit: int) -> Sequence[Agent]:
    workspace_for(ctx, workspace_id, Scope.AGENTS_READ)
    token = ctx.require_principal().token
    bound_agent = token.agent_id if token is not None else None
    return repository.list_agents(
        ctx.session, workspace_id, agent_id=bound_agent, after=after, limit=limit
    )


def add_plugin(ctx: Ctx, workspace_id: str, agent_id: str, body: PluginCreate) -> Plugin:
    workspace = workspace_for(ctx, workspace_id, Scope.AGENTS_WRITE)
    agent = get_agent(ctx, workspace_id, agent_id, Scope.AGENTS_WRITE)
    if repository.get_plugin_by_name(ctx.session, agent.id, body.name) is not None:
        raise Conflict("this agent already has a plugin with this name")
    needs_approval = body.tier == "community" and workspace.require_plugin_approval
    plugin = Plugin(
        id=new_id("plg"),
        workspace_id=workspace_id,
        agent_id=agent.id,
        name=body.name,
        version=body.version,
        tier=body.tier,
        # A plugin awaiting approval is never enabled, whatever the request asked for.
        enabled=body.enabled and not needs_approval,
        approval="pending" if needs_approval else "not_required",
    )
    repository.add(ctx.session, plugin)
    audit.record(
        ctx,
        "plugin.create",
        target_type="plugin",
        target_id=plugin.id,
        workspace_id=workspace_id,
        details={
            "agent_id": agent.id,
            "name": plugin.name,
            "version": plugin.version,
            "tier": plugin.tier,
            "approval": plugin.approval,
        },
    )
    return plugin


def list_plugins(ctx: Ctx, workspace_id: str, agent_id: str) -> Sequence[Plugin]:
    agent = get_agent(ctx, workspace_id, agent_id, Scope.AGENTS_READ)
    return repository.list_plugins(ctx.session, agent.id)


def _plugin(ctx: Ctx, workspace_id: str, agent_id: str, plugin_id: str, action: Scope) -> Plugin:
    agent = get_agent(ctx, workspace_id, agent_id, Scope.AGENTS_READ)
    plugin = repository.get_plugin(ctx.session, agent.id, plugin_id)
    if plugin is None:
        raise NotFound("plugin not found")
    authorize(ctx.require_principal(), action, Resource("plugin", workspace_id, agent.id))
    return plugin


def approve_plugin(ctx: Ctx, workspace_id: str, agent_id: str, plugin_id: str) -> Plugin:
    plugin = _plugin(ctx, workspace_id, agent_id, plugin_id, Scope.PLUGINS_APPROVE)
    if plugin.approval != "pending":
        raise Conflict("this plugin is not awaiting approval")
    plugin.approval = "approved"
    plugin.approved_by = ctx.require_principal().actor_id
    audit.record(
        ctx,
        "plugin.approve",
        target_type="plugin",
        target_id=plugin.id,
        workspace_id=workspace_id,
        details={"agent_id": agent_id},
    )
    return plugin


def set_plugin_enabled(
    ctx: Ctx, workspace_id: str, agent_id: str, plugin_id: str, enabled: bool
) -> Plugin:
    plugin = _plugin(ctx, workspace_id, agent_id, plugin_id, Scope.AGENTS_WRITE)
    if enabled and plugin.approval == "pending":
        raise Conflict(
            "this community plugin needs approval before it can be enabled",
            code="approval_required",
        )
    plugin.enabled = enabled
    audit.record(
        ctx,
        "plugin.enable" if enabled else "plugin.disable",
        target_type="plugin",
        target_id=plugin.id,
        workspace_id=workspace_id,
        details={"agent_id": agent_id},
    )
    return plugin
