"""Observability check: when Sentry is on, every event passes Gatehouse's scrubber first.

Two things are observable. The scrubber itself: a synthetic event carrying a freshly generated
token, a bearer header and secret-named fields goes through `observability.before_send`, and
nothing of them may come out. And, when Sentry is started in this process (the server and the
runtime start it; a CLI audit does not), the live client's options: the scrubber installed on
events, transactions and breadcrumbs, no frame locals, no request bodies, no default PII.
"""

import json
import secrets
from typing import Any

import sentry_sdk

from audits.checklist.context import Check, CheckContext, Outcome, failed, not_applicable, passed
from controlplane import observability
from controlplane.tokens.format import generate_token

# What `init_sentry` sets, option by option: (option, expected value, what a difference means).
_EXPECTED_OPTIONS: tuple[tuple[str, object, str], ...] = (
    ("before_send", observability.before_send, "events bypass the scrubber"),
    ("before_send_transaction", observability.before_send, "transactions bypass the scrubber"),
    ("before_breadcrumb", observability.before_breadcrumb, "breadcrumbs bypass the scrubber"),
    ("include_local_variables", False, "frame local variables are sent"),
    ("max_request_body_size", "never", "request bodies are sent"),
)


def scrubber_leaks() -> list[str]:
    """What of a synthetic secret-bearing event survives the scrubber (empty: nothing)."""
    token = generate_token()
    password = secrets.token_urlsafe(24)
    event: dict[str, Any] = {
        "message": f"refused credential {token}",
        "request": {
            "headers": {"Authorization": f"Bearer {token}"},
            "query_string": f"token={token}&page=2",
            "data": {"password": password},
        },
        "extra": {"upstream": f"echoed {token}"},
    }
    sent = json.dumps(observability.before_send(event, None))
    return [name for name, value in (("a token", token), ("a password", password)) if value in sent]


def _client_problems(options: dict[str, Any]) -> list[str]:
    problems = [
        meaning
        for option, expected, meaning in _EXPECTED_OPTIONS
        if options.get(option) != expected
    ]
    if options.get("send_default_pii"):
        problems.append("default PII is sent")
    return problems


def sentry_scrubber_on(ctx: CheckContext) -> Outcome:
    client = sentry_sdk.get_client()
    active = client.is_active()
    if ctx.settings.sentry_dsn is None and not active:
        return not_applicable("Sentry is off: GATEHOUSE_SENTRY_DSN is not set")
    problems = [f"the scrubber lets {leak} through" for leak in scrubber_leaks()]
    if active and (found := _client_problems(client.options)):
        problems.append(f"in the Sentry client of this process, {', '.join(found)}")
    if active:
        where = (
            "the Sentry client of this process sends events, transactions and breadcrumbs "
            "through the scrubber, without frame locals, request bodies or default PII"
        )
    else:
        where = (
            "Sentry is not started in this process, so its client options cannot be read here; "
            "`init_sentry` installs the scrubber whenever GATEHOUSE_SENTRY_DSN is set"
        )
    if problems:
        return failed(f"Sentry is on but not scrubbed: {'; '.join(problems)}")
    return passed(
        f"{where}; a synthetic event carrying a token, a bearer header and a password came out "
        "of the scrubber without them"
    )


CHECKS: dict[str, Check] = {"sentry_scrubber_on": sentry_scrubber_on}
