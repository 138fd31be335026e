"""A run the control plane makes itself, over a configured tree, with the real engine."""

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.orm import Session

from controlplane.container import Container
from controlplane.tokens.format import generate_token
from tests import factories
from tests.controlplane.audit_runs.helpers import audit, ok, session_of


def test_a_configured_tree_is_scanned_and_no_secret_leaves(
    app: FastAPI,
    client: httpx.Client,
    session: Session,
    container: Container,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The scan cache goes where the test says, not into the real home.
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    leaked = generate_token()  # a well-formed token, made here: never in the repository
    tree = tmp_path / "service"
    tree.mkdir()
    (tree / "deploy.py").write_text(
        "import subprocess\n\n"
        f'TOKEN = "{leaked}"\n\n'
        "def deploy(command):\n"
        "    return subprocess.call(command, shell=True)\n",
        encoding="utf-8",
    )
    app.state.container = container.rebind(container.session_factory, audit_scan_paths=[tree])
    tenant = factories.tenant(session, container, "scanner")
    session.commit()
    owner = session_of(app, tenant.owner)
    ws = tenant.workspace.id

    # The configured path, spelled another way, is still the configured path.
    run = ok(
        client.post(
            f"{audit(ws)}/runs",
            json={"paths": [f"{tree}/../service/"], "checklist": False},
            headers=owner,
        ),
        201,
    )
    assert (run["target"], run["source"]) == ("service", "api")
    assert run["counts"]["checks"] == {}
    findings = ok(client.get(f"{audit(ws)}/runs/{run['id']}/findings", headers=owner))
    by_rule = {finding["rule"]: finding for finding in findings}
    token = by_rule["Gatehouse Token"]
    assert (token["severity"], token["path"], token["line"], token["status"]) == (
        "critical",
        "deploy.py",
        3,
        "new",
    )
    assert "…" in token["preview"]
    assert by_rule["B602"]["tool"] == "bandit"

    responses = [
        client.get(f"{audit(ws)}/runs/{run['id']}", headers=owner),
        client.get(f"{audit(ws)}/findings", headers=owner),
        *(
            client.get(
                f"{audit(ws)}/runs/{run['id']}/report", params={"format": fmt}, headers=owner
            )
            for fmt in ("json", "markdown", "html", "sarif")
        ),
    ]
    for response in responses:
        assert response.status_code == 200, response.text
        assert leaked not in response.text
        assert leaked[4:-6] not in response.text
