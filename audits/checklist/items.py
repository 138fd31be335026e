"""Checklist items: `threat-model/checklist.yaml`, read and validated.

Each item names the threats it answers (ids from `threat-model/*.md`) and the OWASP ASVS 4.0.3
requirements it verifies, and is either automated (`check:` a registered check's name) or manual
(`manual:` what evidence an attestation must carry). A file that breaks these rules is refused
whole, with the offending item named, never half-loaded.
"""

from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from audits.checklist.checks import REGISTRY
from audits.model import CheckKind, Severity

DEFAULT_CHECKLIST = Path(__file__).resolve().parents[2] / "threat-model" / "checklist.yaml"

ItemId = Annotated[str, StringConstraints(pattern=r"^GH-[A-Z]{2,6}-\d{3}$")]
ThreatId = Annotated[str, StringConstraints(pattern=r"^T-[A-Z]{2,8}-\d{2}$")]
# An ASVS 4.0.3 requirement: chapter, section, requirement (V3.3.2).
AsvsRef = Annotated[str, StringConstraints(pattern=r"^V\d{1,2}\.\d{1,2}\.\d{1,2}$")]


class ChecklistError(ValueError):
    """The checklist file is invalid; the message names the file and the item."""


class ManualCheck(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    evidence_hint: Annotated[str, Field(min_length=20)]
    # An attestation older than this no longer counts, whatever its own expiry says: "restored
    # in a drill within 90 days" is about when the drill happened.
    max_age_days: Annotated[int, Field(gt=0)] | None = None


class ChecklistItem(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: ItemId
    title: Annotated[str, Field(min_length=10)]
    severity: Severity
    threats: Annotated[tuple[ThreatId, ...], Field(min_length=1)]
    asvs: Annotated[tuple[AsvsRef, ...], Field(min_length=1)]
    check: str | None = None
    manual: ManualCheck | None = None

    @model_validator(mode="after")
    def _automated_or_manual(self) -> "ChecklistItem":
        if (self.check is None) == (self.manual is None):
            raise ValueError("an item has either `check` (automated) or `manual`, not both")
        return self

    @property
    def kind(self) -> CheckKind:
        return CheckKind.AUTOMATED if self.check is not None else CheckKind.MANUAL


def _item_name(raw: Any, index: int) -> str:
    item_id = raw.get("id") if isinstance(raw, dict) else None
    return f"item {item_id}" if isinstance(item_id, str) else f"item #{index + 1}"


def _problems(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in issue['loc']) or 'item'}: {issue['msg']}"
        for issue in error.errors()
    )


def _parse(path: Path, raw: Any) -> list[ChecklistItem]:
    if not isinstance(raw, dict) or not isinstance(raw.get("items"), list):
        raise ChecklistError(f"{path}: expected a mapping with an `items` list")
    if unknown := sorted(set(raw) - {"items"}):
        raise ChecklistError(f"{path}: unknown top-level keys: {', '.join(map(str, unknown))}")
    items: list[ChecklistItem] = []
    for index, entry in enumerate(raw["items"]):
        name = _item_name(entry, index)
        try:
            item = ChecklistItem.model_validate(entry)
        except ValidationError as error:
            raise ChecklistError(f"{path}: {name}: {_problems(error)}") from error
        if item.check is not None and item.check not in REGISTRY:
            raise ChecklistError(
                f"{path}: {name}: no automated check named {item.check!r} "
                f"(registered: {', '.join(sorted(REGISTRY))})"
            )
        if any(seen.id == item.id for seen in items):
            raise ChecklistError(f"{path}: {name}: the id is used twice")
        items.append(item)
    return items


def load_checklist(path: Path = DEFAULT_CHECKLIST) -> list[ChecklistItem]:
    """Every item of the file, in its order. Raises ChecklistError (a ValueError)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ChecklistError(f"{path}: cannot be read ({error.strerror})") from error
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ChecklistError(f"{path}: not valid YAML ({error})") from error
    return _parse(path, raw)
