"""Classifying provider failures into the contract's error codes.

A failure is classified by the error's *type* (`rate_limit_error`, `overloaded_error`,
`rate_limit_exceeded`, the proxy's `scope_missing`, ...), because mid-stream failures arrive
under HTTP 200 and some statuses are shared by unrelated causes (OpenAI's 429 is both "slow
down" and "out of quota"). The HTTP status decides only when the body names no type we know.

Error bodies come in four shapes:
- OpenAI: `{"error": {"message", "type", "code"}}`;
- Anthropic: `{"type": "error", "error": {"type", "message"}}`;
- OpenRouter: `{"error": {"code": 429 | "server_error", "message"}}`;
- the Gatehouse proxy's own refusals: `{"error": "<code>", "detail": "<message>", "request_id"}`.
"""

import json
from typing import Any

from runtime.contract import Error, ErrorCode, EventBase, RunFinish

MAX_MESSAGE = 500

# Checked in order against the type/code string; the first keyword found wins, so the specific
# causes ("content_policy" inside an image error, "timeout" inside a vector-store error) come
# before the broad ones ("invalid").
_CONTENT = ("content_filter", "content_policy", "policy_violation", "refusal", "safety")
_QUOTA = ("insufficient_quota", "billing")
_RATE = ("rate_limit", "too_many_requests")
_TIMEOUT = ("timeout", "timed_out")
_OVERLOADED = ("overloaded", "unavailable", "capacity")
_UNREACHABLE = ("upstream_unreachable", "bad_gateway")
# Provider auth failures, and the proxy's credential and policy refusals (scope_missing,
# model_not_allowed, ip_not_allowed, agent_bound, ...).
_AUTH = (
    "authentication",
    "permission",
    "unauthenticated",
    "unauthorized",
    "forbidden",
    "invalid_api_key",
    "scope_",
    "not_allowed",
    "agent_bound",
    "token_inactive",
    "approval_required",
)
_INVALID = (
    "invalid",
    "not_found",
    "bad_request",
    "validation",
    "too_large",
    "conflict",
    "context_length",
    "unsupported",
)
_SERVER = ("server_error", "api_error", "internal", "provider_error")
_BY_TYPE: tuple[tuple[tuple[str, ...], ErrorCode, bool], ...] = (
    (_CONTENT, "content_filter", False),
    (_QUOTA, "rate_limited", False),  # retrying will not add credit
    (_RATE, "rate_limited", True),
    (_TIMEOUT, "timeout", True),
    (_OVERLOADED, "overloaded", True),
    (_UNREACHABLE, "upstream_unreachable", True),
    (_AUTH, "unauthorized", False),
    (_INVALID, "invalid_request", False),
    (_SERVER, "provider_error", True),
)
_BY_STATUS: dict[int, tuple[ErrorCode, bool]] = {
    400: ("invalid_request", False),
    401: ("unauthorized", False),
    402: ("rate_limited", False),  # out of credit: like a quota, and no retry will help
    403: ("unauthorized", False),
    404: ("invalid_request", False),
    408: ("timeout", True),
    409: ("invalid_request", False),
    413: ("invalid_request", False),
    422: ("invalid_request", False),
    429: ("rate_limited", True),
    502: ("upstream_unreachable", True),
    503: ("overloaded", True),
    504: ("timeout", True),
    529: ("overloaded", True),
}


def classify(kind: str | None, status: int | None = None) -> tuple[ErrorCode, bool]:
    """The contract code and whether a retry may succeed, from the error type, else the status."""
    if kind:
        lowered = kind.lower()
        for keywords, code, retryable in _BY_TYPE:
            if any(keyword in lowered for keyword in keywords):
                return code, retryable
    if status is not None:
        if status in _BY_STATUS:
            return _BY_STATUS[status]
        if 400 <= status < 500:
            return "invalid_request", False
    # A 5xx, or a mid-stream failure of a type we do not know: the provider's side broke.
    return "provider_error", True


def error_event(
    kind: str | None, message: str, status: int | None = None, *, after_first_token: bool = False
) -> Error:
    code, retryable = classify(kind, status)
    if not message.strip():
        message = f"the provider reported {kind or (f'HTTP {status}' if status else 'a failure')}"
    return Error(
        code=code,
        provider_code=kind,
        message=_truncate(message),
        retryable=retryable,
        after_first_token=after_first_token,
    )


def error_from_document(
    document: Any, status: int | None = None, *, after_first_token: bool = False
) -> Error:
    """An `error` event from any of the four error shapes (or whatever else a server sent)."""
    kind, message = _describe(document)
    if status is None:
        status = _status_hint(document)
    return error_event(kind, message, status, after_first_token=after_first_token)


def error_from_body(status: int, body: bytes) -> list[EventBase]:
    """A refusal before any token: `error` then `run.finish(error)`."""
    try:
        document: Any = json.loads(body)
    except ValueError:
        # A load balancer's HTML page or an empty body: only the status and the text remain.
        document = {"message": body.decode("utf-8", errors="replace").strip()}
    return [error_from_document(document, status), RunFinish(finish_reason="error")]


def _describe(document: Any) -> tuple[str | None, str]:
    """(type or code, message) from an error document, looking inside `error` when nested."""
    if not isinstance(document, dict):
        return None, str(document)
    inner = document.get("error")
    if isinstance(inner, str):  # the Gatehouse proxy's own shape
        return inner, _text(document.get("detail") or document.get("message") or inner)
    if isinstance(inner, dict):
        document = inner
    message = _text(document.get("message") or document.get("detail") or "")
    code = document.get("code")
    if isinstance(code, int) and not isinstance(code, bool):
        # OpenRouter's numeric code is an HTTP status; the type, if any, says more.
        kind = document.get("type")
        return (kind if isinstance(kind, str) and kind else str(code)), message
    for field in ("code", "type"):
        # OpenAI puts the precise cause in `code` ("rate_limit_exceeded") and the family in `type`.
        value = document.get(field)
        if isinstance(value, str) and value and value != "error":
            return value, message
    return None, message


def _status_hint(document: Any) -> int | None:
    """OpenRouter reports the HTTP status of a failure as a numeric `error.code`."""
    if isinstance(document, dict):
        inner = document.get("error", document)
        if isinstance(inner, dict):
            code = inner.get("code")
            if isinstance(code, int) and not isinstance(code, bool):
                return code
    return None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _truncate(message: str) -> str:
    return message if len(message) <= MAX_MESSAGE else message[: MAX_MESSAGE - 1] + "…"
