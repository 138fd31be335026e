"""What a caller chooses about a secret scan."""

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from audits.config import AuditConfig
from audits.secrets.detectors import DetectorSettings


class SecretScanError(ValueError):
    """The scan cannot run as asked (no such directory, not a git repository...)."""


@dataclass(frozen=True)
class SecretScanOptions:
    config: AuditConfig = field(default_factory=AuditConfig)
    history: bool = False
    jobs: int | None = None  # None: os.cpu_count()
    cache_dir: Path | None = None  # None: the default location
    use_cache: bool = True
    progress: Callable[[int, int], None] | None = (
        None  # (done, total) files; in the caller's thread
    )
    # Extra detect-secrets regex excludes, e.g. those of an imported .secrets.baseline.
    detectors: DetectorSettings = field(default_factory=DetectorSettings)
