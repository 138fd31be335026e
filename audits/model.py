"""What an audit produces: findings, checklist results and the run that holds them.

Every part of the engine speaks these types: the scanners emit `Finding`s, the checklist emits
`CheckResult`s, the lifecycle turns both into a `Report`, and the control plane stores and serves
exactly these shapes. No type here can hold a raw secret: a secret travels only as its hash and a
redacted preview.
"""

import hashlib
from datetime import datetime
from enum import StrEnum
from typing import Self

from pydantic import BaseModel, ConfigDict, Field


class Severity(StrEnum):
    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _SEVERITY_ORDER.index(self)

    def at_least(self, threshold: "Severity") -> bool:
        return self.rank >= threshold.rank

    @property
    def security_severity(self) -> str:
        """GitHub code scanning's 0.1-10 score; its bands map back to these names."""
        return _SECURITY_SEVERITY[self]


_SEVERITY_ORDER = list(Severity)
_SECURITY_SEVERITY = {
    Severity.INFO: "0.1",
    Severity.LOW: "2.0",
    Severity.MEDIUM: "5.5",
    Severity.HIGH: "8.0",
    Severity.CRITICAL: "9.5",
}


class Tool(StrEnum):
    SECRETS = "detect-secrets"  # pragma: allowlist secret
    BANDIT = "bandit"
    CHECKLIST = "checklist"


class Category(StrEnum):
    SECRET = "secret"  # noqa: S105 - a category name  # pragma: allowlist secret
    CODE = "code"
    CONFIGURATION = "configuration"


class FindingStatus(StrEnum):
    NEW = "new"  # first seen in this run
    OPEN = "open"  # seen before and still present
    FIXED = "fixed"  # seen before, absent from this run
    SUPPRESSED = "suppressed"  # present, but an unexpired suppression covers it


def fingerprint(tool: str, rule: str, path: str, context_hash: str) -> str:
    """Stable identity of a finding: moving a line does not change it; changing the secret does.

    `context_hash` is the secret's hash for secrets and a hash of the normalised code for code
    findings; never a line number.
    """
    material = "\x1f".join((tool, rule, normalise_path(path), context_hash))
    return hashlib.sha256(material.encode()).hexdigest()[:32]


def normalise_path(path: str) -> str:
    """Repository-relative, forward slashes, no leading `./`: the same file on every platform."""
    normalised = path.replace("\\", "/")
    while normalised.startswith("./"):
        normalised = normalised[2:]
    return normalised.lstrip("/")


class Finding(BaseModel):
    """One problem at one place. `line` is where it was last seen, kept apart from identity."""

    model_config = ConfigDict(frozen=True)

    fingerprint: str
    tool: Tool
    rule: str  # detect-secrets type ("AWS Access Key"), bandit test id ("B105"), checklist id
    rule_name: str
    category: Category
    severity: Severity
    confidence: str | None = None  # bandit's LOW/MEDIUM/HIGH; "verified" for checksummed tokens
    cwe: int | None = None
    path: str  # normalised, relative to the scan root ("" for checklist findings)
    line: int | None = None
    message: str
    secret_hash: str | None = None  # detect-secrets' hashed_secret (SHA-1 hex) for secrets
    preview: str | None = None  # redacted, e.g. "gth_…Xy12"; never enough to use
    commits: tuple[str, ...] = ()  # history scans: every commit the blob appeared in
    # Gatehouse tokens checked with --verify: live, revoked, expired or unknown.
    liveness: str | None = None
    help_uri: str | None = None  # the rule's documentation (bandit's more_info); SARIF's helpUri

    def sort_key(self) -> tuple[int, str, int, str]:
        return (-self.severity.rank, self.path, self.line or 0, self.rule)


class CheckStatus(StrEnum):
    PASS = "pass"  # noqa: S105 - a result name, not a password
    FAIL = "fail"
    MANUAL = "manual"  # a manual item without a current attestation
    NOT_APPLICABLE = "not_applicable"
    ERROR = "error"


class CheckKind(StrEnum):
    AUTOMATED = "automated"
    MANUAL = "manual"


class Attestation(BaseModel):
    item_id: str
    attested_by: str
    attested_at: datetime
    evidence: str
    expires_at: datetime


class CheckResult(BaseModel):
    item_id: str
    title: str
    severity: Severity
    kind: CheckKind
    status: CheckStatus
    explanation: str
    threats: tuple[str, ...] = ()
    asvs: tuple[str, ...] = ()
    attestation: Attestation | None = None


class ScanStats(BaseModel):
    files_seen: int = 0
    files_scanned: int = 0  # read and analysed in this run
    files_cached: int = 0  # unchanged since the cache saw them: metadata read only
    files_skipped: dict[str, int] = Field(default_factory=dict)  # reason -> count
    blobs: int = 0  # history scans: distinct blobs analysed
    commits: int = 0
    timed_out: tuple[str, ...] = ()  # files abandoned at the per-file timeout
    seconds: float = 0.0

    def merge(self, other: Self) -> Self:
        skipped = dict(self.files_skipped)
        for reason, count in other.files_skipped.items():
            skipped[reason] = skipped.get(reason, 0) + count
        return self.model_copy(
            update={
                "files_seen": self.files_seen + other.files_seen,
                "files_scanned": self.files_scanned + other.files_scanned,
                "files_cached": self.files_cached + other.files_cached,
                "files_skipped": skipped,
                "blobs": self.blobs + other.blobs,
                "commits": self.commits + other.commits,
                "timed_out": self.timed_out + other.timed_out,
                "seconds": self.seconds + other.seconds,
            }
        )


class Suppression(BaseModel):
    """A justified, approved, expiring decision to accept a finding (or a rule on a path glob)."""

    id: str | None = None
    fingerprint: str | None = None  # one finding, or:
    rule: str | None = None  # every finding of a rule...
    path_glob: str | None = None  # ...under a path glob (fnmatch, normalised paths)
    justification: str
    approver: str
    created_at: datetime
    expires_at: datetime


class ReportedFinding(Finding):
    """A finding as a run reports it: with its lifecycle status and what suppresses it."""

    status: FindingStatus
    first_seen_at: datetime | None = None
    suppression: Suppression | None = None


class TrendPoint(BaseModel):
    """One run's counts, for the findings-over-time chart and the trends API."""

    run_id: str
    started_at: datetime
    new: int
    fixed: int
    open: int  # open + new: everything present and unsuppressed
    suppressed: int
    by_severity: dict[str, int] = Field(default_factory=dict)  # present, unsuppressed
    by_category: dict[str, int] = Field(default_factory=dict)


class RunResult(BaseModel):
    """What the engine hands over: raw findings before any lifecycle. Also the upload body."""

    target: str
    started_at: datetime
    finished_at: datetime
    tool_versions: dict[str, str] = Field(default_factory=dict)
    findings: list[Finding] = Field(default_factory=list)
    checks: list[CheckResult] = Field(default_factory=list)
    stats: ScanStats = Field(default_factory=ScanStats)
    # From the scanned tree's .gatehouse-audit.yaml and imported baselines; applied with the
    # control plane's own suppressions when the run is stored.
    suppressions: list[Suppression] = Field(default_factory=list)


class Report(BaseModel):
    """A finished run: what every report format renders and what the control plane stores."""

    run_id: str
    target: str
    started_at: datetime
    finished_at: datetime
    tool_versions: dict[str, str] = Field(default_factory=dict)
    findings: list[ReportedFinding] = Field(default_factory=list)  # fixed ones included
    checks: list[CheckResult] = Field(default_factory=list)
    stats: ScanStats = Field(default_factory=ScanStats)
    trend: list[TrendPoint] = Field(default_factory=list)  # oldest first, this run last

    def unsuppressed_at_least(self, threshold: Severity) -> list[ReportedFinding]:
        """What `--fail-on` gates on: present, not suppressed, severe enough."""
        return [
            finding
            for finding in self.findings
            if finding.status in (FindingStatus.NEW, FindingStatus.OPEN)
            and finding.severity.at_least(threshold)
        ]
