"""Suppressions: justified, approved, expiring; applied on read at once and by the next run."""

from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from controlplane.audit_events.models import AuditEvent
from controlplane.audit_runs.models import AuditSuppression
from controlplane.container import Container
from controlplane.kit.clock import utcnow
from tests import factories
from tests.controlplane.audit_runs.helpers import (
    audit,
    by_fingerprint,
    code,
    in_days,
    ok,
    result,
    secret,
    session_of,
    upload,
)

WHY = "accepted until the vendor ships a fix"


@pytest.fixture
def tenant(session: Session, container: Container) -> factories.Tenant:
    made = factories.tenant(session, container, "suppressor")
    session.commit()
    return made


@pytest.fixture
def owner(app: FastAPI, tenant: factories.Tenant) -> dict[str, str]:
    return session_of(app, tenant.owner)


def _current(client: httpx.Client, ws: str, headers: dict[str, str], **params: str) -> Any:
    return ok(client.get(f"{audit(ws)}/findings", params=params, headers=headers))["items"]


def _finding(client: httpx.Client, ws: str, headers: dict[str, str], finding_id: str) -> Any:
    return ok(client.get(f"{audit(ws)}/findings/{finding_id}", headers=headers))


def test_a_finding_suppression_applies_at_once_and_lapses_at_expiry(
    client: httpx.Client, session: Session, tenant: factories.Tenant, owner: dict[str, str]
) -> None:
    ws = tenant.workspace.id
    key, shell = secret("app/settings.py", 9), code("app/run.py", 2)
    upload(client, ws, owner, result(key, shell))
    key_id = by_fingerprint(_current(client, ws, owner))[key.fingerprint]["id"]

    created = ok(
        client.post(
            f"{audit(ws)}/findings/{key_id}/suppress",
            json={"justification": WHY, "expires_at": in_days(30)},
            headers=owner,
        ),
        201,
    )
    assert created["id"].startswith("sup_")
    assert (created["fingerprint"], created["rule"]) == (key.fingerprint, None)
    assert created["approver"] == created["created_by"] == tenant.owner.id
    assert (created["active"], created["expired"], created["revoked"]) == (True, False, False)

    now_reading = _finding(client, ws, owner, key_id)
    assert now_reading["status"] == "suppressed"
    assert now_reading["suppression"]["id"] == created["id"]
    assert [f["id"] for f in _current(client, ws, owner, status="suppressed")] == [key_id]
    assert key_id not in {f["id"] for f in _current(client, ws, owner, status="new")}

    # The next run's lifecycle agrees with what was read.
    next_run = upload(client, ws, owner, result(key, shell))
    assert next_run["counts"]["status"] == {"suppressed": 1, "open": 1}

    # Time passes: the suppression's expiry is now behind us.
    session.execute(
        update(AuditSuppression)
        .where(AuditSuppression.id == created["id"])
        .values(expires_at=utcnow() - timedelta(minutes=1))
    )
    session.commit()
    lapsed = _finding(client, ws, owner, key_id)
    assert (lapsed["status"], lapsed["suppression"]) == ("open", None)
    listed = ok(client.get(f"{audit(ws)}/suppressions", headers=owner))
    assert [(s["id"], s["expired"], s["active"]) for s in listed] == [(created["id"], True, False)]
    after_expiry = upload(client, ws, owner, result(key, shell))
    assert after_expiry["counts"]["status"] == {"open": 2}


def test_a_rule_suppression_covers_its_glob_until_revoked(
    client: httpx.Client, session: Session, tenant: factories.Tenant, owner: dict[str, str]
) -> None:
    ws = tenant.workspace.id
    in_tests, in_app = code("tests/test_cli.py", 5), code("app/cli.py", 5)
    upload(client, ws, owner, result(in_tests, in_app))
    created = ok(
        client.post(
            f"{audit(ws)}/suppressions",
            json={
                "rule": "B602",
                "path_glob": "tests/**",
                "justification": "tests start shells on purpose",
                "expires_at": in_days(90),
                "approver": "the security lead",
            },
            headers=owner,
        ),
        201,
    )
    assert created["approver"] == "the security lead"
    statuses = {f["fingerprint"]: f["status"] for f in _current(client, ws, owner)}
    assert statuses == {in_tests.fingerprint: "suppressed", in_app.fingerprint: "new"}

    revoked = ok(client.delete(f"{audit(ws)}/suppressions/{created['id']}", headers=owner))
    assert (revoked["revoked"], revoked["active"], revoked["revoked_by"]) == (
        True,
        False,
        tenant.owner.id,
    )
    again = ok(client.delete(f"{audit(ws)}/suppressions/{created['id']}", headers=owner))
    assert again["revoked_at"] == revoked["revoked_at"]
    statuses = {f["fingerprint"]: f["status"] for f in _current(client, ws, owner)}
    assert statuses == {in_tests.fingerprint: "new", in_app.fingerprint: "new"}
    # Revoked, and kept.
    [kept] = ok(client.get(f"{audit(ws)}/suppressions", headers=owner))
    assert (kept["id"], kept["revoked"]) == (created["id"], True)

    trail = session.scalars(
        select(AuditEvent.action)
        .where(AuditEvent.target_id == created["id"])
        .order_by(AuditEvent.id)
    ).all()
    assert trail == ["audit.suppression.create", "audit.suppression.revoke"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"justification": WHY, "expires_at": in_days(-1)}, "body.expires_at"),
        ({"justification": WHY, "expires_at": in_days(366)}, "body.expires_at"),
        ({"justification": "because", "expires_at": in_days(5)}, "body.justification"),
        ({"justification": WHY}, "body.expires_at"),
        ({"justification": WHY, "expires_at": "2099-01-01T00:00:00"}, "body.expires_at"),
    ],
)
def test_a_suppression_needs_a_justification_and_a_near_enough_expiry(
    client: httpx.Client,
    tenant: factories.Tenant,
    owner: dict[str, str],
    body: dict[str, str],
    field: str,
) -> None:
    ws = tenant.workspace.id
    upload(client, ws, owner, result(code("a.py", 1)))
    [finding] = _current(client, ws, owner)
    refused = client.post(
        f"{audit(ws)}/findings/{finding['id']}/suppress", json=body, headers=owner
    )
    assert refused.status_code == 422, refused.text
    assert field in [problem["field"] for problem in refused.json()["fields"]]
    assert ok(client.get(f"{audit(ws)}/suppressions", headers=owner)) == []


def test_findings_page_through_a_status_filter(
    client: httpx.Client, tenant: factories.Tenant, owner: dict[str, str]
) -> None:
    ws = tenant.workspace.id
    findings = [code(f"src/m{n}.py", n) for n in range(5)]
    upload(client, ws, owner, result(*findings))
    for finding in findings[::2]:  # 0, 2, 4 suppressed; 1, 3 new
        finding_id = by_fingerprint(_current(client, ws, owner))[finding.fingerprint]["id"]
        ok(
            client.post(
                f"{audit(ws)}/findings/{finding_id}/suppress",
                json={"justification": WHY, "expires_at": in_days(10)},
                headers=owner,
            ),
            201,
        )
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params = {"status": "new", "limit": "1", **({"cursor": cursor} if cursor else {})}
        page = ok(client.get(f"{audit(ws)}/findings", params=params, headers=owner))
        seen += [f["fingerprint"] for f in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(f.fingerprint for f in findings[1::2])
    assert len(_current(client, ws, owner, status="suppressed", tool="bandit")) == 3
    assert _current(client, ws, owner, severity="high") == []


def test_unknown_findings_and_suppressions_are_not_found(
    client: httpx.Client, tenant: factories.Tenant, owner: dict[str, str]
) -> None:
    ws = tenant.workspace.id
    missing = client.post(
        f"{audit(ws)}/findings/afd_missing/suppress",
        json={"justification": WHY, "expires_at": in_days(3)},
        headers=owner,
    )
    assert (missing.status_code, missing.json()["error"]) == (404, "not_found")
    gone = client.delete(f"{audit(ws)}/suppressions/sup_missing", headers=owner)
    assert (gone.status_code, gone.json()["error"]) == (404, "not_found")
