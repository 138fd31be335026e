"""A finding's lifecycle across runs of one target: new, open, fixed, suppressed.

- new: present, and never seen before this run;
- open: present, and seen before (in the previous run, or earlier: a fixed finding that comes
  back is reopened, keeping its first-seen time);
- fixed: present in the previous run, absent from this one;
- suppressed: present, and accepted by an unexpired suppression, which is attached.

An expired suppression is not attached: its finding reads as new or open again, exactly as if it
had never been suppressed, so `--fail-on` and SARIF see it. Suppressed findings stay in the
report; fixed ones are reported once, in the run that no longer finds them.
"""

from datetime import datetime

from pydantic import BaseModel, Field

from audits import suppressions as suppression_rules
from audits.model import (
    Category,
    CheckResult,
    CheckStatus,
    Finding,
    FindingStatus,
    ReportedFinding,
    Severity,
    Suppression,
    Tool,
    fingerprint,
)

CHECKLIST_PATH = "threat-model/checklist.yaml"


class RunDiff(BaseModel):
    """What changed from one run to another, by fingerprint; fixed entries count as absent."""

    introduced: list[ReportedFinding] = Field(default_factory=list)
    resolved: list[ReportedFinding] = Field(default_factory=list)
    unchanged: list[ReportedFinding] = Field(default_factory=list)


def classify(
    current: list[Finding],
    previous: list[Finding],
    suppressions: list[Suppression],
    *,
    first_seen: dict[str, datetime],
    now: datetime,
) -> list[ReportedFinding]:
    """This run's findings with their status, then a FIXED entry for each one that went away.

    `previous` holds the findings present in the previous run of the same target (fixed entries
    in it are ignored); `first_seen` maps a fingerprint to when it was first seen (missing: now).
    A fingerprint reported twice in `current` is reported once.
    """
    unique = {finding.fingerprint: finding for finding in reversed(current)}
    present = sorted(unique.values(), key=Finding.sort_key)
    before = {finding.fingerprint: finding for finding in previous if not _is_fixed_entry(finding)}
    unexpired = suppression_rules.active(suppressions, now)

    reported = []
    for finding in present:
        seen_at = first_seen.get(finding.fingerprint, now)
        suppression = suppression_rules.covering(finding, unexpired, now)
        if suppression is not None:
            status = FindingStatus.SUPPRESSED
        elif finding.fingerprint in before or seen_at < now:
            status = FindingStatus.OPEN
        else:
            status = FindingStatus.NEW
        reported.append(_reported(finding, status, seen_at, suppression))

    gone = sorted(
        (finding for fp, finding in before.items() if fp not in unique), key=Finding.sort_key
    )
    reported.extend(
        _reported(finding, FindingStatus.FIXED, first_seen.get(finding.fingerprint), None)
        for finding in gone
    )
    return reported


def checks_as_findings(checks: list[CheckResult]) -> list[Finding]:
    """Failed and errored automated checks, as findings that suppressions and gates treat alike.

    A manual item awaiting attestation is not a finding: the checklist section shows it.
    """
    findings = []
    for check in checks:
        if check.status is CheckStatus.FAIL:
            severity, message = check.severity, check.explanation
        elif check.status is CheckStatus.ERROR:
            severity, message = Severity.LOW, f"The check could not run: {check.explanation}"
        else:
            continue
        findings.append(
            Finding(
                fingerprint=fingerprint(
                    Tool.CHECKLIST, check.item_id, CHECKLIST_PATH, check.item_id
                ),
                tool=Tool.CHECKLIST,
                rule=check.item_id,
                rule_name=check.title,
                category=Category.CONFIGURATION,
                severity=severity,
                path=CHECKLIST_PATH,
                message=message,
            )
        )
    return findings


def diff(a: list[ReportedFinding], b: list[ReportedFinding]) -> RunDiff:
    """From run `a` (the one compared against, usually older) to run `b`.

    introduced: present in `b` only; resolved: present in `a` only (as `a` reported them);
    unchanged: present in both (as `b` reports them). Suppressed findings are present.
    """
    before, after = _present(a), _present(b)
    return RunDiff(
        introduced=[finding for fp, finding in after.items() if fp not in before],
        resolved=[finding for fp, finding in before.items() if fp not in after],
        unchanged=[finding for fp, finding in after.items() if fp in before],
    )


def _present(findings: list[ReportedFinding]) -> dict[str, ReportedFinding]:
    return {f.fingerprint: f for f in findings if f.status is not FindingStatus.FIXED}


def _is_fixed_entry(finding: Finding) -> bool:
    return isinstance(finding, ReportedFinding) and finding.status is FindingStatus.FIXED


def _reported(
    finding: Finding,
    status: FindingStatus,
    first_seen_at: datetime | None,
    suppression: Suppression | None,
) -> ReportedFinding:
    # `finding` may itself be a ReportedFinding from an earlier run: keep only what it found.
    return ReportedFinding(
        **finding.model_dump(include=set(Finding.model_fields)),
        status=status,
        first_seen_at=first_seen_at,
        suppression=suppression,
    )
