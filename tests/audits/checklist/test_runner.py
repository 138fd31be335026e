"""Running the checklist: without a control plane, against attestations, with a check that
fails, and against a real database that it must leave exactly as it found it."""

import errno
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, TextClause, inspect, text
from sqlalchemy.orm import Session, sessionmaker

from audits.checklist import NO_CONTROL_PLANE, ChecklistItem, load_checklist, run_checklist
from audits.checklist.checks import REGISTRY
from audits.checklist.context import CheckContext, Outcome
from audits.checklist.runner import describe_failure
from audits.model import Attestation, CheckKind, CheckStatus
from controlplane.access_log import service as access_log
from controlplane.access_log.reader import Entry
from controlplane.access_log.records import AccessRecord
from controlplane.container import Container
from controlplane.db import transaction
from controlplane.errors import ConfigurationError
from controlplane.kit.clock import utcnow
from controlplane.providers import service as providers
from controlplane.providers.schemas import ProviderCredentialSet
from controlplane.tokens import service as tokens
from controlplane.tokens.format import generate_token
from tests import factories

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def manual_item(max_age_days: int | None = None) -> ChecklistItem:
    return ChecklistItem.model_validate(
        {
            "id": "GH-OPS-001",
            "title": "Backups were restored in a drill",
            "severity": "high",
            "threats": ["T-API-15"],
            "asvs": ["V8.1.5"],
            "manual": {
                "evidence_hint": "The drill report: what was restored, where, by whom.",
                "max_age_days": max_age_days,
            },
        }
    )


def attestation(
    *, by: str = "alice", days_ago: int = 10, expires_in_days: int = 80, item: str = "GH-OPS-001"
) -> Attestation:
    return Attestation(
        item_id=item,
        attested_by=by,
        attested_at=NOW - timedelta(days=days_ago),
        evidence=f"drill report DR-{days_ago}",
        expires_at=NOW + timedelta(days=expires_in_days),
    )


def run_manual(item: ChecklistItem, *attestations: Attestation) -> tuple[CheckStatus, str]:
    [result] = run_checklist([item], container=None, attestations=list(attestations), now=NOW)
    assert result.kind is CheckKind.MANUAL
    return result.status, result.explanation


def test_without_a_control_plane_automated_items_are_not_applicable() -> None:
    items = load_checklist()
    results = run_checklist(items, container=None, attestations=[], now=NOW)
    assert [result.item_id for result in results] == [item.id for item in items]
    for item, result in zip(items, results, strict=True):
        assert (result.title, result.severity, result.kind) == (
            item.title,
            item.severity,
            item.kind,
        )
        assert (result.threats, result.asvs) == (item.threats, item.asvs)
        if item.kind is CheckKind.AUTOMATED:
            assert result.status is CheckStatus.NOT_APPLICABLE
            assert result.explanation == NO_CONTROL_PLANE == "no control plane configured"
        else:
            assert result.status is CheckStatus.MANUAL
            assert item.manual is not None
            assert result.explanation == (
                f"not attested; needs an attestation with evidence: {item.manual.evidence_hint}"
            )


def test_a_current_attestation_passes_a_manual_item() -> None:
    given = attestation()
    [result] = run_checklist([manual_item()], container=None, attestations=[given], now=NOW)
    assert result.status is CheckStatus.PASS
    assert result.explanation == (
        "attested by alice on 2026-11-12, expires 2027-02-10; evidence: drill report DR-10"
    )
    assert result.attestation == given


def test_the_newest_current_attestation_is_the_one_reported() -> None:
    status, explanation = run_manual(
        manual_item(),
        attestation(by="old", days_ago=40),
        attestation(by="new", days_ago=3),
        attestation(by="expired", days_ago=1, expires_in_days=-1),
    )
    assert status is CheckStatus.PASS
    assert explanation.startswith("attested by new on 2026-11-19")


def test_an_expired_attestation_says_when_it_expired() -> None:
    status, explanation = run_manual(manual_item(), attestation(days_ago=100, expires_in_days=-5))
    assert status is CheckStatus.MANUAL
    assert explanation == (
        "the last attestation (by alice on 2026-08-14) expired on 2026-11-17; needs an "
        "attestation with evidence: The drill report: what was restored, where, by whom."
    )


def test_an_attestation_expiring_now_no_longer_counts() -> None:
    status, _ = run_manual(manual_item(), attestation(expires_in_days=0))
    assert status is CheckStatus.MANUAL


def test_an_attestation_older_than_the_item_allows_no_longer_counts() -> None:
    item = manual_item(max_age_days=90)
    assert run_manual(item, attestation(days_ago=90))[0] is CheckStatus.PASS
    status, explanation = run_manual(item, attestation(days_ago=91, expires_in_days=300))
    assert status is CheckStatus.MANUAL
    assert explanation.startswith(
        "the last attestation (by alice on 2026-08-23) is older than 90 days; needs"
    )


def test_attestations_count_only_for_their_own_manual_item() -> None:
    automated = next(item for item in load_checklist() if item.check == "argon2_parameters")
    results = run_checklist(
        [manual_item(), automated],
        container=None,
        attestations=[attestation(item="GH-NET-001"), attestation(item=automated.id)],
        now=NOW,
    )
    assert [result.status for result in results] == [
        CheckStatus.MANUAL,
        CheckStatus.NOT_APPLICABLE,
    ]
    assert all(result.attestation is None for result in results)


def test_naive_instants_are_taken_as_utc() -> None:
    naive = attestation().model_copy(
        update={"attested_at": datetime(2026, 11, 1), "expires_at": datetime(2026, 12, 1)}  # noqa: DTZ001 - naive on purpose
    )
    [result] = run_checklist(
        [manual_item()], container=None, attestations=[naive], now=NOW.replace(tzinfo=None)
    )
    assert result.status is CheckStatus.PASS


def explodes_with(error: Exception) -> Callable[[CheckContext], Outcome]:
    def check(_ctx: CheckContext) -> Outcome:
        raise error

    return check


def automated_item(check: str) -> ChecklistItem:
    return ChecklistItem.model_validate(
        {
            "id": "GH-TST-001",
            "title": "A check that fails for the runner tests",
            "severity": "low",
            "threats": ["T-JOBS-04"],
            "asvs": ["V7.4.1"],
            "check": check,
        }
    )


def test_a_check_that_raises_is_an_error_that_keeps_its_message_to_itself(
    container: Container, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    secret = generate_token()
    monkeypatch.setitem(REGISTRY, "explodes", explodes_with(RuntimeError(f"read {secret}")))
    [result] = run_checklist(
        [automated_item("explodes")], container=container, attestations=[], now=NOW
    )
    assert result.status is CheckStatus.ERROR
    assert result.explanation == (
        "the check failed with RuntimeError: its message is withheld, as it may hold what the "
        "check read"
    )
    assert "GH-TST-001" in caplog.text
    assert secret not in caplog.text


def test_an_unregistered_check_is_an_error(container: Container) -> None:
    [result] = run_checklist(
        [automated_item("retired_check")], container=container, attestations=[], now=NOW
    )
    assert result.status is CheckStatus.ERROR
    assert result.explanation == "no automated check named 'retired_check' is registered"


def test_a_database_failure_spoils_only_its_own_check(committed_container: Container) -> None:
    with committed_container.engine.begin() as connection:
        connection.execute(text("DROP TABLE access_log_chain"))
    items = [
        item
        for item in load_checklist()
        if item.check in ("access_log_chain_intact", "session_lifetime_bounded")
    ]
    lifetime, chain = run_checklist(items, container=committed_container, attestations=[], now=NOW)
    assert chain.status is CheckStatus.ERROR
    assert chain.explanation.startswith("the check failed with ")
    assert chain.explanation.endswith("Error: the database could not be read")
    assert "access_log_chain" not in chain.explanation  # no SQL, no parameters
    assert lifetime.status is CheckStatus.PASS


def test_describe_failure_keeps_only_what_is_known_to_be_safe() -> None:
    secret = generate_token()
    assert describe_failure(ConfigurationError(f"refused {secret}")) == (
        "the check failed with ConfigurationError: refused [redacted]"
    )
    missing = FileNotFoundError(errno.ENOENT, "No such file or directory", "/srv/keys/a.key")
    assert describe_failure(missing) == (
        "the check failed with FileNotFoundError: No such file or directory: /srv/keys/a.key"
    )
    assert describe_failure(ValueError(secret)).startswith("the check failed with ValueError: ")
    assert secret not in describe_failure(ValueError(secret))


def snapshot(engine: Engine) -> dict[str, list[tuple[str, ...]]]:
    """Every row of every table, comparable across two reads."""
    with engine.connect() as connection:
        return {
            table: sorted(tuple(map(repr, row)) for row in connection.execute(every_row(table)))
            for table in inspect(connection).get_table_names()
        }


def every_row(table: str) -> TextClause:
    return text(f'SELECT * FROM "{table}"')  # noqa: S608 - names from the inspector


def populate(container: Container) -> None:
    """Something for every check to read: users, tokens, a provider key, logged requests."""
    with transaction(container.session_factory) as session:
        tenant = factories.tenant(session, container, "acme")
        ctx = factories.user_ctx(session, container, tenant.owner)
        tokens.issue_personal_token(ctx, tenant.owner, "admin")
        providers.set_credential(
            ctx,
            tenant.workspace.id,
            "openai",
            ProviderCredentialSet(api_key=SecretStr("sk-test-" + secrets.token_hex(20))),
        )
        access_log.append(
            session,
            [
                Entry(
                    f"entry-{i}",
                    AccessRecord(
                        ts=utcnow(),
                        request_id=f"req-{i:08d}",
                        method="POST",
                        path="/v1/x",
                        decision="allow",
                    ),
                )
                for i in range(3)
            ],
        )


def test_the_whole_checklist_reads_and_never_writes(committed_container: Container) -> None:
    populate(committed_container)
    before = snapshot(committed_container.engine)
    results = run_checklist(
        load_checklist(), container=committed_container, attestations=[], now=utcnow()
    )
    assert snapshot(committed_container.engine) == before
    by_status = {result.item_id: result.status for result in results}
    assert CheckStatus.ERROR not in by_status.values(), results
    assert by_status["GH-PRV-001"] is CheckStatus.PASS
    assert by_status["GH-LOG-002"] is CheckStatus.PASS
    assert by_status["GH-TOK-002"] is CheckStatus.PASS


def test_checks_see_the_suites_rolled_back_transaction(
    container: Container, session: Session, session_factory: sessionmaker[Session]
) -> None:
    # Rows flushed in the test's transaction, never committed, are what the checks read.
    tenant = factories.tenant(session, container, "acme")
    session.flush()
    week = container.rebind(session_factory, token_max_ttl_seconds=7 * 86_400)
    [result] = run_checklist(
        [next(item for item in load_checklist() if item.check == "token_expiry_within_max")],
        container=week,
        attestations=[],
        now=utcnow(),
    )
    assert result.status is CheckStatus.FAIL
    assert tenant.agent_token_accessor in result.explanation
