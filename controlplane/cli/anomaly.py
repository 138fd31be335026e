"""`gatehouse anomaly`: anomaly detection on the access log.

`scan`, `generate` and `evaluate` work on files, here, with no server: a security team can
analyse an exported log offline. `alerts …` reads and judges the alerts the control plane's
scheduled scan stored (`GATEHOUSE_URL`), like every other remote command.
"""

from typing import Annotated

import typer

from controlplane.cli import anomaly_files
from controlplane.cli.client import (
    Json,
    JsonFlag,
    LimitOption,
    cells,
    connect,
    record_table,
    segment,
)
from controlplane.cli.output import emit_json, note, show, table
from controlplane.cli.tokens import parse_duration

anomaly_app = typer.Typer(
    help="Anomaly detection on the access log: offline scans, alerts, evaluation.",
    no_args_is_help=True,
)
alerts_app = typer.Typer(help="Alerts the control plane's scan raised.", no_args_is_help=True)
anomaly_app.command(name="scan")(anomaly_files.scan)
anomaly_app.command(name="generate")(anomaly_files.generate)
anomaly_app.command(name="evaluate")(anomaly_files.evaluate)
anomaly_app.command(name="detectors")(anomaly_files.detectors)
anomaly_app.add_typer(alerts_app, name="alerts")

ALERT_COLUMNS = [
    "id",
    "status",
    "severity",
    "detector",
    "entity_type",
    "entity",
    "window_start",
    "evidence_count",
    "explanation",
]
AlertArgument = Annotated[str, typer.Argument(help="An alert id (alr_…).", show_default=False)]
NoteOption = Annotated[
    str | None, typer.Option("--note", help="Why; kept on the alert and in the audit trail.")
]


def _alert(alert_id: str) -> str:
    return f"/v1/anomaly/alerts/{segment(alert_id)}"


@alerts_app.command("list")
def alerts_list(
    status: Annotated[
        str | None,
        typer.Option(help="open, acknowledged, resolved or false_positive.", show_default=False),
    ] = None,
    severity: Annotated[
        str | None, typer.Option(help="This severity and above.", show_default=False)
    ] = None,
    detector: Annotated[str | None, typer.Option(show_default=False)] = None,
    entity: Annotated[str | None, typer.Option(show_default=False)] = None,
    workspace: Annotated[
        str | None, typer.Option("--workspace", "-w", help="A workspace id.", show_default=False)
    ] = None,
    limit: LimitOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Alerts, newest first."""
    params = {
        "status": status,
        "severity": severity,
        "detector": detector,
        "entity": entity,
        "workspace_id": workspace,
    }
    with connect() as api:
        alerts = list(api.pages("/v1/anomaly/alerts", limit=limit, **params))
    if as_json:
        emit_json(alerts)
        return
    table([cells(alert) for alert in alerts], ALERT_COLUMNS, title=f"{len(alerts)} alerts")


@alerts_app.command("show")
def alerts_show(alert_id: AlertArgument, as_json: JsonFlag = False) -> None:
    """One alert with its evidence: the access-log records behind it."""
    with connect() as api:
        alert: Json = api.get(_alert(alert_id))
    if as_json:
        emit_json(alert)
        return
    evidence = alert.pop("evidence")
    record_table(alert)
    columns = ["seq", "ts", "client_ip", "status", "reason", "path", "user_agent", "bytes_out"]
    table([cells(row) for row in evidence], columns, title="evidence")


def _judge(alert_id: str, verb: str, body: Json, as_json: bool) -> None:
    with connect() as api:
        alert: Json = api.post(f"{_alert(alert_id)}/{verb}", body)
    show(alert, as_json=as_json, columns=ALERT_COLUMNS)


@alerts_app.command("ack")
def alerts_ack(
    alert_id: AlertArgument, note_: NoteOption = None, as_json: JsonFlag = False
) -> None:
    """Acknowledge: someone is on it."""
    _judge(alert_id, "ack", {"note": note_}, as_json)


@alerts_app.command("resolve")
def alerts_resolve(
    alert_id: AlertArgument, note_: NoteOption = None, as_json: JsonFlag = False
) -> None:
    """Resolve: dealt with."""
    _judge(alert_id, "resolve", {"note": note_}, as_json)


@alerts_app.command("false-positive")
def alerts_false_positive(
    alert_id: AlertArgument,
    suppress_for: Annotated[
        str,
        typer.Option(
            "--suppress-for",
            help="Keep this detector quiet for this entity this long (30m, 12h, 7d, 2w).",
        ),
    ] = "7d",
    resume_tokens: Annotated[
        bool,
        typer.Option(
            "--resume-tokens", help="Also resume the tokens this alert's response suspended."
        ),
    ] = False,
    note_: NoteOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Judge it a false positive, and suppress the same pattern for this entity for a while."""
    body = {
        "note": note_,
        "suppress_for_seconds": parse_duration(suppress_for, "--suppress-for"),
        "resume_tokens": resume_tokens,
    }
    _judge(alert_id, "false-positive", body, as_json)
    note(f"suppressed for {suppress_for}")
