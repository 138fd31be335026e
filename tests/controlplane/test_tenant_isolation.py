"""Cross-tenant matrix: every route by six callers, each cell on a fresh pair of tenants.

Tenant A is the target. Its ids fill every path parameter; the callers are A's owner and viewer
(session JWTs), B's owner (session JWT), A's and B's agent tokens, and nobody. For every cell:
- the status (and error code) is exactly the one in the table below;
- B and anonymous callers never get a 2xx on anything that names A's resources, and no response
  to them contains any of A's identifiers or names;
- whatever B gets for A's ids, it gets byte-for-byte (apart from request_id) for random ids, so
  "exists in another tenant" and "does not exist" cannot be told apart; likewise for A's child
  ids under B's own workspace.
"""

import dataclasses
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session

from audits.checklist import load_checklist
from audits.model import Category, Finding, RunResult, Severity, Tool
from controlplane.app import ROUTERS
from controlplane.audit_runs import findings as audit_findings
from controlplane.audit_runs import service as audit_runs
from controlplane.audit_runs.schemas import FindingSuppress
from controlplane.container import Container
from controlplane.context import Ctx
from controlplane.db import make_engine
from controlplane.identity import repository as identity_repository
from controlplane.identity.models import Plugin
from controlplane.kit.clock import utcnow
from controlplane.kit.ids import new_id
from controlplane.policies import service as policies
from controlplane.policies.schemas import PolicyRules
from controlplane.providers import service as providers
from controlplane.providers.schemas import ProviderCredentialSet
from controlplane.tokens import service as tokens
from controlplane.tokens.format import generate_accessor
from controlplane.tokens.models import Token
from tests import factories
from tests.controlplane.anomaly.helpers import stored_alert
from tests.controlplane.audit_runs.helpers import in_days

OWNER_A = "owner_a"
VIEWER_A = "viewer_a"
OWNER_B = "owner_b"
AGENT_A = "agent_a"
AGENT_B = "agent_b"
ANONYMOUS = "anonymous"
PRINCIPALS = (OWNER_A, VIEWER_A, OWNER_B, AGENT_A, AGENT_B, ANONYMOUS)
OUTSIDERS = frozenset({OWNER_B, AGENT_B, ANONYMOUS})

# Names carry a "." so they can never occur by chance inside an id, a token or a timestamp.
TENANT_A = "alpha.tenant"
TENANT_B = "bravo.tenant"
NEWCOMER = "newcomer.user"  # belongs to neither tenant
NEW_PASSWORD = "an entirely new passphrase"  # pragma: allowlist secret
MATRIX_API_KEY = "sk-matrix-0123456789abcdef"  # pragma: allowlist secret

# Path parameter → which of A's identifiers fills it, unless a case says otherwise.
DEFAULT_PARAMS = {
    "workspace_id": "ws",
    "agent_id": "agent",
    "plugin_id": "plugin",
    "accessor": "accessor",
    "user_id": "owner",
    "run_id": "run",
    "finding_id": "finding",
    "suppression_id": "suppression",
    "alert_id": "alert",
}
# Path parameters that name no tenant's resource: the same value for every caller and id set.
FIXED_PARAMS = {"provider": "openai"}
# A's workspace-default OpenAI key. The dots keep its last four characters from occurring by
# chance in an id, a token or a timestamp.
PROVIDER_KEY_A = "sk-alpha.tenant-0123456789abcdef.k.4"
# Where A's audit finding lies; a dot-marked name like the others.
FINDING_PATH_A = "alpha.tenant/settings.py"
MANUAL_ITEM = next(item.id for item in load_checklist() if item.manual is not None)


def expect(
    owner_a: int, viewer_a: int, owner_b: int, agent_a: int, agent_b: int, anonymous: int = 401
) -> dict[str, int]:
    return {
        OWNER_A: owner_a,
        VIEWER_A: viewer_a,
        OWNER_B: owner_b,
        AGENT_A: agent_a,
        AGENT_B: agent_b,
        ANONYMOUS: anonymous,
    }


@dataclass(frozen=True)
class Case:
    method: str
    route: str
    statuses: dict[str, int]
    body: Any = None
    query: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, str] = field(default_factory=dict)
    # Error codes other than the defaults (403 → scope_missing), per caller.
    codes: Mapping[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.method} {self.route}"


WS = "/v1/workspaces/{workspace_id}"
AGENT = WS + "/agents/{agent_id}"
PLUGIN = AGENT + "/plugins/{plugin_id}"
PROVIDERS = WS + "/providers"
AUDIT = WS + "/audit"
RUN = AUDIT + "/runs/{run_id}"
ALERT = "/v1/anomaly/alerts/{alert_id}"
SUPPRESSION = {"justification": "accepted for the matrix", "expires_at": in_days(30)}
IMPORTED_RUN = {
    "target": "matrix.target",
    "started_at": "2026-11-22T10:00:00Z",
    "finished_at": "2026-11-22T10:00:05Z",
    "findings": [
        {
            "fingerprint": "0" * 32,
            "tool": "bandit",
            "rule": "B602",
            "rule_name": "subprocess_popen_with_shell_equals_true",
            "category": "code",
            "severity": "medium",
            "path": "matrix/run.py",
            "line": 3,
            "message": "subprocess call with shell=True identified.",
        }
    ],
}
ALL_OK = expect(200, 200, 200, 200, 200, 200)

CASES = [
    Case("GET", "/healthz", ALL_OK),
    Case("GET", "/readyz", ALL_OK),
    Case("GET", "/metrics", expect(403, 403, 403, 403, 403)),
    Case("GET", "/v1/runtime/status", expect(200, 200, 200, 200, 200)),
    Case(
        "POST",
        "/v1/auth/login",
        ALL_OK,
        body={"username": NEWCOMER, "password": factories.PASSWORD},
    ),
    Case("GET", "/v1/me", expect(200, 200, 200, 200, 200)),
    Case(
        "PUT",
        "/v1/me/password",
        expect(204, 204, 204, 403, 403),
        body={"current_password": factories.PASSWORD, "new_password": NEW_PASSWORD},
        codes={AGENT_A: "user_required", AGENT_B: "user_required"},
    ),
    Case(
        "POST",
        "/v1/users",
        expect(403, 403, 403, 403, 403),
        body={"username": "another.user", "password": NEW_PASSWORD},
    ),
    Case("GET", "/v1/users", expect(403, 403, 403, 403, 403)),
    Case("POST", "/v1/users/{user_id}/disable", expect(403, 403, 403, 403, 403)),
    Case(
        "POST", "/v1/workspaces", expect(201, 201, 201, 403, 403), body={"name": "fresh.workspace"}
    ),
    Case("GET", "/v1/workspaces", expect(200, 200, 200, 200, 200)),
    Case(
        "POST",
        WS + "/members",
        expect(201, 403, 404, 403, 404),
        body={"username": NEWCOMER, "role": "viewer"},
    ),
    Case("GET", WS + "/members", expect(200, 200, 404, 403, 404)),
    Case(
        "DELETE",
        WS + "/members/{user_id}",
        expect(204, 403, 404, 403, 404),
        params={"user_id": "viewer"},
    ),
    Case("POST", WS + "/agents", expect(201, 403, 404, 403, 404), body={"name": "fresh.agent"}),
    Case("GET", WS + "/agents", expect(200, 200, 404, 200, 404)),
    Case("GET", AGENT, expect(200, 200, 404, 200, 404)),
    Case(
        "POST",
        AGENT + "/plugins",
        expect(201, 403, 404, 403, 404),
        body={"name": "fresh.plugin", "version": "1.0.0", "tier": "core"},
    ),
    Case("GET", AGENT + "/plugins", expect(200, 200, 404, 200, 404)),
    Case("GET", AGENT + "/runtime", expect(200, 200, 404, 200, 404)),
    Case(
        "PUT",
        AGENT + "/runtime",
        expect(200, 403, 404, 403, 404),
        body={"provider": "local", "model": "local-scripted"},
    ),
    Case("POST", PLUGIN + "/approve", expect(200, 403, 404, 403, 404)),
    Case("PATCH", PLUGIN, expect(200, 403, 404, 403, 404), body={"enabled": False}),
    Case(
        "POST",
        WS + "/tokens",
        expect(201, 403, 404, 403, 404),
        body={"scopes": ["agents:read"], "agent_id": "{agent}", "description": "matrix"},
    ),
    Case("GET", WS + "/tokens", expect(200, 200, 404, 200, 404), query={"include_revoked": "true"}),
    Case("GET", "/v1/tokens/{accessor}", expect(200, 200, 404, 200, 404)),
    Case(
        "POST",
        "/v1/tokens/{accessor}/revoke",
        expect(200, 403, 404, 403, 404),
        body={"reason": "matrix"},
    ),
    Case(
        "POST",
        "/v1/tokens/{accessor}/rotate",
        expect(200, 403, 404, 403, 404),
        body={"overlap_seconds": 0},
    ),
    Case(
        "POST",
        "/v1/tokens/{accessor}/suspend",
        expect(200, 403, 404, 403, 404),
        body={"reason": "matrix"},
    ),
    # Another token of A's, suspended, so that resuming it finds something to resume.
    Case(
        "POST",
        "/v1/tokens/{accessor}/resume",
        expect(200, 403, 404, 403, 404),
        params={"accessor": "suspended"},
    ),
    Case(
        "GET", "/v1/audit-events", expect(200, 403, 404, 403, 404), query={"workspace_id": "{ws}"}
    ),
    Case("GET", "/v1/access-log", expect(200, 403, 404, 403, 404), query={"workspace_id": "{ws}"}),
    Case("GET", "/v1/anomaly/alerts", expect(200, 200, 200, 200, 200)),
    Case("GET", ALERT, expect(200, 403, 404, 403, 404)),
    Case("POST", ALERT + "/ack", expect(200, 403, 404, 403, 404)),
    Case("POST", ALERT + "/resolve", expect(200, 403, 404, 403, 404)),
    Case("POST", ALERT + "/false-positive", expect(200, 403, 404, 403, 404)),
    Case("GET", "/v1/anomaly/suppressions", expect(200, 200, 200, 200, 200)),
    Case("POST", "/v1/anomaly/scan", expect(403, 403, 403, 403, 403)),
    Case("GET", PROVIDERS, expect(200, 403, 404, 403, 404)),
    Case(
        "PUT",
        PROVIDERS + "/{provider}",
        expect(200, 403, 404, 403, 404),
        body={"api_key": MATRIX_API_KEY, "agent_id": "{agent}"},
    ),
    Case("GET", PROVIDERS + "/{provider}", expect(200, 403, 404, 403, 404)),
    Case(
        "DELETE",
        PROVIDERS + "/{provider}",
        expect(204, 403, 404, 403, 404),
        query={"agent_id": "{agent}"},
    ),
    Case("GET", WS + "/policies", expect(200, 403, 404, 403, 404)),
    Case("GET", WS + "/policy", expect(200, 403, 404, 403, 404)),
    Case("PUT", WS + "/policy", expect(200, 403, 404, 403, 404), body={"token_rpm": 10}),
    Case("DELETE", WS + "/policy", expect(204, 403, 404, 403, 404)),
    Case("GET", WS + "/policy/effective", expect(200, 403, 404, 403, 404)),
    Case("GET", AGENT + "/policy", expect(200, 403, 404, 403, 404)),
    Case("PUT", AGENT + "/policy", expect(200, 403, 404, 403, 404), body={"models": ["gpt-*"]}),
    Case("DELETE", AGENT + "/policy", expect(204, 403, 404, 403, 404)),
    Case("GET", AGENT + "/policy/effective", expect(200, 403, 404, 403, 404)),
    Case(
        "POST",
        "/v1/tokens/leak-check",
        expect(200, 200, 200, 200, 200),
        body={"tokens": ["gth_not-a-token"], "revoke": True},
    ),
    Case(
        "POST",
        AUDIT + "/runs",
        expect(201, 403, 404, 403, 404),
        body={"checklist": True, "paths": []},
    ),
    Case("POST", AUDIT + "/runs/import", expect(201, 403, 404, 403, 404), body=IMPORTED_RUN),
    Case("GET", AUDIT + "/runs", expect(200, 403, 404, 403, 404)),
    Case("GET", RUN, expect(200, 403, 404, 403, 404)),
    Case("GET", RUN + "/findings", expect(200, 403, 404, 403, 404)),
    Case("GET", RUN + "/diff", expect(200, 403, 404, 403, 404)),
    Case("GET", RUN + "/report", expect(200, 403, 404, 403, 404), query={"format": "markdown"}),
    Case("GET", AUDIT + "/trends", expect(200, 403, 404, 403, 404)),
    Case("GET", AUDIT + "/findings", expect(200, 403, 404, 403, 404)),
    Case("GET", AUDIT + "/findings/{finding_id}", expect(200, 403, 404, 403, 404)),
    Case(
        "POST",
        AUDIT + "/findings/{finding_id}/suppress",
        expect(201, 403, 404, 403, 404),
        body=SUPPRESSION,
    ),
    Case(
        "POST",
        AUDIT + "/suppressions",
        expect(201, 403, 404, 403, 404),
        body={"rule": "B602", "path_glob": "tests/**", **SUPPRESSION},
    ),
    Case("GET", AUDIT + "/suppressions", expect(200, 403, 404, 403, 404)),
    Case("DELETE", AUDIT + "/suppressions/{suppression_id}", expect(200, 403, 404, 403, 404)),
    Case("GET", AUDIT + "/checklist", expect(200, 403, 404, 403, 404)),
    Case(
        "POST",
        AUDIT + "/attestations",
        expect(201, 403, 404, 403, 404),
        body={"item_id": MANUAL_ITEM, "evidence": "drill ticket OPS-1", "expires_at": in_days(30)},
    ),
    Case("GET", AUDIT + "/attestations", expect(200, 403, 404, 403, 404)),
]
CASES_BY_ID = {case.id: case for case in CASES}


def _fill(value: Any, ids: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        return value.format_map(ids)
    if isinstance(value, dict):
        return {key: _fill(item, ids) for key, item in value.items()}
    if isinstance(value, list):
        return [_fill(item, ids) for item in value]
    return value


def _path_params(case: Case) -> dict[str, str]:
    """Path parameter name → identifier key, for this case's route."""
    names = [part[1:-1] for part in case.route.split("/") if part.startswith("{")]
    return {
        name: case.params.get(name, DEFAULT_PARAMS[name])
        for name in names
        if name not in FIXED_PARAMS
    }


def _references(case: Case) -> set[str]:
    """The identifier keys this case's request names (path, query or body)."""
    keys = set(_path_params(case).values())
    text = json.dumps([case.body, dict(case.query)])
    keys |= {
        key
        for key in ("ws", "agent", "plugin", "accessor", "owner", "viewer", "run", "finding")
        if "{" + key + "}" in text
    }
    return keys


@dataclass
class World:
    a: factories.Tenant
    b: factories.Tenant
    plugin: Plugin
    ids: dict[str, str]  # A's identifiers, keyed as in DEFAULT_PARAMS' values
    secrets: list[str]  # every identifier or name of A that must not reach an outsider

    def random_ids(self) -> dict[str, str]:
        return {
            "ws": new_id("ws"),
            "agent": new_id("agt"),
            "plugin": new_id("plg"),
            "accessor": generate_accessor(),
            "owner": new_id("usr"),
            "viewer": new_id("usr"),
            "run": new_id("aud"),
            "finding": new_id("afd"),
            "suppression": new_id("sup"),
            "suspended": generate_accessor(),
            "alert": new_id("alr"),
        }


@pytest.fixture
def world(session: Session, container: Container) -> World:
    a = factories.tenant(session, container, TENANT_A)
    b = factories.tenant(session, container, TENANT_B)
    factories.user(session, container, NEWCOMER)
    a.workspace.require_plugin_approval = True
    plugin = Plugin(
        id=new_id("plg"),
        workspace_id=a.workspace.id,
        agent_id=a.agent.id,
        name=f"{TENANT_A}-plugin",
        version="1.0.0",
        tier="community",
        enabled=False,
        approval="pending",
    )
    identity_repository.add(session, plugin)
    token_id = session.scalars(
        select(Token.id).where(Token.accessor == a.agent_token_accessor)
    ).one()
    owner_ctx = factories.user_ctx(session, container, a.owner)
    credential = providers.set_credential(
        owner_ctx,
        a.workspace.id,
        "openai",
        ProviderCredentialSet(api_key=SecretStr(PROVIDER_KEY_A)),
    )
    # And an override for A's agent, so that routes naming the agent find something too.
    providers.set_credential(
        owner_ctx,
        a.workspace.id,
        "openai",
        ProviderCredentialSet(api_key=SecretStr(PROVIDER_KEY_A), agent_id=a.agent.id),
    )
    # A suspended token of A's, so that resuming one finds something.
    suspended, _ = factories.token(
        session, container, a.workspace, a.owner, ["agents:read"], agent_id=a.agent.id
    )
    tokens.suspend(owner_ctx, suspended.accessor, "matrix")
    # A's policies, so that reading and deleting them find something.
    policies.set_policy(owner_ctx, a.workspace.id, None, PolicyRules(token_rpm=100))
    policies.set_policy(owner_ctx, a.workspace.id, a.agent.id, PolicyRules(models=["gpt-*"]))
    run, finding, suppression = _audited(owner_ctx, a.workspace.id)
    # An anomaly alert about A's agent token, so that the alert routes find one.
    alert = stored_alert(
        session,
        workspace_id=a.workspace.id,
        agent_id=a.agent.id,
        entity=a.agent_token_accessor,
    )
    session.commit()
    ids = {
        "ws": a.workspace.id,
        "agent": a.agent.id,
        "plugin": plugin.id,
        "accessor": a.agent_token_accessor,
        "owner": a.owner.id,
        "viewer": a.viewer.id,
        "run": run,
        "finding": finding,
        "suppression": suppression,
        "suspended": suspended.accessor,
        "alert": alert.id,
    }
    secrets = [
        *ids.values(),
        token_id,
        a.agent_token,
        a.workspace.name,
        a.owner.username,
        a.viewer.username,
        a.agent.name,
        plugin.name,
        TENANT_A,
        PROVIDER_KEY_A,
        credential.fingerprint,
        credential.last4,
        FINDING_PATH_A,
    ]
    return World(a=a, b=b, plugin=plugin, ids=ids, secrets=secrets)


def _audited(owner_ctx: Ctx, workspace_id: str) -> tuple[str, str, str]:
    """A stored run of A's with one finding, suppressed: ids for the audit routes."""
    now = utcnow()
    finding = Finding(
        fingerprint="a" * 32,
        tool=Tool.SECRETS,
        rule="AWS Access Key",
        rule_name="AWS Access Key",
        category=Category.SECRET,
        severity=Severity.HIGH,
        path=FINDING_PATH_A,
        line=1,
        message="An access key is committed.",
        preview="AKIA…a4",
    )
    run = audit_runs.import_run(
        owner_ctx,
        workspace_id,
        RunResult(target=TENANT_A, started_at=now, finished_at=now, findings=[finding]),
    )
    [found] = audit_findings.list_findings(
        owner_ctx,
        workspace_id,
        status=None,
        severity=None,
        tool=None,
        target=None,
        after=None,
        limit=10,
    )
    suppression = audit_findings.suppress_finding(
        owner_ctx,
        workspace_id,
        found.id,
        FindingSuppress.model_validate(SUPPRESSION),
    )
    return run.id, found.id, suppression.id


def _login(client: httpx.Client, username: str) -> str:
    response = client.post(
        "/v1/auth/login", json={"username": username, "password": factories.PASSWORD}
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def _credential(client: httpx.Client, world: World, principal: str) -> str | None:
    return {
        OWNER_A: lambda: _login(client, world.a.owner.username),
        VIEWER_A: lambda: _login(client, world.a.viewer.username),
        OWNER_B: lambda: _login(client, world.b.owner.username),
        AGENT_A: lambda: world.a.agent_token,
        AGENT_B: lambda: world.b.agent_token,
        ANONYMOUS: lambda: None,
    }[principal]()


def _send(
    client: httpx.Client, case: Case, ids: Mapping[str, str], credential: str | None
) -> httpx.Response:
    path = case.route.format_map(
        {**FIXED_PARAMS, **{name: ids[key] for name, key in _path_params(case).items()}}
    )
    headers = {"Authorization": f"Bearer {credential}"} if credential else {}
    return client.request(
        case.method,
        path,
        params=_fill(dict(case.query), ids),
        json=_fill(case.body, ids),
        headers=headers,
    )


def _comparable(response: httpx.Response) -> tuple[int, Any]:
    if not response.content:
        return response.status_code, None
    body = response.json()
    if isinstance(body, dict):
        body.pop("request_id", None)
    return response.status_code, body


def _assert_error_shape(response: httpx.Response) -> None:
    body = response.json()
    assert set(body) == {"error", "detail", "request_id"}, body
    assert body["request_id"] == response.headers["x-request-id"]


def _assert_no_leak(response: httpx.Response, secrets: list[str], what: str) -> None:
    seen = response.text + "\n" + "\n".join(f"{k}: {v}" for k, v in response.headers.items())
    leaked = [secret for secret in secrets if secret in seen]
    assert not leaked, f"{what}: response to an outsider names {leaked}: {response.text}"


def test_the_matrix_covers_every_route() -> None:
    routed = {
        f"{method} {route.path}"
        for router in ROUTERS
        for route in router.routes
        for method in getattr(route, "methods", ())
    }
    assert set(CASES_BY_ID) == routed
    for case in CASES:
        assert set(case.statuses) == set(PRINCIPALS), case.id


@pytest.fixture
def readyz_engine(app: FastAPI, container: Container, tmp_path: Path) -> Iterator[None]:
    """/readyz opens its own connection, and on SQLite every transaction is BEGIN IMMEDIATE:
    it would wait behind the write lock this test's rolled-back connection holds. Point the
    probe at a database of its own there; PostgreSQL has no such lock and keeps the real one."""
    if container.engine.dialect.name != "sqlite":
        yield
        return
    engine = make_engine(f"sqlite:///{tmp_path / 'readyz.db'}")
    app.state.container = dataclasses.replace(container, engine=engine)
    try:
        yield
    finally:
        engine.dispose()


@pytest.mark.parametrize("principal", PRINCIPALS)
@pytest.mark.parametrize("case_id", list(CASES_BY_ID))
def test_cross_tenant_matrix(
    request: pytest.FixtureRequest,
    client: httpx.Client,
    world: World,
    case_id: str,
    principal: str,
) -> None:
    case = CASES_BY_ID[case_id]
    if case.route == "/readyz":
        request.getfixturevalue("readyz_engine")
    credential = _credential(client, world, principal)
    response = _send(client, case, world.ids, credential)
    what = f"{principal} → {case.id}"

    expected = case.statuses[principal]
    assert response.status_code == expected, f"{what}: {response.status_code} {response.text}"
    if expected >= 400:
        _assert_error_shape(response)
        default_code = {401: "unauthenticated", 403: "scope_missing", 404: "not_found"}[expected]
        assert response.json()["error"] == case.codes.get(principal, default_code), what
    if principal == ANONYMOUS and expected == 401:
        assert response.headers["www-authenticate"] == "Bearer"

    if principal not in OUTSIDERS:
        return
    references = _references(case)
    _assert_no_leak(response, world.secrets, what)
    if not references:
        return
    assert not response.is_success, f"{what}: an outsider got {response.status_code}"

    # A's resource and a resource that does not exist must be indistinguishable.
    unknown = _send(client, case, world.random_ids(), credential)
    _assert_no_leak(unknown, world.secrets, what)
    assert _comparable(unknown) == _comparable(response), what

    # A's child ids under B's own workspace: still nothing, and still the same as random ids.
    if principal in {OWNER_B, AGENT_B} and "ws" in references and references - {"ws"}:
        mixed_ids = {**world.ids, "ws": world.b.workspace.id}
        mixed = _send(client, case, mixed_ids, credential)
        _assert_no_leak(mixed, world.secrets, f"{what} (B's workspace)")
        assert not mixed.is_success, f"{what} (B's workspace): {mixed.text}"
        mixed_unknown = _send(
            client, case, {**world.random_ids(), "ws": world.b.workspace.id}, credential
        )
        assert _comparable(mixed) == _comparable(mixed_unknown), f"{what} (B's workspace)"
