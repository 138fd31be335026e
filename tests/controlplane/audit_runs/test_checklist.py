"""The checklist through the API: attest manual items, run the checklist here, read the latest."""

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session

from audits.checklist import ChecklistItem, load_checklist
from controlplane.audit_events.models import AuditEvent
from controlplane.container import Container
from tests import factories
from tests.controlplane.audit_runs.helpers import audit, in_days, ok, session_of

EVIDENCE = "restore drill 2026-11-02, ticket OPS-114"


@pytest.fixture
def tenant(session: Session, container: Container) -> factories.Tenant:
    made = factories.tenant(session, container, "checker")
    session.commit()
    return made


@pytest.fixture
def owner(app: FastAPI, tenant: factories.Tenant) -> dict[str, str]:
    return session_of(app, tenant.owner)


@pytest.fixture(scope="module")
def items() -> list[ChecklistItem]:
    return load_checklist()


def _manual(items: list[ChecklistItem]) -> ChecklistItem:
    return next(item for item in items if item.manual is not None)


def _automated(items: list[ChecklistItem]) -> ChecklistItem:
    return next(item for item in items if item.check is not None)


def _entries(client: httpx.Client, ws: str, headers: dict[str, str]) -> dict[str, Any]:
    return {
        entry["id"]: entry for entry in ok(client.get(f"{audit(ws)}/checklist", headers=headers))
    }


def test_attest_then_run_the_checklist_here(
    client: httpx.Client,
    session: Session,
    tenant: factories.Tenant,
    owner: dict[str, str],
    items: list[ChecklistItem],
) -> None:
    ws = tenant.workspace.id
    manual, automated = _manual(items), _automated(items)
    before = _entries(client, ws, owner)
    assert list(before) == [item.id for item in items]
    assert before[manual.id]["kind"] == "manual"
    assert before[automated.id]["kind"] == "automated"
    assert (before[manual.id]["latest"], before[manual.id]["attestation"]) == (None, None)

    attested = ok(
        client.post(
            f"{audit(ws)}/attestations",
            json={"item_id": manual.id, "evidence": EVIDENCE, "expires_at": in_days(60)},
            headers=owner,
        ),
        201,
    )
    assert (attested["attested_by"], attested["active"]) == (tenant.owner.id, True)
    assert [a["id"] for a in ok(client.get(f"{audit(ws)}/attestations", headers=owner))] == [
        attested["id"]
    ]

    run = ok(
        client.post(f"{audit(ws)}/runs", json={"checklist": True, "paths": []}, headers=owner), 201
    )
    assert (run["target"], run["source"]) == ("control-plane", "api")
    assert sum(run["counts"]["checks"].values()) == len(items)

    after = _entries(client, ws, owner)
    assert after[manual.id]["latest"]["status"] == "pass"
    assert after[manual.id]["latest"]["attestation"]["evidence"] == EVIDENCE
    assert after[manual.id]["attestation"]["id"] == attested["id"]
    assert after[automated.id]["latest_run_id"] == run["id"]
    assert after[automated.id]["latest"]["status"] in {"pass", "fail", "error", "not_applicable"}
    others = [item for item in items if item.manual is not None and item.id != manual.id]
    assert all(after[item.id]["latest"]["status"] == "manual" for item in others)

    actions = session.scalars(
        select(AuditEvent.action).where(AuditEvent.workspace_id == ws).order_by(AuditEvent.id)
    ).all()
    assert actions[-2:] == ["audit.attestation.create", "audit.run.store"]


def test_only_manual_items_take_attestations(
    client: httpx.Client,
    tenant: factories.Tenant,
    owner: dict[str, str],
    items: list[ChecklistItem],
) -> None:
    ws = tenant.workspace.id
    for item_id, expires in (
        (_automated(items).id, in_days(10)),
        ("GH-NONE-999", in_days(10)),
        (_manual(items).id, in_days(-1)),
    ):
        refused = client.post(
            f"{audit(ws)}/attestations",
            json={"item_id": item_id, "evidence": EVIDENCE, "expires_at": expires},
            headers=owner,
        )
        assert refused.status_code == 422, refused.text
    assert ok(client.get(f"{audit(ws)}/attestations", headers=owner)) == []


def test_a_run_scans_only_configured_paths(
    client: httpx.Client, tenant: factories.Tenant, owner: dict[str, str]
) -> None:
    ws = tenant.workspace.id
    refused = client.post(
        f"{audit(ws)}/runs", json={"checklist": True, "paths": ["/etc"]}, headers=owner
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["fields"] == [
        {"field": "body.paths[0]", "message": "/etc is not a configured audit path"}
    ]
    nothing = client.post(f"{audit(ws)}/runs", json={"checklist": False}, headers=owner)
    assert nothing.status_code == 422, nothing.text
    assert ok(client.get(f"{audit(ws)}/runs", headers=owner))["items"] == []
