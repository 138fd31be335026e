"""What the detectors report: an alert per (detector, entity, window), with its evidence."""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from controlplane.access_log.records import iso


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """1 (low) to 4 (critical), for "at or above" comparisons."""
        return _RANKS[self]


_RANKS = {Severity.LOW: 1, Severity.MEDIUM: 2, Severity.HIGH: 3, Severity.CRITICAL: 4}


class EntityType(StrEnum):
    TOKEN = "token"  # noqa: S105 - an entity type's name, not a secret
    IP = "ip"
    WORKSPACE = "workspace"
    AGENT = "agent"


# The entity of failures that no workspace can be attributed to (malformed or unknown tokens).
WHOLE_INSTANCE = "*"


@dataclass(frozen=True)
class DetectorInfo:
    name: str
    entity_type: EntityType  # the usual entity (permission_probing and new_model may differ)
    severity: Severity  # the usual severity; each detector's rule may raise or lower it
    summary: str


@dataclass(frozen=True)
class Alert:
    detector: str
    severity: Severity
    entity_type: EntityType
    entity: str
    workspace_id: str | None
    token_accessor: str | None
    window_start: datetime
    window_end: datetime
    score: float
    evidence_count: int
    explanation: str
    evidence: tuple[dict[str, Any], ...]

    def key(self) -> tuple[str, str, str, datetime]:
        """What identifies an alert across scans: a later scan of the window updates it."""
        return (self.detector, self.entity_type.value, self.entity, self.window_start)

    def to_dict(self, *, evidence: bool = True) -> dict[str, Any]:
        """JSON-ready, in a fixed order; `evidence=False` for tables and lists."""
        data: dict[str, Any] = {
            "detector": self.detector,
            "severity": self.severity.value,
            "entity_type": self.entity_type.value,
            "entity": self.entity,
            "window_start": iso(self.window_start),
            "window_end": iso(self.window_end),
            "score": round(self.score, 3),
            "evidence_count": self.evidence_count,
            "explanation": self.explanation,
            "workspace_id": self.workspace_id,
            "token_accessor": self.token_accessor,
        }
        if evidence:
            data["evidence"] = [dict(row) for row in self.evidence]
        return data
