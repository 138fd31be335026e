"""Local commands for the access log: `export`, `verify` and `prune` work on the database
directly (like `gatehouse db upgrade`), so they need the server's settings, not a token.

An export streams page by page; written to a file it lands under a temporary name first (mode
0600), so an interrupted export never looks like a complete one.
"""

import csv
import json
import sys
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer
from sqlalchemy.exc import SQLAlchemyError

from controlplane.access_log import service
from controlplane.access_log.records import FIELD_NAMES, json_ready
from controlplane.access_log.runtime import prune
from controlplane.cli.local import database_failed, local_container
from controlplane.cli.output import ExportFormat, emit_json, errors, fail, note, write_atomically
from controlplane.cli.tokens import parse_duration
from controlplane.config import get_settings
from controlplane.db import transaction

access_log_app = typer.Typer(
    help="The proxy's access log (local: reads the database directly).", no_args_is_help=True
)

JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def _instant(value: str | None, flag: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        fail(f"{flag} takes an ISO 8601 time such as 2025-01-31T12:00:00Z, got {value!r}")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    return json.dumps(value) if isinstance(value, bool) else value


def _write(rows: Iterable[Any], out: TextIO, fmt: ExportFormat) -> int:
    count = 0
    writer = csv.writer(out) if fmt is ExportFormat.CSV else None
    if writer is not None:
        writer.writerow(FIELD_NAMES)
    for row in rows:
        record = json_ready(row._mapping)
        if writer is not None:
            writer.writerow([_csv_cell(record[name]) for name in FIELD_NAMES])
        else:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
        count += 1
    return count


@access_log_app.command("export")
def export(
    since: Annotated[
        str | None, typer.Option("--since", help="Records at or after this ISO 8601 time (UTC).")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="Records before this ISO 8601 time (UTC).")
    ] = None,
    fmt: Annotated[ExportFormat, typer.Option("--format", help="jsonl or csv.")] = (
        ExportFormat.JSONL
    ),
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Write here (mode 0600) instead of stdout.", dir_okay=False
        ),
    ] = None,
) -> None:
    """Export records, oldest first: one JSON object per line, or CSV, with exactly the
    record's fields."""
    window = {"since": _instant(since, "--since"), "until": _instant(until, "--until")}
    if output is not None and not output.parent.is_dir():
        fail(f"no such directory: {output.parent}")
    container = local_container()
    try:
        with transaction(container.session_factory, read_only=True) as session:
            rows = service.export(session, **window)
            if output is None or str(output) == "-":
                _write(rows, sys.stdout, fmt)
                return
            count = write_atomically(output, lambda out: _write(rows, out, fmt))
    except SQLAlchemyError as error:
        database_failed(error)
    errors.print(f"wrote {count} records to {output}", highlight=False, markup=False)


@access_log_app.command("verify")
def verify(as_json: JsonFlag = False) -> None:
    """Check the hash chain from the last pruned row to the head; exit 1 on the first breaks."""
    container = local_container()
    try:
        with transaction(container.session_factory, read_only=True) as session:
            report = service.verify(session)
    except SQLAlchemyError as error:
        database_failed(error)
    if as_json:
        emit_json(
            {
                "intact": report.intact,
                "checked": report.checked,
                "anchor": {"seq": report.anchor.seq, "hash": report.anchor.hash},
                "head": {"seq": report.head.seq, "hash": report.head.hash},
                "findings": report.findings,
            }
        )
    elif report.intact:
        sys.stdout.write(
            f"intact: {report.checked} records, seq {report.anchor.seq + 1}-{report.head.seq}, "
            f"head hash {report.head.hash}\n"
        )
    else:
        sys.stdout.write("".join(f"{finding}\n" for finding in report.findings))
    if not report.intact:
        raise typer.Exit(1)


@access_log_app.command("prune")
def prune_command(
    older_than: Annotated[
        str | None,
        typer.Option(
            "--older-than",
            help="Remove records older than this: 90d, 12w, … "
            "Default: GATEHOUSE_ACCESS_LOG_RETENTION_DAYS.",
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Remove old records; the chain stays verifiable from the last removed row."""
    settings = get_settings()
    age = (
        timedelta(seconds=parse_duration(older_than, "--older-than"))
        if older_than is not None
        else timedelta(days=settings.access_log_retention_days)
    )
    container = local_container()
    try:
        result = prune(container.session_factory, age)
    except SQLAlchemyError as error:
        database_failed(error)
    if as_json:
        emit_json(
            {
                "rows": result.rows,
                "partitions": result.partitions,
                "anchor": {"seq": result.anchor.seq, "hash": result.anchor.hash},
            }
        )
        return
    dropped = f", dropped partitions {', '.join(result.partitions)}" if result.partitions else ""
    note(f"deleted {result.rows} rows{dropped}; the chain now starts after seq {result.anchor.seq}")
