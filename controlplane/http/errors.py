"""The one error handler. Every failure leaves as `{"error", "detail", "request_id"}`."""

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from controlplane.errors import GatehouseError, ValidationFailed

log = logging.getLogger(__name__)

_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    415: "unsupported_media_type",
}


def request_id_of(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


def render(request: Request, error: GatehouseError) -> JSONResponse:
    body: dict[str, object] = {
        "error": error.code,
        "detail": error.message,
        "request_id": request_id_of(request),
    }
    body.update(error.extra)
    return JSONResponse(body, status_code=error.status_code, headers=error.headers)


def _field_name(location: tuple[int | str, ...]) -> str:
    # ("body", "scopes", 0) → "scopes[0]"; the "body"/"query"/"path" prefix is kept for clarity.
    parts: list[str] = []
    for part in location:
        parts.append(f"[{part}]" if isinstance(part, int) else ("." if parts else "") + str(part))
    return "".join(parts)


def _from_validation(exc: RequestValidationError) -> ValidationFailed:
    problems = [
        {"field": _field_name(tuple(error.get("loc", ()))), "message": str(error.get("msg", ""))}
        for error in exc.errors()
    ]
    summary = "; ".join(f"{p['field']}: {p['message']}" for p in problems[:5])
    return ValidationFailed(summary or "invalid input", extra={"fields": problems})


def install(app: FastAPI) -> None:
    async def gatehouse_error(request: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, RequestValidationError):
            return render(request, _from_validation(exc))
        if isinstance(exc, StarletteHTTPException):
            code = _HTTP_CODES.get(exc.status_code, "http_error")
            detail = exc.detail if isinstance(exc.detail, str) else code
            return render(
                request,
                GatehouseError(detail, exc.status_code, code, headers=dict(exc.headers or {})),
            )
        if isinstance(exc, GatehouseError):
            return render(request, exc)
        # Unexpected: log the type only (messages can carry secrets); Sentry gets the scrubbed
        # event through its own integration.
        log.error("unhandled %s on %s", type(exc).__name__, request.url.path)
        return render(request, GatehouseError("internal error"))

    for exc_type in (GatehouseError, RequestValidationError, StarletteHTTPException, Exception):
        app.add_exception_handler(exc_type, gatehouse_error)
