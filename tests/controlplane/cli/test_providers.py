"""`gatehouse providers …`: the key goes in through stdin only and is never printed back."""

import json

import httpx
from sqlalchemy.orm import Session

from controlplane.container import Container
from controlplane.providers.service import resolve_credential
from tests import factories
from tests.controlplane.cli.helpers import Cli, assert_one_line_error

OPENAI_KEY = "sk-proj-cli-0123456789abcdefQRS9"
AGENT_KEY = "sk-proj-cli-agent-0123456789abcdefTUV8"


def test_set_list_delete(
    cli: Cli, client: httpx.Client, session: Session, container: Container
) -> None:
    tenant = factories.tenant(session, container, "acme")
    session.commit()
    cli.login(tenant.owner.username)
    ws = tenant.workspace.id

    stored_run = cli.ok("providers", "set", "openai", "--api-key-stdin", "--json", stdin=OPENAI_KEY)
    stored = json.loads(stored_run.stdout)
    assert (stored["provider"], stored["agent_id"], stored["last4"]) == ("openai", None, "QRS9")
    table_run = cli.ok(
        "providers",
        "set",
        "openai",
        "--api-key-stdin",
        "--agent",
        "acme-agent",
        "--base-url",
        "https://eu.llm.test/v1",
        stdin=AGENT_KEY + "\n",
    )
    assert "TUV8" in table_run.stdout
    assert "https://eu.llm.test/v1" in table_run.stdout
    for run in (stored_run, table_run):
        assert OPENAI_KEY not in run.output
        assert AGENT_KEY not in run.output

    resolved = resolve_credential(session, container, ws, tenant.agent.id, "openai")
    assert resolved is not None
    assert (resolved.api_key, resolved.base_url) == (AGENT_KEY, "https://eu.llm.test/v1")

    listed = json.loads(cli.ok("providers", "list", "--json").stdout)
    assert sorted((item["agent_id"] or "", item["last4"]) for item in listed) == [
        ("", "QRS9"),
        (tenant.agent.id, "TUV8"),
    ]
    table = cli.ok("providers", "list").stdout
    assert stored["fingerprint"] in table

    deleted = cli.ok("providers", "delete", "openai", "--agent", "acme-agent")
    assert "deleted the openai credential of agent acme-agent" in deleted.stderr
    listed = json.loads(cli.ok("providers", "list", "--json").stdout)
    assert [item["agent_id"] for item in listed] == [None]
    cli.ok("providers", "delete", "openai")
    assert json.loads(cli.ok("providers", "list", "--json").stdout) == []
    assert_one_line_error(cli("providers", "delete", "openai"), "provider credential not found")


def test_the_key_is_never_an_argument(offline_cli: Cli) -> None:
    # Refused before anything is read or sent: no server is needed.
    assert_one_line_error(
        offline_cli("providers", "set", "openai"), "stdin only", "--api-key-stdin"
    )
    assert_one_line_error(
        offline_cli("providers", "set", "mistral", "--api-key-stdin", stdin=OPENAI_KEY),
        "unknown provider 'mistral'",
    )
    assert_one_line_error(
        offline_cli("providers", "set", "openai", "--api-key-stdin", stdin=""),
        "expected the API key on stdin",
    )


def test_server_refusals_are_one_line(
    cli: Cli, client: httpx.Client, session: Session, container: Container
) -> None:
    tenant = factories.tenant(session, container, "acme")
    session.commit()
    cli.login(tenant.viewer.username)
    refused = cli("providers", "set", "openai", "--api-key-stdin", stdin=OPENAI_KEY)
    assert_one_line_error(refused, "providers:write", "(scope_missing)")
    assert OPENAI_KEY not in refused.output
    cli.login(tenant.owner.username)
    invalid = cli("providers", "set", "openai", "--api-key-stdin", stdin="short")
    assert_one_line_error(invalid, "body.api_key", "(validation_error)")
