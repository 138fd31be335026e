"""Signed webhooks: deliver an event to a receiver that can prove it came from us.

Stripe's scheme, so receivers can reuse what they know: the body is signed together with the
time of sending, `Gatehouse-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`,
and `verify()` refuses a signature older than its tolerance, so a captured delivery cannot be
replayed later. `Gatehouse-Event` names the event and `Gatehouse-Delivery` identifies the
delivery; retries of one delivery keep its id (receivers deduplicate on it) and sign afresh.

Delivery is a side effect: callers send after their transaction commits, never inside one,
and a receiver that is down costs a logged warning, never the caller's work. Log lines name
the receiver by scheme and host only, since some receivers carry their credential in the URL.
"""

import hashlib
import hmac
import json
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import SecretStr

from controlplane.kit.clock import utcnow
from controlplane.kit.ids import new_id

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "Gatehouse-Signature"
EVENT_HEADER = "Gatehouse-Event"
DELIVERY_HEADER = "Gatehouse-Delivery"
DEFAULT_TOLERANCE_SECONDS = 300
# A timeout or a 5xx may pass; a 4xx (other than these) says the request itself is refused.
_RETRYABLE_STATUSES = frozenset({408, 425, 429})


class SignatureError(ValueError):
    """The signature header is missing, malformed, stale, or matches no secret."""


@dataclass(frozen=True)
class WebhookTarget:
    url: str
    secret: SecretStr


@dataclass(frozen=True)
class Delivery:
    id: str
    event: str
    delivered: bool
    attempts: int
    status_code: int | None  # the last answer, None when none came


def sign(secret: bytes, body: bytes, timestamp: int) -> str:
    """The `Gatehouse-Signature` header value for `body` sent at `timestamp`."""
    return f"t={timestamp},v1={_digest(secret, body, timestamp)}"


def verify(
    secret: bytes,
    body: bytes,
    header: str | None,
    *,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> int:
    """Check a delivery as a receiver would; returns its timestamp or raises SignatureError.

    `body` must be the raw bytes received, before any JSON parsing. Several `v1` entries are
    accepted (any one matching), so a sender can sign with an old and a new secret while a
    secret is being rotated.
    """
    timestamp, candidates = _parse(header)
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_seconds:
        raise SignatureError("the signature's timestamp is outside the tolerance")
    expected = _digest(secret, body, timestamp)
    # Every candidate is compared, in constant time, whatever the earlier ones gave.
    matches = [hmac.compare_digest(expected, candidate) for candidate in candidates]
    if not any(matches):
        raise SignatureError("no signature matches")
    return timestamp


def _digest(secret: bytes, body: bytes, timestamp: int) -> str:
    return hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def _parse(header: str | None) -> tuple[int, list[str]]:
    if not header:
        raise SignatureError(f"missing {SIGNATURE_HEADER} header")
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            candidates.append(value)
    if timestamp is None or not candidates:
        raise SignatureError(f"malformed {SIGNATURE_HEADER} header")
    return timestamp, candidates


def envelope(delivery_id: str, event: str, data: Mapping[str, Any]) -> bytes:
    """The body every delivery carries: its id, the event, when, and the event's data."""
    document = {
        "id": delivery_id,
        "event": event,
        "created_at": utcnow().isoformat(),
        "data": dict(data),
    }
    return json.dumps(document, separators=(",", ":"), sort_keys=True, default=str).encode()


def deliver(
    target: WebhookTarget,
    event: str,
    data: Mapping[str, Any],
    *,
    attempts: int = 4,
    timeout_seconds: float = 5.0,
    backoff_seconds: float = 1.0,
    transport: httpx.BaseTransport | None = None,
) -> Delivery:
    """POST the event, retrying timeouts, transport errors, 5xx and 429 with exponential
    backoff. Never raises for the receiver's sake: the outcome is returned and logged."""
    delivery_id = new_id("whd")
    body = envelope(delivery_id, event, data)
    secret = target.secret.get_secret_value().encode()
    status_code: int | None = None
    problem = "not attempted"
    attempt = 0
    with httpx.Client(timeout=timeout_seconds, transport=transport) as client:
        while attempt < attempts:
            if attempt:
                time.sleep(backoff_seconds * 2 ** (attempt - 1))
            attempt += 1
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "gatehouse-webhooks",
                EVENT_HEADER: event,
                DELIVERY_HEADER: delivery_id,
                SIGNATURE_HEADER: sign(secret, body, int(time.time())),
            }
            try:
                response = client.post(target.url, content=body, headers=headers)
            except (httpx.HTTPError, httpx.InvalidURL) as error:
                status_code, problem = None, type(error).__name__
                continue
            status_code, problem = response.status_code, f"HTTP {response.status_code}"
            if response.is_success:
                return Delivery(delivery_id, event, True, attempt, status_code)
            if response.status_code < 500 and response.status_code not in _RETRYABLE_STATUSES:
                break
    log.warning(
        "webhook %s (%s) to %s not delivered after %d attempt(s): %s",
        delivery_id,
        event,
        receiver(target.url),
        attempt,
        problem,
    )
    return Delivery(delivery_id, event, False, attempt, status_code)


def deliver_in_background(
    target: WebhookTarget, event: str, data: Mapping[str, Any], **options: Any
) -> threading.Thread:
    """`deliver` on a thread of its own, so retries never hold up the caller.

    A daemon thread: stopping the process must not wait out a receiver's retries, so a
    delivery still retrying at shutdown is dropped (and nothing else is).
    """
    thread = threading.Thread(
        target=deliver,
        args=(target, event, data),
        kwargs=options,
        name=f"webhook {event}",
        daemon=True,
    )
    thread.start()
    return thread


def receiver(url: str) -> str:
    """Scheme and host only: a path or query may be the receiver's own credential."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return "an invalid URL"
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.scheme}://{parsed.host}{port}"
