"""Secret scanning: detect-secrets as a library, in parallel worker processes, with a cache.

    findings, stats = scan_secrets(Path("."), SecretScanOptions())

Findings carry detect-secrets' secret hash and a redacted preview, never the secret. A scan of
a git checkout reads its tracked files; `history=True` reads every blob ever committed, once.
`import_baseline` turns a `.secrets.baseline`'s false-positive labels into suppressions, and
`verify_gatehouse_tokens` asks the control plane whether leaked Gatehouse tokens still work.
"""

from pathlib import Path

from audits.model import Finding, ScanStats
from audits.secrets.baseline import BaselineError, import_baseline, read_baseline_excludes
from audits.secrets.history import scan_history
from audits.secrets.liveness import LeakCheckError, verify_gatehouse_tokens
from audits.secrets.options import SecretScanError, SecretScanOptions
from audits.secrets.pool import PoolError
from audits.secrets.scanner import scan_tree

__all__ = [
    "BaselineError",
    "LeakCheckError",
    "PoolError",
    "SecretScanError",
    "SecretScanOptions",
    "import_baseline",
    "read_baseline_excludes",
    "scan_secrets",
    "verify_gatehouse_tokens",
]


def scan_secrets(root: Path, options: SecretScanOptions) -> tuple[list[Finding], ScanStats]:
    """Findings sorted by `Finding.sort_key()`, and what the scan did."""
    resolved = root.resolve()
    return scan_history(resolved, options) if options.history else scan_tree(resolved, options)
