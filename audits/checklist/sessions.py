"""Session check: a session JWT lives at most 12 hours (ASVS V3.3.2 at level 2).

Session JWTs cannot be revoked (RFC 0001 §2); their lifetime is the window a stolen one stays
usable. Both the configured lifetime and the one this process's issuer really uses are read:
they differ when settings were changed after the container was built.
"""

from datetime import timedelta

from audits.checklist.context import Check, CheckContext, Outcome, duration, failed, passed

MAX_SESSION = timedelta(hours=12)


def session_lifetime_bounded(ctx: CheckContext) -> Outcome:
    configured = timedelta(seconds=ctx.settings.session_ttl_seconds)
    issued = timedelta(seconds=ctx.container.session_tokens.ttl_seconds)
    seconds = ctx.settings.session_ttl_seconds
    lifetime = f"sessions last {duration(configured)} (session_ttl_seconds={seconds})"
    if issued != configured:
        lifetime += f"; this process issues them for {duration(issued)}"
    if max(configured, issued) > MAX_SESSION:
        return failed(
            f"{lifetime}: more than {duration(MAX_SESSION)}; a stolen session JWT stays usable "
            "that long, as there is no revocation list; lower GATEHOUSE_SESSION_TTL_SECONDS"
        )
    return passed(f"{lifetime}, within {duration(MAX_SESSION)}")


CHECKS: dict[str, Check] = {"session_lifetime_bounded": session_lifetime_bounded}
