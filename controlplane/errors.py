"""One error base class and one JSON shape for every failure.

    GatehouseError(message, status_code, code)
    ├── BadRequest          400 bad_request
    ├── Unauthenticated     401 unauthenticated   (one body for every cause: no oracle)
    ├── Forbidden           403 forbidden / scope_missing / ...
    ├── NotFound            404 not_found         (also for resources in another tenant)
    ├── Conflict            409 conflict
    ├── PayloadTooLarge     413 body_too_large
    ├── ValidationFailed    422 validation_error
    ├── RateLimited         429 rate_limited      (+ Retry-After)
    ├── ServiceUnavailable  503 unavailable
    └── ConfigurationError  refused settings at start-up

The handler in `controlplane.http.errors` renders `{"error", "detail", "request_id"}`.
"""

from collections.abc import Mapping
from typing import Any

from controlplane.auth.principal import TokenGrant


class GatehouseError(Exception):
    status_code = 500
    code = "internal_error"

    def __init__(
        self,
        message: str,
        status_code: int | None = None,
        code: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if status_code is not None:
            self.status_code = status_code
        if code is not None:
            self.code = code
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})


class BadRequest(GatehouseError):
    status_code = 400
    code = "bad_request"


class Unauthenticated(GatehouseError):
    status_code = 401
    code = "unauthenticated"
    # Missing, malformed, expired, revoked and unknown credentials must be indistinguishable.
    PUBLIC_MESSAGE = "missing or invalid credentials"

    def __init__(self, reason: str = "invalid", grant: TokenGrant | None = None) -> None:
        super().__init__(self.PUBLIC_MESSAGE, headers={"WWW-Authenticate": "Bearer"})
        # Both kept for metrics and the access log only, never rendered: why the credential was
        # refused, and, when it was a real token that is no longer usable (revoked, suspended,
        # expired, spent), whose it was.
        self.reason = reason
        self.grant = grant


class Forbidden(GatehouseError):
    status_code = 403
    code = "forbidden"


class NotFound(GatehouseError):
    status_code = 404
    code = "not_found"


class Conflict(GatehouseError):
    status_code = 409
    code = "conflict"


class PayloadTooLarge(GatehouseError):
    status_code = 413
    code = "body_too_large"


class ValidationFailed(GatehouseError):
    status_code = 422
    code = "validation_error"


class RateLimited(GatehouseError):
    status_code = 429
    code = "rate_limited"

    def __init__(self, message: str, retry_after_seconds: int) -> None:
        super().__init__(message, headers={"Retry-After": str(max(1, retry_after_seconds))})


class ServiceUnavailable(GatehouseError):
    status_code = 503
    code = "unavailable"


class ConfigurationError(GatehouseError):
    code = "configuration_error"
