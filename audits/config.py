"""A scanned tree's own audit settings: `.gatehouse-audit.yaml` at the scan root.

It says what is not scanned (and why, for the reader) and which findings are accepted, each
acceptance with a justification, an approver and a mandatory expiry. A file that breaks these
rules is refused with the offending entry named, never half-applied.
"""

from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from audits.model import Suppression

CONFIG_FILE = ".gatehouse-audit.yaml"

# detect-secrets already skips these by name; ours are a superset, and configurable.
DEFAULT_LOCK_FILES = (
    "package-lock.json",
    "npm-shrinkwrap.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    "poetry.lock",
    "Pipfile.lock",
    "Cargo.lock",
    "Gemfile.lock",
    "composer.lock",
    "go.sum",
    "uv.lock",
    "*.lock",
)
DEFAULT_MINIFIED = ("*.min.js", "*.min.css", "*.map")


class ConfigError(ValueError):
    """The audit configuration is invalid; the message names the file and the entry."""


class SuppressionEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fingerprint: str | None = None
    rule: str | None = None
    path_glob: str | None = None
    justification: Annotated[str, Field(min_length=10)]
    approver: Annotated[str, Field(min_length=1)]
    created: date
    expires: date  # mandatory: an acceptance that never ends is a finding nobody reviews

    @model_validator(mode="after")
    def _targets_something(self) -> "SuppressionEntry":
        if self.fingerprint is None and self.rule is None:
            raise ValueError("a suppression names a fingerprint or a rule")
        if self.expires <= self.created:
            raise ValueError("a suppression expires after it is created")
        return self

    def to_suppression(self, index: int) -> Suppression:
        return Suppression(
            id=f"file:{index}",
            fingerprint=self.fingerprint,
            rule=self.rule,
            path_glob=self.path_glob,
            justification=self.justification,
            approver=self.approver,
            created_at=datetime.combine(self.created, time.min, UTC),
            expires_at=datetime.combine(self.expires, time.min, UTC),
        )


class AuditConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Globs (fnmatch over normalised paths) never scanned, for example fixtures of fake secrets.
    exclude: list[str] = Field(default_factory=list)
    skip_lock_files: bool = True
    skip_minified: bool = True
    lock_files: list[str] = Field(default_factory=lambda: list(DEFAULT_LOCK_FILES))
    minified: list[str] = Field(default_factory=lambda: list(DEFAULT_MINIFIED))
    respect_gitignore: bool = True
    max_file_bytes: Annotated[int, Field(gt=0)] = 2 * 1024 * 1024
    file_timeout_seconds: Annotated[float, Field(gt=0)] = 20.0
    suppressions: list[SuppressionEntry] = Field(default_factory=list)

    @field_validator("exclude", "lock_files", "minified")
    @classmethod
    def _no_empty_globs(cls, globs: list[str]) -> list[str]:
        if any(not glob.strip() for glob in globs):
            raise ValueError("empty glob")
        return globs

    def file_suppressions(self) -> list[Suppression]:
        return [entry.to_suppression(i) for i, entry in enumerate(self.suppressions)]


def load_config(root: Path, explicit: Path | None = None) -> AuditConfig:
    """`explicit`, else `root/.gatehouse-audit.yaml`, else the defaults."""
    path = explicit or root / CONFIG_FILE
    if not path.is_file():
        if explicit is not None:
            raise ConfigError(f"{path}: no such file")
        return AuditConfig()
    try:
        raw: Any = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return AuditConfig.model_validate(raw)
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML ({error})") from error
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in issue['loc'])}: {issue['msg']}"
            for issue in error.errors()
        )
        raise ConfigError(f"{path}: {problems}") from error
