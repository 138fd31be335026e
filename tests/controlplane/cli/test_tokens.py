"""`gatehouse tokens …`: the lifecycle, with --json and with tables; the secret is shown once."""

import json
from datetime import datetime

import httpx
import pytest
from sqlalchemy.orm import Session

from controlplane.cli.tokens import parse_duration
from controlplane.container import Container
from controlplane.tokens.format import ACCESSOR_PATTERN
from tests import factories
from tests.controlplane.cli.helpers import Cli, assert_one_line_error

OPERATOR_SCOPES = ["proxy:invoke", "agents:read", "tokens:read", "tokens:write"]


def test_lifecycle_with_json(
    cli: Cli, client: httpx.Client, session: Session, container: Container
) -> None:
    tenant = factories.tenant(session, container, "acme")
    _, operator = factories.token(
        session, container, tenant.workspace, tenant.owner, OPERATOR_SCOPES
    )
    session.commit()

    issued_run = cli.ok(
        "tokens",
        "issue",
        "-s",
        "proxy:invoke",
        "--scope",
        "agents:read",
        "--agent",
        "acme-agent",
        "--ttl",
        "2h",
        "--description",
        "ci runner",
        "--use-limit",
        "5",
        "--cidr",
        "127.1.2.3/8",
        "--json",
        token=operator,
    )
    issued = json.loads(issued_run.stdout)
    secret = issued["token"]
    assert secret.startswith("gth_")
    assert issued_run.output.count(secret) == 1
    assert issued["scopes"] == ["agents:read", "proxy:invoke"]
    assert issued["agent_id"] == tenant.agent.id
    assert issued["description"] == "ci runner"
    assert issued["use_limit"] == 5
    assert issued["cidrs"] == ["127.0.0.0/8"]
    lifetime = datetime.fromisoformat(issued["expires_at"]) - datetime.fromisoformat(
        issued["created_at"]
    )
    assert lifetime.total_seconds() == pytest.approx(7_200, abs=5)
    accessor = issued["accessor"]

    listed = json.loads(cli.ok("tokens", "list", "--json", token=operator).stdout)
    assert accessor in [item["accessor"] for item in listed]
    assert all("token" not in item for item in listed)

    shown_run = cli.ok("tokens", "show", accessor, "--json", token=operator)
    shown = json.loads(shown_run.stdout)
    assert shown["accessor"] == accessor
    assert "token" not in shown
    assert secret not in shown_run.output

    rotated_run = cli.ok("tokens", "rotate", accessor, "--overlap", "0", "--json", token=operator)
    rotated = json.loads(rotated_run.stdout)
    assert rotated["accessor"] == accessor
    assert rotated["token"] != secret
    assert rotated_run.output.count(rotated["token"]) == 1
    who = client.get("/v1/me", headers={"Authorization": f"Bearer {rotated['token']}"})
    assert who.status_code == 200, who.text
    assert who.json()["token_accessor"] == accessor

    revoked = json.loads(
        cli.ok("tokens", "revoke", accessor, "--reason", "done", "--json", token=operator).stdout
    )
    assert revoked == {"accessor": accessor, "revoked": [accessor]}

    active = json.loads(cli.ok("tokens", "list", "--json", token=operator).stdout)
    assert accessor not in [item["accessor"] for item in active]
    everything = json.loads(
        cli.ok("tokens", "list", "--include-revoked", "--json", token=operator).stdout
    )
    [gone] = [item for item in everything if item["accessor"] == accessor]
    assert gone["revoked_at"] is not None
    assert gone["revocation_reason"] == "done"


def test_lifecycle_with_tables(cli: Cli, session: Session, container: Container) -> None:
    tenant = factories.tenant(session, container, "acme")
    session.commit()
    cli.login("acme-owner")

    issued = cli.ok("tokens", "issue", "-s", "proxy:invoke", "-s", "tokens:read")
    # stdout holds the secret alone, so `$(gatehouse tokens issue …)` captures just that.
    secret = issued.stdout.strip()
    assert secret.startswith("gth_")
    assert "\n" not in secret
    assert issued.output.count(secret) == 1
    assert "shown once" in issued.stderr
    assert "proxy:invoke, tokens:read" in issued.stderr
    [accessor] = ACCESSOR_PATTERN.findall(issued.stderr)

    child = cli.ok(
        "tokens",
        "issue",
        "-s",
        "proxy:invoke",
        "--parent",
        accessor,
        "--agent",
        tenant.agent.id,
        "--json",
    )
    child_accessor = json.loads(child.stdout)["accessor"]

    listed = cli.ok("tokens", "list")
    assert accessor in listed.stdout
    assert child_accessor in listed.stdout
    assert secret not in listed.output
    assert "accessor" in listed.stdout.splitlines()[1]

    shown = cli.ok("tokens", "show", child_accessor)
    assert "parent_accessor" in shown.stdout
    assert accessor in shown.stdout

    rotated = cli.ok("tokens", "rotate", accessor)
    new_secret = rotated.stdout.strip()
    assert new_secret.startswith("gth_")
    assert new_secret != secret
    assert rotated.output.count(new_secret) == 1

    revoked = cli.ok("tokens", "revoke", accessor)
    assert accessor in revoked.stdout
    assert child_accessor in revoked.stdout

    again = cli.ok("tokens", "revoke", accessor)
    assert "nothing revoked" in again.stderr


def test_issue_refusals_are_one_line(cli: Cli, session: Session, container: Container) -> None:
    tenant = factories.tenant(session, container, "acme")
    _, operator = factories.token(
        session, container, tenant.workspace, tenant.owner, OPERATOR_SCOPES
    )
    session.commit()

    not_allowed = cli("tokens", "issue", "-s", "proxy:invoke", token=tenant.agent_token)
    assert_one_line_error(not_allowed, "(scope_missing)")

    escalation = cli("tokens", "issue", "-s", "audit:read", token=operator)
    assert_one_line_error(escalation, "(scope_escalation)")

    bad_ttl = cli(
        "tokens", "issue", "-s", "proxy:invoke", "--ttl", "soon", token=tenant.agent_token
    )
    assert_one_line_error(bad_ttl, "--ttl")

    missing = cli("tokens", "show", "acc_nope", token=tenant.agent_token)
    assert_one_line_error(missing, "token not found (not_found)")

    pasted_secret = cli("tokens", "revoke", tenant.agent_token, token=tenant.agent_token)
    assert_one_line_error(pasted_secret, "a token's secret, not its accessor")
    assert tenant.agent_token not in pasted_secret.output

    no_agent = cli(
        "tokens", "issue", "-s", "proxy:invoke", "--agent", "ghost", token=tenant.agent_token
    )
    assert_one_line_error(no_agent, "agent ghost not found")


def test_suspend_and_resume(
    cli: Cli, client: httpx.Client, session: Session, container: Container
) -> None:
    tenant = factories.tenant(session, container, "acme")
    session.commit()
    cli.login("acme-owner")
    parent = json.loads(cli.ok("tokens", "issue", "-s", "tokens:read", "--json").stdout)
    child = json.loads(
        cli.ok(
            "tokens", "issue", "-s", "tokens:read", "--parent", parent["accessor"], "--json"
        ).stdout
    )
    family = sorted([parent["accessor"], child["accessor"]])

    missing_reason = cli("tokens", "suspend", parent["accessor"])
    assert missing_reason.exit_code == 2  # typer's usage error: --reason is required
    suspended = json.loads(
        cli.ok(
            "tokens", "suspend", parent["accessor"], "--reason", "investigating", "--json"
        ).stdout
    )
    assert suspended == {
        "accessor": parent["accessor"],
        "suspended": [parent["accessor"], child["accessor"]],
    }
    for raw in (parent["token"], child["token"]):
        assert client.get("/v1/me", headers={"Authorization": f"Bearer {raw}"}).status_code == 401

    shown = json.loads(cli.ok("tokens", "show", child["accessor"], "--json").stdout)
    assert (shown["suspended_by"], shown["suspension_reason"]) == (tenant.owner.id, "investigating")
    table = cli.ok("tokens", "show", child["accessor"]).stdout
    assert "suspension_reason" in table
    assert "investigating" in table
    listed = cli.ok("tokens", "list").stdout
    assert "suspended_at" in listed
    again = cli("tokens", "suspend", parent["accessor"], "--reason", "twice")
    assert_one_line_error(again, "already suspended", "(already_suspended)")

    resumed = cli.ok("tokens", "resume", parent["accessor"])
    assert sorted(ACCESSOR_PATTERN.findall(resumed.stdout)) == family
    for raw in (parent["token"], child["token"]):
        assert client.get("/v1/me", headers={"Authorization": f"Bearer {raw}"}).status_code == 200
    not_suspended = cli("tokens", "resume", parent["accessor"])
    assert_one_line_error(not_suspended, "(not_suspended)")
    pasted_secret = cli("tokens", "resume", parent["token"])
    assert_one_line_error(pasted_secret, "a token's secret, not its accessor")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90", 90),
        ("90s", 90),
        ("15m", 900),
        ("12h", 43_200),
        ("30d", 2_592_000),
        ("2w", 1_209_600),
        (" 1H ", 3_600),
    ],
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text, "--ttl") == seconds
