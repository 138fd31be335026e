"""No secret leaves through Sentry or the logs; /metrics is guarded and carries no raw paths."""

import io
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sentry_sdk
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import Transport
from sqlalchemy.orm import Session

from controlplane.auth.scopes import WORKSPACE_SCOPES
from controlplane.container import Container
from controlplane.observability import REDACTED, RedactingFilter, init_sentry
from controlplane.tokens import service as tokens
from controlplane.tokens.format import generate_token
from tests import factories
from tests.conftest import test_settings as settings_for

PASSWORD_VALUE = "correct horse battery staple, obviously"  # pragma: allowlist secret
POSITIVE_CONTROL = "positive-control-marker"


class CapturingTransport(Transport):
    """Records envelopes instead of sending them."""

    def __init__(self) -> None:
        super().__init__()
        self.envelopes: list[Envelope] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        self.envelopes.append(envelope)

    def serialized(self) -> str:
        return b"".join(envelope.serialize() for envelope in self.envelopes).decode()


def private_key_pems() -> list[str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return [
        key.private_bytes(
            serialization.Encoding.PEM, private_format, serialization.NoEncryption()
        ).decode()
        for private_format in (
            serialization.PrivateFormat.PKCS8,
            serialization.PrivateFormat.TraditionalOpenSSL,
        )
    ]


def pem_fragments(pem: str) -> list[str]:
    """The base64 body lines: any one of them in the output means the key leaked."""
    return [line for line in pem.splitlines() if line and not line.startswith("-----")]


@pytest.fixture
def sentry(tmp_path: Path) -> Iterator[CapturingTransport]:
    transport = CapturingTransport()
    settings = settings_for(tmp_path, sentry_dsn="https://public@sentry.example.invalid/1")
    assert init_sentry(settings, transport=transport)
    try:
        yield transport
    finally:
        sentry_sdk.get_client().close()
        # Back to the no-op client, so no other test reports anywhere.
        sentry_sdk.get_global_scope().set_client(None)
    assert not sentry_sdk.get_client().is_active()


def test_sentry_stays_off_without_a_dsn(tmp_path: Path) -> None:
    assert init_sentry(settings_for(tmp_path), transport=CapturingTransport()) is False
    assert not sentry_sdk.get_client().is_active()


def test_sentry_events_are_scrubbed_before_they_leave(sentry: CapturingTransport) -> None:
    canary = generate_token()
    pkcs8, traditional = private_key_pems()
    # Joined at run time, so secret scanners do not take the fixture for a leaked JWT.
    jwt_like = (
        "eyJhbGciOiJFZERTQSJ9." + "eyJzdWIiOiJ1c3JfMTIzNDU2Nzg5In0.c2lnbmF0dXJlLXNpZ25hdHVyZQ"
    )

    event_ids = []
    with sentry_sdk.new_scope() as scope:
        scope.set_extra("note", f"{POSITIVE_CONTROL}: the caller sent {canary}")
        scope.set_extra("password", PASSWORD_VALUE)
        scope.set_extra("attachment", traditional)
        scope.set_context("upstream", {"body": f"error for key {canary}", "session": jwt_like})
        logging.getLogger("gatehouse.test.breadcrumbs").info("verifying %s", canary)
        try:
            raise RuntimeError(f"token {canary} was refused; key follows\n{pkcs8}")
        except RuntimeError:
            event_ids.append(sentry_sdk.capture_exception())

    event_ids.append(
        sentry_sdk.capture_event(
            {
                "message": f"{POSITIVE_CONTROL}: upstream echoed Authorization: Bearer {canary}",
                "level": "error",
                "request": {
                    "url": "https://gatehouse.example/v1/me",
                    "method": "POST",
                    "query_string": f"token={canary}",
                    "headers": {
                        "Authorization": f"Bearer {canary}",
                        "x-api-key": canary,
                        "Cookie": f"gatehouse_session={canary}",
                        "User-Agent": POSITIVE_CONTROL,
                    },
                    "cookies": {"gatehouse_session": canary},
                    "data": {"password": PASSWORD_VALUE, "note": canary, "pem": pkcs8},
                },
                "extra": {
                    "nested": {"deep": [canary, {"password": PASSWORD_VALUE}]},
                    "header_pairs": [["Authorization", f"Bearer {canary}"], ["X-Api-Key", canary]],
                    "key": traditional,
                    "jwt": jwt_like,
                },
            }
        )
    )
    logging.getLogger("gatehouse.test.sentry").error("refused credential %s", canary)

    # Positive control: every event was captured and sent, with its harmless parts intact.
    assert all(event_ids)
    sent = sentry.serialized()
    for event_id in event_ids:
        assert event_id in sent
    assert len(sentry.envelopes) == 3
    assert sent.count(POSITIVE_CONTROL) >= 3
    assert "refused credential" in sent
    assert REDACTED in sent

    assert canary not in sent
    assert canary[4:] not in sent  # not even without its prefix
    assert PASSWORD_VALUE not in sent
    assert jwt_like not in sent
    assert "PRIVATE KEY-----" not in sent
    for pem in (pkcs8, traditional):
        leaked = [fragment for fragment in pem_fragments(pem) if fragment in sent]
        assert not leaked, f"{len(leaked)} lines of a private key reached Sentry"


def test_without_our_scrubber_the_transport_would_see_the_token() -> None:
    """Negative control: the assertions above can see a leak, and Sentry's own default
    scrubbing would not have stopped this one."""
    transport = CapturingTransport()
    canary = generate_token()
    sentry_sdk.init(
        dsn="https://public@sentry.example.invalid/1",
        transport=transport,
        default_integrations=False,
    )
    try:
        sentry_sdk.capture_message(f"{POSITIVE_CONTROL}: leaked {canary}")
    finally:
        sentry_sdk.get_client().close()
        sentry_sdk.get_global_scope().set_client(None)
    assert canary in transport.serialized()


def _redacting_logger() -> tuple[logging.Logger, io.StringIO, logging.Handler]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    logger = logging.getLogger("gatehouse.test.redaction")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    return logger, stream, handler


@pytest.fixture
def redacting_log() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    logger, stream, handler = _redacting_logger()
    try:
        yield logger, stream
    finally:
        logger.removeHandler(handler)
        logger.propagate = True


def test_log_records_are_redacted(redacting_log: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = redacting_log
    canary = generate_token()
    [pem, _] = private_key_pems()
    logger.info("issued %s to %s", canary, POSITIVE_CONTROL)
    logger.warning("header was %r", {"authorization": f"Bearer {canary}"})
    logger.error("loaded key %s", pem)
    logger.info(f"formatted before logging: {canary}")  # the careless case

    output = stream.getvalue()
    assert POSITIVE_CONTROL in output
    assert output.count(REDACTED) >= 4
    assert canary not in output
    assert canary[4:] not in output
    assert "PRIVATE KEY-----" not in output
    assert not [fragment for fragment in pem_fragments(pem) if fragment in output]


def test_logged_tracebacks_are_redacted(
    redacting_log: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = redacting_log
    canary = generate_token()
    try:
        raise ValueError(f"upstream refused {canary}")
    except ValueError:
        logger.exception("call failed for %s", POSITIVE_CONTROL)
    logger.info("where we were", stack_info=True, extra={"note": canary})

    output = stream.getvalue()
    assert POSITIVE_CONTROL in output
    assert "Traceback" in output
    assert "ValueError: upstream refused" in output
    assert canary not in output


# --- /metrics -----------------------------------------------------------------------------


def test_metrics_need_the_metrics_scope(
    client: httpx.Client, session: Session, container: Container
) -> None:
    admin = factories.user(session, container, "metrics-admin", is_admin=True)
    tenant = factories.tenant(session, container, "metrics-tenant")
    _, workspace_token = factories.token(
        session, container, tenant.workspace, tenant.owner, sorted(WORKSPACE_SCOPES)
    )
    admin_ctx = factories.user_ctx(session, container, admin)
    _, admin_personal = tokens.issue_personal_token(admin_ctx, admin, description="metrics")
    owner_ctx = factories.user_ctx(session, container, tenant.owner)
    _, owner_personal = tokens.issue_personal_token(owner_ctx, tenant.owner, description="mine")
    session.commit()

    anonymous = client.get("/metrics")
    assert anonymous.status_code == 401, anonymous.text
    for credential in (workspace_token, tenant.agent_token, owner_personal):
        refused = client.get("/metrics", headers={"Authorization": f"Bearer {credential}"})
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"] == "scope_missing"
    owner_session = _session(client, tenant.owner.username)
    assert client.get("/metrics", headers=owner_session).status_code == 403

    # Some traffic with ids in the path, so the labels can be checked below.
    seen_ids = [tenant.workspace.id, tenant.agent.id, tenant.agent_token_accessor]
    agent_url = f"/v1/workspaces/{tenant.workspace.id}/agents/{tenant.agent.id}"
    assert client.get(agent_url, headers=owner_session).status_code == 200
    token_url = f"/v1/tokens/{tenant.agent_token_accessor}"
    assert client.get(token_url, headers=owner_session).status_code == 200
    assert client.get(f"/v1/no-such-route/{canary_path()}").status_code == 404

    for headers in (
        _session(client, "metrics-admin"),
        {"Authorization": f"Bearer {admin_personal}"},
    ):
        response = client.get("/metrics", headers=headers)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/plain")
        text = response.text
        assert "# TYPE gatehouse_http_requests_total counter" in text
        assert "gatehouse_auth_failures_total" in text
        assert 'route="/v1/workspaces/{workspace_id}/agents/{agent_id}"' in text
        assert 'route="/v1/tokens/{accessor}"' in text
        assert 'route="unmatched"' in text
        leaked = [value for value in [*seen_ids, canary_path()] if value in text]
        assert not leaked, f"metrics labels carry raw path values: {leaked}"
        assert "gth_" not in text


def _session(client: httpx.Client, username: str) -> dict[str, str]:
    response = client.post(
        "/v1/auth/login", json={"username": username, "password": factories.PASSWORD}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def canary_path() -> str:
    return "unrouted-segment-4f2c"
