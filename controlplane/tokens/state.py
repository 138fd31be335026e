"""What a stored token is right now: the one classification the verifier and leak-check share."""

from datetime import datetime
from typing import Literal

from controlplane.tokens.models import Token, TokenSecret

TokenState = Literal["live", "revoked", "suspended", "expired"]


def token_state(token: Token, secret: TokenSecret | None, now: datetime) -> TokenState:
    """Revocation is final and outranks everything; a suspension outranks expiry because it is
    the more recent decision someone took. `secret` is the one presented, if any: a secret
    retired by rotation no longer authenticates, even while its token lives on."""
    if token.revoked_at is not None:
        return "revoked"
    if token.suspended_at is not None:
        return "suspended"
    if token.expires_at <= now or (
        secret is not None and secret.valid_until is not None and secret.valid_until <= now
    ):
        return "expired"
    return "live"
