"""A run that introduces a high or critical finding is announced by a signed webhook, after its
transaction commits, naming findings by place only; a receiver that is down fails nothing."""

import json
import secrets

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy.orm import Session

from audits.model import Severity
from controlplane.container import Container
from tests import factories
from tests.controlplane.audit_runs.helpers import code, result, secret, session_of, upload
from tests.controlplane.audit_runs.receiver import receiving

SECRET = secrets.token_urlsafe(32)


@pytest.fixture
def tenant(session: Session, container: Container) -> factories.Tenant:
    made = factories.tenant(session, container, "announcer")
    session.commit()
    return made


def _announcing(app: FastAPI, container: Container, url: str) -> None:
    app.state.container = container.rebind(
        container.session_factory,
        audit_webhook_url=url,
        audit_webhook_secret=SecretStr(SECRET),
    )


def test_new_severe_findings_are_announced_once_signed(
    app: FastAPI, client: httpx.Client, container: Container, tenant: factories.Tenant
) -> None:
    ws = tenant.workspace.id
    key = secret("app/settings.py", 7, severity=Severity.CRITICAL)
    with receiving(SECRET.encode()) as receiver:
        _announcing(app, container, receiver.url)
        owner = session_of(app, tenant.owner)
        # Nothing high or critical is new: no announcement.
        upload(client, ws, owner, result(code("app/run.py", 3)))
        # Now a critical one is: exactly one announcement, for this run.
        run = upload(client, ws, owner, result(code("app/run.py", 3), key))
        # Seen again: open, not new, so no second announcement.
        upload(client, ws, owner, result(code("app/run.py", 3), key))
        [delivery] = receiver.wait_for(1)
        # A refused request must not be announced either (its transaction rolls back).
        leaky = key.model_copy(update={"preview": "not redacted at all"})
        refused = client.post(
            f"/v1/workspaces/{ws}/audit/runs/import",
            json=result(secret("b.py", 1, key="k9"), leaky).model_dump(mode="json"),
            headers=owner,
        )
        assert refused.status_code == 422
        # A last announcement marks the end: everything before it has arrived in order.
        last = upload(client, ws, owner, result(secret("z.py", 1, key="k2")))
        received = receiver.wait_for(2)
    assert len(received) == 2
    assert delivery.verified
    assert delivery.event == "audit.findings.new"
    body = json.loads(delivery.body)
    assert body["event"] == "audit.findings.new"
    data = body["data"]
    assert (data["run_id"], data["workspace_id"], data["new_high_or_critical"]) == (
        run["id"],
        ws,
        1,
    )
    assert data["findings"] == [
        {
            "fingerprint": key.fingerprint,
            "rule": key.rule,
            "severity": "critical",
            "path": "app/settings.py",
            "line": 7,
        }
    ]
    assert data["counts"]["status"] == {"new": 1, "open": 1}
    assert key.preview is not None
    assert key.preview not in delivery.body.decode()
    assert key.message not in delivery.body.decode()
    assert json.loads(received[1].body)["data"]["run_id"] == last["id"]


def test_a_receiver_that_is_down_does_not_fail_the_run(
    app: FastAPI, client: httpx.Client, container: Container, tenant: factories.Tenant
) -> None:
    ws = tenant.workspace.id
    # A closed port on loopback: every attempt is refused at once.
    _announcing(app, container, "http://127.0.0.1:9/hooks")
    owner = session_of(app, tenant.owner)
    stored = upload(client, ws, owner, result(secret("a.py", 1)))
    assert stored["counts"]["status"] == {"new": 1}
