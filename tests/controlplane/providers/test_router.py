"""Provider credentials through the live HTTP API: write-only, tenant-bound, audited safely."""

import hashlib
import json
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from controlplane.audit_events.models import AuditEvent
from controlplane.auth.scopes import Role
from controlplane.container import Container
from controlplane.errors import ConfigurationError
from controlplane.providers.models import ProviderCredential
from controlplane.providers.service import master_keyring, resolve_credential
from tests import factories
from tests.controlplane.providers.helpers import (
    ANTHROPIC_KEY,
    OPENAI_KEY,
    OTHER_KEY,
    bearer,
    login,
    ok,
    providers,
    put,
)

READ_FIELDS = {
    "provider",
    "agent_id",
    "base_url",
    "fingerprint",
    "last4",
    "key_id",
    "created_at",
    "updated_at",
}


def test_a_key_goes_in_and_never_comes_out(
    client: httpx.Client, session: Session, container: Container
) -> None:
    tenant = factories.tenant(session, container, "acme")
    session.commit()
    owner = login(client, tenant.owner.username)
    ws = tenant.workspace.id

    written = put(client, owner, ws, "openai", OPENAI_KEY, base_url="https://llm.example.com/v1")
    stored = ok(written)
    assert set(stored) == READ_FIELDS
    assert stored["provider"] == "openai"
    assert stored["agent_id"] is None
    assert stored["base_url"] == "https://llm.example.com/v1"
    assert stored["fingerprint"] == hashlib.sha256(OPENAI_KEY.encode()).hexdigest()[:16]
    assert stored["last4"] == "XYZ1"
    assert stored["key_id"] == master_keyring(container).active.id

    listed = client.get(providers(ws), headers=owner)
    one = client.get(providers(ws, "openai"), headers=owner)
    assert ok(listed) == {"items": [stored], "next_cursor": None}
    assert ok(one) == stored
    for response in (written, listed, one):
        assert OPENAI_KEY not in response.text

    # Replacing keeps the credential (and its creation time) and swaps the key.
    replaced = ok(put(client, owner, ws, "openai", OTHER_KEY))
    assert replaced["created_at"] == stored["created_at"]
    assert replaced["updated_at"] >= stored["updated_at"]
    assert replaced["base_url"] is None
    assert replaced["last4"] == "ABC2"
    resolved = resolve_credential(session, container, ws, None, "openai")
    assert resolved is not None
    assert resolved.api_key == OTHER_KEY
    assert OTHER_KEY not in repr(resolved)

    ok(client.delete(providers(ws, "openai"), headers=owner), 204)
    missing = client.get(providers(ws, "openai"), headers=owner)
    assert missing.status_code == 404
    assert missing.json()["detail"] == "provider credential not found"
    assert client.delete(providers(ws, "openai"), headers=owner).status_code == 404
    assert resolve_credential(session, container, ws, None, "openai") is None


def test_who_may_read_and_write(
    client: httpx.Client, session: Session, container: Container
) -> None:
    tenant = factories.tenant(session, container, "acme")
    operator = factories.user(session, container, "acme-operator")
    factories.member(session, tenant.workspace, operator, Role.OPERATOR)
    session.commit()
    ws = tenant.workspace.id
    ok(put(client, login(client, tenant.owner.username), ws, "openai", OPENAI_KEY))

    viewer = login(client, tenant.viewer.username)
    for response in (
        client.get(providers(ws), headers=viewer),
        client.get(providers(ws, "openai"), headers=viewer),
        put(client, viewer, ws, "openai", OTHER_KEY),
        client.delete(providers(ws, "openai"), headers=viewer),
    ):
        assert response.status_code == 403, response.text
        assert response.json()["error"] == "scope_missing"

    # An operator reads (to see which key is in use) but cannot replace or delete it.
    as_operator = login(client, operator.username)
    assert ok(client.get(providers(ws), headers=as_operator))["items"][0]["last4"] == "XYZ1"
    assert put(client, as_operator, ws, "openai", OTHER_KEY).status_code == 403
    assert client.delete(providers(ws, "openai"), headers=as_operator).status_code == 403


def test_other_tenants_see_nothing(
    client: httpx.Client, session: Session, container: Container
) -> None:
    a = factories.tenant(session, container, "alpha")
    b = factories.tenant(session, container, "bravo")
    session.commit()
    owner_a, owner_b = login(client, a.owner.username), login(client, b.owner.username)
    ok(put(client, owner_a, a.workspace.id, "openai", OPENAI_KEY, agent_id=a.agent.id))

    unknown_ws = "ws_01jzzzzzzzzzzzzzzzzzzzzzzz"
    for path in (providers(a.workspace.id), providers(a.workspace.id, "openai")):
        theirs = client.get(path, headers=owner_b)
        nobody = client.get(path.replace(a.workspace.id, unknown_ws), headers=owner_b)
        assert theirs.status_code == nobody.status_code == 404
        assert theirs.json()["detail"] == nobody.json()["detail"] == "workspace not found"
    assert put(client, owner_b, a.workspace.id, "openai", OTHER_KEY).status_code == 404

    # A's agent named under B's own workspace: the same 404 as an agent that does not exist.
    crossed = put(client, owner_b, b.workspace.id, "openai", OTHER_KEY, agent_id=a.agent.id)
    assert crossed.status_code == 404, crossed.text
    assert crossed.json()["detail"] == "agent not found"
    assert ok(client.get(providers(b.workspace.id), headers=owner_b))["items"] == []
    stored = session.scalars(select(ProviderCredential)).all()
    assert [(row.workspace_id, row.agent_id) for row in stored] == [(a.workspace.id, a.agent.id)]


@pytest.mark.parametrize(
    ("provider", "body", "field"),
    [
        ("mistral", {"api_key": OPENAI_KEY}, "path.provider"),
        ("openai", {"api_key": "sk-short"}, "body.api_key"),
        ("openai", {"api_key": OPENAI_KEY[:20] + "\r\nX-Evil: 1"}, "body.api_key"),
        ("openai", {"api_key": OPENAI_KEY, "base_url": "http://llm.example.com"}, "body.base_url"),
        (
            "openai",
            {"api_key": OPENAI_KEY, "base_url": "https://u:p@llm.example.com"},
            "body.base_url",
        ),
        ("openai", {"api_key": OPENAI_KEY, "base_url": "https://x.test/?key=1"}, "body.base_url"),
        ("openai", {"api_key": OPENAI_KEY, "base_url": "ftp://llm.example.com"}, "body.base_url"),
        ("openai", {"api_key": OPENAI_KEY, "scopes": ["x"]}, "body.scopes"),
    ],
)
def test_invalid_input_names_the_field_and_never_the_key(
    client: httpx.Client,
    session: Session,
    container: Container,
    provider: str,
    body: dict[str, Any],
    field: str,
) -> None:
    tenant = factories.tenant(session, container, "acme")
    session.commit()
    response = client.put(
        providers(tenant.workspace.id, provider),
        json=body,
        headers=login(client, tenant.owner.username),
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "validation_error"
    assert [problem["field"] for problem in response.json()["fields"]] == [field]
    assert body["api_key"] not in response.text
    assert session.scalars(select(ProviderCredential)).all() == []


def test_unknown_provider_on_reads_is_422(
    client: httpx.Client, session: Session, container: Container
) -> None:
    tenant = factories.tenant(session, container, "acme")
    session.commit()
    owner = login(client, tenant.owner.username)
    for method in ("GET", "DELETE"):
        response = client.request(method, providers(tenant.workspace.id, "mistral"), headers=owner)
        assert response.status_code == 422, response.text
        assert response.json()["fields"][0]["field"] == "path.provider"


def test_loopback_upstreams_may_use_plain_http(
    client: httpx.Client, session: Session, container: Container
) -> None:
    tenant = factories.tenant(session, container, "acme")
    session.commit()
    owner = login(client, tenant.owner.username)
    for url in ("http://127.0.0.1:8000", "http://localhost:9/v1", "http://[::1]:8080"):
        stored = ok(put(client, owner, tenant.workspace.id, "openai", OPENAI_KEY, base_url=url))
        assert stored["base_url"] == url


def test_an_agent_override_wins_over_the_workspace_default(
    client: httpx.Client, session: Session, container: Container
) -> None:
    tenant = factories.tenant(session, container, "acme")
    other_agent = factories.agent(session, tenant.workspace, "acme-other")
    session.commit()
    owner = login(client, tenant.owner.username)
    ws, agent = tenant.workspace.id, tenant.agent.id
    ok(put(client, owner, ws, "openai", OPENAI_KEY))
    override = ok(
        put(client, owner, ws, "openai", OTHER_KEY, agent_id=agent, base_url="https://eu.test")
    )
    assert override["agent_id"] == agent
    ok(put(client, owner, ws, "anthropic", ANTHROPIC_KEY))

    def key_for(agent_id: str | None, provider: str = "openai") -> tuple[str, str | None] | None:
        resolved = resolve_credential(session, container, ws, agent_id, provider)
        return None if resolved is None else (resolved.api_key, resolved.agent_id)

    assert key_for(agent) == (OTHER_KEY, agent)
    assert key_for(other_agent.id) == (OPENAI_KEY, None)
    assert key_for(None) == (OPENAI_KEY, None)
    assert key_for(agent, "anthropic") == (ANTHROPIC_KEY, None)
    assert key_for(agent, "openrouter") is None
    resolved = resolve_credential(session, container, ws, agent, "openai")
    assert resolved is not None
    assert resolved.base_url == "https://eu.test"

    # Reading one names the override by agent; without it, the workspace default answers.
    one = ok(client.get(providers(ws, "openai"), params={"agent_id": agent}, headers=owner))
    assert one == override
    assert ok(client.get(providers(ws, "openai"), headers=owner))["last4"] == "XYZ1"
    assert len(ok(client.get(providers(ws), headers=owner))["items"]) == 3

    ok(client.delete(providers(ws, "openai"), params={"agent_id": agent}, headers=owner), 204)
    assert key_for(agent) == (OPENAI_KEY, None)
    ok(client.delete(providers(ws, "openai"), headers=owner), 204)
    assert key_for(agent) is None


def test_an_agent_bound_token_manages_its_own_agent_only(
    client: httpx.Client, session: Session, container: Container
) -> None:
    tenant = factories.tenant(session, container, "acme")
    other_agent = factories.agent(session, tenant.workspace, "acme-other")
    _, bound = factories.token(
        session,
        container,
        tenant.workspace,
        tenant.owner,
        ["providers:read", "providers:write"],
        agent_id=tenant.agent.id,
    )
    session.commit()
    owner = login(client, tenant.owner.username)
    ws = tenant.workspace.id
    ok(put(client, owner, ws, "openai", OPENAI_KEY))
    ok(put(client, owner, ws, "openai", OPENAI_KEY, agent_id=other_agent.id))

    token = bearer(bound)
    refused = put(client, token, ws, "openai", OTHER_KEY)
    assert refused.status_code == 403
    assert refused.json()["error"] == "agent_bound"
    assert put(client, token, ws, "openai", OTHER_KEY, agent_id=other_agent.id).status_code == 404
    mine = ok(put(client, token, ws, "openai", OTHER_KEY, agent_id=tenant.agent.id))

    assert ok(client.get(providers(ws), headers=token))["items"] == [mine]
    default = client.get(providers(ws, "openai"), headers=token)
    assert default.status_code == 404
    assert default.json()["detail"] == "provider credential not found"
    assert client.delete(providers(ws, "openai"), headers=token).status_code == 404
    ok(
        client.delete(providers(ws, "openai"), params={"agent_id": tenant.agent.id}, headers=token),
        204,
    )


def test_lists_page_by_cursor(client: httpx.Client, session: Session, container: Container) -> None:
    tenant = factories.tenant(session, container, "acme")
    session.commit()
    owner = login(client, tenant.owner.username)
    for provider in ("openai", "anthropic", "openrouter"):
        ok(put(client, owner, tenant.workspace.id, provider, OPENAI_KEY))
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = ok(client.get(providers(tenant.workspace.id), params=params, headers=owner))
        seen += [item["provider"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["openai", "anthropic", "openrouter"]


def test_audit_events_name_the_key_but_never_hold_it(
    client: httpx.Client, session: Session, container: Container
) -> None:
    tenant = factories.tenant(session, container, "acme")
    session.commit()
    owner = login(client, tenant.owner.username)
    ws = tenant.workspace.id
    stored = ok(put(client, owner, ws, "openai", OPENAI_KEY, agent_id=tenant.agent.id))
    ok(put(client, owner, ws, "openai", OTHER_KEY, agent_id=tenant.agent.id))
    ok(
        client.delete(providers(ws, "openai"), params={"agent_id": tenant.agent.id}, headers=owner),
        204,
    )

    events = session.scalars(
        select(AuditEvent).where(AuditEvent.action.like("provider.%")).order_by(AuditEvent.id)
    ).all()
    assert [(event.action, event.details.get("replaced")) for event in events] == [
        ("provider.set", False),
        ("provider.set", True),
        ("provider.delete", None),
    ]
    first = events[0]
    assert first.workspace_id == ws
    assert first.actor_id == tenant.owner.id
    assert first.details["fingerprint"] == stored["fingerprint"]
    assert first.details["last4"] == "XYZ1"
    assert first.details["agent_id"] == tenant.agent.id
    assert first.details["provider"] == "openai"
    recorded = json.dumps([[event.target_id, event.details] for event in events])
    assert OPENAI_KEY not in recorded
    assert OTHER_KEY not in recorded
    feed = client.get("/v1/audit-events", params={"workspace_id": ws}, headers=owner)
    assert OPENAI_KEY not in json.dumps(ok(feed))


def test_a_ciphertext_moved_to_another_row_does_not_decrypt(
    client: httpx.Client, session: Session, container: Container
) -> None:
    tenant = factories.tenant(session, container, "acme")
    session.commit()
    owner = login(client, tenant.owner.username)
    ws = tenant.workspace.id
    ok(put(client, owner, ws, "openai", OPENAI_KEY))
    ok(put(client, owner, ws, "anthropic", ANTHROPIC_KEY))
    openai = session.scalars(
        select(ProviderCredential).where(ProviderCredential.provider == "openai")
    ).one()
    # Copy the whole envelope of the OpenAI row onto the Anthropic row.
    session.execute(
        update(ProviderCredential)
        .where(ProviderCredential.provider == "anthropic")
        .values(
            key_id=openai.key_id,
            wrapped_key=openai.wrapped_key,
            key_nonce=openai.key_nonce,
            ciphertext=openai.ciphertext,
            nonce=openai.nonce,
        )
    )
    with pytest.raises(ConfigurationError, match="cannot be decrypted") as refused:
        resolve_credential(session, container, ws, None, "anthropic")
    assert OPENAI_KEY not in str(refused.value)
    assert ANTHROPIC_KEY not in str(refused.value)
