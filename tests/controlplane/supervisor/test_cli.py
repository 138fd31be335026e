"""`gatehouse runtime schema`, `runtime status` and `runtime serve`'s refusal without a key."""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from controlplane.cli.main import app as cli_app
from controlplane.config import get_settings
from controlplane.container import Container
from runtime.contract import CONTRACT_VERSION
from tests import factories
from tests.controlplane.cli.helpers import Cli, assert_one_line_error
from tests.live import ServerThread


def test_schema_prints_the_contract_as_json_schema() -> None:
    result = CliRunner().invoke(cli_app, ["runtime", "schema"])

    assert result.exit_code == 0, result.output
    schema = json.loads(result.stdout)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert CONTRACT_VERSION in schema["title"]
    event_types = set(schema["discriminator"]["mapping"])
    assert {"run.start", "text.delta", "tool_call.start", "usage", "error", "run.finish"} <= (
        event_types
    )


def test_status_asks_the_server(
    app: FastAPI,
    server: tuple[FastAPI, ServerThread],
    session: Session,
    container: Container,
    tmp_path: Path,
) -> None:
    tenant = factories.tenant(session, container, "acme")
    session.commit()
    cli = Cli(url=server[1].url, home=tmp_path / "home")

    as_json = json.loads(cli.ok("runtime", "status", "--json", token=tenant.agent_token).stdout)
    assert as_json["state"] == "down"
    assert as_json["last_error"] == "the runtime is not configured"

    table = cli.ok("runtime", "status", token=tenant.agent_token).stdout
    assert "down" in table
    assert "the runtime is not configured" in table


def test_status_without_a_credential_is_one_line(tmp_path: Path) -> None:
    cli = Cli(url="http://127.0.0.1:9", home=tmp_path / "home")
    assert_one_line_error(cli("runtime", "status"), "no credential")


@pytest.fixture
def fresh_settings() -> Iterator[None]:
    """`get_settings()` is cached per process; this test's environment must be read afresh."""
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_serve_refuses_to_start_without_a_trust_key(tmp_path: Path, fresh_settings: None) -> None:
    cli = Cli(url="http://127.0.0.1:9", home=tmp_path / "home")
    missing = tmp_path / "nowhere" / "runtime-signing.pub"
    result = cli("runtime", "serve", env={"GATEHOUSE_RUNTIME_TRUST_KEY_FILE": str(missing)})
    assert_one_line_error(result, f"no runtime trust key at {missing}")
