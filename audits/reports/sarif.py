"""The report as SARIF 2.1.0, shaped for GitHub code scanning.

One run per tool (detect-secrets, bandit, the checklist), including a tool that found nothing, so
code scanning closes the alerts it no longer reports. Fixed findings are not results; suppressed
ones are, marked as accepted with their justification. GitHub refuses uploads beyond its limits
(results and rules per run, tags per rule, gzip size); over a limit, the most severe results are
kept and the run says how many were dropped.
"""

import gzip
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from audits.model import FindingStatus, Report, ReportedFinding, Severity, Tool

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
FINGERPRINT_KEY = "gatehouseFingerprint/v1"
TRUNCATED_DESCRIPTOR = "gatehouse/results-dropped"


@dataclass(frozen=True)
class SarifLimits:
    """Upper bounds for one upload; GitHub's documented maxima by default."""

    results_per_run: int = 25_000
    rules_per_run: int = 25_000
    tags_per_rule: int = 20
    gzip_bytes: int = 10 * 1024 * 1024


GITHUB_LIMITS = SarifLimits()

_DRIVERS = {
    Tool.SECRETS: ("detect-secrets", "https://github.com/Yelp/detect-secrets"),
    Tool.BANDIT: ("bandit", "https://github.com/PyCQA/bandit"),
    Tool.CHECKLIST: ("gatehouse-checklist", None),
}
_LEVELS = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
_PRECISION = {"verified": "very-high", "HIGH": "high", "MEDIUM": "medium", "LOW": "low"}
_PRECISION_ORDER = ("low", "medium", "high", "very-high")


def render_sarif(report: Report, limits: SarifLimits = GITHUB_LIMITS) -> str:
    budgets = dict.fromkeys(Tool, limits.results_per_run)
    while True:
        text = json.dumps(to_sarif(report, limits, budgets), indent=2, ensure_ascii=False) + "\n"
        size = len(gzip.compress(text.encode()))
        kept = {
            tool: min(budget, len(_results_of(report, tool))) for tool, budget in budgets.items()
        }
        if size <= limits.gzip_bytes or not any(kept.values()):
            return text
        # Shrink every run in proportion, with a margin so this converges in a few passes.
        ratio = limits.gzip_bytes / size * 0.9
        budgets = {tool: int(count * ratio) for tool, count in kept.items()}


def to_sarif(
    report: Report,
    limits: SarifLimits = GITHUB_LIMITS,
    budgets: dict[Tool, int] | None = None,
) -> dict[str, Any]:
    """The SARIF log; `budgets` caps results per tool below `limits` (to fit the size limit)."""
    runs = [
        _run(report, tool, limits, (budgets or {}).get(tool, limits.results_per_run))
        for tool in Tool
        if _ran(report, tool)
    ]
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": runs}


def _ran(report: Report, tool: Tool) -> bool:
    if tool is Tool.CHECKLIST:
        return bool(report.checks) or bool(_results_of(report, tool))
    return tool.value in report.tool_versions or bool(_results_of(report, tool))


def _results_of(report: Report, tool: Tool) -> list[ReportedFinding]:
    """The tool's reportable findings, most severe first, suppressed after the rest."""
    present = [
        finding
        for finding in report.findings
        if finding.tool is tool and finding.status is not FindingStatus.FIXED
    ]
    return sorted(
        present,
        key=lambda f: (-f.severity.rank, f.status is FindingStatus.SUPPRESSED, f.sort_key()),
    )


def _run(report: Report, tool: Tool, limits: SarifLimits, budget: int) -> dict[str, Any]:
    candidates = _results_of(report, tool)
    kept: list[ReportedFinding] = []
    by_rule: dict[str, list[ReportedFinding]] = {}
    for finding in candidates:
        if len(kept) >= min(budget, limits.results_per_run):
            break
        if finding.rule not in by_rule and len(by_rule) >= limits.rules_per_run:
            continue
        by_rule.setdefault(finding.rule, []).append(finding)
        kept.append(finding)

    ordered_rules = sorted(by_rule)
    index = {rule: i for i, rule in enumerate(ordered_rules)}
    name, information_uri = _DRIVERS[tool]
    driver: dict[str, Any] = {"name": name}
    version = report.tool_versions.get(tool.value)
    if version is None and tool is Tool.CHECKLIST:
        version = report.tool_versions.get("gatehouse")  # the checklist ships with Gatehouse
    if version:
        driver["version"] = version
    if information_uri:
        driver["informationUri"] = information_uri
    driver["rules"] = [_rule(by_rule[rule], limits) for rule in ordered_rules]
    run: dict[str, Any] = {
        "tool": {"driver": driver},
        "results": [_result(finding, index[finding.rule]) for finding in kept],
        "columnKind": "unicodeCodePoints",
    }
    dropped = len(candidates) - len(kept)
    notifications = []
    if dropped:
        notifications.append(
            {
                "level": "warning",
                "descriptor": {"id": TRUNCATED_DESCRIPTOR},
                "message": {
                    "text": f"{dropped} of {len(candidates)} results were dropped to stay "
                    "within GitHub code scanning's upload limits; the most severe were kept."
                },
            }
        )
    run["invocations"] = [
        {"executionSuccessful": True, "toolExecutionNotifications": notifications}
    ]
    return run


def _rule(findings: list[ReportedFinding], limits: SarifLimits) -> dict[str, Any]:
    """A rule described from its findings (the most severe first): the model has no catalogue."""
    first = findings[0]
    title = first.rule_name or first.rule
    cwes = sorted({f.cwe for f in findings if f.cwe is not None})
    tags = ["security", first.category.value, *(f"external/cwe/cwe-{cwe}" for cwe in cwes)]
    weakness = f" Weakness: {', '.join(f'CWE-{cwe}' for cwe in cwes)}." if cwes else ""
    description = f"{title} ({first.rule}), reported by {_DRIVERS[first.tool][0]}.{weakness}"
    rule: dict[str, Any] = {
        "id": first.rule,
        "name": title,
        "shortDescription": {"text": title},
        "fullDescription": {"text": description},
        "help": {
            "text": description + (f" See {first.help_uri}" if first.help_uri else ""),
            "markdown": description
            + (f" See [the rule's documentation]({first.help_uri})." if first.help_uri else ""),
        },
        "defaultConfiguration": {"level": _LEVELS[first.severity]},
        "properties": {
            "tags": tags[: limits.tags_per_rule],
            "security-severity": first.severity.security_severity,
            "precision": max((_precision(f) for f in findings), key=_PRECISION_ORDER.index),
        },
    }
    if first.help_uri:
        rule["helpUri"] = first.help_uri
    return rule


def _precision(finding: ReportedFinding) -> str:
    if finding.tool is Tool.CHECKLIST:
        return "high"  # an automated check reads the real state: no guessing involved
    return _PRECISION.get(finding.confidence or "", "medium")


def _result(finding: ReportedFinding, rule_index: int) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": finding.rule,
        "ruleIndex": rule_index,
        "level": _LEVELS[finding.severity],
        "message": {"text": finding.message},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {
                        # A relative URI reference: spaces, '<', '#' and the like percent-encoded.
                        "uri": quote(finding.path, safe="/"),
                        "uriBaseId": "%SRCROOT%",
                    },
                    "region": {"startLine": max(finding.line or 1, 1)},
                }
            }
        ],
        "partialFingerprints": {FINGERPRINT_KEY: finding.fingerprint},
        "properties": {
            "security-severity": finding.severity.security_severity,
            "gatehouse-status": finding.status.value,
        },
    }
    if finding.suppression is not None:
        accepted = finding.suppression
        result["suppressions"] = [
            {
                "kind": "external",
                "status": "accepted",
                "justification": accepted.justification,
                "properties": {
                    "approver": accepted.approver,
                    "expiresAt": accepted.expires_at.isoformat(),
                },
            }
        ]
    return result
