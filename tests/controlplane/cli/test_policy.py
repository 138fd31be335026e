"""`gatehouse policy …`: show, list, set (wholesale or --merge) and clear, against a live server."""

import json
from typing import Any

import httpx
from sqlalchemy.orm import Session

from controlplane.auth.scopes import Role
from controlplane.container import Container
from controlplane.policies import service as policies
from controlplane.policies.engine import RULES
from tests import factories
from tests.controlplane.cli.helpers import Cli, assert_one_line_error

NO_RULES = dict.fromkeys(RULES)


def _rules(stdout: str) -> dict[str, Any]:
    record = json.loads(stdout)
    return {rule: record[rule] for rule in RULES}


def _tenant(cli: Cli, session: Session, container: Container) -> factories.Tenant:
    tenant = factories.tenant(session, container, "acme")
    session.commit()
    cli.login(tenant.owner.username)
    return tenant


def test_set_show_and_clear_the_workspace_policy(
    cli: Cli, client: httpx.Client, session: Session, container: Container
) -> None:
    tenant = _tenant(cli, session, container)
    never_set = json.loads(cli.ok("policy", "show", "--json").stdout)
    assert (never_set["workspace_id"], never_set["created_at"]) == (tenant.workspace.id, None)
    assert _rules(cli.ok("policy", "show", "--json").stdout) == NO_RULES

    stored = cli.ok(
        "policy",
        "set",
        "--upstream",
        "openai",
        "--upstream",
        "anthropic",
        "--model",
        "gpt-4o*",
        "--model",
        "claude-?-*",
        "--required-scope",
        "proxy:invoke",
        "--token-rpm",
        "60",
        "--token-tpm",
        "1000",
        "--workspace-rpm",
        "600",
        "--workspace-tpm",
        "10000",
        "--max-body-bytes",
        "65536",
        "--max-streams-per-token",
        "4",
        "--cidr",
        "10.1.2.3/8",
        "--json",
    )
    expected = {
        "upstreams": ["openai", "anthropic"],
        "models": ["gpt-4o*", "claude-?-*"],
        "required_scope": "proxy:invoke",
        "token_rpm": 60,
        "token_tpm": 1000,
        "workspace_rpm": 600,
        "workspace_tpm": 10000,
        "max_body_bytes": 65536,
        "max_streams_per_token": 4,
        "cidrs": ["10.0.0.0/8"],
    }
    assert _rules(stored.stdout) == expected
    assert _rules(cli.ok("policy", "show", "--json").stdout) == expected
    table = cli.ok("policy", "show").stdout
    for shown in (
        "openai, anthropic",
        "gpt-4o*, claude-?-*",
        "10.0.0.0/8",
        "max_streams_per_token",
    ):
        assert shown in table

    # Without --merge the given rules replace the stored ones.
    replaced = cli.ok("policy", "set", "--token-rpm", "5", "--json")
    assert _rules(replaced.stdout) == {**NO_RULES, "token_rpm": 5}

    cleared = cli.ok("policy", "clear")
    assert "cleared the workspace policy" in cleared.stderr
    assert json.loads(cli.ok("policy", "show", "--json").stdout)["created_at"] is None
    assert_one_line_error(cli("policy", "clear"), "no policy is set here", "(not_found)")


def test_merge_changes_only_the_rules_given(
    cli: Cli, client: httpx.Client, session: Session, container: Container
) -> None:
    _tenant(cli, session, container)
    cli.ok("policy", "set", "--model", "gpt-*", "--token-rpm", "60", "--cidr", "10.0.0.0/8")
    merged = cli.ok("policy", "set", "--merge", "--token-rpm", "30", "--json")
    assert _rules(merged.stdout) == {
        **NO_RULES,
        "models": ["gpt-*"],
        "token_rpm": 30,
        "cidrs": ["10.0.0.0/8"],
    }
    # A list given with --merge replaces that list; --unset drops a rule.
    merged = cli.ok(
        "policy", "set", "--merge", "--model", "o1*", "--unset", "cidrs", "--unset", "token-rpm"
    )
    assert "o1*" in merged.stdout
    assert _rules(cli.ok("policy", "show", "--json").stdout) == {**NO_RULES, "models": ["o1*"]}
    # --merge on a policy never set starts from no rules.
    fresh = cli.ok(
        "policy", "set", "--merge", "--agent", "acme-agent", "--token-tpm", "9", "--json"
    )
    assert _rules(fresh.stdout) == {**NO_RULES, "token_tpm": 9}


def test_agent_overrides_list_and_effective(
    cli: Cli, client: httpx.Client, session: Session, container: Container
) -> None:
    tenant = _tenant(cli, session, container)
    cli.ok("policy", "set", "--upstream", "openai", "--token-rpm", "100", "--workspace-rpm", "900")
    override = cli.ok(
        "policy",
        "set",
        "--agent",
        "acme-agent",
        "--token-rpm",
        "10",
        "--model",
        "gpt-4o-mini",
        "--json",
    )
    assert json.loads(override.stdout)["agent_id"] == tenant.agent.id
    assert _rules(override.stdout) == {**NO_RULES, "token_rpm": 10, "models": ["gpt-4o-mini"]}
    # By id too, and the stored override is the override alone.
    stored = cli.ok("policy", "show", "--agent", tenant.agent.id, "--json").stdout
    assert _rules(stored) == _rules(override.stdout)

    effective = json.loads(
        cli.ok("policy", "show", "--agent", "acme-agent", "--effective", "--json").stdout
    )
    assert effective == {
        "workspace_id": tenant.workspace.id,
        "agent_id": tenant.agent.id,
        **NO_RULES,
        "upstreams": ["openai"],
        "models": ["gpt-4o-mini"],
        "token_rpm": 10,
        "workspace_rpm": 900,
    }
    assert "gpt-4o-mini" in cli.ok("policy", "show", "--agent", "acme-agent", "--effective").stdout

    listed = json.loads(cli.ok("policy", "list", "--json").stdout)
    assert [(row["agent_id"], row["token_rpm"]) for row in listed] == [
        (None, 100),
        (tenant.agent.id, 10),
    ]
    table = cli.ok("policy", "list").stdout
    assert "workspace" in table
    assert tenant.agent.id in table

    cleared = cli.ok("policy", "clear", "--agent", "acme-agent")
    assert "cleared the policy of agent acme-agent" in cleared.stderr
    listed = json.loads(cli.ok("policy", "list", "--json").stdout)
    assert [row["agent_id"] for row in listed] == [None]


def test_refusals_are_one_line(
    cli: Cli, client: httpx.Client, session: Session, container: Container
) -> None:
    tenant = _tenant(cli, session, container)
    assert_one_line_error(
        cli("policy", "set", "--token-rpm", "0"), "body.token_rpm", "(validation_error)"
    )
    assert_one_line_error(
        cli("policy", "set", "--upstream", "mistral"), "body.upstreams[0]", "(validation_error)"
    )
    assert_one_line_error(
        cli("policy", "set", "--cidr", "10.0.0.300/8"), "body.cidrs", "(validation_error)"
    )
    assert_one_line_error(
        cli("policy", "set", "--agent", "acme-agent", "--workspace-rpm", "5"),
        "body.workspace_rpm",
        "(validation_error)",
    )
    assert_one_line_error(cli("policy", "show", "--agent", "nobody"), "agent nobody not found")
    assert_one_line_error(
        cli("policy", "set", "--merge", "--unset", "colour"), "unknown rule 'colour'"
    )
    assert_one_line_error(cli("policy", "set", "--unset", "models"), "only applies with --merge")

    operator = factories.user(session, container, "acme-operator")
    factories.member(session, tenant.workspace, operator, Role.OPERATOR)
    session.commit()
    cli.login(operator.username)
    assert _rules(cli.ok("policy", "show", "--json").stdout) == NO_RULES
    assert_one_line_error(
        cli("policy", "set", "--token-rpm", "5"), "policy:write", "(scope_missing)"
    )
    # --merge reads first, then is refused at the write: nothing changed.
    assert_one_line_error(
        cli("policy", "set", "--merge", "--token-rpm", "5"), "policy:write", "(scope_missing)"
    )
    cli.login(tenant.viewer.username)
    assert_one_line_error(cli("policy", "list"), "policy:read", "(scope_missing)")


def test_an_agent_bound_token_cannot_change_policy(
    cli: Cli, client: httpx.Client, session: Session, container: Container
) -> None:
    tenant = factories.tenant(session, container, "acme")
    _, bound = factories.token(
        session,
        container,
        tenant.workspace,
        tenant.owner,
        ["policy:read", "policy:write", "agents:read"],
        agent_id=tenant.agent.id,
    )
    session.commit()
    refused = cli("policy", "set", "--agent", "acme-agent", "--token-rpm", "1000", token=bound)
    assert_one_line_error(refused, "(agent_bound)")
    shown = cli.ok("policy", "show", "--agent", "acme-agent", "--json", token=bound)
    assert _rules(shown.stdout) == NO_RULES


def test_the_anomaly_auto_suspend_opt_in(
    cli: Cli, client: httpx.Client, session: Session, container: Container
) -> None:
    tenant = _tenant(cli, session, container)

    def opted_in() -> bool:
        session.expire_all()
        return policies.auto_suspend_enabled(session, tenant.workspace.id)

    on = json.loads(cli.ok("policy", "set", "--anomaly-auto-suspend", "--json").stdout)
    assert (on["anomaly_auto_suspend"], _rules(json.dumps(on))) == (True, NO_RULES)
    assert opted_in()
    # --merge keeps it while another rule changes; --no-… turns it off.
    merged = json.loads(cli.ok("policy", "set", "--merge", "--token-rpm", "5", "--json").stdout)
    assert (merged["anomaly_auto_suspend"], merged["token_rpm"]) == (True, 5)
    assert "anomaly_auto_suspend" in cli.ok("policy", "show").stdout
    off = cli.ok("policy", "set", "--merge", "--no-anomaly-auto-suspend", "--json").stdout
    assert (json.loads(off)["anomaly_auto_suspend"], json.loads(off)["token_rpm"]) == (False, 5)
    assert not opted_in()

    # An agent's override refuses it, and a --merge of an override still works.
    refused = cli("policy", "set", "--agent", "acme-agent", "--anomaly-auto-suspend")
    assert_one_line_error(refused, "anomaly_auto_suspend", "(validation_error)")
    cli.ok("policy", "set", "--agent", "acme-agent", "--token-rpm", "3")
    merged_override = cli.ok(
        "policy", "set", "--merge", "--agent", "acme-agent", "--token-tpm", "9", "--json"
    ).stdout
    assert _rules(merged_override) == {**NO_RULES, "token_rpm": 3, "token_tpm": 9}
    effective = json.loads(cli.ok("policy", "show", "--effective", "--json").stdout)
    assert "anomaly_auto_suspend" not in effective
