"""Suspension: revocation's reversible twin. It takes a token's live subtree out of service at
once, everywhere, and resuming brings back exactly what that one suspension took."""

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from controlplane.audit_events.models import AuditEvent
from controlplane.container import Container
from controlplane.context import Ctx
from controlplane.errors import Unauthenticated
from controlplane.identity.models import User
from controlplane.kit.clock import utcnow
from controlplane.tokens import repository
from controlplane.tokens import service as tokens
from controlplane.tokens.format import generate_accessor
from controlplane.tokens.models import Token
from tests import factories

WRITE = ["tokens:write", "agents:read"]
ANOMALY = "anomaly-detector"


def _session(container: Container, who: User) -> dict[str, str]:
    return {"Authorization": f"Bearer {container.session_tokens.issue(who.id)}"}


def _bearer(raw: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {raw}"}


def _issued(
    client: httpx.Client, workspace_id: str, headers: dict[str, str], **body: Any
) -> dict[str, Any]:
    response = client.post(f"/v1/workspaces/{workspace_id}/tokens", headers=headers, json=body)
    assert response.status_code == 201, response.text
    issued: dict[str, Any] = response.json()
    return issued


def _works(client: httpx.Client, raw: str) -> bool:
    status = client.get("/v1/me", headers=_bearer(raw)).status_code
    assert status in (200, 401)
    return status == 200


def _suspend(
    client: httpx.Client, accessor: str, headers: dict[str, str], reason: str = "investigating"
) -> httpx.Response:
    return client.post(f"/v1/tokens/{accessor}/suspend", headers=headers, json={"reason": reason})


def _resume(client: httpx.Client, accessor: str, headers: dict[str, str]) -> httpx.Response:
    return client.post(f"/v1/tokens/{accessor}/resume", headers=headers)


def _ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _events(session: Session, action: str) -> list[AuditEvent]:
    session.expire_all()
    return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)).all())


# --- the API -----------------------------------------------------------------------------


def test_suspending_a_parent_suspends_its_subtree_until_it_is_resumed(
    client: httpx.Client, session: Session, container: Container
) -> None:
    tenant = factories.tenant(session, container, "acme")
    session.commit()
    owner = _session(container, tenant.owner)
    ws = tenant.workspace.id
    root = _issued(client, ws, owner, scopes=WRITE)
    child = _issued(client, ws, _bearer(root["token"]), scopes=WRITE)
    grandchild = _issued(client, ws, _bearer(child["token"]), scopes=["agents:read"])
    unrelated = _issued(client, ws, owner, scopes=WRITE)
    family = [root, child, grandchild]
    assert all(_works(client, member["token"]) for member in family)

    suspended = _ok(_suspend(client, root["accessor"], owner))
    descendants = sorted([child["accessor"], grandchild["accessor"]])
    assert suspended == {
        "accessor": root["accessor"],
        "suspended": [root["accessor"], *descendants],
    }
    for member in family:
        assert not _works(client, member["token"]), member["accessor"]
        shown = _ok(client.get(f"/v1/tokens/{member['accessor']}", headers=owner))
        assert shown["suspended_at"] is not None
        assert (shown["suspended_by"], shown["suspension_reason"]) == (
            tenant.owner.id,
            "investigating",
        )
        assert shown["revoked_at"] is None
    assert _works(client, unrelated["token"])
    assert _works(client, tenant.agent_token)
    # Still listed as an active token: suspended is not revoked.
    listed = _ok(client.get(f"/v1/workspaces/{ws}/tokens", headers=owner))["items"]
    assert root["accessor"] in [item["accessor"] for item in listed]

    resumed = _ok(_resume(client, root["accessor"], owner))
    assert resumed == {"accessor": root["accessor"], "resumed": [root["accessor"], *descendants]}
    for member in family:
        assert _works(client, member["token"]), member["accessor"]
        shown = _ok(client.get(f"/v1/tokens/{member['accessor']}", headers=owner))
        assert (shown["suspended_at"], shown["suspended_by"], shown["suspension_reason"]) == (
            None,
            None,
            None,
        )

    [suspend_event] = _events(session, "token.suspend")
    assert (suspend_event.actor_type, suspend_event.actor_id) == ("user", tenant.owner.id)
    assert (suspend_event.target_id, suspend_event.workspace_id) == (root["accessor"], ws)
    assert suspend_event.details == {
        "reason": "investigating",
        "suspended": suspended["suspended"],
    }
    [resume_event] = _events(session, "token.resume")
    assert resume_event.target_id == root["accessor"]
    assert resume_event.details == {"resumed": resumed["resumed"]}


def test_resume_restores_exactly_what_that_suspension_suspended(
    client: httpx.Client, session: Session, container: Container
) -> None:
    tenant = factories.tenant(session, container, "acme")
    session.commit()
    owner = _session(container, tenant.owner)
    ws = tenant.workspace.id
    root = _issued(client, ws, owner, scopes=WRITE)
    child = _issued(client, ws, _bearer(root["token"]), scopes=WRITE)
    sibling = _issued(client, ws, _bearer(root["token"]), scopes=WRITE)
    grandchild = _issued(client, ws, _bearer(child["token"]), scopes=WRITE)

    # Suspended on its own first: the parent's suspension leaves that one's record alone.
    _ok(_suspend(client, grandchild["accessor"], owner, reason="its own"))
    suspended = _ok(_suspend(client, root["accessor"], owner))["suspended"]
    assert suspended == [root["accessor"], *sorted([child["accessor"], sibling["accessor"]])]
    # Revoked while suspended: resuming cannot bring it back.
    assert _ok(client.post(f"/v1/tokens/{sibling['accessor']}/revoke", headers=owner))[
        "revoked"
    ] == [sibling["accessor"]]

    resumed = _ok(_resume(client, root["accessor"], owner))["resumed"]
    assert resumed == [root["accessor"], child["accessor"]]
    assert _works(client, root["token"])
    assert _works(client, child["token"])
    assert not _works(client, sibling["token"])
    assert not _works(client, grandchild["token"])
    shown = _ok(client.get(f"/v1/tokens/{grandchild['accessor']}", headers=owner))
    assert shown["suspension_reason"] == "its own"

    assert _ok(_resume(client, grandchild["accessor"], owner))["resumed"] == [
        grandchild["accessor"]
    ]
    assert _works(client, grandchild["token"])


def test_what_cannot_be_suspended_or_resumed(
    client: httpx.Client, session: Session, container: Container
) -> None:
    tenant = factories.tenant(session, container, "acme")
    session.commit()
    owner = _session(container, tenant.owner)
    ws = tenant.workspace.id
    token = _issued(client, ws, owner, scopes=WRITE)
    accessor = token["accessor"]

    no_body = client.post(f"/v1/tokens/{accessor}/suspend", headers=owner)
    assert no_body.status_code == 422
    for reason in ("", "   ", "x" * 501):
        refused = _suspend(client, accessor, owner, reason=reason)
        assert refused.status_code == 422, reason
        assert refused.json()["fields"][0]["field"] == "body.reason"
    assert _ok(_suspend(client, accessor, owner, reason="x" * 500))["suspended"] == [accessor]

    again = _suspend(client, accessor, owner)
    assert (again.status_code, again.json()["error"]) == (409, "already_suspended")
    # A suspended token cannot parent new tokens.
    orphan = client.post(
        f"/v1/workspaces/{ws}/tokens",
        headers=owner,
        json={"scopes": ["agents:read"], "parent_accessor": accessor},
    )
    assert (orphan.status_code, orphan.json()["error"]) == (409, "parent_inactive")

    _ok(_resume(client, accessor, owner))
    not_suspended = _resume(client, accessor, owner)
    assert (not_suspended.status_code, not_suspended.json()["error"]) == (409, "not_suspended")

    _ok(client.post(f"/v1/tokens/{accessor}/revoke", headers=owner))
    revoked = _suspend(client, accessor, owner)
    assert (revoked.status_code, revoked.json()["error"]) == (409, "token_inactive")

    unknown = _suspend(client, generate_accessor(), owner)
    assert unknown.status_code == 404


def test_a_token_suspends_only_itself_and_its_descendants(
    client: httpx.Client, session: Session, container: Container
) -> None:
    tenant = factories.tenant(session, container, "acme")
    session.commit()
    owner = _session(container, tenant.owner)
    ws = tenant.workspace.id
    parent = _issued(client, ws, owner, scopes=WRITE)
    caller = _issued(client, ws, _bearer(parent["token"]), scopes=WRITE)
    sibling = _issued(client, ws, _bearer(parent["token"]), scopes=WRITE)
    mine = _issued(client, ws, _bearer(caller["token"]), scopes=WRITE)
    for target in (parent, sibling):
        refused = _suspend(client, target["accessor"], _bearer(caller["token"]))
        assert (refused.status_code, refused.json()["error"]) == (403, "not_descendant")
    suspended = _ok(_suspend(client, mine["accessor"], _bearer(caller["token"])))
    assert suspended["suspended"] == [mine["accessor"]]
    # The viewer can read tokens but not suspend them.
    viewer = _session(container, tenant.viewer)
    assert _suspend(client, sibling["accessor"], viewer).status_code == 403
    assert _resume(client, mine["accessor"], viewer).status_code == 403
    assert _ok(_resume(client, mine["accessor"], _bearer(caller["token"])))["resumed"] == [
        mine["accessor"]
    ]


# --- the cache -----------------------------------------------------------------------------


def test_suspension_and_resume_beat_a_cached_grant_and_bump_the_epoch(
    session: Session, container: Container
) -> None:
    tenant = factories.tenant(session, container, "acme")
    session.commit()
    verifier, raw = container.verifier, tenant.agent_token
    epoch = repository.read_epoch(session.connection())
    verifier.cache.observe_epoch(epoch)
    verifier.verify(raw, "127.0.0.1")
    assert verifier.cache.get(verifier.digest(raw)) is not None

    ctx = factories.user_ctx(session, container, tenant.owner)
    tokens.suspend(ctx, tenant.agent_token_accessor, "investigating")
    session.commit()
    # Other processes learn through the epoch; this one was cleared at commit.
    assert repository.read_epoch(session.connection()) == epoch + 1
    verifier.cache.observe_epoch(epoch)
    assert verifier.cache.size == 0
    with pytest.raises(Unauthenticated) as refused:
        verifier.verify(raw, "127.0.0.1")
    assert refused.value.reason == "suspended"

    tokens.resume(ctx, tenant.agent_token_accessor)
    session.commit()
    assert repository.read_epoch(session.connection()) == epoch + 2
    assert verifier.verify(raw, "127.0.0.1").accessor == tenant.agent_token_accessor


# --- anomaly detection's entry point -------------------------------------------------------


def test_automatic_suspension_needs_no_principal_and_is_audited_as_the_system(
    session: Session, container: Container
) -> None:
    tenant = factories.tenant(session, container, "acme")
    root, root_raw = factories.token(session, container, tenant.workspace, tenant.owner, WRITE)
    child, _ = factories.token(
        session, container, tenant.workspace, tenant.owner, WRITE, parent_accessor=root.accessor
    )
    session.commit()
    job = Ctx(session=session, app=container)  # a background job: nobody is calling

    reason = "anomaly alert anm_1: credential_stuffing"
    suspended = tokens.suspend_automatically(job, root.accessor, reason, actor_id=ANOMALY)
    session.commit()
    assert suspended == [root.accessor, child.accessor]
    with pytest.raises(Unauthenticated) as refused:
        container.verifier.verify(root_raw, "127.0.0.1")
    assert refused.value.reason == "suspended"
    assert refused.value.grant is not None
    assert refused.value.grant.accessor == root.accessor
    [event] = _events(session, "token.suspend")
    assert (event.actor_type, event.actor_id) == ("system", ANOMALY)
    assert (event.target_id, event.workspace_id) == (root.accessor, tenant.workspace.id)
    assert event.details == {"reason": reason, "suspended": [root.accessor, child.accessor]}
    session.expire_all()
    stored = session.scalars(select(Token).where(Token.id == child.id)).one()
    assert (stored.suspended_by, stored.suspension_reason) == (ANOMALY, reason)

    # Nothing to do: already suspended, unknown, revoked or expired. No event either.
    owner = factories.user_ctx(session, container, tenant.owner)
    gone, _ = factories.token(session, container, tenant.workspace, tenant.owner, WRITE)
    tokens.revoke(owner, gone.accessor, "done")
    old, _ = factories.token(session, container, tenant.workspace, tenant.owner, WRITE)
    session.execute(
        update(Token).where(Token.id == old.id).values(expires_at=utcnow() - timedelta(1))
    )
    session.commit()
    for accessor in (root.accessor, generate_accessor(), gone.accessor, old.accessor):
        assert tokens.suspend_automatically(job, accessor, reason, actor_id=ANOMALY) == []
    session.commit()
    assert len(_events(session, "token.suspend")) == 1

    # A person undoes it with the ordinary resume.
    assert tokens.resume(owner, root.accessor) == [root.accessor, child.accessor]
    session.commit()
    assert container.verifier.verify(root_raw, "127.0.0.1").accessor == root.accessor
