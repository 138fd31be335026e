"""One access-log record per proxied request, and the redaction every record passes through.

The record is the fixed contract between the proxy, the spool, the database and the export:
exactly the fields of `AccessRecord`, in that order. Construction normalises and redacts, so no
code path can spool, store or export a secret-bearing path, user agent, reason or error.
"""

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Literal
from urllib.parse import quote, unquote, unquote_plus

from controlplane.kit.clock import as_utc
from controlplane.observability import scrub_text

Decision = Literal["allow", "deny"]
DECISIONS: tuple[Decision, ...] = ("allow", "deny")

# Query parameter names that carry credentials. Broad on purpose: dropping an innocent parameter
# from a log line costs little; keeping a signature or a key costs a leak. Short words (key, sig)
# only match as whole words of a name so that `keyword` or `design` survive.
_SECRET_NAME = re.compile(
    r"token|secret|pass|auth|signature|credential|api[-_]?key|private|session|jwt|bearer|hmac"
    r"|cookie|ticket|assertion"
    r"|(?:^|[-_.])(?:key|keys|sig|sign|pwd|otp|code)(?:$|[-_.])|key$",
    re.IGNORECASE,
)
# Built once: `json.dumps` with options builds an encoder per call, on the proxy's hot path.
_LINE_ENCODER = json.JSONEncoder(separators=(",", ":"))
# Bounds for free-text fields, so one request cannot bloat the spool or the table.
_MAX_PATH = 2048
_MAX_TEXT = 1024
_MAX_ID = 64
_MAX_KEY = 40
_MAX_IP = 45


def _secret_free(text: str) -> bool:
    return scrub_text(text) == text


def _keep_parameter(part: str) -> bool:
    name, _, value = part.partition("=")
    name, value = unquote_plus(name), unquote_plus(value)
    return not _SECRET_NAME.search(name) and _secret_free(name) and _secret_free(value)


def sanitize_path(path_with_query: str) -> str:
    """The path and query with secret-named parameters and credential-looking values removed.

    Kept parameters keep their original encoding; the fragment never reaches a server and is
    dropped. A credential inside the path itself is replaced by `[redacted]`.
    """
    path, _, query = path_with_query.partition("#")[0].partition("?")
    decoded = unquote(path)
    if not _secret_free(decoded):
        path = quote(scrub_text(decoded), safe="/[]")
    kept = sanitize_query(query)
    return f"{path}?{kept}" if kept else path


def sanitize_query(query: str) -> str:
    """The query string without secret-named parameters or credential-looking values."""
    return "&".join(part for part in query.split("&") if part and _keep_parameter(part))


def _clip(value: str | None, limit: int) -> str | None:
    # NUL is refused by PostgreSQL text: one such value would fail every flush of its batch.
    return None if value is None else str(value).replace("\x00", "")[:limit]


def _text(value: str | None, limit: int) -> str | None:
    return None if value is None else _clip(scrub_text(str(value)), limit)


def _optional(kind: type[int] | type[float], value: Any) -> Any:
    return None if value is None else kind(value)


def iso(ts: datetime) -> str:
    """ISO 8601 in UTC with a `Z` and always six fractional digits: one spelling per instant."""
    return as_utc(ts).isoformat(timespec="microseconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True, kw_only=True)
class AccessRecord:
    ts: datetime
    request_id: str
    token_accessor: str | None = None
    workspace_id: str | None = None
    agent_id: str | None = None
    user_id: str | None = None
    client_ip: str | None = None
    user_agent: str | None = None
    method: str
    upstream: str | None = None
    path: str
    model: str | None = None
    status: int = 0
    decision: Decision
    reason: str | None = None
    latency_ms: float = 0.0
    ttfb_ms: float | None = None
    bytes_in: int = 0
    bytes_out: int = 0
    tokens_in: int | None = None
    tokens_out: int | None = None
    streamed: bool = False
    error: str | None = None

    def __post_init__(self) -> None:
        if self.decision not in DECISIONS:
            raise ValueError(f"decision must be allow or deny, not {self.decision!r}")
        # Coerced to their declared types so the hash chain sees the same value the database
        # hands back (5 and 5.0 serialise differently).
        # Every value also fits its column, so no record can make a flush fail forever.
        normalised: dict[str, Any] = {
            "ts": as_utc(self.ts),
            "request_id": _clip(self.request_id, _MAX_ID),
            "token_accessor": _clip(self.token_accessor, _MAX_KEY),
            "workspace_id": _clip(self.workspace_id, _MAX_KEY),
            "agent_id": _clip(self.agent_id, _MAX_KEY),
            "user_id": _clip(self.user_id, _MAX_KEY),
            "client_ip": _clip(self.client_ip, _MAX_IP),
            "user_agent": _text(self.user_agent, _MAX_TEXT),
            "method": _clip(self.method, 16),
            "upstream": _clip(self.upstream, _MAX_ID),
            "path": _clip(sanitize_path(str(self.path)), _MAX_PATH),
            "model": _text(self.model, 2 * _MAX_ID),
            "status": int(self.status),
            "reason": _text(self.reason, _MAX_TEXT),
            "latency_ms": float(self.latency_ms),
            "ttfb_ms": _optional(float, self.ttfb_ms),
            "bytes_in": int(self.bytes_in),
            "bytes_out": int(self.bytes_out),
            "tokens_in": _optional(int, self.tokens_in),
            "tokens_out": _optional(int, self.tokens_out),
            "streamed": bool(self.streamed),
            "error": _text(self.error, _MAX_TEXT),
        }
        for name, value in normalised.items():
            object.__setattr__(self, name, value)

    def values(self) -> dict[str, Any]:
        """The fields in contract order, as stored (`ts` a datetime)."""
        return {name: getattr(self, name) for name in FIELD_NAMES}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the fields in contract order, `ts` as ISO 8601 UTC."""
        values = self.values()
        values["ts"] = iso(self.ts)
        return values

    def to_json_line(self) -> str:
        return _LINE_ENCODER.encode(self.to_dict())

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "AccessRecord":
        values = {name: data[name] for name in FIELD_NAMES if name in data}
        ts = values["ts"]
        values["ts"] = datetime.fromisoformat(ts) if isinstance(ts, str) else ts
        return cls(**values)

    @classmethod
    def from_json(cls, text: str) -> "AccessRecord":
        return cls.from_dict(json.loads(text))


FIELD_NAMES: tuple[str, ...] = tuple(field.name for field in fields(AccessRecord))


def json_ready(values: Mapping[str, Any]) -> dict[str, Any]:
    """Record fields (from a record or a stored row) with `ts` as ISO 8601 UTC."""
    return {name: iso(values[name]) if name == "ts" else values[name] for name in FIELD_NAMES}


def canonical_json(values: Mapping[str, Any]) -> str:
    """The exact text the hash chain covers: the record fields, sorted keys, no whitespace.

    Built from the values as stored, never re-normalised: verification must see a tampered
    value exactly as the tamperer left it.
    """
    return json.dumps(json_ready(values), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
