"""The one authorization decision: `authorize(principal, action, resource)`.

Every route reaches it, either through the `Require` dependency (resources named in the path)
or through a service that loaded the resource first. Outcomes:
- the principal cannot see the resource's workspace at all → NotFound, same body as missing;
- it can see it but lacks the scope → Forbidden(scope_missing).
"""

from dataclasses import dataclass

from controlplane.auth.principal import Principal
from controlplane.auth.scopes import INSTANCE_SCOPES, ROLE_SCOPES, WORKSPACE_SCOPES, Scope
from controlplane.errors import Forbidden, NotFound


@dataclass(frozen=True)
class Resource:
    kind: str
    workspace_id: str | None = None  # None: an instance-level resource
    agent_id: str | None = None


INSTANCE = Resource("instance")


def granted_scopes(principal: Principal, workspace_id: str | None) -> frozenset[str]:
    token = principal.token
    if token is not None and token.workspace_id is not None:
        # A workspace token is confined to its workspace and holds exactly its scopes.
        return frozenset(token.scopes) if token.workspace_id == workspace_id else frozenset()
    if workspace_id is None:
        # Any active user may create a workspace (multi-user mode permitting); admins do more.
        held: frozenset[str] = (
            INSTANCE_SCOPES if principal.is_admin else frozenset({Scope.WORKSPACES_CREATE})
        )
    else:
        role = principal.roles.get(workspace_id)
        held = ROLE_SCOPES[role] if role is not None else frozenset()
    # A personal token acts as its user, capped by its own scopes.
    return held & token.scopes if token is not None else held


def workspaces_granting(principal: Principal, scope: Scope) -> list[str]:
    """The workspaces where the principal holds `scope`: a workspace token's own, else those
    it has a role in."""
    bound = principal.workspace_bound
    candidates = [bound] if bound is not None else list(principal.roles)
    return [ws for ws in candidates if scope in granted_scopes(principal, ws)]


def is_instance_admin(principal: Principal) -> bool:
    return Scope.USERS_WRITE in granted_scopes(principal, None)


def can_see(principal: Principal, resource: Resource) -> bool:
    if resource.workspace_id is None:
        return True
    token = principal.token
    if token is not None and token.workspace_id is not None:
        if token.workspace_id != resource.workspace_id:
            return False
        # An agent-bound token sees the workspace as a whole, but of its agents, plugins and
        # tokens only those bound to its own agent.
        return not (
            token.agent_id is not None
            and resource.kind != "workspace"
            and resource.agent_id != token.agent_id
        )
    return resource.workspace_id in principal.roles


def authorize(principal: Principal, action: Scope | str, resource: Resource) -> None:
    if not can_see(principal, resource):
        raise NotFound(f"{resource.kind} not found")
    if action not in granted_scopes(principal, resource.workspace_id):
        raise Forbidden(f"this credential lacks the {action} scope", code="scope_missing")


def assert_scopes_assignable(
    principal: Principal, requested: frozenset[str], workspace_id: str | None
) -> None:
    """A credential can never be minted with more than its creator holds."""
    unknown = requested - {str(scope) for scope in Scope}
    if unknown:
        raise Forbidden(f"unknown scopes: {', '.join(sorted(unknown))}", code="scope_unknown")
    if workspace_id is not None and requested & INSTANCE_SCOPES:
        raise Forbidden("instance scopes cannot be bound to a workspace", code="scope_escalation")
    excess = requested - granted_scopes(principal, workspace_id)
    if excess:
        raise Forbidden(
            f"cannot grant scopes the creator does not hold: {', '.join(sorted(excess))}",
            code="scope_escalation",
        )


__all__ = ["INSTANCE", "WORKSPACE_SCOPES", "Resource", "authorize", "granted_scopes"]
