"""Importing a detect-secrets `.secrets.baseline`: its audit labels, and its excludes.

A secret audited as `is_secret: false` is a reviewed false positive: it becomes a suppression of
exactly that finding (file, type, secret hash), justified by the baseline and expiring like any
other, so the decision is reviewed again. `is_secret: true` and unaudited entries stay findings.
File names are taken as relative to the scanned root, as detect-secrets writes them when run
from the repository's top.
"""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from audits.model import Suppression, Tool, fingerprint, normalise_path
from audits.secrets.detectors import EXCLUDE_KINDS, DetectorSettings, regex_filter

DEFAULT_APPROVER = "detect-secrets baseline"
_FIELDS = {regex_filter(kind): f"exclude_{kind}s" for kind in EXCLUDE_KINDS}


class BaselineError(ValueError):
    """The baseline is unreadable or not shaped like a detect-secrets baseline."""


def _load(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise BaselineError(f"{path}: cannot read it ({error.strerror})") from error
    except ValueError as error:
        raise BaselineError(f"{path}: not valid JSON ({error})") from error
    if not isinstance(data, dict) or not isinstance(data.get("results", {}), dict):
        raise BaselineError(f"{path}: not a detect-secrets baseline (no results object)")
    return data


def _generated_at(data: dict[str, Any]) -> datetime | None:
    try:
        return datetime.strptime(str(data["generated_at"]), "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=UTC
        )
    except (KeyError, ValueError):
        return None


def import_baseline(
    path: Path, *, now: datetime, expires_in: timedelta = timedelta(days=180)
) -> list[Suppression]:
    """The baseline's false positives as suppressions; the rest of it is not needed here."""
    data = _load(path)
    created = _generated_at(data) or now
    suppressions: list[Suppression] = []
    for filename, entries in sorted(data.get("results", {}).items()):
        if not isinstance(entries, list):
            raise BaselineError(f"{path}: results for {filename!r} are not a list")
        for entry in entries:
            if not isinstance(entry, dict) or entry.get("is_secret") is not False:
                continue
            secret_type, secret_hash = entry.get("type"), entry.get("hashed_secret")
            if not isinstance(secret_type, str) or not isinstance(secret_hash, str):
                raise BaselineError(
                    f"{path}: an entry for {filename!r} lacks type or hashed_secret"
                )
            approver = entry.get("approver") or data.get("approver") or DEFAULT_APPROVER
            suppressions.append(
                Suppression(
                    id=f"baseline:{len(suppressions)}",
                    fingerprint=fingerprint(
                        Tool.SECRETS, secret_type, normalise_path(filename), secret_hash
                    ),
                    justification=f"marked false positive in {path.name}",
                    approver=str(approver),
                    created_at=created,
                    expires_at=now + expires_in,
                )
            )
    return suppressions


def read_baseline_excludes(path: Path) -> DetectorSettings:
    """The baseline's detect-secrets regex excludes (`--exclude-files`, `--exclude-lines`,
    `--exclude-secrets`), as settings a scan can use; the baseline file itself (by its name, as
    detect-secrets does) is not scanned, since its hashes look like secrets."""
    found: dict[str, tuple[str, ...]] = {}
    for item in _load(path).get("filters_used", []):
        name = _FIELDS.get(item.get("path", "")) if isinstance(item, dict) else None
        if name is not None:
            patterns = item.get("pattern", [])
            found[name] = tuple(patterns if isinstance(patterns, list) else [patterns])
    return DetectorSettings(**found, baseline_file=path.name)
