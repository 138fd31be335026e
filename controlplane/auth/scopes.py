"""Scopes, roles and what each role may do. The README's role table is generated from here."""

from enum import StrEnum


class Scope(StrEnum):
    PROXY_INVOKE = "proxy:invoke"
    RUNTIME_INVOKE = "runtime:invoke"
    AGENTS_READ = "agents:read"
    AGENTS_WRITE = "agents:write"
    PLUGINS_APPROVE = "plugins:approve"
    TOKENS_READ = "tokens:read"
    TOKENS_WRITE = "tokens:write"
    MEMBERS_READ = "members:read"
    MEMBERS_WRITE = "members:write"
    ACCESS_LOG_READ = "access-log:read"
    AUDIT_READ = "audit:read"
    AUDIT_RUN = "audit:run"
    SLA_READ = "sla:read"
    SLA_WRITE = "sla:write"
    NOTICES_PUBLISH = "notices:publish"
    PROVIDERS_READ = "providers:read"
    PROVIDERS_WRITE = "providers:write"
    POLICY_READ = "policy:read"
    POLICY_WRITE = "policy:write"
    # Instance-level: only a user's personal token or session can hold these.
    WORKSPACES_CREATE = "workspaces:create"
    USERS_WRITE = "users:write"
    METRICS_READ = "metrics:read"


INSTANCE_SCOPES = frozenset({Scope.WORKSPACES_CREATE, Scope.USERS_WRITE, Scope.METRICS_READ})
WORKSPACE_SCOPES = frozenset(Scope) - INSTANCE_SCOPES


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    OPERATOR = "operator"
    SECURITY = "security"
    SUPPORT = "support"
    VIEWER = "viewer"


ROLE_SCOPES: dict[Role, frozenset[Scope]] = {
    Role.OWNER: WORKSPACE_SCOPES,
    Role.ADMIN: WORKSPACE_SCOPES,
    Role.OPERATOR: frozenset(
        {
            Scope.PROXY_INVOKE,
            Scope.RUNTIME_INVOKE,
            Scope.AGENTS_READ,
            Scope.AGENTS_WRITE,
            Scope.TOKENS_READ,
            Scope.TOKENS_WRITE,
            Scope.MEMBERS_READ,
            Scope.ACCESS_LOG_READ,
            Scope.PROVIDERS_READ,
            Scope.POLICY_READ,
        }
    ),
    Role.SECURITY: frozenset(
        {
            Scope.AGENTS_READ,
            Scope.PLUGINS_APPROVE,
            Scope.TOKENS_READ,
            # Incident response needs to revoke; new tokens stay capped by the creator's scopes.
            Scope.TOKENS_WRITE,
            Scope.MEMBERS_READ,
            Scope.ACCESS_LOG_READ,
            Scope.AUDIT_READ,
            Scope.AUDIT_RUN,
            Scope.PROVIDERS_READ,
            Scope.POLICY_READ,
        }
    ),
    Role.SUPPORT: frozenset({Scope.SLA_READ, Scope.SLA_WRITE}),
    Role.VIEWER: frozenset({Scope.AGENTS_READ, Scope.TOKENS_READ, Scope.MEMBERS_READ}),
}

# Who may grant which role: nobody can hand out more than they hold.
ROLE_RANK = {
    Role.OWNER: 5,
    Role.ADMIN: 4,
    Role.OPERATOR: 3,
    Role.SECURITY: 3,
    Role.SUPPORT: 2,
    Role.VIEWER: 1,
}


def role_table_markdown() -> str:
    """The README's role table, generated so that the docs cannot drift from the code."""
    roles = list(Role)
    lines = [
        "| scope | " + " | ".join(roles) + " |",
        "|---|" + "---|" * len(roles),
    ]
    for scope in sorted(WORKSPACE_SCOPES):
        marks = " | ".join("✓" if scope in ROLE_SCOPES[role] else "" for role in roles)
        lines.append(f"| `{scope}` | {marks} |")
    return "\n".join(lines)
