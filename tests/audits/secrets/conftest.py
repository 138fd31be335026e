"""Scans of real files in tmp_path, by real worker processes, with a cache of their own."""

from pathlib import Path
from typing import Any

import pytest

from audits.config import AuditConfig
from audits.model import Finding, ScanStats
from audits.secrets import SecretScanOptions, scan_secrets


class Scanner:
    def __init__(self, cache_dir: Path) -> None:
        self.cache_dir = cache_dir

    def __call__(self, root: Path, **options: Any) -> tuple[list[Finding], ScanStats]:
        config = options.pop("config", None) or AuditConfig()
        options.setdefault("cache_dir", self.cache_dir)
        options.setdefault("jobs", 2)
        return scan_secrets(root, SecretScanOptions(config=config, **options))


@pytest.fixture
def scan(tmp_path: Path) -> Scanner:
    return Scanner(tmp_path / "cache")


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    root.mkdir()
    return root
