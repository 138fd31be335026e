"""`gatehouse audit run`: one audit pass, standalone or stored by the control plane.

Standalone (the default) needs no server: it scans PATH for secrets and Python issues, applies the
tree's own `.gatehouse-audit.yaml` and `.secrets.baseline`, renders the report and gates on
`--fail-on`. `--upload` stores the run in the control plane, which adds history (new, open,
fixed), the workspace's suppressions and trends; the report and the gate then use its answer.
`--remote` asks the control plane to run the pass itself, over its configured paths and its
live configuration.

Exit codes: 0 clean (or no gate), 1 an unsuppressed finding at or above `--fail-on`, 2 bad input.
"""

import dataclasses
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from audits.config import ConfigError
from audits.engine import AuditRequest, execute, local_report
from audits.model import Report, RunResult, Severity
from audits.reports import ReportFormat, render
from audits.secrets import verify_gatehouse_tokens
from controlplane.cli.audit_local import local_checklist_context
from controlplane.cli.audit_remote import upload
from controlplane.cli.audit_summary import print_summary
from controlplane.cli.client import (
    Api,
    WorkspaceOption,
    base_url,
    connect,
    credential,
    resolve_workspace,
)
from controlplane.cli.output import console, errors, fail, note, progress, write_atomically

USAGE_ERROR = 2
GATE_FAILED = 1


class OutputFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    MARKDOWN = "markdown"
    HTML = "html"
    SARIF = "sarif"


class FailOn(StrEnum):
    NONE = "none"
    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


def run(
    path: Annotated[
        Path | None, typer.Argument(help="A directory or git checkout to scan.", show_default=False)
    ] = None,
    checklist: Annotated[
        bool, typer.Option("--checklist", help="Also run the threat-model checklist.")
    ] = False,
    history: Annotated[
        bool, typer.Option("--history", help="Scan every blob in the git history once.")
    ] = False,
    fmt: Annotated[OutputFormat, typer.Option("--format", help="Report format.")] = (
        OutputFormat.TABLE
    ),
    output: Annotated[
        Path | None, typer.Option("--output", help="Write the report here, not to stdout.")
    ] = None,
    fail_on: Annotated[
        FailOn, typer.Option("--fail-on", help="Exit 1 on an unsuppressed finding this severe.")
    ] = FailOn.NONE,
    config: Annotated[
        Path | None,
        typer.Option("--config", help="Audit settings (default: PATH/.gatehouse-audit.yaml)."),
    ] = None,
    target: Annotated[
        str | None, typer.Option("--target", help="The name runs are tracked under.")
    ] = None,
    jobs: Annotated[int | None, typer.Option("--jobs", min=1, help="Worker processes.")] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Rescan every file, ignoring the content cache.")
    ] = False,
    verify: Annotated[
        bool, typer.Option("--verify", help="Ask the control plane whether found tokens are live.")
    ] = False,
    revoke: Annotated[
        bool, typer.Option("--revoke", help="Revoke every live Gatehouse token found.")
    ] = False,
    upload_run: Annotated[
        bool, typer.Option("--upload", help="Store the run in the control plane.")
    ] = False,
    remote: Annotated[
        bool, typer.Option("--remote", help="Let the control plane run the pass itself.")
    ] = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Run an audit pass: secrets, static analysis and (with --checklist) the checklist."""
    if remote:
        if path is not None and not path.is_absolute():
            fail("with --remote, PATH is a path on the server (absolute)", USAGE_ERROR)
        report = _remote_run(path, checklist=checklist, workspace=workspace)
    else:
        if path is None and not checklist:
            fail("give a PATH to scan, --checklist, or both", USAGE_ERROR)
        if path is not None and not path.is_dir():
            fail(f"{path}: not a directory", USAGE_ERROR)
        request = AuditRequest(
            paths=[path] if path is not None else [],
            checklist=checklist,
            history=history,
            config_file=config,
            jobs=jobs,
            use_cache=not no_cache,
            target=target,
        )
        result = _local_run(request)
        if (verify or revoke) and path is not None:
            url = base_url()
            token, _ = credential(url)
            result.findings[:] = verify_gatehouse_tokens(
                path, result.findings, server=url, credential=token, revoke=revoke
            )
        report = _stored(result, workspace) if upload_run else local_report(result)
    _emit(report, fmt, output)
    _gate(report, fail_on)


def _local_run(request: AuditRequest) -> RunResult:
    with (
        progress("scanning", show=errors.is_terminal) as report_progress,
        local_checklist_context(request.checklist) as (container, att),
    ):
        try:
            return execute(
                dataclasses.replace(request, progress=report_progress),
                container=container,
                attestations=att,
            )
        except ConfigError as error:
            fail(str(error), USAGE_ERROR)


def _stored(result: RunResult, workspace: str | None) -> Report:
    with connect() as api:
        workspace_id = resolve_workspace(api, workspace)
        stored = upload(api, workspace_id, result)
        note(f"stored as run {stored['id']} in workspace {workspace_id}")
        return _fetch_report(api, workspace_id, str(stored["id"]))


def _remote_run(path: Path | None, *, checklist: bool, workspace: str | None) -> Report:
    with connect() as api:
        workspace_id = resolve_workspace(api, workspace)
        body = {"checklist": checklist, "paths": [str(path)] if path is not None else []}
        stored = api.post(f"/v1/workspaces/{workspace_id}/audit/runs", body)
        note(f"the control plane ran and stored run {stored['id']}")
        return _fetch_report(api, workspace_id, str(stored["id"]))


def _fetch_report(api: Api, workspace_id: str, run_id: str) -> Report:
    body: dict[str, Any] = api.get(
        f"/v1/workspaces/{workspace_id}/audit/runs/{run_id}/report", format="json"
    )
    return Report.model_validate(body)


def _emit(report: Report, fmt: OutputFormat, output: Path | None) -> None:
    if fmt is OutputFormat.TABLE:
        print_summary(report, console)
        return
    rendered = render(report, ReportFormat(fmt.value))
    print_summary(report, errors)
    if output is None:
        console.out(rendered, highlight=False)
        return
    write_atomically(output, lambda out: out.write(rendered))
    note(f"{fmt.value} report written to {output}")


def _gate(report: Report, fail_on: FailOn) -> None:
    if fail_on is FailOn.NONE:
        return
    failing = report.unsuppressed_at_least(Severity(fail_on.value))
    if failing:
        note(f"{len(failing)} unsuppressed finding(s) at or above {fail_on.value}")
        raise typer.Exit(GATE_FAILED)
