"""Token checks on real tokens: issued through the token service, aged and stretched in the
database the way time and a careless migration would."""

from datetime import timedelta

from sqlalchemy import select

from audits.model import CheckStatus
from controlplane.container import Container
from controlplane.db import transaction
from controlplane.kit.clock import utcnow
from controlplane.tokens import service as tokens
from controlplane.tokens.models import Token, TokenSecret
from tests import factories
from tests.audits.checklist.conftest import result_of

DAY = 86_400


def test_no_live_token_is_nothing_to_check(committed_container: Container) -> None:
    result = result_of(committed_container, "token_expiry_within_max")
    assert result.status is CheckStatus.NOT_APPLICABLE
    assert result_of(committed_container, "admin_tokens_rotated").status is (
        CheckStatus.NOT_APPLICABLE
    )


def test_tokens_within_the_maximum_pass(committed_container: Container) -> None:
    container = committed_container
    with transaction(container.session_factory) as session:
        tenant = factories.tenant(session, container, "acme")
        factories.token(session, container, tenant.workspace, tenant.owner, ["agents:read"])
    result = result_of(container, "token_expiry_within_max")
    assert result.status is CheckStatus.PASS, result.explanation
    assert "all 2 live tokens expire within 365 days (token_max_ttl_seconds=31536000)" in (
        result.explanation
    )
    assert result.threats == ("T-PROXY-01", "T-API-04")
    assert result.asvs == ("V2.10.1", "V3.3.1")


def test_a_token_outliving_the_maximum_fails_by_accessor(committed_container: Container) -> None:
    container = committed_container
    with transaction(container.session_factory) as session:
        tenant = factories.tenant(session, container, "acme")
        stretched, raw = factories.token(
            session, container, tenant.workspace, tenant.owner, ["agents:read"]
        )
        stretched.expires_at = stretched.created_at + timedelta(days=400)
        # Revoked and expired tokens cannot authenticate: however long they were meant to live.
        revoked, _ = factories.token(
            session, container, tenant.workspace, tenant.owner, ["agents:read"]
        )
        revoked.expires_at = revoked.created_at + timedelta(days=900)
        revoked.revoked_at = utcnow()
        expired, _ = factories.token(
            session, container, tenant.workspace, tenant.owner, ["agents:read"]
        )
        expired.created_at = utcnow() - timedelta(days=1000)
        expired.expires_at = utcnow() - timedelta(days=1)

    result = result_of(container, "token_expiry_within_max")

    assert result.status is CheckStatus.FAIL
    assert f"{stretched.accessor} (workspace {tenant.workspace.id}, lifetime 400 days)" in (
        result.explanation
    )
    assert result.explanation.startswith("1 of 2 live tokens outlive the maximum of 365 days")
    for other in (tenant.agent_token_accessor, revoked.accessor, expired.accessor):
        assert other not in result.explanation
    assert raw not in result.explanation


def test_a_lowered_maximum_applies_to_tokens_issued_before(committed_container: Container) -> None:
    container = committed_container
    with transaction(container.session_factory) as session:
        tenant = factories.tenant(session, container, "acme")  # default lifetime: 30 days
    week = container.rebind(container.session_factory, token_max_ttl_seconds=7 * DAY)

    result = result_of(week, "token_expiry_within_max")

    assert result.status is CheckStatus.FAIL
    assert f"{tenant.agent_token_accessor} (workspace {tenant.workspace.id}, lifetime 30 days)" in (
        result.explanation
    )
    assert "maximum of 7 days (token_max_ttl_seconds=604800)" in result.explanation


def test_fresh_admin_scoped_tokens_pass(committed_container: Container) -> None:
    container = committed_container
    with transaction(container.session_factory) as session:
        owner = factories.user(session, container, "owner")
        tokens.issue_personal_token(factories.user_ctx(session, container, owner), owner, "admin")
    result = result_of(container, "admin_tokens_rotated")
    assert result.status is CheckStatus.PASS, result.explanation
    assert result.explanation.startswith("1 live admin-scoped token (holding any of")
    assert "within 90 days" in result.explanation


def test_admin_scoped_tokens_kept_90_days_fail_until_rotated(
    committed_container: Container,
) -> None:
    container = committed_container
    with transaction(container.session_factory) as session:
        tenant = factories.tenant(session, container, "acme")
        ctx = factories.user_ctx(session, container, tenant.owner)
        personal, _ = tokens.issue_personal_token(ctx, tenant.owner, "admin")
        year = {"ttl_seconds": 200 * DAY}
        writer, _ = factories.token(
            session, container, tenant.workspace, tenant.owner, ["tokens:write"], **year
        )
        reader, _ = factories.token(
            session, container, tenant.workspace, tenant.owner, ["agents:read"], **year
        )
        # Every secret issued 100 days ago: the tokens were created, and never rotated, then.
        for secret in session.scalars(select(TokenSecret)):
            secret.created_at -= timedelta(days=100)

    result = result_of(container, "admin_tokens_rotated")

    assert result.status is CheckStatus.FAIL
    assert result.explanation.startswith(
        "2 of 2 live admin-scoped tokens have kept one secret for more than 90 days"
    )
    assert f"{personal.accessor} (personal token, secret 100 days old;" in result.explanation
    assert f"{writer.accessor} (workspace {tenant.workspace.id}, secret 100 days old; " in (
        result.explanation
    )
    assert "tokens:write)" in result.explanation
    # Not admin-scoped, however old its secret: the agent's token and the reader.
    assert reader.accessor not in result.explanation
    assert tenant.agent_token_accessor not in result.explanation

    with transaction(container.session_factory) as session:
        tokens.rotate(factories.user_ctx(session, container, tenant.owner), writer.accessor, 0)
    after = result_of(container, "admin_tokens_rotated")
    assert after.status is CheckStatus.FAIL
    assert after.explanation.startswith("1 of 2 live admin-scoped tokens")
    assert writer.accessor not in after.explanation
    assert personal.accessor in after.explanation


def test_an_admin_token_is_judged_at_the_runs_instant(committed_container: Container) -> None:
    container = committed_container
    with transaction(container.session_factory) as session:
        owner = factories.user(session, container, "owner")
        personal, _ = tokens.issue_personal_token(
            factories.user_ctx(session, container, owner), owner, "admin"
        )
    later = result_of(container, "admin_tokens_rotated", now=utcnow() + timedelta(days=91))
    assert later.status is CheckStatus.FAIL
    assert personal.accessor in later.explanation
    with transaction(container.session_factory) as session:
        stored = session.get(Token, personal.id)
        assert stored is not None
        assert stored.revoked_at is None  # the check changed nothing
