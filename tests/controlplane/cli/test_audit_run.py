"""`gatehouse audit run`: standalone passes over real trees, the gate, the report formats, the
tree's own suppressions, and `--upload` to a live control plane."""

import json
import random
import string
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy.orm import Session
from typer.testing import Result

from audits.config import CONFIG_FILE
from controlplane.container import Container
from controlplane.tokens.format import generate_token
from tests import factories
from tests.controlplane.cli.helpers import Cli


def aws_key() -> str:
    """Made at run time: the repository itself holds no key-shaped literal."""
    alphabet = string.ascii_uppercase + string.digits
    return "AKIA" + "".join(random.choices(alphabet, k=16))


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    root.mkdir()
    (root / "app.py").write_text("import subprocess\n\nsubprocess.call('ls', shell=True)\n")
    (root / "README.md").write_text("Nothing to see.\n")
    return root


def audit(cli: Cli, *args: str) -> Result:
    cache = cli.home.parent / "cache"
    return cli("audit", "run", *args, env={"XDG_CACHE_HOME": str(cache)})


def plant(root: Path, secret: str, name: str = "settings.py") -> None:
    (root / name).write_text(f'AWS_ACCESS_KEY_ID = "{secret}"\n')


def test_a_clean_gate_passes_and_a_high_finding_fails_it(offline_cli: Cli, tree: Path) -> None:
    clean = audit(offline_cli, str(tree), "--fail-on", "high")
    assert clean.exit_code == 0, clean.output
    assert "B602" in clean.stdout  # bandit's shell=True finding is reported, below the gate
    key = aws_key()
    plant(tree, key)
    failed = audit(offline_cli, str(tree), "--fail-on", "high")
    assert failed.exit_code == 1, failed.output
    assert "AWS Access Key" in failed.stdout
    assert "1 unsuppressed finding(s) at or above high" in failed.stderr
    assert key not in failed.output
    ungated = audit(offline_cli, str(tree))
    assert ungated.exit_code == 0


def test_a_gatehouse_token_is_critical(offline_cli: Cli, tree: Path) -> None:
    token = generate_token()
    (tree / "deploy.env").write_text(f"GATEHOUSE_TOKEN={token}\n")
    result = audit(offline_cli, str(tree), "--fail-on", "critical", "--format", "json")
    assert result.exit_code == 1
    assert token not in result.output
    report = json.loads(result.stdout)
    [finding] = [f for f in report["findings"] if f["rule"] == "Gatehouse Token"]
    assert finding["severity"] == "critical"
    assert finding["status"] == "new"


def write_suppression(root: Path, *, expires: datetime) -> None:
    entry = {
        "rule": "AWS Access Key",
        "path_glob": "settings.py",
        "justification": "a documented test credential that AWS rejects",
        "approver": "security-team",
        "created": (expires - timedelta(days=400)).date().isoformat(),
        "expires": expires.date().isoformat(),
    }
    (root / CONFIG_FILE).write_text(yaml.safe_dump({"suppressions": [entry]}))


def test_the_tree_s_suppression_passes_the_gate_until_it_expires(
    offline_cli: Cli, tree: Path
) -> None:
    plant(tree, aws_key())
    now = datetime.now(UTC)
    write_suppression(tree, expires=now + timedelta(days=30))
    accepted = audit(offline_cli, str(tree), "--fail-on", "high", "--format", "markdown")
    assert accepted.exit_code == 0, accepted.output
    assert "a documented test credential that AWS rejects" in accepted.stdout
    write_suppression(tree, expires=now - timedelta(days=1))
    lapsed = audit(offline_cli, str(tree), "--fail-on", "high")
    assert lapsed.exit_code == 1


def test_a_broken_configuration_is_a_usage_error(offline_cli: Cli, tree: Path) -> None:
    (tree / CONFIG_FILE).write_text("suppressions:\n  - {rule: B602}\n")
    result = audit(offline_cli, str(tree))
    assert result.exit_code == 2
    assert "suppressions.0" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize("fmt", ["sarif", "html", "json", "markdown"])
def test_reports_are_written_whole_to_the_output_file(
    offline_cli: Cli, tree: Path, fmt: str
) -> None:
    key = aws_key()
    plant(tree, key)
    output = tree.parent / f"report.{fmt}"
    result = audit(offline_cli, str(tree), "--format", fmt, "--output", str(output))
    assert result.exit_code == 0, result.output
    text = output.read_text()
    assert key not in text
    assert "settings.py" in text
    if fmt == "sarif":
        sarif = json.loads(text)
        assert sarif["version"] == "2.1.0"
        rules = {r["ruleId"] for run in sarif["runs"] for r in run["results"]}
        assert {"AWS Access Key", "B602"} <= rules
    # The summary still reaches people, on stderr, while stdout stays empty for the file case.
    assert result.stdout == ""
    assert "Audit local-" in result.stderr


def test_bad_input_is_refused_with_exit_2(offline_cli: Cli, tmp_path: Path) -> None:
    nothing = audit(offline_cli)
    assert nothing.exit_code == 2
    assert "give a PATH" in nothing.stderr
    missing = audit(offline_cli, str(tmp_path / "absent"))
    assert missing.exit_code == 2
    assert "not a directory" in missing.stderr
    no_plane = audit(offline_cli, "--checklist")
    assert no_plane.exit_code == 2
    assert "no control plane" in no_plane.stderr


@pytest.fixture
def auditor_token(session: Session, container: Container) -> str:
    tenant = factories.tenant(session, container, "shop")
    _, raw = factories.token(
        session, container, tenant.workspace, tenant.owner, ["audit:read", "audit:run"]
    )
    session.commit()
    return raw


def upload(cli: Cli, tree: Path, token: str) -> Result:
    return cli(
        "audit", "run", str(tree), "--upload", "--target", "shop", "--format", "json",
        token=token,
        env={"XDG_CACHE_HOME": str(tree.parent / "cache"), "GATEHOUSE_WORKSPACE": "shop"},
    )  # fmt: skip


def test_upload_stores_the_run_and_history_marks_fixes(
    cli: Cli, tree: Path, auditor_token: str
) -> None:
    plant(tree, aws_key())
    first = upload(cli, tree, auditor_token)
    assert first.exit_code == 0, first.output
    assert "stored as run aud_" in first.stderr
    statuses = {f["rule"]: f["status"] for f in json.loads(first.stdout)["findings"]}
    assert statuses["AWS Access Key"] == "new"
    (tree / "settings.py").unlink()
    second = upload(cli, tree, auditor_token)
    assert second.exit_code == 0, second.output
    statuses = {f["rule"]: f["status"] for f in json.loads(second.stdout)["findings"]}
    assert statuses["AWS Access Key"] == "fixed"
    assert statuses["B602"] == "open"
    listed = cli(
        "audit", "runs", "list", "--json", token=auditor_token, env={"GATEHOUSE_WORKSPACE": "shop"}
    )
    assert listed.exit_code == 0, listed.output
    assert [run["target"] for run in json.loads(listed.stdout)] == ["shop", "shop"]
