"""Remote commands for stored security audits: runs, findings, diffs, suppressions, the
checklist and its attestations, trends and reports, over the control plane's API.

Plain functions with typer parameters; `gatehouse audit` registers them. `upload` is what
`gatehouse audit run --upload` calls to store a run made here.
"""

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from audits.model import FindingStatus, Report, RunResult, Severity, Tool
from audits.reports import ReportFormat, render
from controlplane.cli.client import (
    Api,
    Json,
    JsonFlag,
    LimitOption,
    WorkspaceOption,
    cells,
    connect,
    record_table,
    resolve_workspace,
    segment,
)
from controlplane.cli.output import console, emit_json, fail, note, show, write_atomically
from controlplane.cli.tokens import parse_duration

RUN_COLUMNS = ["id", "target", "source", "started_at", "new", "open", "fixed", "suppressed"]
FINDING_COLUMNS = ["id", "status", "severity", "tool", "rule", "path", "line", "preview"]
DIFF_COLUMNS = ["change", "severity", "rule", "path", "line", "fingerprint"]
SUPPRESSION_COLUMNS = ["id", "fingerprint", "rule", "path_glob", "approver", "expires_at", "state"]
CHECKLIST_COLUMNS = ["id", "severity", "kind", "status", "title", "attested_until"]
TREND_COLUMNS = ["run_id", "started_at", "new", "open", "fixed", "suppressed"]
ATTESTATION_COLUMNS = ["id", "item_id", "attested_by", "attested_at", "expires_at"]

RunArgument = Annotated[str, typer.Argument(help="An audit run id (aud_…).", show_default=False)]
TargetOption = Annotated[
    str | None,
    typer.Option("--target", help="Only this target (what a run scanned).", show_default=False),
]
ExpiresOption = Annotated[
    str,
    typer.Option(
        "--expires",
        help="When it ends: a date (2027-01-31, UTC midnight), an ISO 8601 time, or a "
        "duration from now (30d, 12h, 2w).",
        show_default=False,
    ),
]
ReportFormatOption = Annotated[ReportFormat, typer.Option("--format", help="Report format.")]


def _audit(workspace_id: str) -> str:
    return f"/v1/workspaces/{segment(workspace_id)}/audit"


def parse_expiry(value: str, now: datetime) -> datetime:
    """A date or ISO 8601 time (UTC unless it says otherwise), else a duration from `now`."""
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return now + timedelta(seconds=parse_duration(value, "--expires"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def upload(api: Api, workspace: str, result: RunResult) -> dict[str, Any]:
    """Store a run made here (the engine's `RunResult`); returns the stored run."""
    workspace_id = resolve_workspace(api, workspace)
    stored: dict[str, Any] = api.post(
        f"{_audit(workspace_id)}/runs/import", result.model_dump(mode="json")
    )
    return stored


def _run_row(run: Json) -> Json:
    return {**run, **run["counts"]["status"]}


def runs_list(
    workspace: WorkspaceOption = None,
    target: TargetOption = None,
    limit: LimitOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Stored audit runs, newest first."""
    with connect() as api:
        base = _audit(resolve_workspace(api, workspace))
        runs = list(api.pages(f"{base}/runs", limit=limit, target=target))
    show(runs if as_json else [_run_row(run) for run in runs], as_json=as_json, columns=RUN_COLUMNS)


def run_show(
    run_id: RunArgument, workspace: WorkspaceOption = None, as_json: JsonFlag = False
) -> None:
    """One run: its target, counts by status and severity, checklist results and scan stats."""
    with connect() as api:
        run: Json = api.get(f"{_audit(resolve_workspace(api, workspace))}/runs/{segment(run_id)}")
    if as_json:
        emit_json(run)
        return
    counts = run["counts"]
    record_table(
        {
            **run,
            "by status": counts["status"],
            "by severity": counts["severity"],
            "checks": counts["checks"],
        },
        [
            "id",
            "target",
            "source",
            "started_at",
            "finished_at",
            "stored_by",
            "by status",
            "by severity",
            "checks",
            "stats",
            "tool_versions",
        ],
    )


def findings_list(
    status: Annotated[
        FindingStatus | None, typer.Option("--status", help="Only this status.")
    ] = None,
    severity: Annotated[
        Severity | None, typer.Option("--severity", help="Only this severity.")
    ] = None,
    tool: Annotated[Tool | None, typer.Option("--tool", help="Only this tool's findings.")] = None,
    run: Annotated[
        str | None,
        typer.Option("--run", help="As this run reported them (default: as they stand now)."),
    ] = None,
    target: TargetOption = None,
    workspace: WorkspaceOption = None,
    limit: LimitOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Findings as they stand now (suppressions applied as of now), or as one run saw them."""
    filters = {"status": status, "severity": severity, "tool": tool}
    with connect() as api:
        base = _audit(resolve_workspace(api, workspace))
        if run is not None:
            found: list[Json] = api.get(f"{base}/runs/{segment(run)}/findings", **filters)
            found = found[:limit] if limit is not None else found
        else:
            found = list(api.pages(f"{base}/findings", limit=limit, target=target, **filters))
    show(found if as_json else [cells(f) for f in found], as_json=as_json, columns=FINDING_COLUMNS)


def diff(
    run_id: RunArgument,
    against: Annotated[
        str | None,
        typer.Option(
            "--against", help="The run to compare with (default: the target's previous run)."
        ),
    ] = None,
    workspace: WorkspaceOption = None,
    as_json: JsonFlag = False,
) -> None:
    """What a run introduced and resolved, compared with another run."""
    with connect() as api:
        base = _audit(resolve_workspace(api, workspace))
        changes: Json = api.get(f"{base}/runs/{segment(run_id)}/diff", against=against)
    if as_json:
        emit_json(changes)
        return
    note(
        f"{changes['run_id']} against {changes['against'] or 'nothing (its first run)'}: "
        f"{len(changes['introduced'])} introduced, {len(changes['resolved'])} resolved, "
        f"{len(changes['unchanged'])} unchanged"
    )
    rows = [
        {**finding, "change": change}
        for change in ("introduced", "resolved")
        for finding in changes[change]
    ]
    show(rows, as_json=False, columns=DIFF_COLUMNS)


def suppress(
    finding_id: Annotated[str, typer.Argument(help="A finding id (afd_…).", show_default=False)],
    justification: Annotated[
        str, typer.Option("--justification", help="Why this is accepted (10 characters or more).")
    ],
    expires: ExpiresOption,
    approver: Annotated[
        str | None, typer.Option("--approver", help="Who approved it (default: you).")
    ] = None,
    workspace: WorkspaceOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Accept one finding until a date, with a justification."""
    body = {
        "justification": justification,
        "expires_at": parse_expiry(expires, datetime.now(UTC)).isoformat(),
        "approver": approver,
    }
    with connect() as api:
        base = _audit(resolve_workspace(api, workspace))
        created: Json = api.post(f"{base}/findings/{segment(finding_id)}/suppress", body)
    _show_suppressions([created], as_json, single=True)


def suppressions_list(workspace: WorkspaceOption = None, as_json: JsonFlag = False) -> None:
    """Every suppression, expired and revoked ones included."""
    with connect() as api:
        found: list[Json] = api.get(f"{_audit(resolve_workspace(api, workspace))}/suppressions")
    _show_suppressions(found, as_json)


def unsuppress(
    suppression_id: Annotated[
        str, typer.Argument(help="A suppression id (sup_…).", show_default=False)
    ],
    workspace: WorkspaceOption = None,
    as_json: JsonFlag = False,
) -> None:
    """End a suppression now (its record stays)."""
    with connect() as api:
        base = _audit(resolve_workspace(api, workspace))
        revoked: Json = api.delete(f"{base}/suppressions/{segment(suppression_id)}")
    _show_suppressions([revoked], as_json, single=True)


def _show_suppressions(rows: list[Json], as_json: bool, *, single: bool = False) -> None:
    if as_json:
        emit_json(rows[0] if single else rows)
        return
    shaped = [
        {**row, "state": "revoked" if row["revoked"] else "expired" if row["expired"] else "active"}
        for row in rows
    ]
    show(shaped, as_json=False, columns=SUPPRESSION_COLUMNS)


def attest(
    item_id: Annotated[
        str, typer.Argument(help="A manual checklist item (GH-…).", show_default=False)
    ],
    evidence: Annotated[str, typer.Option("--evidence", help="What shows the item holds.")],
    expires: ExpiresOption,
    workspace: WorkspaceOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Attest that a manual checklist item holds, with evidence, until a date."""
    body = {
        "item_id": item_id,
        "evidence": evidence,
        "expires_at": parse_expiry(expires, datetime.now(UTC)).isoformat(),
    }
    with connect() as api:
        created: Json = api.post(f"{_audit(resolve_workspace(api, workspace))}/attestations", body)
    show(created, as_json=as_json, columns=ATTESTATION_COLUMNS)


def checklist_show(workspace: WorkspaceOption = None, as_json: JsonFlag = False) -> None:
    """The threat-model checklist: each item's latest result and current attestation."""
    with connect() as api:
        entries: list[Json] = api.get(f"{_audit(resolve_workspace(api, workspace))}/checklist")
    if as_json:
        emit_json(entries)
        return
    rows = [
        {
            **entry,
            "status": entry["latest"]["status"] if entry["latest"] else "not run",
            "attested_until": entry["attestation"]["expires_at"] if entry["attestation"] else None,
        }
        for entry in entries
    ]
    show(rows, as_json=False, columns=CHECKLIST_COLUMNS)


def trends(
    target: TargetOption = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=365, help="How many runs.")] = 30,
    workspace: WorkspaceOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Findings over the last runs, oldest first."""
    with connect() as api:
        base = _audit(resolve_workspace(api, workspace))
        points: list[Json] = api.get(f"{base}/trends", target=target, limit=limit)
    show(points, as_json=as_json, columns=TREND_COLUMNS)


def report(
    run_id: RunArgument,
    fmt: ReportFormatOption = ReportFormat.MARKDOWN,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write here instead of stdout.", dir_okay=False),
    ] = None,
    workspace: WorkspaceOption = None,
) -> None:
    """A run's report: JSON, Markdown, self-contained HTML or SARIF 2.1.0.

    Rendered here, by the renderer the server uses, from the run's JSON report.
    """
    if output is not None and not output.parent.is_dir():
        fail(f"no such directory: {output.parent}")
    with connect() as api:
        base = _audit(resolve_workspace(api, workspace))
        body: Json = api.get(
            f"{base}/runs/{segment(run_id)}/report", format=ReportFormat.JSON.value
        )
    rendered = render(Report.model_validate(body), fmt)
    if output is None:
        console.out(rendered, highlight=False)
        return
    write_atomically(output, lambda out: out.write(rendered))
    note(f"{fmt.value} report of {run_id} written to {output}")
