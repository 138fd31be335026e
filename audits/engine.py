"""One audit pass: secrets, static analysis and the checklist, over zero or more trees.

The CLI (standalone) and the control plane (API and nightly job) both call `execute`; only what
happens to the result differs. `local_report` is the standalone lifecycle: with no history every
present finding is new unless the tree's own configuration suppresses it.
"""

import secrets as random_ids
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING

from audits.checklist import DEFAULT_CHECKLIST, load_checklist, run_checklist
from audits.config import AuditConfig, load_config
from audits.lifecycle import checks_as_findings, classify
from audits.model import (
    Attestation,
    CheckResult,
    Finding,
    Report,
    RunResult,
    ScanStats,
    Suppression,
    fingerprint,
)
from audits.secrets import (
    SecretScanOptions,
    import_baseline,
    read_baseline_excludes,
    scan_secrets,
)
from audits.secrets.detectors import DetectorSettings
from audits.secrets.targets import select
from audits.static import bandit_version, scan_python
from audits.trends import TrendRow, trend

if TYPE_CHECKING:
    from controlplane.container import Container

CONTROL_PLANE_TARGET = "control-plane"
BASELINE_FILE = ".secrets.baseline"


@dataclass(frozen=True)
class AuditRequest:
    paths: list[Path]
    checklist: bool = False
    history: bool = False
    config_file: Path | None = None
    jobs: int | None = None
    use_cache: bool = True
    progress: Callable[[int, int], None] | None = None
    target: str | None = None  # the name runs are tracked under; default: derived from paths
    cache_dir: Path | None = None  # the secret scan's content cache; default: the user's cache
    checklist_file: Path = DEFAULT_CHECKLIST


def execute(
    request: AuditRequest,
    *,
    container: "Container | None",
    attestations: list[Attestation],
    now: datetime | None = None,
) -> RunResult:
    started = now or datetime.now(UTC)
    clock = time.perf_counter()
    findings: list[Finding] = []
    suppressions: list[Suppression] = []
    stats = ScanStats()
    prefixed = len(request.paths) > 1
    for path in request.paths:
        tree_findings, tree_stats, tree_suppressions = _scan_tree(path, request, started)
        if prefixed:
            tree_findings = [_under(path, finding) for finding in tree_findings]
        findings += tree_findings
        suppressions += tree_suppressions
        stats = stats.merge(tree_stats)
    checks: list[CheckResult] = []
    if request.checklist:
        checks = run_checklist(
            load_checklist(request.checklist_file),
            container=container,
            attestations=attestations,
            now=started,
        )
    return RunResult(
        target=request.target or _target_of(request.paths),
        started_at=started,
        finished_at=datetime.now(UTC),
        tool_versions=_tool_versions(),
        findings=sorted(findings, key=lambda f: f.sort_key()),
        checks=checks,
        stats=stats.model_copy(update={"seconds": round(time.perf_counter() - clock, 3)}),
        suppressions=suppressions,
    )


def local_report(result: RunResult, now: datetime | None = None) -> Report:
    """The report of a run nobody stores: no previous run, only the tree's own suppressions."""
    moment = now or datetime.now(UTC)
    run_id = f"local-{moment:%Y%m%dT%H%M%SZ}-{random_ids.token_hex(3)}"
    reported = classify(
        result.findings + checks_as_findings(result.checks),
        [],
        result.suppressions,
        first_seen={},
        now=moment,
    )
    rows = [
        TrendRow(
            run_id=run_id,
            started_at=result.started_at,
            fingerprint=finding.fingerprint,
            status=finding.status,
            severity=finding.severity,
            category=finding.category,
        )
        for finding in reported
    ]
    return Report(
        run_id=run_id,
        target=result.target,
        started_at=result.started_at,
        finished_at=result.finished_at,
        tool_versions=result.tool_versions,
        findings=reported,
        checks=result.checks,
        stats=result.stats,
        trend=trend(rows),
    )


def _scan_tree(
    path: Path, request: AuditRequest, now: datetime
) -> tuple[list[Finding], ScanStats, list[Suppression]]:
    root = path.resolve()
    config = load_config(root, request.config_file)
    baseline = root / BASELINE_FILE
    # The baseline's excludes apply, and its own hashes are not findings.
    detectors = read_baseline_excludes(baseline) if baseline.is_file() else DetectorSettings()
    options = SecretScanOptions(
        config=config,
        history=request.history,
        jobs=request.jobs,
        use_cache=request.use_cache,
        cache_dir=request.cache_dir,
        progress=request.progress,
        detectors=detectors,
    )
    secret_findings, secret_stats = scan_secrets(root, options)
    # The secret scan's walk is the run's file count; bandit reads a subset of the same files.
    code_findings, _ = scan_python(root, _python_files(root, config))
    suppressions = config.file_suppressions()
    if baseline.is_file():
        suppressions += import_baseline(baseline, now=now)
    return secret_findings + code_findings, secret_stats, suppressions


def _python_files(root: Path, config: AuditConfig) -> list[Path]:
    """Bandit reads the Python files among those the secret scan selects: one set of rules."""
    return [
        root / target.path for target in select(root, config).targets if target.path.endswith(".py")
    ]


def _under(path: Path, finding: Finding) -> Finding:
    """With several trees in one run, paths carry their tree; identity stays stable."""
    prefixed = f"{path.name}/{finding.path}"
    return finding.model_copy(
        update={
            "path": prefixed,
            "fingerprint": fingerprint(finding.tool, finding.rule, prefixed, finding.fingerprint),
        }
    )


def _target_of(paths: list[Path]) -> str:
    if not paths:
        return CONTROL_PLANE_TARGET
    return ", ".join(_tree_name(path) for path in paths)


def _tree_name(path: Path) -> str:
    """A checkout's origin URL when it has one, so runs from fresh clones share a history."""
    root = path.resolve()
    try:
        origin = subprocess.run(  # noqa: S603 - fixed git arguments, no shell
            ["git", "-C", str(root), "config", "--get", "remote.origin.url"],  # noqa: S607 - git from PATH
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        origin = ""
    return _without_credentials(origin) or root.name


def _without_credentials(url: str) -> str:
    """A URL's user-info (`user:password@` before the host) must never become a target name."""
    scheme, separator, rest = url.partition("://")
    if separator and "@" in rest.split("/", 1)[0]:
        rest = rest.split("@", 1)[1]
    return f"{scheme}{separator}{rest}" if separator else url


def _tool_versions() -> dict[str, str]:
    return {
        "gatehouse": version("gatehouse"),
        "detect-secrets": version("detect-secrets"),
        "bandit": bandit_version(),
    }
