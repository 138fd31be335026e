"""Audit runs, findings, suppressions and attestations over the API.

Findings are the engine's own shapes (`audits.model`), with the ids the API needs to name them;
nothing here can carry a raw secret, since `Finding` cannot.
"""

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, Field

from audits.model import CheckResult, ReportedFinding, ScanStats
from controlplane.kit.schemas import RequestModel, ResponseModel

Justification = Annotated[str, Field(min_length=10, max_length=2_000)]
Approver = Annotated[str, Field(min_length=1, max_length=200)]
ItemId = Annotated[str, Field(min_length=1, max_length=64)]
ScanPath = Annotated[str, Field(min_length=1, max_length=4_096)]


class RunSource(StrEnum):
    API = "api"  # run by the control plane on request
    IMPORT = "import"  # run elsewhere (`gatehouse audit run --upload`), stored here
    SCHEDULE = "schedule"  # the scheduled job


class RunCreate(RequestModel):
    checklist: bool = False
    # Each one of the configured `audit_scan_paths`: the API never scans a path a request names.
    paths: Annotated[list[ScanPath], Field(max_length=32, default_factory=list)]


class RunCounts(ResponseModel):
    status: dict[str, int] = Field(description="Findings by lifecycle status, fixed included.")
    severity: dict[str, int] = Field(description="Present, unsuppressed findings by severity.")
    checks: dict[str, int] = Field(description="Checklist results by status.")


class RunOut(ResponseModel):
    id: str
    workspace_id: str
    target: str
    source: RunSource
    started_at: datetime
    finished_at: datetime
    stored_at: datetime
    stored_by: str | None
    tool_versions: dict[str, str]
    counts: RunCounts
    stats: ScanStats


class RunFindingOut(ReportedFinding):
    """A finding as one run reported it; `id` names it for the finding routes."""

    id: str


class FindingOut(ReportedFinding):
    """A finding as it stands now: its latest run's status, with suppressions applied as of
    this moment (an expired suppression no longer counts). `line` is where it was last seen."""

    id: str
    target: str
    last_seen_at: datetime
    last_run_id: str


class DiffOut(ResponseModel):
    run_id: str
    against: str | None = Field(description="The run compared against; null: none before it.")
    introduced: list[ReportedFinding]
    resolved: list[ReportedFinding]
    unchanged: list[ReportedFinding]


class FindingSuppress(RequestModel):
    justification: Justification
    expires_at: AwareDatetime  # mandatory: an acceptance that never ends is never reviewed
    approver: Approver | None = None  # default: the caller


class RuleSuppress(FindingSuppress):
    rule: Annotated[str, Field(min_length=1, max_length=200)]
    path_glob: Annotated[str, Field(min_length=1, max_length=500)] | None = None


class SuppressionOut(ResponseModel):
    id: str
    workspace_id: str
    fingerprint: str | None
    rule: str | None
    path_glob: str | None
    justification: str
    approver: str
    created_by: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    revoked_by: str | None
    expired: bool
    revoked: bool
    active: bool


class AttestationCreate(RequestModel):
    item_id: ItemId
    evidence: Annotated[str, Field(min_length=1, max_length=4_000)]
    expires_at: AwareDatetime


class AttestationOut(ResponseModel):
    id: str
    workspace_id: str
    item_id: str
    attested_by: str
    attested_at: datetime
    evidence: str
    expires_at: datetime
    active: bool


class ChecklistEntryOut(ResponseModel):
    id: str
    title: str
    severity: str
    kind: Literal["automated", "manual"]
    threats: list[str]
    asvs: list[str]
    latest: CheckResult | None = Field(description="Its result in the latest run that ran it.")
    latest_run_id: str | None
    attestation: AttestationOut | None = Field(description="The unexpired attestation, if any.")
