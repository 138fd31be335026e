"""Metrics, logging and Sentry, with one scrubber so no secret leaves through any of them."""

import logging
import re
from collections.abc import Mapping
from typing import Any

import sentry_sdk
from prometheus_client import Counter, Histogram

from controlplane.config import Settings
from controlplane.tokens.format import TOKEN_PATTERN

REQUESTS = Counter("gatehouse_http_requests", "HTTP requests", ["method", "route", "status"])
REQUEST_LATENCY = Histogram("gatehouse_http_request_seconds", "HTTP request latency", ["route"])
AUTH_FAILURES = Counter("gatehouse_auth_failures", "Refused credentials", ["reason"])
CACHE_LOOKUPS = Counter("gatehouse_token_cache_lookups", "Token cache lookups", ["result"])
# Bound once: `.labels()` on every verification costs more than the cache lookup itself.
CACHE_HITS = CACHE_LOOKUPS.labels("hit")
CACHE_MISSES = CACHE_LOOKUPS.labels("miss")

REDACTED = "[redacted]"
_SENSITIVE_KEY = re.compile(
    r"authorization|x-api-key|api[-_]?key|cookie|set-cookie|password|passwd|secret|token"
    r"|private[-_]?key|signing[-_]?key|data[-_]?key|hmac|credential|dsn",
    re.IGNORECASE,
)
_SENSITIVE_VALUE = re.compile(
    rf"{TOKEN_PATTERN.pattern}"
    r"|(?i:bearer)\s+[A-Za-z0-9._~+/=-]+"
    r"|eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----"
    r"|(?i:sk-[A-Za-z0-9_-]{16,})"
)


def scrub_text(text: str) -> str:
    return _SENSITIVE_VALUE.sub(REDACTED, text)


def scrub(value: Any, key: str | None = None) -> Any:
    """Recursively redact sensitive keys and anything that looks like a credential."""
    if key is not None and _SENSITIVE_KEY.search(key):
        return REDACTED
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, Mapping):
        return {k: scrub(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        # Sentry sends headers as [name, value] pairs; a sensitive name redacts its value.
        if len(value) == 2 and isinstance(value[0], str) and _SENSITIVE_KEY.search(value[0]):
            return [value[0], REDACTED]
        return [scrub(item) for item in value]
    return value


def before_send(event: Any, _hint: Any) -> Any:
    event = scrub(event)
    request = event.get("request") if isinstance(event, dict) else None
    if isinstance(request, dict):
        # Redacting by value shape misses an opaque secret in `?token=...`: go by name too.
        if isinstance(request.get("query_string"), str):
            request["query_string"] = _sanitize_query(request["query_string"])
        if isinstance(request.get("url"), str):
            request["url"] = _sanitize_url(request["url"])
    return event


def before_breadcrumb(crumb: Any, _hint: Any) -> Any:
    crumb = scrub(crumb)
    data = crumb.get("data") if isinstance(crumb, dict) else None
    if isinstance(data, dict):
        if isinstance(data.get("http.query"), str):
            data["http.query"] = _sanitize_query(data["http.query"])
        if isinstance(data.get("url"), str):
            data["url"] = _sanitize_url(data["url"])
    return crumb


def _sanitize_query(query: str) -> str:
    # Imported here: the access log's records import this module's scrubber.
    from controlplane.access_log.records import sanitize_query  # noqa: PLC0415 - import cycle

    return sanitize_query(query)


def _sanitize_url(url: str) -> str:
    base, _, query = url.partition("#")[0].partition("?")
    kept = _sanitize_query(query)
    return f"{base}?{kept}" if kept else base


class RedactingFilter(logging.Filter):
    """Last line of defence for log records: render, then redact the final message."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = scrub_text(record.getMessage())
        record.args = None
        # Tracebacks and stacks are rendered after filters run: render them here, redacted.
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub_text(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub_text(record.stack_info)
        return True


class ServerLogFilter(RedactingFilter):
    """On uvicorn's own loggers, which may log through handlers of their own (its default
    config), not the root's: redact there too, and drop secret-named query parameters from
    access lines, whose shape alone would not give an opaque `?token=...` away."""

    def filter(self, record: logging.LogRecord) -> bool:
        # uvicorn.access logs (client, method, path with query, HTTP version, status), and its
        # formatter reads those arguments back: keep them, redacted, rather than rendering.
        if isinstance(record.args, tuple) and len(record.args) == 5:
            client, method, path, version, status = record.args
            base, _, query = str(path).partition("?")
            kept = _sanitize_query(query)
            path = f"{base}?{kept}" if kept else base
            record.args = tuple(
                scrub_text(arg) if isinstance(arg, str) else arg
                for arg in (client, method, path, version, status)
            )
            return True
        return super().filter(record)


SERVER_LOGGERS = ("uvicorn.access", "uvicorn.error")


def redact_server_logs() -> None:
    """Filters on the loggers themselves, so they hold whatever handlers uvicorn installs."""
    for name in SERVER_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, ServerLogFilter) for f in logger.filters):
            logger.addFilter(ServerLogFilter())


def configure_logging(settings: Settings) -> None:
    redact_server_logs()
    handler = logging.StreamHandler()
    handler.addFilter(RedactingFilter())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(settings.log_level)
    # httpx logs every request at INFO: the runtime's health checks, every two seconds.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, root.level))


def init_sentry(settings: Settings, transport: Any = None) -> bool:
    """On only when GATEHOUSE_SENTRY_DSN is set. Returns whether Sentry was started."""
    if settings.sentry_dsn is None:
        return False
    options: dict[str, Any] = {}
    if transport is not None:
        options["transport"] = transport
    sentry_sdk.init(
        dsn=settings.sentry_dsn.get_secret_value(),
        environment=settings.sentry_environment,
        # No `send_default_pii`: unset means no PII, and sentry-sdk now warns when it is passed.
        before_send=before_send,
        before_send_transaction=before_send,
        before_breadcrumb=before_breadcrumb,
        # Frame locals can hold anything a request carried, in any shape: never send them.
        include_local_variables=False,
        max_request_body_size="never",
        traces_sample_rate=0.0,
        **options,
    )
    return True
