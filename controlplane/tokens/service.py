"""Token rules: issue within the creator's reach, rotate with overlap, revoke whole trees,
suspend whole trees and resume exactly what a suspension suspended."""

import hashlib
from collections.abc import Sequence
from datetime import datetime, timedelta

from controlplane.audit_events import service as audit
from controlplane.auth.policy import Resource, assert_scopes_assignable, authorize
from controlplane.auth.principal import Principal
from controlplane.auth.scopes import Scope
from controlplane.context import Ctx
from controlplane.db import after_commit
from controlplane.errors import Conflict, Forbidden, NotFound, ValidationFailed
from controlplane.identity import service as identity
from controlplane.identity.models import User
from controlplane.kit.clock import utcnow
from controlplane.kit.ids import new_id
from controlplane.tokens import repository
from controlplane.tokens.format import (
    generate_accessor,
    generate_token,
    is_well_formed,
    secret_hmac,
)
from controlplane.tokens.models import Token, TokenSecret
from controlplane.tokens.schemas import LeakResult, LeakStatus, TokenCreate
from controlplane.tokens.state import token_state
from controlplane.tokens.verifier import networks_within


def _new_secret(ctx: Ctx, token_id: str) -> tuple[TokenSecret, str]:
    raw = generate_token()
    secret = TokenSecret(
        id=new_id("sec"), token_id=token_id, secret_hmac=secret_hmac(ctx.app.token_key, raw)
    )
    return secret, raw


def _changed_tokens(ctx: Ctx) -> None:
    """Tell every process's cache: this one right after commit, the others via the epoch."""
    repository.bump_epoch(ctx.session)
    after_commit(ctx.session, ctx.app.verifier.cache.invalidate)


def _expiry(ctx: Ctx, ttl_seconds: int | None, parent: Token | None, now: datetime) -> datetime:
    settings = ctx.app.settings
    if ttl_seconds is not None and ttl_seconds > settings.token_max_ttl_seconds:
        message = f"at most {settings.token_max_ttl_seconds}"
        raise ValidationFailed(
            f"body.ttl_seconds: {message}",
            extra={"fields": [{"field": "body.ttl_seconds", "message": message}]},
        )
    expires_at = now + timedelta(seconds=ttl_seconds or settings.token_default_ttl_seconds)
    if parent is not None and expires_at > parent.expires_at:
        if ttl_seconds is not None:
            raise Forbidden("a child token cannot outlive its parent", code="ttl_exceeds_parent")
        expires_at = parent.expires_at
    return expires_at


def issue_personal_token(ctx: Ctx, user: User, description: str) -> tuple[Token, str]:
    """A token acting as `user` itself (all scopes, capped by the user's live roles)."""
    now = utcnow()
    token = Token(
        id=new_id("tok"),
        accessor=generate_accessor(),
        workspace_id=None,
        user_id=user.id,
        created_by=user.id,
        scopes=sorted(str(scope) for scope in Scope),
        description=description,
        created_at=now,
        expires_at=now + timedelta(seconds=ctx.app.settings.token_max_ttl_seconds),
        cidrs=[],
    )
    secret, raw = _new_secret(ctx, token.id)
    repository.add(ctx.session, token, secret)
    return token, raw


def _parent_for(
    ctx: Ctx, principal: Principal, workspace_id: str, accessor: str | None
) -> Token | None:
    """A token principal always becomes the parent; a user may name one explicitly."""
    if principal.token is not None:
        if accessor is not None:
            raise Forbidden("a token can only create children of itself", code="parent_mismatch")
        parent = repository.get(ctx.session, principal.token.token_id, lock=True)
    elif accessor is not None:
        parent = repository.get_by_accessor(ctx.session, accessor, lock=True)
        if parent is None or parent.workspace_id != workspace_id:
            raise NotFound("token not found")
    else:
        return None
    if parent is None or token_state(parent, None, utcnow()) != "live":
        raise Conflict("the parent token is revoked, suspended or expired", code="parent_inactive")
    return parent


def issue(ctx: Ctx, workspace_id: str, body: TokenCreate) -> tuple[Token, str]:
    principal = ctx.require_principal()
    identity.workspace_for(ctx, workspace_id, Scope.TOKENS_WRITE)
    requested = frozenset(body.scopes)
    assert_scopes_assignable(principal, requested, workspace_id)
    parent = _parent_for(ctx, principal, workspace_id, body.parent_accessor)
    agent_id = body.agent_id
    if agent_id is not None:
        identity.get_agent(ctx, workspace_id, agent_id, Scope.TOKENS_WRITE)
    if parent is not None:
        if not requested <= set(parent.scopes):
            raise Forbidden(
                "a child token cannot hold scopes its parent lacks", code="scope_escalation"
            )
        if parent.agent_id is not None and agent_id != parent.agent_id:
            raise Forbidden(
                "a child of an agent-bound token is bound to the same agent", code="agent_bound"
            )
        if parent.cidrs and not networks_within(body.cidrs, parent.cidrs):
            raise Forbidden(
                "a child token's networks must lie within its parent's", code="cidr_escalation"
            )
    now = utcnow()
    token = Token(
        id=new_id("tok"),
        accessor=generate_accessor(),
        workspace_id=workspace_id,
        agent_id=agent_id,
        user_id=principal.user_id,
        created_by=principal.actor_id,
        parent_id=parent.id if parent is not None else None,
        scopes=sorted(requested),
        description=body.description,
        created_at=now,
        expires_at=_expiry(ctx, body.ttl_seconds, parent, now),
        use_limit=body.use_limit,
        cidrs=body.cidrs or (list(parent.cidrs) if parent is not None else []),
    )
    secret, raw = _new_secret(ctx, token.id)
    repository.add(ctx.session, token, secret)
    audit.record(
        ctx,
        "token.create",
        target_type="token",
        target_id=token.accessor,
        workspace_id=workspace_id,
        details={
            "scopes": token.scopes,
            "agent_id": agent_id,
            "expires_at": token.expires_at.isoformat(),
            "parent": parent.accessor if parent is not None else None,
        },
    )
    return token, raw


def _visible_token(ctx: Ctx, accessor: str, action: Scope, *, lock: bool = False) -> Token:
    principal = ctx.require_principal()
    token = repository.get_by_accessor(ctx.session, accessor, lock=lock)
    if token is None:
        raise NotFound("token not found")
    if token.workspace_id is None:
        # Personal tokens are visible to their owner and to instance admins only, never through
        # a workspace token (which would otherwise reach its creator's all-scope token).
        if principal.workspace_bound is not None or (
            token.user_id != principal.user_id and not principal.is_admin
        ):
            raise NotFound("token not found")
        return token
    authorize(principal, action, Resource("token", token.workspace_id, token.agent_id))
    return token


def get(ctx: Ctx, accessor: str) -> Token:
    return _visible_token(ctx, accessor, Scope.TOKENS_READ)


def parent_accessor(ctx: Ctx, token: Token) -> str | None:
    if token.parent_id is None:
        return None
    parent = repository.get(ctx.session, token.parent_id)
    return parent.accessor if parent is not None else None


def list_for_workspace(
    ctx: Ctx, workspace_id: str, *, after: str | None, limit: int, include_revoked: bool
) -> Sequence[Token]:
    identity.workspace_for(ctx, workspace_id, Scope.TOKENS_READ)
    token = ctx.require_principal().token
    return repository.list_for_workspace(
        ctx.session,
        workspace_id,
        after=after,
        limit=limit,
        include_revoked=include_revoked,
        agent_id=token.agent_id if token is not None else None,
    )


def revoke(ctx: Ctx, accessor: str, reason: str) -> list[str]:
    """Revoke the token and every descendant, at any depth, in this transaction."""
    root = _visible_token(ctx, accessor, Scope.TOKENS_WRITE, lock=True)
    _assert_within_reach(ctx, root)
    revoked = _revoke_tree(ctx, [root.id], reason or "revoked")
    audit.record(
        ctx,
        "token.revoke",
        target_type="token",
        target_id=root.accessor,
        workspace_id=root.workspace_id,
        details={"reason": reason, "revoked": revoked},
    )
    return revoked


def _revoke_tree(ctx: Ctx, root_ids: list[str], reason: str) -> list[str]:
    ids = repository.subtree_ids(ctx.session, root_ids)
    revoked = repository.revoke(
        ctx.session, ids, now=utcnow(), by=ctx.require_principal().actor_id, reason=reason
    )
    if revoked:
        _changed_tokens(ctx)
    return revoked


def revoke_created_by(ctx: Ctx, user_id: str, workspace_id: str | None, reason: str) -> list[str]:
    """Tokens a user created (and their trees) die with the user's access."""
    return _revoke_tree(ctx, repository.ids_created_by(ctx.session, user_id, workspace_id), reason)


def suspend(ctx: Ctx, accessor: str, reason: str) -> list[str]:
    """Suspend the token and every live descendant, at any depth, in this transaction: a
    suspended token does not authenticate, as if revoked, until it is resumed. A descendant
    already suspended keeps its own suspension. Returns the accessors suspended, the token's
    own first."""
    root = _visible_token(ctx, accessor, Scope.TOKENS_WRITE, lock=True)
    _assert_within_reach(ctx, root)
    state = token_state(root, None, utcnow())
    if state == "suspended":
        raise Conflict(
            f"the token is already suspended (since {root.suspended_at:%Y-%m-%d %H:%M:%S} UTC)",
            code="already_suspended",
        )
    if state != "live":
        raise Conflict(f"a {state} token cannot be suspended", code="token_inactive")
    return _suspend_tree(ctx, root, reason, by=ctx.require_principal().actor_id)


def suspend_automatically(ctx: Ctx, accessor: str, reason: str, *, actor_id: str) -> list[str]:
    """`suspend` for a background job (no principal), inside the job's transaction. A token
    that is unknown, revoked, expired or already suspended is left alone: returns []."""
    root = repository.get_by_accessor(ctx.session, accessor, lock=True)
    if root is None or token_state(root, None, utcnow()) != "live":
        return []
    return _suspend_tree(ctx, root, reason, by=actor_id, system=True)


def _suspend_tree(
    ctx: Ctx, root: Token, reason: str, *, by: str, system: bool = False
) -> list[str]:
    """Suspend `root`'s tree and record it; `system`: a background job acts, named by `by`."""
    # One timestamp and actor for the whole tree: resuming matches on both.
    suspended = repository.suspend(
        ctx.session,
        repository.subtree_ids(ctx.session, [root.id]),
        now=utcnow(),
        by=by[:40],
        reason=reason,
    )
    if suspended:
        _changed_tokens(ctx)
    suspended = _root_first(root.accessor, suspended)
    actor = {"actor_type": "system", "actor_id": by} if system else {}
    audit.record(
        ctx,
        "token.suspend",
        target_type="token",
        target_id=root.accessor,
        workspace_id=root.workspace_id,
        details={"reason": reason, "suspended": suspended},
        **actor,
    )
    return suspended


def resume(ctx: Ctx, accessor: str) -> list[str]:
    """Lift the token's suspension from it and from the descendants that same suspension
    suspended (not from one suspended separately, nor one revoked since). Returns the
    accessors resumed, the token's own first."""
    root = _visible_token(ctx, accessor, Scope.TOKENS_WRITE, lock=True)
    _assert_within_reach(ctx, root)
    if root.suspended_at is None or root.suspended_by is None:
        raise Conflict("the token is not suspended", code="not_suspended")
    if root.revoked_at is not None:
        raise Conflict("a revoked token cannot be resumed", code="token_inactive")
    resumed = repository.resume(
        ctx.session,
        repository.subtree_ids(ctx.session, [root.id]),
        suspended_at=root.suspended_at,
        suspended_by=root.suspended_by,
    )
    _changed_tokens(ctx)
    resumed = _root_first(root.accessor, resumed)
    audit.record(
        ctx,
        "token.resume",
        target_type="token",
        target_id=root.accessor,
        workspace_id=root.workspace_id,
        details={"resumed": resumed},
    )
    return resumed


def _root_first(root: str, accessors: list[str]) -> list[str]:
    """The token acted on first, so that `[0]` names the one to resume; the rest sorted."""
    if root not in accessors:
        return accessors
    return [root, *(accessor for accessor in accessors if accessor != root)]


def _assert_within_reach(ctx: Ctx, token: Token) -> None:
    """A workspace token acts only on itself and its descendants, as for issuing: their scopes,
    expiry, networks and agent binding all lie within its own."""
    caller = ctx.require_principal().token
    if caller is None or caller.workspace_id is None:
        return
    if token.id not in repository.subtree_ids(ctx.session, [caller.token_id]):
        raise Forbidden("a token can only act on itself and its descendants", code="not_descendant")


def _assert_may_hold(ctx: Ctx, token: Token) -> None:
    """Rotation hands the caller a working secret for `token`: only to one who could issue it."""
    principal = ctx.require_principal()
    if token.workspace_id is None:
        if token.user_id != principal.user_id:
            raise Forbidden("only its owner can rotate a personal token", code="not_owner")
        return
    _assert_within_reach(ctx, token)
    if principal.workspace_bound is None:
        assert_scopes_assignable(principal, frozenset(token.scopes), token.workspace_id)


def rotate(ctx: Ctx, accessor: str, overlap_seconds: int | None) -> tuple[Token, str]:
    token = _visible_token(ctx, accessor, Scope.TOKENS_WRITE, lock=True)
    _assert_may_hold(ctx, token)
    now = utcnow()
    if token.revoked_at is not None or token.expires_at <= now:
        raise Conflict("a revoked or expired token cannot be rotated", code="token_inactive")
    overlap = timedelta(
        seconds=ctx.app.settings.token_rotation_overlap_seconds
        if overlap_seconds is None
        else overlap_seconds
    )
    old_valid_until = min(now + overlap, token.expires_at)
    repository.retire_current_secrets(ctx.session, token.id, old_valid_until)
    secret, raw = _new_secret(ctx, token.id)
    ctx.session.add(secret)
    ctx.session.flush()
    _changed_tokens(ctx)
    audit.record(
        ctx,
        "token.rotate",
        target_type="token",
        target_id=token.accessor,
        workspace_id=token.workspace_id,
        details={"old_secret_valid_until": old_valid_until.isoformat()},
    )
    return token, raw


LEAK_REASON = "leaked: reported by secret scan"


def check_leaked(ctx: Ctx, presented: Sequence[str], *, revoke: bool) -> list[LeakResult]:
    """What each presented token is (live, revoked, suspended, expired, unknown) and, with
    `revoke`, revoke the live and the suspended ones with their trees, as `revoke` does: a
    leaked secret must not come back to life when its token is resumed.

    Holding a token is the authority here, as with GitHub's credential-revocation API: whoever
    found a leaked token may learn its accessor and kill it, but never anything more. Strings
    that are not well-formed tokens cost no lookup; the rest cost one query between them.
    """
    digests = {raw: secret_hmac(ctx.app.token_key, raw) for raw in presented if is_well_formed(raw)}
    found = repository.find_by_secrets(ctx.session, set(digests.values()))
    now = utcnow()
    results: list[LeakResult] = []
    for raw in presented:
        row = found.get(digests.get(raw, ""))
        token = row[0] if row is not None else None
        status: LeakStatus = "unknown" if row is None else token_state(*row, now)
        revoked_now = False
        if revoke and token is not None and status in ("live", "suspended"):
            _revoke_leaked(ctx, token)
            status, revoked_now = "revoked", True
        results.append(
            LeakResult(
                token_sha256=hashlib.sha256(raw.encode()).hexdigest(),
                status=status,
                accessor=token.accessor if token is not None else None,
                revoked_now=revoked_now,
            )
        )
    return results


def _revoke_leaked(ctx: Ctx, token: Token) -> None:
    revoked = _revoke_tree(ctx, [token.id], LEAK_REASON)
    audit.record(
        ctx,
        "token.revoke",
        target_type="token",
        target_id=token.accessor,
        workspace_id=token.workspace_id,
        details={"reason": LEAK_REASON, "revoked": revoked},
    )
