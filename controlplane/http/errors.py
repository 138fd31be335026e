"""The one error handler. Every failure leaves as `{"error", "detail", "request_id"}`."""

import json
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Send

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


def error_body(error: GatehouseError, request_id: str | None) -> dict[str, object]:
    body: dict[str, object] = {
        "error": error.code,
        "detail": error.message,
        "request_id": request_id,
    }
    body.update(error.extra)
    return body


def render(request: Request, error: GatehouseError) -> JSONResponse:
    return JSONResponse(
        error_body(error, request_id_of(request)),
        status_code=error.status_code,
        headers=error.headers,
    )


async def send_error(send: Send, error: GatehouseError, request_id: str | None) -> None:
    """The same error, for raw ASGI code (middleware, the proxy) that has no Request object."""
    payload = json.dumps(error_body(error, request_id)).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
        *((name.lower().encode(), value.encode()) for name, value in error.headers.items()),
    ]
    await send({"type": "http.response.start", "status": error.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


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
