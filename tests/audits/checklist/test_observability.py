"""The Sentry check: off without a DSN; with one, the scrubber is probed, and a client started
in this process is read option by option (a client started without the scrubber fails)."""

from collections.abc import Iterator

import pytest
import sentry_sdk
from pydantic import SecretStr
from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import Transport
from sqlalchemy.orm import Session, sessionmaker

from audits.checklist.observability import scrubber_leaks
from audits.model import CheckStatus
from controlplane.container import Container
from controlplane.observability import init_sentry
from tests.audits.checklist.conftest import result_of

CHECK = "sentry_scrubber_on"
DSN = "https://public@sentry.example.invalid/1"


class DroppingTransport(Transport):
    """Sends nothing anywhere: the check reads the client's options, not what it sends."""

    def capture_envelope(self, envelope: Envelope) -> None:
        pass


@pytest.fixture
def with_dsn(container: Container, session_factory: sessionmaker[Session]) -> Iterator[Container]:
    configured = container.rebind(session_factory, sentry_dsn=SecretStr(DSN))
    try:
        yield configured
    finally:
        sentry_sdk.get_client().close()
        # Back to the no-op client, so no other test reports anywhere.
        sentry_sdk.get_global_scope().set_client(None)


def test_without_a_dsn_sentry_is_not_applicable(container: Container) -> None:
    assert not sentry_sdk.get_client().is_active()
    result = result_of(container, CHECK)
    assert result.status is CheckStatus.NOT_APPLICABLE
    assert result.explanation == "Sentry is off: GATEHOUSE_SENTRY_DSN is not set"


def test_the_scrubber_lets_nothing_of_the_probe_through() -> None:
    assert scrubber_leaks() == []


def test_a_dsn_without_a_client_here_passes_on_the_probe(with_dsn: Container) -> None:
    result = result_of(with_dsn, CHECK)
    assert result.status is CheckStatus.PASS, result.explanation
    assert result.explanation.startswith("Sentry is not started in this process")
    assert "came out of the scrubber without them" in result.explanation


def test_the_client_init_sentry_starts_passes(with_dsn: Container) -> None:
    assert init_sentry(with_dsn.settings, transport=DroppingTransport())
    result = result_of(with_dsn, CHECK)
    assert result.status is CheckStatus.PASS, result.explanation
    assert result.explanation.startswith(
        "the Sentry client of this process sends events, transactions and breadcrumbs "
        "through the scrubber"
    )


def test_a_client_started_without_the_scrubber_fails(with_dsn: Container) -> None:
    sentry_sdk.init(dsn=DSN, transport=DroppingTransport(), default_integrations=False)
    result = result_of(with_dsn, CHECK)
    assert result.status is CheckStatus.FAIL
    assert result.explanation == (
        "Sentry is on but not scrubbed: in the Sentry client of this process, events bypass "
        "the scrubber, transactions bypass the scrubber, breadcrumbs bypass the scrubber, frame "
        "local variables are sent, request bodies are sent"
    )
    assert DSN not in result.explanation


def test_a_client_started_elsewhere_is_checked_even_without_a_dsn_setting(
    container: Container,
) -> None:
    sentry_sdk.init(dsn=DSN, transport=DroppingTransport(), default_integrations=False)
    try:
        result = result_of(container, CHECK)
    finally:
        sentry_sdk.get_client().close()
        sentry_sdk.get_global_scope().set_client(None)
    assert result.status is CheckStatus.FAIL
    assert "events bypass the scrubber" in result.explanation
