"""SARIF 2.1.0 for GitHub code scanning: structure, schema validity and upload limits.

`sarif-schema-2.1.0.json` next to this file is the OASIS SARIF TC's schema, copied unchanged from
https://github.com/oasis-tcs/sarif-spec (Schemata/sarif-schema-2.1.0.json at commit
85971b3e048f61a6d643b95fc6233d073302f5b8). Its `language` pattern uses an inline flag Python's
`re` refuses, so the schema itself is not meta-validated; documents are validated against it.
"""

import gzip
import json
import secrets
from pathlib import Path
from typing import Any

import pytest

from audits.model import FindingStatus, Report, ReportedFinding, Severity, Tool
from audits.reports import ReportFormat, render
from audits.reports.sarif import FINGERPRINT_KEY, SarifLimits, render_sarif
from tests.audits.reports.sample import JUSTIFICATION, reported, sample_report

SCHEMA = Path(__file__).with_name("sarif-schema-2.1.0.json")


def _schema_problems(document: dict[str, Any]) -> list[str]:
    jsonschema = pytest.importorskip(
        "jsonschema", reason="jsonschema is not installed: SARIF schema validation skipped"
    )
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    validator_class = jsonschema.validators.validator_for(schema)
    validator = validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]


def _sarif(report: Report | None = None, limits: SarifLimits | None = None) -> dict[str, Any]:
    report = report or sample_report()
    text = render(report, ReportFormat.SARIF) if limits is None else render_sarif(report, limits)
    document: dict[str, Any] = json.loads(text)
    return document


def _runs(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {run["tool"]["driver"]["name"]: run for run in document["runs"]}


def _rule(run: dict[str, Any], rule_id: str) -> dict[str, Any]:
    [rule] = [rule for rule in run["tool"]["driver"]["rules"] if rule["id"] == rule_id]
    return rule


def _dropped_notice(run: dict[str, Any]) -> str:
    [invocation] = run["invocations"]
    [notice] = invocation["toolExecutionNotifications"]
    assert notice["level"] == "warning"
    text: str = notice["message"]["text"]
    return text


def _many_findings(count: int) -> list[ReportedFinding]:
    return [
        reported(
            Tool.SECRETS,
            "Secret Keyword",
            f"config/{n}.py",
            FindingStatus.OPEN,
            Severity.HIGH if n % 2 else Severity.LOW,
            message=secrets.token_hex(40),  # incompressible
        )
        for n in range(count)
    ]


@pytest.mark.parametrize(
    ("report", "limits"),
    [
        (sample_report(), None),
        (sample_report(findings=[], checks=[]), None),
        (sample_report(findings=_many_findings(40)), SarifLimits(results_per_run=10)),
        (sample_report(findings=_many_findings(300)), SarifLimits(gzip_bytes=12_000)),
    ],
    ids=["sample", "empty", "truncated", "shrunk"],
)
def test_valid_against_the_official_schema(report: Report, limits: SarifLimits | None) -> None:
    assert _schema_problems(_sarif(report, limits)) == []


def test_the_schema_check_rejects_a_broken_log() -> None:
    document = _sarif()
    result = _runs(document)["bandit"]["results"][0]
    del result["message"]
    result["locations"][0]["physicalLocation"]["region"]["startLine"] = 0

    assert len(_schema_problems(document)) == 2


def test_the_log_names_its_schema_and_version() -> None:
    document = _sarif()

    assert document["$schema"] == "https://json.schemastore.org/sarif-2.1.0.json"
    assert document["version"] == "2.1.0"


def test_one_run_per_tool_with_its_driver() -> None:
    runs = _runs(_sarif())

    assert list(runs) == ["detect-secrets", "bandit", "gatehouse-checklist"]
    bandit = runs["bandit"]["tool"]["driver"]
    assert bandit["version"] == "1.9.4"
    assert bandit["informationUri"] == "https://github.com/PyCQA/bandit"
    assert runs["detect-secrets"]["tool"]["driver"]["version"] == "1.5.0"
    # The checklist ships with Gatehouse and carries its version.
    assert runs["gatehouse-checklist"]["tool"]["driver"]["version"] == "0.1.0"


def test_rules_carry_what_code_scanning_displays() -> None:
    runs = _runs(_sarif())

    shell = _rule(runs["bandit"], "B602")
    assert shell["name"] == "subprocess_popen_with_shell_equals_true"
    assert shell["shortDescription"]["text"] == "subprocess_popen_with_shell_equals_true"
    assert "CWE-78" in shell["fullDescription"]["text"]
    assert shell["helpUri"].startswith("https://bandit.readthedocs.io/")
    assert shell["helpUri"] in shell["help"]["text"]
    assert f"]({shell['helpUri']})" in shell["help"]["markdown"]
    assert shell["properties"]["tags"] == ["security", "code", "external/cwe/cwe-78"]
    assert shell["properties"]["security-severity"] == "8.0"
    assert shell["properties"]["precision"] == "high"
    assert shell["defaultConfiguration"]["level"] == "error"

    aws = _rule(runs["detect-secrets"], "AWS Access Key")
    assert "external/cwe/cwe-798" in aws["properties"]["tags"]
    assert aws["properties"]["precision"] == "very-high"  # verified by its checksum
    assert aws["properties"]["security-severity"] == "9.5"
    assert "helpUri" not in aws

    check = _rule(runs["gatehouse-checklist"], "T-TOKENS-01")
    assert check["name"] == "Token lifetimes are capped"
    assert check["properties"]["precision"] == "high"


def test_results_point_at_their_rule_and_their_place() -> None:
    runs = _runs(_sarif())

    for run in runs.values():
        rules = run["tool"]["driver"]["rules"]
        for result in run["results"]:
            assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
            assert len(result["partialFingerprints"][FINGERPRINT_KEY]) == 32
    [shell] = runs["bandit"]["results"]
    assert shell["level"] == "error"
    assert shell["properties"]["security-severity"] == "8.0"
    location = shell["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {
        "uri": "%3Cscript%3Ealert%281%29%3C/script%3E.py",
        "uriBaseId": "%SRCROOT%",
    }
    assert location["region"] == {"startLine": 7}
    [check] = runs["gatehouse-checklist"]["results"]
    assert check["locations"][0]["physicalLocation"]["region"] == {"startLine": 1}
    assert check["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == (
        "threat-model/checklist.yaml"
    )


def test_suppressed_findings_are_accepted_results_and_fixed_ones_are_absent() -> None:
    document = _sarif()
    secrets_run = _runs(document)["detect-secrets"]

    [suppressed] = [r for r in secrets_run["results"] if "suppressions" in r]
    assert suppressed["level"] == "warning"
    [accepted] = suppressed["suppressions"]
    assert accepted["kind"] == "external"
    assert accepted["status"] == "accepted"
    assert accepted["justification"] == JUSTIFICATION
    assert accepted["properties"]["expiresAt"].startswith("2026-06-30")
    [fixed] = [f for f in sample_report().findings if f.status is FindingStatus.FIXED]
    assert fixed.fingerprint not in json.dumps(document)
    assert "B303" not in json.dumps(document)


def test_a_tool_that_found_nothing_still_has_a_run() -> None:
    # An empty run is how code scanning learns that earlier alerts are gone.
    runs = _runs(_sarif(sample_report(findings=[], checks=[])))

    assert list(runs) == ["detect-secrets", "bandit"]
    assert runs["bandit"]["results"] == []
    assert runs["bandit"]["tool"]["driver"]["rules"] == []


def test_over_the_result_limit_the_most_severe_are_kept_and_the_rest_counted() -> None:
    severities = [Severity.LOW, Severity.HIGH, Severity.MEDIUM, Severity.CRITICAL, Severity.INFO]
    findings = [
        reported(Tool.BANDIT, f"B{n}", f"f{n}.py", FindingStatus.OPEN, severity)
        for n, severity in enumerate(severities)
    ]
    accepted = sample_report().findings[2].suppression
    findings.append(
        reported(
            Tool.BANDIT,
            "B9",
            "f9.py",
            FindingStatus.SUPPRESSED,
            Severity.HIGH,
            suppression=accepted,
        )
    )
    report = sample_report(findings=findings, checks=[])

    document = _sarif(report, SarifLimits(results_per_run=3))

    run = _runs(document)["bandit"]
    assert [r["ruleId"] for r in run["results"]] == ["B3", "B1", "B9"]
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == ["B1", "B3", "B9"]
    assert "3 of 6 results were dropped" in _dropped_notice(run)
    assert _runs(document)["detect-secrets"]["invocations"][0]["toolExecutionNotifications"] == []


def test_over_the_rule_limit_results_of_the_least_severe_rules_are_dropped() -> None:
    findings = [
        reported(Tool.BANDIT, rule, f"{rule}-{n}.py", FindingStatus.NEW, severity)
        for rule, severity in (
            ("B1", Severity.HIGH),
            ("B2", Severity.LOW),
            ("B3", Severity.CRITICAL),
        )
        for n in range(2)
    ]

    run = _runs(_sarif(sample_report(findings=findings), SarifLimits(rules_per_run=2)))["bandit"]

    assert {r["ruleId"] for r in run["results"]} == {"B1", "B3"}
    assert len(run["results"]) == 4
    assert "2 of 6 results were dropped" in _dropped_notice(run)


def test_tags_per_rule_are_capped() -> None:
    run = _runs(_sarif(limits=SarifLimits(tags_per_rule=2)))["bandit"]

    assert _rule(run, "B602")["properties"]["tags"] == ["security", "code"]


def test_over_the_upload_size_the_log_shrinks_until_it_fits() -> None:
    findings = _many_findings(300)
    limit = 12_000

    text = render_sarif(sample_report(findings=findings, checks=[]), SarifLimits(gzip_bytes=limit))

    assert len(gzip.compress(text.encode())) <= limit
    document = json.loads(text)
    run = _runs(document)["detect-secrets"]
    kept = run["results"]
    assert 0 < len(kept) < len(findings)
    assert all(r["level"] == "error" for r in kept)  # high ones first
    assert f"{len(findings) - len(kept)} of {len(findings)} results were dropped" in (
        _dropped_notice(run)
    )
