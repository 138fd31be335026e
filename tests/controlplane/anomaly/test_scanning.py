"""The database source: the scheduled scan reads the access log by watermark, stores alerts once
per (detector, entity, window), and applies the workspace's automatic response."""

import dataclasses
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from controlplane.access_log.records import AccessRecord
from controlplane.anomaly import repository, scanning
from controlplane.anomaly.models import AnomalyAlert, AnomalyScan, AnomalySuppression
from controlplane.audit_events.models import AuditEvent
from controlplane.container import Container
from controlplane.kit.clock import utcnow
from controlplane.kit.ids import new_id
from controlplane.policies import service as policies
from controlplane.policies.schemas import PolicyRules
from controlplane.tokens.models import Token
from tests import factories
from tests.controlplane.anomaly.helpers import T0, append, record

THIEF = "203.0.113.9"


def _history(tenant: factories.Tenant, count: int = 120) -> list[AccessRecord]:
    """The agent's own traffic from its own network, a request every 10 s."""
    return [
        record(
            T0 + timedelta(seconds=10 * n),
            token_accessor=tenant.agent_token_accessor,
            workspace_id=tenant.workspace.id,
            agent_id=tenant.agent.id,
            client_ip="10.0.0.5",
        )
        for n in range(count)
    ]


def _stolen(tenant: factories.Tenant, count: int, offset: int = 0) -> list[AccessRecord]:
    """The same token from another network, in one window a day later."""
    start = T0 + timedelta(days=1, seconds=offset)
    return [
        record(
            start + timedelta(seconds=n),
            token_accessor=tenant.agent_token_accessor,
            workspace_id=tenant.workspace.id,
            agent_id=tenant.agent.id,
            client_ip=THIEF,
            user_agent="curl/8.5",
        )
        for n in range(count)
    ]


def _alerts(session: Session, detector: str | None = None) -> list[AnomalyAlert]:
    query = select(AnomalyAlert).order_by(AnomalyAlert.id)
    if detector is not None:
        query = query.where(AnomalyAlert.detector == detector)
    return list(session.scalars(query))


@pytest.fixture
def tenant(session: Session, container: Container) -> factories.Tenant:
    made = factories.tenant(session, container, "alpha.tenant")
    session.commit()
    return made


@pytest.mark.parametrize("opted_in", [True, False])
def test_a_stolen_token_is_flagged_and_suspended_where_policy_says_so(
    session: Session, container: Container, tenant: factories.Tenant, opted_in: bool
) -> None:
    owner = factories.user_ctx(session, container, tenant.owner)
    policies.set_policy(
        owner, tenant.workspace.id, None, PolicyRules(anomaly_auto_suspend=opted_in)
    )
    session.commit()
    append(session, [*_history(tenant), *_stolen(tenant, 40)])

    outcome = scanning.scan_backlog(container)

    assert outcome.events == 160
    [alert] = _alerts(session, "new_network")
    assert (alert.severity, alert.entity, alert.workspace_id) == (
        "critical",
        tenant.agent_token_accessor,
        tenant.workspace.id,
    )
    assert alert.agent_id == tenant.agent.id
    assert alert.evidence_count == 40
    assert {row["client_ip"] for row in alert.evidence} == {THIEF}
    assert all("seq" in row for row in alert.evidence)
    token = session.scalars(
        select(Token).where(Token.accessor == tenant.agent_token_accessor)
    ).one()
    session.refresh(token)
    suspensions = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "token.suspend")
    ).all()
    if opted_in:
        assert alert.response is not None
        assert alert.response["action"] == "token_suspended"
        assert alert.response["tokens"] == [tenant.agent_token_accessor]
        assert token.suspended_at is not None
        [event] = suspensions
        assert (event.actor_type, event.actor_id) == ("system", "anomaly-detector")
        assert alert.id in str(event.details["reason"])
    else:
        assert alert.response is None
        assert token.suspended_at is None
        assert suspensions == []


def test_a_window_split_across_scans_is_one_alert_that_escalates(
    session: Session, container: Container, tenant: factories.Tenant
) -> None:
    append(session, _history(tenant))
    assert scanning.scan_backlog(container).events == 120
    append(session, _stolen(tenant, 10))
    first = scanning.scan_backlog(container)
    [alert] = _alerts(session, "new_network")
    assert (alert.severity, alert.evidence_count) == ("high", 10)
    append(session, _stolen(tenant, 30, offset=10))
    second = scanning.scan_backlog(container)

    session.expire_all()
    [same] = _alerts(session, "new_network")
    assert same.id == alert.id
    assert (same.severity, same.evidence_count) == ("critical", 40)
    assert (first.batches[0].opened, second.batches[0].opened) == (1, 0)
    assert second.batches[0].updated >= 1


def test_each_event_is_scanned_once_and_a_rescan_finds_nothing(
    session: Session, container: Container, tenant: factories.Tenant
) -> None:
    small = dataclasses.replace(
        container, settings=container.settings.model_copy(update={"anomaly_batch_events": 100})
    )
    append(session, [*_history(tenant, 250), *_stolen(tenant, 40)])

    outcome = scanning.scan_backlog(small)

    assert [batch.events for batch in outcome.batches] == [100, 100, 90]
    assert scanning.scan_backlog(small).batches == []
    scans = session.scalars(select(AnomalyScan).order_by(AnomalyScan.after_seq)).all()
    assert [(s.after_seq, s.through_seq) for s in scans] == [(0, 100), (100, 200), (200, 290)]
    state = repository.get_state(session, scanning.STATE)
    assert state is not None
    assert state.watermark == 290
    assert len(_alerts(session, "new_network")) == 1


def test_a_stale_compare_and_set_moves_nothing(
    session: Session, container: Container, tenant: factories.Tenant
) -> None:
    append(session, _history(tenant, 10))
    scanning.scan_backlog(container)
    moved = repository.advance_state(
        session, scanning.STATE, expected=3, watermark=99, baselines={}, now=utcnow()
    )
    assert moved is False
    state = repository.get_state(session, scanning.STATE)
    assert state is not None
    assert state.watermark == 10


def test_a_false_positive_verdict_keeps_the_pattern_quiet(
    session: Session, container: Container, tenant: factories.Tenant
) -> None:
    repository.add(
        session,
        AnomalySuppression(
            id=new_id("sup"),
            detector="new_network",
            entity_type="token",
            entity=tenant.agent_token_accessor,
            workspace_id=tenant.workspace.id,
            alert_id=new_id("alr"),
            reason="the agent moved to a new data centre",
            created_by=tenant.owner.id,
            until=utcnow() + timedelta(days=1),
        ),
    )
    session.commit()
    append(session, [*_history(tenant), *_stolen(tenant, 40)])

    scanning.scan_backlog(container)

    assert _alerts(session, "new_network") == []
