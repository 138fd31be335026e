"""Stored runs over the live API: import, the lifecycle across runs, diffs, reports, trends."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session

from audits.model import CheckStatus, Report, Severity, Suppression
from controlplane.audit_events.models import AuditEvent
from controlplane.container import Container
from tests import factories
from tests.controlplane.audit_runs.helpers import (
    TARGET,
    audit,
    by_fingerprint,
    check,
    code,
    ok,
    result,
    secret,
    session_of,
    upload,
)


@pytest.fixture
def tenant(session: Session, container: Container) -> factories.Tenant:
    made = factories.tenant(session, container, "auditor")
    session.commit()
    return made


@pytest.fixture
def owner(app: FastAPI, tenant: factories.Tenant) -> dict[str, str]:
    return session_of(app, tenant.owner)


def _findings(client: httpx.Client, ws: str, headers: dict[str, str], run_id: str) -> Any:
    return ok(client.get(f"{audit(ws)}/runs/{run_id}/findings", headers=headers))


def test_the_lifecycle_across_imported_runs(
    client: httpx.Client, session: Session, tenant: factories.Tenant, owner: dict[str, str]
) -> None:
    ws = tenant.workspace.id
    key, shell, later = secret("app/settings.py", 12), code("app/run.py", 40), code("app/x.py", 3)

    first = upload(client, ws, owner, result(key, shell))
    assert first["id"].startswith("aud_")
    assert (first["target"], first["source"]) == (TARGET, "import")
    assert first["counts"]["status"] == {"new": 2}
    assert first["counts"]["severity"] == {"high": 1, "medium": 1}
    assert first["stored_by"] == tenant.owner.id
    listed = _findings(client, ws, owner, first["id"])
    assert [(f["fingerprint"], f["status"]) for f in listed] == [
        (key.fingerprint, "new"),  # most severe first
        (shell.fingerprint, "new"),
    ]

    # The key moved two lines down; the shell call is gone; something new appeared.
    moved = key.model_copy(update={"line": 14})
    second = upload(client, ws, owner, result(moved, later))
    assert second["counts"]["status"] == {"open": 1, "new": 1, "fixed": 1}
    seen = by_fingerprint(_findings(client, ws, owner, second["id"]))
    assert seen[key.fingerprint]["status"] == "open"
    assert seen[key.fingerprint]["line"] == 14
    assert seen[shell.fingerprint]["status"] == "fixed"
    assert seen[later.fingerprint]["status"] == "new"
    assert (
        seen[key.fingerprint]["first_seen_at"]
        == by_fingerprint(listed)[key.fingerprint]["first_seen_at"]
    )
    # The same finding keeps its id across runs.
    assert seen[key.fingerprint]["id"] == by_fingerprint(listed)[key.fingerprint]["id"]

    changes = ok(client.get(f"{audit(ws)}/runs/{second['id']}/diff", headers=owner))
    assert changes["against"] == first["id"]
    assert [f["fingerprint"] for f in changes["introduced"]] == [later.fingerprint]
    assert [f["fingerprint"] for f in changes["resolved"]] == [shell.fingerprint]
    assert [f["fingerprint"] for f in changes["unchanged"]] == [key.fingerprint]
    backwards = ok(
        client.get(
            f"{audit(ws)}/runs/{first['id']}/diff",
            params={"against": second["id"]},
            headers=owner,
        )
    )
    assert [f["fingerprint"] for f in backwards["introduced"]] == [shell.fingerprint]
    first_diff = ok(client.get(f"{audit(ws)}/runs/{first['id']}/diff", headers=owner))
    assert first_diff["against"] is None
    assert len(first_diff["introduced"]) == 2

    # The fixed finding comes back: open again (seen before), first seen when it first was.
    third = upload(client, ws, owner, result(moved, later, shell))
    assert third["counts"]["status"] == {"open": 3}

    current = by_fingerprint(
        ok(client.get(f"{audit(ws)}/findings", headers=owner, params={"target": TARGET}))["items"]
    )
    assert {fp: f["status"] for fp, f in current.items()} == {
        key.fingerprint: "open",
        shell.fingerprint: "open",
        later.fingerprint: "open",
    }
    assert current[key.fingerprint]["last_run_id"] == third["id"]
    assert current[key.fingerprint]["preview"] == key.preview

    stored = session.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "audit.run.store", AuditEvent.workspace_id == ws
        )
    ).all()
    assert [event.target_id for event in stored] == [first["id"], second["id"], third["id"]]
    assert stored[0].actor_id == tenant.owner.id


def test_failed_checks_are_findings_and_targets_keep_separate_histories(
    client: httpx.Client, tenant: factories.Tenant, owner: dict[str, str]
) -> None:
    ws = tenant.workspace.id
    checks = [
        check("GH-TOK-001", CheckStatus.FAIL),
        check("GH-TOK-002", CheckStatus.PASS),
        check("GH-OPS-001", CheckStatus.MANUAL),
    ]
    run = upload(client, ws, owner, result(target="control-plane", checks=checks))
    assert run["counts"]["checks"] == {"fail": 1, "pass": 1, "manual": 1}
    [failed] = _findings(client, ws, owner, run["id"])
    assert (failed["tool"], failed["rule"], failed["status"]) == ("checklist", "GH-TOK-001", "new")

    # Another target: its first run, so everything in it is new, whatever the other target has.
    other = upload(client, ws, owner, result(target="elsewhere", checks=checks))
    assert other["counts"]["status"] == {"new": 1}
    only_other = ok(client.get(f"{audit(ws)}/runs", params={"target": "elsewhere"}, headers=owner))
    assert [r["id"] for r in only_other["items"]] == [other["id"]]


def test_runs_page_newest_first(
    client: httpx.Client, tenant: factories.Tenant, owner: dict[str, str]
) -> None:
    ws = tenant.workspace.id
    ids = [upload(client, ws, owner, result(code("a.py", n)))["id"] for n in range(3)]
    seen: list[str] = []
    cursor = None
    while True:
        page = ok(
            client.get(
                f"{audit(ws)}/runs",
                params={"limit": 2, **({"cursor": cursor} if cursor else {})},
                headers=owner,
            )
        )
        seen += [run["id"] for run in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == list(reversed(ids))
    one = ok(client.get(f"{audit(ws)}/runs/{ids[1]}", headers=owner))
    assert one["id"] == ids[1]
    missing = client.get(f"{audit(ws)}/runs/aud_00000000000000000000000000", headers=owner)
    assert missing.status_code == 404
    assert missing.json()["error"] == "not_found"


def test_an_import_with_a_raw_looking_preview_is_refused_whole(
    client: httpx.Client, tenant: factories.Tenant, owner: dict[str, str]
) -> None:
    ws = tenant.workspace.id
    raw_looking = "AKIA" + "Q" * 16  # no redaction mark: could be the key itself
    too_long = "AKIA…" + "Q" * 12  # marked, but long enough to matter
    for preview in (raw_looking, too_long):
        leaky = secret("app/settings.py", 3).model_copy(update={"preview": preview})
        body = result(code("ok.py", 1), leaky).model_dump(mode="json")
        refused = client.post(f"{audit(ws)}/runs/import", json=body, headers=owner)
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"] == "validation_error"
        assert "body.findings[1].preview" in refused.json()["detail"]
        assert preview not in refused.text
    assert ok(client.get(f"{audit(ws)}/runs", headers=owner))["items"] == []


@pytest.mark.parametrize("target", ["", "x" * 501])
def test_an_import_needs_a_target_that_fits(
    client: httpx.Client, tenant: factories.Tenant, owner: dict[str, str], target: str
) -> None:
    body = result(code("a.py", 1), target=target).model_dump(mode="json")
    refused = client.post(f"{audit(tenant.workspace.id)}/runs/import", json=body, headers=owner)
    assert refused.status_code == 422, refused.text
    assert refused.json()["fields"][0]["field"] == "body.target"


def test_file_suppressions_apply_on_store_and_on_read(
    client: httpx.Client, tenant: factories.Tenant, owner: dict[str, str]
) -> None:
    ws = tenant.workspace.id
    fixture = secret("tests/fixtures/keys.py", 2)
    run = result(
        fixture,
        suppressions=[
            Suppression(
                id="file:0",
                rule="AWS Access Key",
                path_glob="tests/**",
                justification="fixtures hold fake keys",
                approver="security team",
                created_at=datetime.now(UTC),
                expires_at=datetime.now(UTC) + timedelta(days=300),
            )
        ],
    )
    stored = upload(client, ws, owner, run)
    assert stored["counts"]["status"] == {"suppressed": 1}
    assert stored["counts"]["severity"] == {}
    [reported] = _findings(client, ws, owner, stored["id"])
    assert reported["suppression"]["id"] == "file:0"
    current = ok(client.get(f"{audit(ws)}/findings/{reported['id']}", headers=owner))
    assert current["status"] == "suppressed"
    assert current["suppression"]["justification"] == "fixtures hold fake keys"


@pytest.mark.parametrize(
    ("fmt", "media_type", "extension"),
    [
        ("json", "application/json", "json"),
        ("markdown", "text/markdown; charset=utf-8", "md"),
        ("html", "text/html; charset=utf-8", "html"),
        ("sarif", "application/sarif+json", "sarif"),
    ],
)
def test_reports_in_every_format_as_downloads(
    client: httpx.Client,
    tenant: factories.Tenant,
    owner: dict[str, str],
    fmt: str,
    media_type: str,
    extension: str,
) -> None:
    ws = tenant.workspace.id
    key = secret("app/settings.py", 12)
    upload(client, ws, owner, result(key, code("app/run.py", 4)))
    last = upload(client, ws, owner, result(key))
    response = client.get(
        f"{audit(ws)}/runs/{last['id']}/report", params={"format": fmt}, headers=owner
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == media_type
    assert response.headers["content-disposition"] == (
        f'attachment; filename="{last["id"]}.{extension}"'
    )
    if fmt == "json":
        report = Report.model_validate_json(response.text)
        assert report.run_id == last["id"]
        assert [point.run_id for point in report.trend][-1] == last["id"]
        assert [(p.new, p.open, p.fixed) for p in report.trend] == [(2, 2, 0), (0, 1, 1)]
        assert {f.status for f in report.findings} == {"open", "fixed"}
    elif fmt == "sarif":
        sarif = json.loads(response.text)
        assert sarif["version"] == "2.1.0"
    else:
        assert "app/settings.py" in response.text


def test_trends_count_each_run_oldest_first(
    client: httpx.Client, tenant: factories.Tenant, owner: dict[str, str]
) -> None:
    ws = tenant.workspace.id
    key, shell = secret("a.py", 1), code("b.py", 2, severity=Severity.LOW)
    runs = [
        upload(client, ws, owner, result(key, shell))["id"],
        upload(client, ws, owner, result(key))["id"],
        upload(client, ws, owner, result())["id"],  # nothing left: still a point
    ]
    upload(client, ws, owner, result(key, target="another"))
    points = ok(client.get(f"{audit(ws)}/trends", params={"target": TARGET}, headers=owner))
    assert [p["run_id"] for p in points] == runs
    assert [(p["new"], p["open"], p["fixed"]) for p in points] == [(2, 2, 0), (0, 1, 1), (0, 0, 1)]
    assert points[0]["by_severity"]["high"] == 1
    assert points[0]["by_severity"]["low"] == 1
    last_two = ok(client.get(f"{audit(ws)}/trends", params={"limit": 2}, headers=owner))
    assert len(last_two) == 2
    assert last_two[-1]["open"] == 1  # the other target's run, the newest


def test_a_viewer_may_not_read_and_another_workspace_sees_nothing(
    app: FastAPI,
    client: httpx.Client,
    session: Session,
    container: Container,
    tenant: factories.Tenant,
    owner: dict[str, str],
) -> None:
    ws = tenant.workspace.id
    run = upload(client, ws, owner, result(code("a.py", 1)))
    viewer = session_of(app, tenant.viewer)
    refused = client.get(f"{audit(ws)}/runs", headers=viewer)
    assert (refused.status_code, refused.json()["error"]) == (403, "scope_missing")
    other = factories.tenant(session, container, "bystander")
    session.commit()
    outsider = session_of(app, other.owner)
    hidden = client.get(f"{audit(other.workspace.id)}/runs/{run['id']}", headers=outsider)
    assert hidden.status_code == 404
    assert ok(client.get(f"{audit(other.workspace.id)}/runs", headers=outsider))["items"] == []


def test_a_run_larger_than_one_lookup_slice_keeps_every_history(
    client: httpx.Client, tenant: factories.Tenant, owner: dict[str, str]
) -> None:
    ws = tenant.workspace.id
    many = [code(f"gen/m{n}.py", 1, severity=Severity.LOW) for n in range(1_100)]
    assert upload(client, ws, owner, result(*many))["counts"]["status"] == {"new": 1_100}
    assert upload(client, ws, owner, result(*many))["counts"]["status"] == {"open": 1_100}


def test_a_large_run_fits_the_import_limit_but_not_other_routes(
    client: httpx.Client, tenant: factories.Tenant, owner: dict[str, str]
) -> None:
    """A repository's run is megabytes; the import route has its own limit, nothing else does."""
    ws = tenant.workspace.id
    many = [code(f"pkg/module_{index}.py", index + 1) for index in range(3_000)]
    body = result(*many).model_dump_json()
    assert len(body) > 1_048_576  # over the ordinary body limit
    stored = upload(client, ws, owner, result(*many))
    assert stored["counts"]["status"] == {"new": 3_000}
    padded = {"checklist": True, "paths": [], "padding": "x" * 1_100_000}
    refused = client.post(f"{audit(ws)}/runs", headers=owner, json=padded)
    assert refused.status_code == 413
    assert refused.json()["error"] == "body_too_large"
