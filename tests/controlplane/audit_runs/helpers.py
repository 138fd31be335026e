"""Builders for audit tests: engine results with known findings, and API shortcuts."""

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from audits.model import (
    Category,
    CheckKind,
    CheckResult,
    CheckStatus,
    Finding,
    RunResult,
    Severity,
    Suppression,
    Tool,
    fingerprint,
)
from controlplane.container import Container
from controlplane.identity.models import User

TARGET = "git@example.test:acme/service.git"


def session_of(app: FastAPI, who: User) -> dict[str, str]:
    """A session JWT issued directly: no login round trip per test."""
    container: Container = app.state.container
    return {"Authorization": f"Bearer {container.session_tokens.issue(who.id)}"}


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def audit(workspace_id: str) -> str:
    return f"/v1/workspaces/{workspace_id}/audit"


def secret(path: str, line: int, *, key: str = "k1", severity: Severity = Severity.HIGH) -> Finding:
    """A secret finding as the scanner reports one: hash and redacted preview, never a value."""
    secret_hash = fingerprint("hash", key, path, key)[:40]
    return Finding(
        fingerprint=fingerprint(Tool.SECRETS, "AWS Access Key", path, secret_hash),
        tool=Tool.SECRETS,
        rule="AWS Access Key",
        rule_name="AWS Access Key",
        category=Category.SECRET,
        severity=severity,
        cwe=798,
        path=path,
        line=line,
        message="An AWS access key is committed to the repository.",
        secret_hash=secret_hash,
        preview="AKIA…" + key[-2:],
    )


def code(
    path: str, line: int, *, rule: str = "B602", severity: Severity = Severity.MEDIUM
) -> Finding:
    return Finding(
        fingerprint=fingerprint(Tool.BANDIT, rule, path, f"context of {path}"),
        tool=Tool.BANDIT,
        rule=rule,
        rule_name="subprocess_popen_with_shell_equals_true",
        category=Category.CODE,
        severity=severity,
        confidence="HIGH",
        cwe=78,
        path=path,
        line=line,
        message="subprocess call with shell=True identified.",
    )


def check(item_id: str, status: CheckStatus, severity: Severity = Severity.HIGH) -> CheckResult:
    return CheckResult(
        item_id=item_id,
        title=f"The control holds for {item_id}",
        severity=severity,
        kind=CheckKind.AUTOMATED,
        status=status,
        explanation=f"{item_id} was {status.value}",
        threats=("T-TOK-01",),
        asvs=("V3.3.1",),
    )


def result(
    *findings: Finding,
    target: str = TARGET,
    checks: list[CheckResult] | None = None,
    suppressions: list[Suppression] | None = None,
    started_at: datetime | None = None,
) -> RunResult:
    started = started_at or datetime.now(UTC) - timedelta(seconds=5)
    return RunResult(
        target=target,
        started_at=started,
        finished_at=started + timedelta(seconds=3),
        tool_versions={"gatehouse": "test"},
        findings=list(findings),
        checks=checks or [],
        suppressions=suppressions or [],
    )


def upload(
    client: httpx.Client, workspace_id: str, headers: dict[str, str], run: RunResult
) -> dict[str, Any]:
    stored: dict[str, Any] = ok(
        client.post(
            f"{audit(workspace_id)}/runs/import",
            json=run.model_dump(mode="json"),
            headers=headers,
        ),
        201,
    )
    return stored


def by_fingerprint(findings: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {finding["fingerprint"]: finding for finding in findings}


def in_days(days: float) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()
