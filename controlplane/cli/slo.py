"""`gatehouse slo report`: the runtime's service-level objectives over a recent window.

A local command, like `gatehouse access-log verify`: it reads the per-run measurements the
runtime stored in the database (so it needs the server's settings, not a token), and so it
covers every runtime process and survives restarts, which in-memory histograms do not.
"""

import re
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Annotated

import typer
from rich.markup import escape
from sqlalchemy.exc import SQLAlchemyError

from controlplane.cli.local import database_failed, local_container
from controlplane.cli.output import console, emit_json, fail, table
from controlplane.db import transaction
from controlplane.kit.clock import utcnow
from runtime.slo import Objectives, ScopeReport, SloReport, compute
from runtime.store import measurements

slo_app = typer.Typer(
    help="Service-level objectives (local: reads the database directly).", no_args_is_help=True
)

_WINDOW = re.compile(r"([1-9]\d*)([smhdw])")
_UNIT = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
USAGE_ERROR = 2  # what click uses for a bad option value
STATUS_STYLE = {"met": "green", "breached": "bold red", "no data": "dim"}


def parse_window(value: str) -> timedelta:
    """`30m`, `24h`, `7d` (also `s` and `w`) as a duration; anything else exits 2."""
    match = _WINDOW.fullmatch(value.strip().lower())
    if match is None:
        fail(
            f"--window takes a positive number with s, m, h, d or w (e.g. 30m, 24h, 7d), "
            f"got {value!r}",
            code=USAGE_ERROR,
        )
    return timedelta(**{_UNIT[match.group(2)]: int(match.group(1))})


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.2%}"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} ms"


def _burn(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def _columns(objectives: Objectives) -> list[str]:
    return [
        "scope",
        "runs",
        "cancelled",
        f"error rate (<= {objectives.error_rate:.2%})",
        "TTFT+ p50",
        f"TTFT+ p95 (<= {objectives.ttft_p95_ms:g} ms)",
        "attainment",
        "burn ttft",
        "burn errors",
        "status",
    ]


def _row(scope: ScopeReport) -> list[str]:
    return [
        escape(scope.scope),
        str(scope.runs),
        str(scope.cancelled),
        _percent(scope.error_rate),
        _ms(scope.overhead_p50_ms),
        _ms(scope.overhead_p95_ms),
        _percent(scope.attainment),
        _burn(scope.latency_burn_rate),
        _burn(scope.error_burn_rate),
        f"[{STATUS_STYLE[scope.status]}]{scope.status}[/]",
    ]


def _print_table(report: SloReport, window: str, since: datetime) -> None:
    # TTFT+ is the time to first token the runtime adds (overhead_ms), not the model's own.
    columns = _columns(report.objectives)
    rows = [
        dict(zip(columns, _row(scope), strict=True)) for scope in (report.overall, *report.scopes)
    ]
    title = f"Runtime SLOs, last {escape(window)} (since {since:%Y-%m-%d %H:%M} UTC)"
    table(rows, columns, title)


def _as_json(report: SloReport, window: str, since: datetime) -> dict[str, object]:
    return {
        "window": window,
        "since": since.isoformat(),
        "objectives": asdict(report.objectives),
        "overall": asdict(report.overall),
        "scopes": [asdict(scope) for scope in report.scopes],
    }


@slo_app.command("report")
def report(
    window: Annotated[
        str, typer.Option("--window", help="How far back: 30m, 24h, 7d, … (runs started since).")
    ] = "24h",
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Error rate and runtime-added TTFT against their objectives, overall and per model."""
    since = utcnow() - parse_window(window)
    container = local_container()
    try:
        with transaction(container.session_factory, read_only=True) as session:
            rows = measurements.runs_since(session, since)
    except SQLAlchemyError as error:
        database_failed(error)
    finally:
        container.engine.dispose()
    result = compute(rows, Objectives.from_settings(container.settings))
    if as_json:
        emit_json(_as_json(result, window, since))
    elif result.empty:
        console.print(f"no runtime runs in the last {escape(window)}", highlight=False)
    else:
        _print_table(result, window, since)
