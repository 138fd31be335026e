"""The session-lifetime check: the configured lifetime and the one this process issues."""

from sqlalchemy.orm import Session, sessionmaker

from audits.model import CheckStatus
from controlplane.container import Container
from tests.audits.checklist.conftest import Build, result_of

CHECK = "session_lifetime_bounded"


def test_the_default_fifteen_minutes_pass(container: Container) -> None:
    result = result_of(container, CHECK)
    assert result.status is CheckStatus.PASS
    assert result.explanation == "sessions last 15 min (session_ttl_seconds=900), within 12 h"
    assert result.asvs == ("V3.3.2",)


def test_exactly_twelve_hours_pass(build: Build) -> None:
    result = result_of(build(session_ttl_seconds=12 * 3600), CHECK)
    assert result.status is CheckStatus.PASS
    assert "sessions last 12 h (session_ttl_seconds=43200)" in result.explanation


def test_thirteen_hours_fail_with_the_actual_and_the_limit(build: Build) -> None:
    container = build(session_ttl_seconds=13 * 3600)
    assert container.session_tokens.ttl_seconds == 13 * 3600
    result = result_of(container, CHECK)
    assert result.status is CheckStatus.FAIL
    assert result.explanation.startswith(
        "sessions last 13 h (session_ttl_seconds=46800): more than 12 h"
    )


def test_settings_changed_after_start_are_reported_beside_what_is_issued(
    container: Container, session_factory: sessionmaker[Session]
) -> None:
    changed = container.rebind(session_factory, session_ttl_seconds=86_400)
    result = result_of(changed, CHECK)
    assert result.status is CheckStatus.FAIL
    assert (
        "sessions last 1 day (session_ttl_seconds=86400); this process issues them for 15 min"
        in result.explanation
    )
