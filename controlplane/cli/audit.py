"""Remote commands for the admin audit trail: `audit-events list` and `audit-events export`.

The export streams page by page, so a long trail never sits in memory; written to a file it
lands under a temporary name first, so an interrupted export never looks like a complete one.
"""

import csv
import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer

from controlplane.audit_events.schemas import AuditEventOut
from controlplane.cli.client import (
    Api,
    Json,
    JsonFlag,
    LimitOption,
    cells,
    connect,
    resolve_workspace,
)
from controlplane.cli.output import ExportFormat, emit_json, errors, fail, show, write_atomically

audit_app = typer.Typer(help="The admin audit trail.", no_args_is_help=True)

# The export's CSV columns are the API's fields, in the API's order.
EXPORT_COLUMNS = list(AuditEventOut.model_fields)
LIST_COLUMNS = [
    "ts",
    "action",
    "outcome",
    "actor_type",
    "actor_id",
    "target_type",
    "target_id",
    "workspace_id",
]


SinceOption = Annotated[
    str | None,
    typer.Option("--since", help="Only events at or after this ISO 8601 time (UTC if no offset)."),
]
UntilOption = Annotated[
    str | None,
    typer.Option("--until", help="Only events before this ISO 8601 time (UTC if no offset)."),
]
AuditWorkspaceOption = Annotated[
    str | None,
    typer.Option(
        "--workspace",
        "-w",
        help="Only this workspace (id or name). Default: every workspace where the credential "
        "may read the audit trail, plus instance events for admins.",
        show_default=False,
    ),
]


def _instant(value: str | None, flag: str) -> str | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        fail(f"{flag} takes an ISO 8601 time such as 2025-01-31T12:00:00Z, got {value!r}")
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).isoformat()


def _events(
    api: Api,
    workspace: str | None,
    since: str | None,
    until: str | None,
    action: str | None = None,
    limit: int | None = None,
) -> Iterator[Json]:
    window = {"since": _instant(since, "--since"), "until": _instant(until, "--until")}
    # The filter is explicit only: unlike workspace-scoped commands, no default workspace and
    # no GATEHOUSE_WORKSPACE, because "everything I may read" is the useful default here.
    workspace_id = resolve_workspace(api, workspace) if workspace else None
    return api.pages(
        "/v1/audit-events", limit=limit, workspace_id=workspace_id, action=action, **window
    )


@audit_app.command("list")
def audit_list(
    workspace: AuditWorkspaceOption = None,
    action: Annotated[
        str | None, typer.Option("--action", help="Only this action, e.g. token.create.")
    ] = None,
    since: SinceOption = None,
    until: UntilOption = None,
    limit: LimitOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Audit events, oldest first."""
    with connect() as api:
        events = list(_events(api, workspace, since, until, action, limit))
    if as_json:
        emit_json(events)
    else:
        show([cells(event) for event in events], as_json=False, columns=LIST_COLUMNS)


def _csv_row(event: Json) -> list[Any]:
    return [
        json.dumps(event.get(column), sort_keys=True)
        if column == "details"
        else ""
        if event.get(column) is None
        else event[column]
        for column in EXPORT_COLUMNS
    ]


def _write(events: Iterator[Json], out: TextIO, fmt: ExportFormat) -> int:
    count = 0
    if fmt is ExportFormat.CSV:
        writer = csv.writer(out)
        writer.writerow(EXPORT_COLUMNS)
        for event in events:
            writer.writerow(_csv_row(event))
            count += 1
    else:
        for event in events:
            out.write(json.dumps(event, sort_keys=False) + "\n")
            count += 1
    return count


@audit_app.command("export")
def audit_export(
    fmt: Annotated[ExportFormat, typer.Option("--format", help="jsonl or csv.")] = (
        ExportFormat.JSONL
    ),
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Write here (mode 0600) instead of stdout.", dir_okay=False
        ),
    ] = None,
    since: SinceOption = None,
    until: UntilOption = None,
    workspace: AuditWorkspaceOption = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="With --output: print a JSON summary on stdout.")
    ] = False,
) -> None:
    """Export every matching audit event: JSONL (one object per line) or CSV (details as JSON)."""
    if output is not None and not output.parent.is_dir():
        fail(f"no such directory: {output.parent}")
    with connect() as api:
        events = _events(api, workspace, since, until)
        if output is None or str(output) == "-":
            _write(events, sys.stdout, fmt)
            return
        count = write_atomically(output, lambda out: _write(events, out, fmt))
    if as_json:
        emit_json({"output": str(output), "format": fmt.value, "events": count})
    else:
        errors.print(f"wrote {count} events to {output}", highlight=False, markup=False)
