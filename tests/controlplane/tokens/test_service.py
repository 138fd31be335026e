"""Token families: revocation trees, rotation with overlap; nobody mints more than they hold."""

import itertools
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from controlplane.auth.scopes import Role
from controlplane.container import Container
from controlplane.context import Ctx
from controlplane.errors import Unauthenticated
from controlplane.identity import service as identity
from controlplane.identity.models import User
from controlplane.kit.clock import utcnow
from controlplane.tokens import service as tokens
from controlplane.tokens.models import Token, TokenSecret
from controlplane.tokens.schemas import TokenCreate
from tests import factories

WRITE = ["tokens:write", "agents:read"]


def _session(container: Container, who: User) -> dict[str, str]:
    return {"Authorization": f"Bearer {container.session_tokens.issue(who.id)}"}


def _bearer(raw: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {raw}"}


def _issue(
    client: httpx.Client, workspace_id: str, headers: dict[str, str], **body: Any
) -> httpx.Response:
    return client.post(f"/v1/workspaces/{workspace_id}/tokens", headers=headers, json=body)


def _issued(
    client: httpx.Client, workspace_id: str, headers: dict[str, str], **body: Any
) -> dict[str, Any]:
    response = _issue(client, workspace_id, headers, **body)
    assert response.status_code == 201, response.text
    issued: dict[str, Any] = response.json()
    return issued


def _works(container: Container, client: httpx.Client, raw: str) -> bool:
    """Both views agree: the verifier and an authenticated request."""
    try:
        container.verifier.verify(raw, "127.0.0.1")
    except Unauthenticated:
        verified = False
    else:
        verified = True
    status = client.get("/v1/me", headers=_bearer(raw)).status_code
    assert status in (200, 401)
    assert verified == (status == 200), "the verifier and the API disagree"
    return verified


def _revoked_at(session: Session, accessor: str) -> datetime | None:
    session.expire_all()
    return session.scalars(select(Token.revoked_at).where(Token.accessor == accessor)).one()


def _error(response: httpx.Response) -> str:
    code: str = response.json()["error"]
    return code


# --- revocation trees ----------------------------------------------------------------------


@pytest.mark.parametrize("depth", [1, 2, 10])
def test_revoking_a_parent_revokes_every_descendant(
    client: httpx.Client, session: Session, container: Container, depth: int
) -> None:
    tenant = factories.tenant(session, container, "acme")
    session.commit()
    owner = _session(container, tenant.owner)
    root = _issued(client, tenant.workspace.id, owner, scopes=WRITE)
    chain = [root]
    for _ in range(depth):
        chain.append(
            _issued(client, tenant.workspace.id, _bearer(chain[-1]["token"]), scopes=WRITE)
        )
    for parent, child in itertools.pairwise(chain):
        assert child["parent_accessor"] == parent["accessor"]
        assert child["created_by"] == parent["accessor"]
    branch = _issued(client, tenant.workspace.id, _bearer(root["token"]), scopes=["agents:read"])
    unrelated = _issued(client, tenant.workspace.id, owner, scopes=WRITE)
    family = [*chain, branch]
    assert all(_works(container, client, member["token"]) for member in family)

    response = client.post(
        f"/v1/tokens/{root['accessor']}/revoke", headers=owner, json={"reason": "compromised"}
    )
    assert response.status_code == 200, response.text
    assert sorted(response.json()["revoked"]) == sorted(m["accessor"] for m in family)
    for member in family:
        assert not _works(container, client, member["token"]), member["accessor"]
        assert _revoked_at(session, member["accessor"]) is not None
    assert _works(container, client, unrelated["token"])
    assert _works(container, client, tenant.agent_token)
    # Revoking again revokes nothing more and is not an error.
    again = client.post(f"/v1/tokens/{root['accessor']}/revoke", headers=owner)
    assert again.status_code == 200
    assert again.json()["revoked"] == []


def test_revoking_a_middle_token_spares_its_ancestors(
    client: httpx.Client, session: Session, container: Container
) -> None:
    tenant = factories.tenant(session, container, "acme")
    session.commit()
    owner = _session(container, tenant.owner)
    chain = [_issued(client, tenant.workspace.id, owner, scopes=WRITE)]
    for _ in range(10):
        chain.append(
            _issued(client, tenant.workspace.id, _bearer(chain[-1]["token"]), scopes=WRITE)
        )
    middle = chain[5]
    response = client.post(f"/v1/tokens/{middle['accessor']}/revoke", headers=owner)
    assert response.status_code == 200, response.text
    assert sorted(response.json()["revoked"]) == sorted(m["accessor"] for m in chain[5:])
    for member in chain[:5]:
        assert _works(container, client, member["token"])
    for member in chain[5:]:
        assert not _works(container, client, member["token"])


def test_children_issued_by_a_token_principal_die_with_it(
    session: Session, container: Container
) -> None:
    tenant = factories.tenant(session, container, "acme")
    root, root_raw = factories.token(session, container, tenant.workspace, tenant.owner, WRITE)
    session.commit()
    level: tuple[Token, str] = (root, root_raw)
    descendants: list[tuple[Token, str]] = []
    for _ in range(3):
        grant = container.verifier.verify(level[1], "127.0.0.1")
        as_token = Ctx(
            session=session,
            app=container,
            principal=identity.principal_for_workspace_token(grant),
            client_ip="127.0.0.1",
            request_id="test",
        )
        child = tokens.issue(as_token, tenant.workspace.id, TokenCreate(scopes=WRITE))
        assert child[0].parent_id == level[0].id
        assert child[0].expires_at <= level[0].expires_at
        descendants.append(child)
        level = child
    session.commit()
    revoked = tokens.revoke(
        factories.user_ctx(session, container, tenant.owner), root.accessor, "test"
    )
    session.commit()
    assert sorted(revoked) == sorted([root.accessor, *(row.accessor for row, _ in descendants)])
    for _, raw in [(root, root_raw), *descendants]:
        with pytest.raises(Unauthenticated):
            container.verifier.verify(raw, "127.0.0.1")
    assert container.verifier.verify(tenant.agent_token, "127.0.0.1")


def _operator_family(
    client: httpx.Client, session: Session, container: Container
) -> dict[str, Any]:
    """`bob` (operator) creates a token and a child; the owner adds a grandchild under it."""
    tenant = factories.tenant(session, container, "acme")
    admin = factories.user(session, container, "root", is_admin=True)
    bob = factories.user(session, container, "bob")
    factories.member(session, tenant.workspace, bob, Role.OPERATOR)
    other = factories.workspace(session, "other", owner=tenant.owner)
    factories.member(session, other, bob, Role.OPERATOR)
    session.commit()
    bob_session = _session(container, bob)
    owner = _session(container, tenant.owner)
    bob_token = _issued(client, tenant.workspace.id, bob_session, scopes=WRITE)
    bob_child = _issued(client, tenant.workspace.id, _bearer(bob_token["token"]), scopes=WRITE)
    grandchild = _issued(
        client,
        tenant.workspace.id,
        owner,
        scopes=["agents:read"],
        parent_accessor=bob_child["accessor"],
    )
    bob_other = _issued(client, other.id, bob_session, scopes=WRITE)
    owner_token = _issued(client, tenant.workspace.id, owner, scopes=WRITE)
    return {
        "tenant": tenant,
        "admin": admin,
        "bob": bob,
        "other": other,
        "bob_session": bob_session,
        "owner": owner,
        "in_workspace": [bob_token, bob_child, grandchild],
        "bob_other": bob_other,
        "owner_token": owner_token,
    }


def test_disabling_a_user_revokes_the_tokens_they_created(
    client: httpx.Client, session: Session, container: Container
) -> None:
    family = _operator_family(client, session, container)
    doomed = [*family["in_workspace"], family["bob_other"]]
    assert all(_works(container, client, t["token"]) for t in doomed)

    response = client.post(
        f"/v1/users/{family['bob'].id}/disable", headers=_session(container, family["admin"])
    )
    assert response.status_code == 200, response.text
    for token in doomed:
        assert not _works(container, client, token["token"]), token["accessor"]
    assert client.get("/v1/me", headers=family["bob_session"]).status_code == 401
    assert _works(container, client, family["owner_token"]["token"])
    assert _works(container, client, family["tenant"].agent_token)


def test_removing_a_membership_revokes_the_tokens_created_in_that_workspace(
    client: httpx.Client, session: Session, container: Container
) -> None:
    family = _operator_family(client, session, container)
    tenant = family["tenant"]
    response = client.delete(
        f"/v1/workspaces/{tenant.workspace.id}/members/{family['bob'].id}", headers=family["owner"]
    )
    assert response.status_code == 204, response.text
    for token in family["in_workspace"]:
        assert not _works(container, client, token["token"]), token["accessor"]
    # Bob keeps what he created where he is still a member; the owner's tokens are untouched.
    assert _works(container, client, family["bob_other"]["token"])
    assert _works(container, client, family["owner_token"]["token"])
    assert _works(container, client, tenant.agent_token)


# --- rotation ------------------------------------------------------------------------------


def _secret_valid_until(session: Session, container: Container, raw: str) -> datetime | None:
    session.expire_all()
    digest = container.verifier.digest(raw)
    return session.scalars(
        select(TokenSecret.valid_until).where(TokenSecret.secret_hmac == digest)
    ).one()


def _rotate(
    client: httpx.Client, headers: dict[str, str], accessor: str, **body: Any
) -> httpx.Response:
    return client.post(f"/v1/tokens/{accessor}/rotate", headers=headers, json=body or None)


def test_rotation_keeps_the_old_secret_only_until_the_overlap_ends(
    client: httpx.Client, session: Session, container: Container
) -> None:
    tenant = factories.tenant(session, container, "acme")
    session.commit()
    owner = _session(container, tenant.owner)
    old = tenant.agent_token
    before = utcnow()
    response = _rotate(client, owner, tenant.agent_token_accessor, overlap_seconds=3600)
    after = utcnow()
    assert response.status_code == 200, response.text
    new = response.json()["token"]
    assert new != old
    assert response.json()["accessor"] == tenant.agent_token_accessor
    assert _works(container, client, old)
    assert _works(container, client, new)
    valid_until = _secret_valid_until(session, container, old)
    assert valid_until is not None
    assert before + timedelta(seconds=3600) <= valid_until <= after + timedelta(seconds=3600)
    assert _secret_valid_until(session, container, new) is None

    # The overlap ends.
    session.execute(
        update(TokenSecret)
        .where(TokenSecret.secret_hmac == container.verifier.digest(old))
        .values(valid_until=utcnow() - timedelta(seconds=1))
    )
    session.commit()
    assert not _works(container, client, old)
    assert _works(container, client, new)


def test_rotation_overlap_never_outlives_the_token(
    client: httpx.Client, session: Session, container: Container
) -> None:
    tenant = factories.tenant(session, container, "acme")
    row, raw = factories.token(
        session, container, tenant.workspace, tenant.owner, ["agents:read"], ttl_seconds=120
    )
    session.commit()
    response = _rotate(
        client, _session(container, tenant.owner), row.accessor, overlap_seconds=3600
    )
    assert response.status_code == 200, response.text
    assert _secret_valid_until(session, container, raw) == row.expires_at


def test_rotation_without_overlap_kills_the_old_secret_at_once(
    client: httpx.Client, session: Session, container: Container
) -> None:
    tenant = factories.tenant(session, container, "acme")
    session.commit()
    response = _rotate(
        client, _session(container, tenant.owner), tenant.agent_token_accessor, overlap_seconds=0
    )
    assert response.status_code == 200, response.text
    assert not _works(container, client, tenant.agent_token)
    assert _works(container, client, response.json()["token"])


def test_default_rotation_overlap_comes_from_settings(
    client: httpx.Client, session: Session, container: Container
) -> None:
    tenant = factories.tenant(session, container, "acme")
    session.commit()
    before = utcnow()
    response = _rotate(client, _session(container, tenant.owner), tenant.agent_token_accessor)
    assert response.status_code == 200, response.text
    overlap = timedelta(seconds=container.settings.token_rotation_overlap_seconds)
    valid_until = _secret_valid_until(session, container, tenant.agent_token)
    assert valid_until is not None
    assert before + overlap <= valid_until <= utcnow() + overlap
    assert _works(container, client, tenant.agent_token)


def test_a_revoked_or_expired_token_cannot_be_rotated(
    client: httpx.Client, session: Session, container: Container
) -> None:
    tenant = factories.tenant(session, container, "acme")
    expiring, _ = factories.token(
        session, container, tenant.workspace, tenant.owner, ["agents:read"], ttl_seconds=60
    )
    session.commit()
    owner = _session(container, tenant.owner)
    revoked = client.post(f"/v1/tokens/{tenant.agent_token_accessor}/revoke", headers=owner)
    assert revoked.status_code == 200
    response = _rotate(client, owner, tenant.agent_token_accessor, overlap_seconds=0)
    assert response.status_code == 409, response.text
    assert _error(response) == "token_inactive"
    assert "token" not in response.json()

    session.execute(
        update(Token)
        .where(Token.id == expiring.id)
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    session.commit()
    response = _rotate(client, owner, expiring.accessor)
    assert response.status_code == 409, response.text
    assert _error(response) == "token_inactive"


def test_rotation_cannot_hand_out_scopes_the_caller_lacks(
    client: httpx.Client, session: Session, container: Container
) -> None:
    """Rotating returns a working secret: it is issuance, and must obey the same ceiling."""
    tenant = factories.tenant(session, container, "acme")
    operator = factories.user(session, container, "op")
    factories.member(session, tenant.workspace, operator, Role.OPERATOR)
    strong, strong_raw = factories.token(
        session,
        container,
        tenant.workspace,
        tenant.owner,
        ["members:write", "audit:run", "tokens:write"],
    )
    within, _ = factories.token(
        session, container, tenant.workspace, tenant.owner, ["agents:read", "tokens:read"]
    )
    session.commit()
    op = _session(container, operator)
    response = _rotate(client, op, strong.accessor, overlap_seconds=0)
    assert response.status_code == 403, response.text
    assert _error(response) == "scope_escalation"
    assert "token" not in response.json()
    assert _works(container, client, strong_raw), "a refused rotation must change nothing"
    # The control: a token within the operator's own scopes can be rotated by the operator.
    assert _rotate(client, op, within.accessor).status_code == 200


def test_a_token_cannot_rotate_its_parent_or_siblings(
    client: httpx.Client, session: Session, container: Container
) -> None:
    tenant = factories.tenant(session, container, "acme")
    session.commit()
    owner = _session(container, tenant.owner)
    parent = _issued(client, tenant.workspace.id, owner, scopes=WRITE)
    child = _issued(
        client, tenant.workspace.id, _bearer(parent["token"]), scopes=WRITE, ttl_seconds=600
    )
    sibling = _issued(client, tenant.workspace.id, owner, scopes=WRITE)
    for target in (parent, sibling):
        response = _rotate(client, _bearer(child["token"]), target["accessor"])
        assert response.status_code == 403, response.text
        assert "token" not in response.json()
        assert _works(container, client, target["token"])
    # Its own secret, and its descendants', it may rotate.
    grandchild = _issued(client, tenant.workspace.id, _bearer(child["token"]), scopes=WRITE)
    assert _rotate(client, _bearer(child["token"]), grandchild["accessor"]).status_code == 200
    assert _rotate(client, _bearer(child["token"]), child["accessor"]).status_code == 200


def test_an_admin_cannot_rotate_another_users_personal_token(
    session: Session, container: Container, client: httpx.Client
) -> None:
    alice = factories.user(session, container, "alice")
    admin = factories.user(session, container, "root", is_admin=True)
    personal, raw = tokens.issue_personal_token(
        factories.user_ctx(session, container, alice), alice, "alice's token"
    )
    session.commit()
    response = _rotate(client, _session(container, admin), personal.accessor)
    assert response.status_code in (403, 404), response.text
    assert "token" not in response.json()
    assert _works(container, client, raw)
    own = _rotate(client, _session(container, alice), personal.accessor, overlap_seconds=0)
    assert own.status_code == 200, own.text


# --- escalation ------------------------------------------------------------------------------


def test_child_with_more_scopes_than_its_parent_is_refused(
    client: httpx.Client, session: Session, container: Container
) -> None:
    tenant = factories.tenant(session, container, "acme")
    session.commit()
    owner = _session(container, tenant.owner)
    parent = _issued(client, tenant.workspace.id, owner, scopes=WRITE)
    as_parent = _bearer(parent["token"])
    # The token as the creator.
    response = _issue(client, tenant.workspace.id, as_parent, scopes=[*WRITE, "agents:write"])
    assert response.status_code == 403, response.text
    assert _error(response) == "scope_escalation"
    # A user (who holds agents:write) naming the parent explicitly.
    response = _issue(
        client,
        tenant.workspace.id,
        owner,
        scopes=["agents:write"],
        parent_accessor=parent["accessor"],
    )
    assert response.status_code == 403, response.text
    assert _error(response) == "scope_escalation"
    # The control: a subset is fine.
    assert _issue(client, tenant.workspace.id, as_parent, scopes=["agents:read"]).status_code == 201


@pytest.mark.parametrize(
    ("role", "scopes", "code"),
    [
        (Role.VIEWER, ["tokens:write"], "scope_missing"),
        (Role.VIEWER, ["agents:read"], "scope_missing"),
        (Role.OPERATOR, ["audit:run"], "scope_escalation"),
        (Role.OPERATOR, ["agents:read", "members:write"], "scope_escalation"),
        (Role.SECURITY, ["agents:write"], "scope_escalation"),
        (Role.SUPPORT, ["sla:read"], "scope_missing"),
    ],
)
def test_nobody_mints_more_than_they_hold(
    client: httpx.Client,
    session: Session,
    container: Container,
    role: Role,
    scopes: list[str],
    code: str,
) -> None:
    tenant = factories.tenant(session, container, "acme")
    who = factories.user(session, container, "who")
    factories.member(session, tenant.workspace, who, role)
    session.commit()
    response = _issue(client, tenant.workspace.id, _session(container, who), scopes=scopes)
    assert response.status_code == 403, response.text
    assert _error(response) == code
    assert "token" not in response.json()


def test_operator_and_security_can_mint_within_their_roles(
    client: httpx.Client, session: Session, container: Container
) -> None:
    tenant = factories.tenant(session, container, "acme")
    operator = factories.user(session, container, "op")
    security = factories.user(session, container, "sec")
    factories.member(session, tenant.workspace, operator, Role.OPERATOR)
    factories.member(session, tenant.workspace, security, Role.SECURITY)
    session.commit()
    assert (
        _issue(
            client,
            tenant.workspace.id,
            _session(container, operator),
            scopes=["agents:write", "tokens:write"],
        ).status_code
        == 201
    )
    assert (
        _issue(
            client, tenant.workspace.id, _session(container, security), scopes=["audit:run"]
        ).status_code
        == 201
    )


def test_a_token_cannot_mint_in_another_workspace(
    client: httpx.Client, session: Session, container: Container
) -> None:
    tenant = factories.tenant(session, container, "acme")
    other = factories.tenant(session, container, "globex")
    session.commit()
    parent = _issued(client, tenant.workspace.id, _session(container, tenant.owner), scopes=WRITE)
    response = _issue(client, other.workspace.id, _bearer(parent["token"]), scopes=["agents:read"])
    assert response.status_code == 404, response.text


def test_child_cannot_outlive_its_parent(
    client: httpx.Client, session: Session, container: Container
) -> None:
    tenant = factories.tenant(session, container, "acme")
    session.commit()
    owner = _session(container, tenant.owner)
    parent = _issued(client, tenant.workspace.id, owner, scopes=WRITE, ttl_seconds=3600)
    response = _issue(
        client, tenant.workspace.id, _bearer(parent["token"]), scopes=WRITE, ttl_seconds=7200
    )
    assert response.status_code == 403, response.text
    assert _error(response) == "ttl_exceeds_parent"
    response = _issue(
        client,
        tenant.workspace.id,
        owner,
        scopes=WRITE,
        ttl_seconds=7200,
        parent_accessor=parent["accessor"],
    )
    assert response.status_code == 403, response.text
    assert _error(response) == "ttl_exceeds_parent"
    # Without a ttl, the child is capped at its parent's expiry instead.
    child = _issued(client, tenant.workspace.id, _bearer(parent["token"]), scopes=WRITE)
    assert datetime.fromisoformat(child["expires_at"]) <= datetime.fromisoformat(
        parent["expires_at"]
    )


def test_child_of_an_agent_bound_token_stays_bound_to_that_agent(
    client: httpx.Client, session: Session, container: Container
) -> None:
    tenant = factories.tenant(session, container, "acme")
    other_agent = factories.agent(session, tenant.workspace, "other-agent")
    session.commit()
    owner = _session(container, tenant.owner)
    bound = _issued(client, tenant.workspace.id, owner, scopes=WRITE, agent_id=tenant.agent.id)
    # A user naming the bound parent, for another agent or for none.
    for agent_id in (other_agent.id, None):
        response = _issue(
            client,
            tenant.workspace.id,
            owner,
            scopes=["agents:read"],
            agent_id=agent_id,
            parent_accessor=bound["accessor"],
        )
        assert response.status_code == 403, response.text
        assert _error(response) == "agent_bound"
    # The bound token itself, unbound child: 403; another agent: that agent is invisible to it.
    as_bound = _bearer(bound["token"])
    response = _issue(client, tenant.workspace.id, as_bound, scopes=["agents:read"])
    assert response.status_code == 403, response.text
    assert _error(response) == "agent_bound"
    response = _issue(
        client, tenant.workspace.id, as_bound, scopes=["agents:read"], agent_id=other_agent.id
    )
    assert response.status_code in (403, 404), response.text
    assert "token" not in response.json()
    # The control: same agent is fine.
    child = _issued(
        client, tenant.workspace.id, as_bound, scopes=["agents:read"], agent_id=tenant.agent.id
    )
    assert child["agent_id"] == tenant.agent.id


def test_an_agent_bound_token_cannot_rotate_an_unbound_token(
    client: httpx.Client, session: Session, container: Container
) -> None:
    tenant = factories.tenant(session, container, "acme")
    session.commit()
    owner = _session(container, tenant.owner)
    bound = _issued(client, tenant.workspace.id, owner, scopes=WRITE, agent_id=tenant.agent.id)
    unbound = _issued(client, tenant.workspace.id, owner, scopes=["agents:read"])
    response = _rotate(client, _bearer(bound["token"]), unbound["accessor"])
    assert response.status_code in (403, 404), response.text
    assert "token" not in response.json()


def test_an_agent_bound_token_sees_only_its_agents_tokens(
    client: httpx.Client, session: Session, container: Container
) -> None:
    tenant = factories.tenant(session, container, "acme")
    session.commit()
    owner = _session(container, tenant.owner)
    bound = _issued(
        client, tenant.workspace.id, owner, scopes=["tokens:read", *WRITE], agent_id=tenant.agent.id
    )
    unbound = _issued(client, tenant.workspace.id, owner, scopes=["agents:read"])
    for path in (f"/v1/tokens/{unbound['accessor']}", f"/v1/tokens/{unbound['accessor']}/revoke"):
        method = client.get if path.endswith(unbound["accessor"]) else client.post
        response = method(path, headers=_bearer(bound["token"]))
        assert response.status_code == 404, response.text
    assert _works(container, client, unbound["token"])
    # Its own token stays visible to it.
    own = client.get(f"/v1/tokens/{bound['accessor']}", headers=_bearer(bound["token"]))
    assert own.status_code == 200, own.text


def test_a_token_cannot_revoke_its_parent_or_siblings(
    client: httpx.Client, session: Session, container: Container
) -> None:
    tenant = factories.tenant(session, container, "acme")
    session.commit()
    owner = _session(container, tenant.owner)
    parent = _issued(client, tenant.workspace.id, owner, scopes=WRITE)
    child = _issued(client, tenant.workspace.id, _bearer(parent["token"]), scopes=WRITE)
    sibling = _issued(client, tenant.workspace.id, owner, scopes=WRITE)
    for target in (parent, sibling):
        response = client.post(
            f"/v1/tokens/{target['accessor']}/revoke", headers=_bearer(child["token"])
        )
        assert response.status_code == 403, response.text
        assert _error(response) == "not_descendant"
        assert _works(container, client, target["token"])
    # A person with tokens:write (incident response) may revoke any token in the workspace.
    assert client.post(f"/v1/tokens/{sibling['accessor']}/revoke", headers=owner).status_code == 200
    assert not _works(container, client, sibling["token"])


@pytest.mark.parametrize("scope", ["users:write", "workspaces:create", "metrics:read"])
def test_instance_scopes_cannot_go_on_a_workspace_token(
    client: httpx.Client, session: Session, container: Container, scope: str
) -> None:
    admin = factories.user(session, container, "root", is_admin=True)
    workspace = factories.workspace(session, "acme", owner=admin)
    session.commit()
    response = _issue(
        client, workspace.id, _session(container, admin), scopes=["agents:read", scope]
    )
    assert response.status_code == 403, response.text
    assert _error(response) == "scope_escalation"


def test_child_networks_must_lie_within_the_parents(
    client: httpx.Client, session: Session, container: Container
) -> None:
    tenant = factories.tenant(session, container, "acme")
    session.commit()
    owner = _session(container, tenant.owner)
    parent = _issued(client, tenant.workspace.id, owner, scopes=WRITE, cidrs=["127.0.0.0/8"])
    as_parent = _bearer(parent["token"])
    response = _issue(
        client, tenant.workspace.id, as_parent, scopes=["agents:read"], cidrs=["0.0.0.0/0"]
    )
    assert response.status_code == 403, response.text
    assert _error(response) == "cidr_escalation"
    inherited = _issued(client, tenant.workspace.id, as_parent, scopes=["agents:read"])
    assert inherited["cidrs"] == ["127.0.0.0/8"]


def test_ttl_above_the_maximum_is_a_validation_error_naming_the_field(
    client: httpx.Client, session: Session, container: Container
) -> None:
    tenant = factories.tenant(session, container, "acme")
    session.commit()
    maximum = container.settings.token_max_ttl_seconds
    owner = _session(container, tenant.owner)
    response = _issue(
        client, tenant.workspace.id, owner, scopes=["agents:read"], ttl_seconds=maximum + 1
    )
    assert response.status_code == 422, response.text
    assert _error(response) == "validation_error"
    assert [f["field"] for f in response.json()["fields"]] == ["body.ttl_seconds"]
    assert "ttl_seconds" in response.json()["detail"]
    assert (
        _issue(
            client, tenant.workspace.id, owner, scopes=["agents:read"], ttl_seconds=maximum
        ).status_code
        == 201
    )


def test_a_workspace_token_cannot_reach_its_creators_personal_token(
    client: httpx.Client, session: Session, container: Container
) -> None:
    """A personal token acts as its user with every scope; a workspace token must not get one."""
    tenant = factories.tenant(session, container, "acme")
    personal, raw = tokens.issue_personal_token(
        factories.user_ctx(session, container, tenant.owner), tenant.owner, "owner's own"
    )
    _, writer_raw = factories.token(session, container, tenant.workspace, tenant.owner, WRITE)
    session.commit()
    for credential in (tenant.agent_token, writer_raw):
        as_token = _bearer(credential)
        rotated = _rotate(client, as_token, personal.accessor, overlap_seconds=0)
        assert rotated.status_code == 404, rotated.text
        assert "token" not in rotated.json()
        assert client.get(f"/v1/tokens/{personal.accessor}", headers=as_token).status_code == 404
        revoked = client.post(f"/v1/tokens/{personal.accessor}/revoke", headers=as_token)
        assert revoked.status_code == 404, revoked.text
    assert _works(container, client, raw)
    # The owner, acting as themselves, still manages it.
    owner = _session(container, tenant.owner)
    assert client.get(f"/v1/tokens/{personal.accessor}", headers=owner).status_code == 200
