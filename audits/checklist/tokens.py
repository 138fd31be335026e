"""Token checks: every live token expires within the configured maximum, and no admin-scoped
token keeps one secret for more than 90 days.

Only live tokens count (not revoked, not expired): the others can no longer authenticate.

These checks read through the tokens repository, not its service: they run as the system, with no
principal to authorize, and ask about the whole instance.
"""

from datetime import timedelta

from audits.checklist.context import (
    Check,
    CheckContext,
    Outcome,
    duration,
    failed,
    listing,
    not_applicable,
    passed,
    plural,
)
from controlplane.auth.scopes import Scope
from controlplane.tokens import repository as tokens_repository
from controlplane.tokens.repository import LiveToken

# "Admin-scoped": a token holding any scope that changes who may do what, or that reaches
# provider keys. Judged on the scopes written on the token: a personal token is capped by its
# user's roles when used, but carries every scope, and a role granted later makes them real.
ADMIN_SCOPES = frozenset(
    {
        Scope.MEMBERS_WRITE,
        Scope.POLICY_WRITE,
        Scope.PROVIDERS_WRITE,
        Scope.TOKENS_WRITE,
        Scope.USERS_WRITE,
        Scope.WORKSPACES_CREATE,
    }
)
ADMIN_SECRET_MAX_AGE = timedelta(days=90)


def _kind(token: LiveToken) -> str:
    return "personal token" if token.workspace_id is None else f"workspace {token.workspace_id}"


def _lifetime(token: LiveToken) -> str:
    return duration(token.expires_at - token.created_at)


def token_expiry_within_max(ctx: CheckContext) -> Outcome:
    maximum = timedelta(seconds=ctx.settings.token_max_ttl_seconds)
    limit = f"{duration(maximum)} (token_max_ttl_seconds={ctx.settings.token_max_ttl_seconds})"
    tokens = tokens_repository.list_live(ctx.session, ctx.now)
    if not tokens:
        return not_applicable("no live token: nothing to check")
    too_long = [token for token in tokens if token.expires_at - token.created_at > maximum]
    if not too_long:
        each = (
            "the only live token expires"
            if len(tokens) == 1
            else f"all {len(tokens)} live tokens expire"
        )
        return passed(f"{each} within {limit} of being issued")
    names = [
        f"{token.accessor} ({_kind(token)}, lifetime {_lifetime(token)})" for token in too_long
    ]
    return failed(
        f"{len(too_long)} of {plural(len(tokens), 'live token')} outlive the maximum of {limit}: "
        f"{listing(names)}; revoke them and issue replacements within the maximum"
    )


def admin_tokens_rotated(ctx: CheckContext) -> Outcome:
    live = tokens_repository.list_live(ctx.session, ctx.now)
    admin = [token for token in live if token.scopes & ADMIN_SCOPES]
    held = ", ".join(sorted(ADMIN_SCOPES))
    if not admin:
        return not_applicable(f"no live token holds an admin scope ({held})")
    stale = [token for token in admin if ctx.now - token.secret_issued_at > ADMIN_SECRET_MAX_AGE]
    if not stale:
        oldest = max(ctx.now - token.secret_issued_at for token in admin)
        return passed(
            f"{plural(len(admin), 'live admin-scoped token')} (holding any of {held}); the oldest "
            f"secret is {duration(oldest)} old, within {duration(ADMIN_SECRET_MAX_AGE)}"
        )
    names = [
        f"{token.accessor} ({_kind(token)}, secret {duration(ctx.now - token.secret_issued_at)} "
        f"old; {', '.join(sorted(token.scopes & ADMIN_SCOPES))})"
        for token in stale
    ]
    return failed(
        f"{len(stale)} of {plural(len(admin), 'live admin-scoped token')} have kept one secret "
        f"for more than {duration(ADMIN_SECRET_MAX_AGE)}: {listing(names)}; rotate them "
        "(`gatehouse tokens rotate ACCESSOR`) or revoke them"
    )


CHECKS: dict[str, Check] = {
    "token_expiry_within_max": token_expiry_within_max,
    "admin_tokens_rotated": admin_tokens_rotated,
}
