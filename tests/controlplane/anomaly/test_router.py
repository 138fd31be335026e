"""`/v1/anomaly/alerts`: reading with access-log:read, judging with audit:run, one tenant never
seeing another's alerts, and false-positive verdicts that silence the same pattern."""

from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from controlplane.anomaly.models import AnomalySuppression
from controlplane.audit_events.models import AuditEvent
from controlplane.container import Container
from tests import factories
from tests.controlplane.anomaly.helpers import stored_alert
from tests.controlplane.providers.helpers import login

ALERTS = "/v1/anomaly/alerts"


def _items(client: httpx.Client, headers: dict[str, str], **params: str) -> list[dict[str, Any]]:
    response = client.get(ALERTS, params=params, headers=headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


@pytest.fixture
def tenants(session: Session, container: Container) -> tuple[factories.Tenant, factories.Tenant]:
    a = factories.tenant(session, container, "alpha.tenant")
    b = factories.tenant(session, container, "bravo.tenant")
    session.commit()
    return a, b


def test_each_tenant_reads_its_own_alerts_and_admins_the_unattributed(
    client: httpx.Client,
    session: Session,
    container: Container,
    tenants: tuple[factories.Tenant, factories.Tenant],
) -> None:
    a, b = tenants
    mine = stored_alert(session, workspace_id=a.workspace.id, agent_id=a.agent.id)
    theirs = stored_alert(session, workspace_id=b.workspace.id, detector="exfiltration")
    unattributed = stored_alert(
        session, workspace_id=None, detector="credential_stuffing", entity="*", severity="critical"
    )
    admin = factories.user(session, container, "instance.admin", is_admin=True)
    session.commit()

    assert [item["id"] for item in _items(client, login(client, a.owner.username))] == [mine.id]
    assert [item["id"] for item in _items(client, login(client, b.owner.username))] == [theirs.id]
    # The viewer role holds no access-log:read: an empty list, and 403 on the alert itself.
    viewer = login(client, a.viewer.username)
    assert _items(client, viewer) == []
    assert client.get(f"{ALERTS}/{mine.id}", headers=viewer).status_code == 403
    # Another tenant's alert and a missing one answer alike.
    outsider = login(client, b.owner.username)
    refused = client.get(f"{ALERTS}/{mine.id}", headers=outsider)
    missing = client.get(f"{ALERTS}/alr_doesnotexist", headers=outsider)
    assert (refused.status_code, refused.json()["error"]) == (404, "not_found")
    assert (missing.status_code, missing.json()["detail"]) == (404, refused.json()["detail"])
    # Failures no workspace can be named for are for instance admins only.
    assert client.get(f"{ALERTS}/{unattributed.id}", headers=outsider).status_code == 404
    # An admin holds no role in either workspace: only the unattributed alert.
    admin_items = _items(client, login(client, admin.username))
    assert [item["id"] for item in admin_items] == [unattributed.id]


def test_filters_and_detail_with_evidence(
    client: httpx.Client, session: Session, tenants: tuple[factories.Tenant, factories.Tenant]
) -> None:
    a, _ = tenants
    low = stored_alert(session, workspace_id=a.workspace.id, detector="new_model", severity="low")
    high = stored_alert(session, workspace_id=a.workspace.id, detector="exfiltration")
    session.commit()
    owner = login(client, a.owner.username)
    # Newest first: ids sort by creation time (two made within a millisecond, by their tail).
    assert [i["id"] for i in _items(client, owner)] == sorted([high.id, low.id], reverse=True)
    assert [i["id"] for i in _items(client, owner, severity="medium")] == [high.id]
    assert [i["id"] for i in _items(client, owner, detector="new_model")] == [low.id]
    assert _items(client, owner, status="resolved") == []
    listed = _items(client, owner)[0]
    assert "evidence" not in listed
    detail = client.get(f"{ALERTS}/{high.id}", headers=owner).json()
    assert detail["evidence"] == [{"seq": 1, "client_ip": "203.0.113.9"}]
    assert detail["evidence_count"] == 3
    bad = client.get(ALERTS, params={"severity": "extreme"}, headers=owner)
    assert bad.status_code == 422
    assert (bad.json()["error"], bad.json()["fields"][0]["field"]) == (
        "validation_error",
        "query.severity",
    )


def test_the_lifecycle_is_recorded_with_who_and_when(
    client: httpx.Client, session: Session, tenants: tuple[factories.Tenant, factories.Tenant]
) -> None:
    a, _ = tenants
    alert = stored_alert(session, workspace_id=a.workspace.id)
    session.commit()
    owner = login(client, a.owner.username)

    acked = client.post(f"{ALERTS}/{alert.id}/ack", json={"note": "looking"}, headers=owner)
    assert acked.status_code == 200, acked.text
    assert (acked.json()["status"], acked.json()["note"]) == ("acknowledged", "looking")
    assert acked.json()["status_changed_by"] == a.owner.id
    assert acked.json()["status_changed_at"] is not None
    again = client.post(f"{ALERTS}/{alert.id}/ack", headers=owner)
    assert (again.status_code, again.json()["error"]) == (409, "conflict")
    resolved = client.post(f"{ALERTS}/{alert.id}/resolve", headers=owner)
    assert resolved.json()["status"] == "resolved"
    assert resolved.json()["note"] == "looking"  # kept when no new note is given

    actions = session.scalars(
        select(AuditEvent.action).where(AuditEvent.target_id == alert.id).order_by(AuditEvent.id)
    ).all()
    assert actions == ["anomaly.alert.ack", "anomaly.alert.resolve"]


def test_a_false_positive_suppresses_the_pattern_for_a_while(
    client: httpx.Client,
    session: Session,
    container: Container,
    tenants: tuple[factories.Tenant, factories.Tenant],
) -> None:
    a, _ = tenants
    alert = stored_alert(session, workspace_id=a.workspace.id)
    session.commit()
    owner = login(client, a.owner.username)
    too_long = client.post(
        f"{ALERTS}/{alert.id}/false-positive",
        json={"suppress_for_seconds": 400 * 86_400},
        headers=owner,
    )
    assert (too_long.status_code, too_long.json()["error"]) == (422, "validation_error")
    judged = client.post(
        f"{ALERTS}/{alert.id}/false-positive",
        json={"suppress_for_seconds": 3_600, "note": "nightly batch"},
        headers=owner,
    )
    assert judged.status_code == 200, judged.text
    assert judged.json()["status"] == "false_positive"
    [suppression] = session.scalars(select(AnomalySuppression)).all()
    assert (suppression.detector, suppression.entity) == (alert.detector, alert.entity)
    assert (suppression.alert_id, suppression.reason) == (alert.id, "nightly batch")
    listed = client.get("/v1/anomaly/suppressions", headers=owner).json()
    assert [row["id"] for row in listed] == [suppression.id]
    assert (
        client.get("/v1/anomaly/suppressions", headers=login(client, "bravo.tenant-owner")).json()
        == []
    )


def test_acting_needs_audit_run(
    client: httpx.Client,
    session: Session,
    container: Container,
    tenants: tuple[factories.Tenant, factories.Tenant],
) -> None:
    a, _ = tenants
    alert = stored_alert(session, workspace_id=a.workspace.id)
    _, reader = factories.token(session, container, a.workspace, a.owner, ["access-log:read"])
    session.commit()
    headers = {"Authorization": f"Bearer {reader}"}
    assert [i["id"] for i in _items(client, headers)] == [alert.id]
    refused = client.post(f"{ALERTS}/{alert.id}/resolve", headers=headers)
    assert (refused.status_code, refused.json()["error"]) == (403, "scope_missing")
