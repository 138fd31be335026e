"""Refusals shared by the audit services, shaped like the API's own validation errors."""

from datetime import datetime, timedelta

from controlplane.context import Ctx
from controlplane.errors import ValidationFailed


def invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(
        f"{field}: {message}", extra={"fields": [{"field": field, "message": message}]}
    )


def expiry(ctx: Ctx, expires_at: datetime, now: datetime) -> datetime:
    """A suppression's or an attestation's expiry: in the future, and not too far in it.

    Both are accepted risk, reviewed on the same cadence (`audit_suppression_max_days`).
    """
    longest = ctx.app.settings.audit_suppression_max_days
    if expires_at <= now:
        raise invalid("body.expires_at", "must be in the future")
    if expires_at > now + timedelta(days=longest):
        raise invalid("body.expires_at", f"at most {longest} days ahead")
    return expires_at
