"""The offline anomaly commands: scan an exported access log, generate a labelled synthetic
one, and measure the detectors' precision and recall against its labels. No server needed.

The detectors (pandas) are imported inside the commands: every other command starts without
paying for them.
"""

import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from controlplane.cli.output import emit_json, fail, note, table, warn

if TYPE_CHECKING:
    from controlplane.anomaly.detection import Alert, DetectionConfig, LoadedEvents

SHOWN_MALFORMED = 10
TABLE_COLUMNS = [
    "severity",
    "detector",
    "entity_type",
    "entity",
    "window_start",
    "score",
    "evidence_count",
    "explanation",
]


class ScanFormat(StrEnum):
    JSON = "json"
    TABLE = "table"


class FailOn(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


InputOption = Annotated[
    Path,
    typer.Option(
        "--input",
        "-i",
        help="Access-log records, one JSON object per line (`gatehouse access-log export "
        "--format jsonl`).",
        exists=True,
        dir_okay=False,
        readable=True,
    ),
]
ThresholdOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        help="Override a detector threshold, NAME=VALUE (repeatable); see the README.",
        show_default=False,
    ),
]


def _config(overrides: list[str] | None) -> "DetectionConfig":
    from controlplane.anomaly.detection import DetectionConfig  # noqa: PLC0415 - pandas loads for these commands only

    values: dict[str, int | float] = {}
    for item in overrides or []:
        name, sep, raw = item.partition("=")
        try:
            if not sep:
                raise ValueError(item)
            values[name.strip()] = float(raw) if "." in raw else int(raw)
        except ValueError:
            fail(f"--set takes NAME=NUMBER, got {item!r}")
    try:
        return DetectionConfig.with_overrides(values)
    except ValueError as error:
        fail(str(error))


def _load(path: Path) -> "LoadedEvents":
    from controlplane.anomaly.detection import load_jsonl  # noqa: PLC0415 - pandas loads for these commands only

    loaded = load_jsonl(path)
    if loaded.malformed:
        shown = ", ".join(f"{bad.line} ({bad.error})" for bad in loaded.malformed[:SHOWN_MALFORMED])
        more = len(loaded.malformed) - SHOWN_MALFORMED
        warn(
            f"{len(loaded.malformed)} malformed line(s) skipped: {shown}"
            + (f", and {more} more" if more > 0 else "")
        )
    return loaded


def _scan(path: Path, config: "DetectionConfig") -> tuple["LoadedEvents", list["Alert"]]:
    from controlplane.anomaly.detection import Baselines  # noqa: PLC0415 - pandas loads for these commands only
    from controlplane.anomaly.detection import scan as run_scan  # noqa: PLC0415 - pandas loads for these commands only

    loaded = _load(path)
    alerts = run_scan(loaded.frame, Baselines.empty(), config).alerts
    return loaded, sorted(alerts, key=lambda a: (a.window_start, -a.severity.rank, a.detector))


def scan(
    input_: InputOption,
    format_: Annotated[ScanFormat, typer.Option("--format", help="Output format.")] = (
        ScanFormat.TABLE
    ),
    fail_on: Annotated[
        FailOn | None,
        typer.Option(
            "--fail-on",
            help="Exit 1 when an alert of this severity or above is found.",
            show_default=False,
        ),
    ] = None,
    overrides: ThresholdOption = None,
) -> None:
    """Scan an exported access log for anomalies: stolen tokens, stuffing, scraping."""
    loaded, alerts = _scan(input_, _config(overrides))
    if format_ is ScanFormat.JSON:
        emit_json([alert.to_dict() for alert in alerts])
    else:
        rows = [alert.to_dict(evidence=False) for alert in alerts]
        table(rows, TABLE_COLUMNS, title=f"{len(alerts)} alerts")
    note(
        f"{input_}: {loaded.events} events scanned, {len(loaded.malformed)} malformed lines "
        f"skipped, {len(alerts)} alerts"
    )
    floor = list(FailOn).index(fail_on) + 1 if fail_on is not None else None
    if floor is not None and any(alert.severity.rank >= floor for alert in alerts):
        raise typer.Exit(1)


def generate(
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the events.")],
    labels: Annotated[Path, typer.Option("--labels", help="Where to write the labels (JSON).")],
    seed: Annotated[int, typer.Option(help="Same seed, same dataset.")] = 7,
    days: Annotated[int, typer.Option(min=1, max=90)] = 7,
    agents: Annotated[int, typer.Option(min=1, max=2_000)] = 40,
    clean: Annotated[
        bool, typer.Option("--clean", help="Normal traffic only: no attacks.")
    ] = False,
) -> None:
    """Write a labelled synthetic access log: realistic agents plus injected attacks."""
    from controlplane.anomaly import synthetic  # noqa: PLC0415 - pandas loads for these commands only

    dataset = synthetic.generate(seed, days=days, agents=agents, attacks=not clean)
    synthetic.write(dataset, output, labels)
    note(f"wrote {output} and {labels}")


def evaluate(
    input_: InputOption,
    labels: Annotated[
        Path,
        typer.Option("--labels", help="The labels `generate` wrote.", exists=True, dir_okay=False),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    overrides: ThresholdOption = None,
) -> None:
    """Scan a labelled log and print precision and recall per detector and overall."""
    from controlplane.anomaly import evaluation  # noqa: PLC0415 - pandas loads for these commands only

    try:
        expected = json.loads(labels.read_text())
    except (OSError, ValueError) as error:
        fail(f"cannot read {labels}: {error}")
    _, alerts = _scan(input_, _config(overrides))
    try:
        result = evaluation.evaluate(alerts, expected)
    except ValueError as error:
        fail(f"{labels}: {error}")
    if as_json:
        emit_json(result.to_dict())
        return
    rows = result.rows()
    table(rows, list(rows[0]) if rows else [], title="precision and recall")


def detectors() -> None:
    """The detectors, what each looks for, and its entity."""
    from controlplane.anomaly.detection import DETECTORS  # noqa: PLC0415 - pandas loads for these commands only

    table(
        [
            {
                "name": info.name,
                "entity": info.entity_type.value,
                "severity": info.severity.value,
                "looks for": info.summary,
            }
            for info in DETECTORS
        ],
        ["name", "entity", "severity", "looks for"],
    )
