"""`--verify` and `--revoke` against the real control plane: `POST /v1/tokens/leak-check`
served by the app on loopback, with tokens issued in this test's database."""

import hashlib
from pathlib import Path

import pytest
import typer
from fastapi import FastAPI
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from audits.model import Finding
from audits.secrets import LeakCheckError, verify_gatehouse_tokens
from audits.secrets.liveness import BATCH_SIZE, _statuses
from controlplane.cli.audit_secrets import secrets as secrets_command
from controlplane.container import Container
from tests import factories
from tests.audits.secrets import fakes
from tests.audits.secrets.conftest import Scanner
from tests.live import ServerThread


class Plane:
    def __init__(self, url: str, leaked: str, caller: str) -> None:
        self.url, self.leaked, self.caller = url, leaked, caller


@pytest.fixture
def plane(
    app: FastAPI, server: tuple[FastAPI, ServerThread], session: Session, container: Container
) -> Plane:
    leaky = factories.tenant(session, container, "leaky")
    finder = factories.tenant(session, container, "finder")
    session.commit()
    return Plane(server[1].url, leaky.agent_token, finder.agent_token)


def _verify(
    plane: Plane, root: Path, findings: list[Finding], *, revoke: bool = False
) -> dict[str, str | None]:
    checked = verify_gatehouse_tokens(
        root, findings, server=plane.url, credential=plane.caller, revoke=revoke
    )
    assert [f.fingerprint for f in checked] == [f.fingerprint for f in findings]
    return {f.secret_hash or "": f.liveness for f in checked if f.rule == "Gatehouse Token"}


def _hash(token: str) -> str:
    return hashlib.sha1(token.encode(), usedforsecurity=False).hexdigest()


def test_each_token_found_is_reported_live_or_unknown(
    scan: Scanner, tree: Path, plane: Plane
) -> None:
    unknown = fakes.gatehouse_token()
    fakes.write(tree, "ci.env", f"GATEHOUSE_TOKEN={plane.leaked}\nOLD={unknown}\n")
    fakes.write(tree, "aws.sh", f"export KEY={fakes.aws_key()}\n")
    findings, _ = scan(tree)

    liveness = _verify(plane, tree, findings)

    assert liveness == {_hash(plane.leaked): "live", _hash(unknown): "unknown"}
    assert all(f.liveness is None for f in findings)


def test_revoke_kills_the_live_tokens(scan: Scanner, tree: Path, plane: Plane) -> None:
    fakes.write(tree, "ci.env", f"GATEHOUSE_TOKEN={plane.leaked}\n")
    findings, _ = scan(tree)

    revoked = _verify(plane, tree, findings, revoke=True)
    afterwards = _verify(plane, tree, findings)

    assert revoked == afterwards == {_hash(plane.leaked): "revoked"}


def test_more_tokens_than_one_request_holds_go_in_batches(
    scan: Scanner, tree: Path, plane: Plane
) -> None:
    many = [fakes.gatehouse_token() for _ in range(BATCH_SIZE + 20)]
    fakes.write(tree, "dump.txt", "\n".join([*many, plane.leaked]) + "\n")
    findings, _ = scan(tree)

    liveness = _verify(plane, tree, findings)

    assert len(liveness) == BATCH_SIZE + 21
    assert sorted(liveness.values()).count("unknown") == BATCH_SIZE + 20
    assert liveness[_hash(plane.leaked)] == "live"


def test_a_token_only_in_history_is_read_back_from_its_commit(
    scan: Scanner, tree: Path, plane: Plane
) -> None:
    fakes.init_repo(tree)
    fakes.write(tree, "deploy.env", f"GATEHOUSE_TOKEN={plane.leaked}\n")
    fakes.commit(tree, "oops")
    fakes.write(tree, "deploy.env", "GATEHOUSE_TOKEN=\n")
    fakes.commit(tree, "remove it")
    findings, _ = scan(tree, history=True)

    assert _verify(plane, tree, findings) == {_hash(plane.leaked): "live"}


def test_a_refusal_is_an_error_that_names_no_token(scan: Scanner, tree: Path, plane: Plane) -> None:
    fakes.write(tree, "ci.env", f"GATEHOUSE_TOKEN={plane.leaked}\n")
    findings, _ = scan(tree)

    with pytest.raises(LeakCheckError) as raised:
        verify_gatehouse_tokens(
            tree, findings, server=plane.url, credential=fakes.gatehouse_token(), revoke=False
        )

    assert raised.value.status_code == 401
    assert plane.leaked not in str(raised.value)


def test_the_cli_verifies_with_the_configured_server_and_credential(
    tree: Path, tmp_path: Path, plane: Plane
) -> None:
    fakes.write(tree, "ci.env", f"GATEHOUSE_TOKEN={plane.leaked}\n")
    app = typer.Typer()
    app.command()(secrets_command)
    environment = {"GATEHOUSE_URL": plane.url, "GATEHOUSE_TOKEN": plane.caller, "COLUMNS": "250"}

    result = CliRunner().invoke(
        app, [str(tree), "--verify", "--cache-dir", str(tmp_path / "c")], env=environment
    )

    assert result.exit_code == 0, result.stderr
    row = next(line for line in result.stdout.splitlines() if "ci.env" in line)
    assert "Gatehouse Token" in row
    assert "live" in row
    assert plane.leaked not in result.stdout + result.stderr


def test_an_answer_that_does_not_match_the_request_is_rejected() -> None:
    token = fakes.gatehouse_token()
    digest = hashlib.sha256(token.encode()).hexdigest()
    good = {"token_sha256": digest, "status": "live", "accessor": None, "revoked_now": False}

    assert _statuses({"results": [good]}, [token]) == {digest: "live"}
    for answer in (
        {"results": []},
        {"results": [{**good, "token_sha256": "0" * 64}]},
        {"results": [{**good, "status": "sleeping"}]},
        [good],
    ):
        with pytest.raises(LeakCheckError):
            _statuses(answer, [token])
