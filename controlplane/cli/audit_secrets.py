"""`gatehouse audit secrets PATH`: the secret scan on its own, as a table or as JSON.

It reports and never gates: the exit code is 0 with or without findings (gating on severity is
`gatehouse audit run`'s job), 1 when the scan or the leak check fails, 2 on bad input. No raw
secret is ever printed: findings carry a hash and a redacted preview.
"""

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from audits.config import ConfigError, load_config
from audits.model import Finding, ScanStats, Suppression
from audits.secrets import (
    BaselineError,
    LeakCheckError,
    PoolError,
    SecretScanError,
    SecretScanOptions,
    import_baseline,
    read_baseline_excludes,
    scan_secrets,
    verify_gatehouse_tokens,
)
from audits.secrets.detectors import DetectorSettings
from controlplane.cli.client import base_url, credential
from controlplane.cli.output import console, emit_json, errors, fail, progress, table

USAGE_ERROR = 2
COLUMNS = ["file", "line", "type", "severity", "preview"]


def _baseline(path: Path | None) -> tuple[list[Suppression], DetectorSettings]:
    if path is None:
        return [], DetectorSettings()
    try:
        return import_baseline(path, now=datetime.now(UTC)), read_baseline_excludes(path)
    except BaselineError as error:
        fail(str(error), USAGE_ERROR)


def _summary(findings: list[Finding], suppressed: set[str], stats: ScanStats) -> str:
    hidden = sum(finding.fingerprint in suppressed for finding in findings)
    parts = [f"{len(findings)} findings" + (f" ({hidden} suppressed)" if hidden else "")]
    if stats.commits:
        parts.append(f"{stats.blobs} blobs in {stats.commits} commits")
    skipped = sum(stats.files_skipped.values())
    parts.append(
        f"{stats.files_scanned} files scanned, {stats.files_cached} cached, {skipped} skipped"
    )
    if stats.timed_out:
        parts.append(f"{len(stats.timed_out)} timed out")
    parts.append(f"{stats.seconds:.2f} s")
    return " · ".join(parts)


def _rows(findings: list[Finding], suppressed: set[str]) -> list[dict[str, Any]]:
    return [
        {
            "file": finding.path,
            "line": finding.line,
            "type": finding.rule_name,
            "severity": finding.severity.value,
            "preview": finding.preview,
            "status": "suppressed" if finding.fingerprint in suppressed else "",
            "liveness": finding.liveness,
        }
        for finding in findings
    ]


def secrets(
    path: Annotated[Path, typer.Argument(help="The directory or git checkout to scan.")],
    history: Annotated[
        bool, typer.Option("--history", help="Scan every blob in the git history, once each.")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help='Print {"findings": [...], "stats": {...}}.')
    ] = False,
    jobs: Annotated[
        int | None,
        typer.Option("--jobs", "-j", min=1, help="Worker processes (default: one per core)."),
    ] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Read every file, and remember nothing.")
    ] = False,
    cache_dir: Annotated[
        Path | None,
        typer.Option(
            "--cache-dir",
            file_okay=False,
            help="Where the scan cache lives (default: $XDG_CACHE_HOME/gatehouse/audit).",
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", dir_okay=False, help="Audit settings (default: PATH/.gatehouse-audit.yaml)."
        ),
    ] = None,
    baseline: Annotated[
        Path | None,
        typer.Option(
            "--baseline",
            dir_okay=False,
            help="A detect-secrets .secrets.baseline: its false positives show as suppressed and "
            "its excludes apply.",
        ),
    ] = None,
    verify: Annotated[
        bool,
        typer.Option(
            "--verify",
            help="Ask the control plane (GATEHOUSE_URL) whether each Gatehouse token found works.",
        ),
    ] = False,
    revoke: Annotated[
        bool, typer.Option("--revoke", help="Revoke the live Gatehouse tokens found (--verify+).")
    ] = False,
) -> None:
    """Scan a tree (or its git history) for committed secrets; exit 0 whether or not any."""
    if not path.is_dir():
        fail(f"{path}: not a directory", USAGE_ERROR)
    try:
        settings = load_config(path, config)
    except ConfigError as error:
        fail(str(error), USAGE_ERROR)
    suppressions, detectors = _baseline(baseline)
    with progress("scanning", show=not as_json and errors.is_terminal) as report_progress:
        options = SecretScanOptions(
            config=settings,
            history=history,
            jobs=jobs,
            cache_dir=cache_dir,
            use_cache=not no_cache,
            progress=report_progress,
            detectors=detectors,
        )
        try:
            findings, stats = scan_secrets(path, options)
        except SecretScanError as error:
            fail(str(error), USAGE_ERROR)
        except PoolError as error:
            fail(str(error))
    if verify or revoke:
        server = base_url()
        token, _ = credential(server)
        try:
            findings = verify_gatehouse_tokens(
                path, findings, server=server, credential=token, revoke=revoke
            )
        except LeakCheckError as error:
            fail(str(error))
    suppressed = {s.fingerprint for s in suppressions if s.fingerprint}
    if as_json:
        emit_json(
            {
                "findings": [finding.model_dump(mode="json") for finding in findings],
                "stats": stats.model_dump(mode="json"),
                "suppressed": sorted(
                    f.fingerprint for f in findings if f.fingerprint in suppressed
                ),
                "suppressions": [s.model_dump(mode="json") for s in suppressions],
            }
        )
        return
    if findings:
        columns = (
            COLUMNS
            + (["status"] if suppressions else [])
            + (["liveness"] if verify or revoke else [])
        )
        table(_rows(findings, suppressed), columns)
    else:
        console.print("No secrets found.", highlight=False)
    console.print(_summary(findings, suppressed, stats), highlight=False, soft_wrap=True)
