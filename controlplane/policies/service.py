"""Proxy policy: set and read it over the API, and evaluate it for the proxy.

A change bumps the `policies` epoch: this process's cache drops at commit, and every other
process's within its poll interval, so a change is in force everywhere within 2 s.

Rate limits are counted in `rate_windows` (fixed one-minute windows) with one conditional
upsert per limited subject, inside the proxy's short admission transaction: the token's and
the workspace's counts either both advance or neither does.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from controlplane.audit_events import service as audit
from controlplane.auth.principal import TokenGrant
from controlplane.auth.scopes import Scope
from controlplane.context import Ctx
from controlplane.db import after_commit
from controlplane.errors import Forbidden, NotFound, RateLimited, ValidationFailed
from controlplane.identity import service as identity
from controlplane.kit.clock import utcnow
from controlplane.kit.ids import new_id
from controlplane.policies import repository
from controlplane.policies.engine import (
    RULES,
    WINDOW_SECONDS,
    WORKSPACE_ONLY,
    EffectivePolicy,
    merge,
    window_of,
)
from controlplane.policies.models import ProxyPolicy
from controlplane.policies.schemas import PolicyRules
from controlplane.tokens import repository as epochs
from controlplane.tokens.models import POLICIES_EPOCH

# --- the API ----------------------------------------------------------------------------


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(
        f"body.{field}: {message}",
        extra={"fields": [{"field": f"body.{field}", "message": message}]},
    )


def _writable(ctx: Ctx, workspace_id: str, agent_id: str | None) -> None:
    identity.workspace_or_agent_for(ctx, workspace_id, agent_id, Scope.POLICY_WRITE)
    token = ctx.require_principal().token
    if token is not None and token.agent_id is not None:
        # An agent must not loosen the rules it is itself held to.
        raise Forbidden("an agent-bound token cannot change policy", code="agent_bound")


def _changed(ctx: Ctx) -> None:
    epochs.bump_epoch(ctx.session, POLICIES_EPOCH)
    after_commit(ctx.session, ctx.app.policy_cache.invalidate)


def get_policy(ctx: Ctx, workspace_id: str, agent_id: str | None) -> ProxyPolicy:
    """The stored rules; a policy never set reads as one with no rules."""
    identity.workspace_or_agent_for(ctx, workspace_id, agent_id, Scope.POLICY_READ)
    row = repository.get(ctx.session, workspace_id, agent_id)
    return row or ProxyPolicy(workspace_id=workspace_id, agent_id=agent_id)


def list_policies(ctx: Ctx, workspace_id: str) -> Sequence[ProxyPolicy]:
    """The workspace default (stored or not) and every agent override."""
    default = get_policy(ctx, workspace_id, None)
    token = ctx.require_principal().token
    overrides = repository.list_overrides(ctx.session, workspace_id)
    if token is not None and token.agent_id is not None:
        overrides = [row for row in overrides if row.agent_id == token.agent_id]
    return [default, *overrides]


def set_policy(
    ctx: Ctx, workspace_id: str, agent_id: str | None, rules: PolicyRules
) -> ProxyPolicy:
    """Replace the rules wholesale: a rule left out is removed."""
    _writable(ctx, workspace_id, agent_id)
    if agent_id is not None:
        for field in sorted(WORKSPACE_ONLY):
            if getattr(rules, field) is not None:
                raise _invalid(field, "a workspace limit; set it on the workspace policy")
        if rules.anomaly_auto_suspend:
            raise _invalid(
                "anomaly_auto_suspend", "a workspace setting; set it on the workspace policy"
            )
    ceiling = ctx.app.settings.proxy_max_body_bytes
    if rules.max_body_bytes is not None and rules.max_body_bytes > ceiling:
        raise _invalid("max_body_bytes", f"at most {ceiling} (GATEHOUSE_PROXY_MAX_BODY_BYTES)")
    row = repository.get(ctx.session, workspace_id, agent_id, lock=True)
    now = utcnow()
    if row is None:
        row = ProxyPolicy(
            id=new_id("pol"), workspace_id=workspace_id, agent_id=agent_id, created_at=now
        )
    for rule in RULES:
        setattr(row, rule, getattr(rules, rule))
    row.anomaly_auto_suspend = rules.anomaly_auto_suspend if agent_id is None else None
    row.updated_at = now
    repository.add(ctx.session, row)
    _changed(ctx)
    audit.record(
        ctx,
        "policy.set",
        target_type="proxy_policy",
        target_id=row.id,
        workspace_id=workspace_id,
        # What is now set: rules left out are removed, and the opt-in left out is off.
        details={"agent_id": agent_id, **rules.model_dump(exclude_defaults=True)},
    )
    return row


def delete_policy(ctx: Ctx, workspace_id: str, agent_id: str | None) -> None:
    _writable(ctx, workspace_id, agent_id)
    row = repository.get(ctx.session, workspace_id, agent_id, lock=True)
    if row is None:
        raise NotFound("no policy is set here")
    repository.remove(ctx.session, row)
    _changed(ctx)
    audit.record(
        ctx,
        "policy.delete",
        target_type="proxy_policy",
        target_id=row.id,
        workspace_id=workspace_id,
        details={"agent_id": agent_id},
    )


def effective_policy(ctx: Ctx, workspace_id: str, agent_id: str | None) -> EffectivePolicy:
    identity.workspace_or_agent_for(ctx, workspace_id, agent_id, Scope.POLICY_READ)
    return load_effective(ctx.session, workspace_id, agent_id)


def auto_suspend_enabled(session: Session, workspace_id: str) -> bool:
    """Whether the workspace's policy lets anomaly detection suspend its tokens by itself. No
    principal: anomaly detection calls this from its job, inside its own transaction."""
    return bool(repository.auto_suspend_setting(session, workspace_id))


# --- the proxy --------------------------------------------------------------------------


def load_effective(session: Session, workspace_id: str, agent_id: str | None) -> EffectivePolicy:
    """No principal: the proxy has authenticated the caller already. Nothing is written."""
    return merge(*repository.default_and_override(session, workspace_id, agent_id))


@dataclass(frozen=True)
class Admission:
    """Where an admitted request's tokens are to be counted: its subjects with a TPM limit."""

    window: int
    subjects: tuple[str, ...]


def admit(
    session: Session, policy: EffectivePolicy, grant: TokenGrant, now: datetime | None = None
) -> Admission:
    """Count the request against the token's and the workspace's limits, or refuse it (429).

    On refusal the caller's transaction rolls back, undoing a count already taken.
    """
    timestamp = (now or utcnow()).timestamp()
    window = window_of(timestamp)
    limits = (
        (f"token:{grant.token_id}", policy.token_rpm, policy.token_tpm, "token"),
        (
            f"workspace:{grant.workspace_id}",
            policy.workspace_rpm,
            policy.workspace_tpm,
            "workspace",
        ),
    )
    subjects: list[str] = []
    for subject, rpm, tpm, whose in limits:
        if rpm is None and tpm is None:
            continue
        if not repository.take(session, subject, window, rpm, tpm):
            retry_after = math.ceil((window + 1) * WINDOW_SECONDS - timestamp)
            raise RateLimited(f"the {whose}'s rate limit is spent for this minute", retry_after)
        if tpm is not None:
            subjects.append(subject)
    return Admission(window, tuple(subjects))


def spend(session: Session, admission: Admission, tokens: int) -> None:
    """Count tokens used by an admitted request, toward the tokens-per-minute limits."""
    if tokens > 0 and admission.subjects:
        repository.spend_tokens(session, admission.subjects, admission.window, tokens)
