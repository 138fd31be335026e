"""Static analysis of Python sources: bandit, run in-process through its library API.

The caller decides which files are analysed (the shared file enumeration applies the exclusion
globs and `.gitignore`); this module only turns bandit's issues into `Finding`s. A finding's
identity is the flagged code, not its line number, so moving code keeps its fingerprint.
"""

import hashlib
import logging
import os
import time
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

from audits.model import Category, Finding, ScanStats, Severity, Tool, fingerprint, normalise_path

with warnings.catch_warnings():
    # bandit's plugin loader passes stevedore an argument that stevedore now deprecates; the
    # warning is bandit's to fix and would otherwise fail every importer running with -W error.
    warnings.simplefilter("ignore", DeprecationWarning)
    import bandit
    from bandit.core import config as bandit_config
    from bandit.core import docs_utils, extension_loader
    from bandit.core import manager as bandit_manager

# Above 50 files bandit draws a progress bar on stdout whenever its logger lets INFO through,
# which would corrupt a report written to stdout.
logging.getLogger("bandit").setLevel(logging.WARNING)

_SEVERITY = {"LOW": Severity.LOW, "MEDIUM": Severity.MEDIUM, "HIGH": Severity.HIGH}
# These tests quote the suspected password in their issue text.
_PASSWORD_RULES = frozenset({"B105", "B106", "B107"})
_WITHHELD_VALUE_TEXT = "Possible hardcoded password (the value is withheld from reports)"
_SKIP_REASONS = {
    "syntax error while parsing AST from file": "syntax-error",
    "exception while scanning file": "analysis-error",
}


def bandit_version() -> str:
    return str(bandit.__version__)


def scan_python(root: Path, files: list[Path]) -> tuple[list[Finding], ScanStats]:
    """Analyse `files` (absolute, or relative to `root`; all under `root`) with every bandit test.

    Inline `# nosec` comments are ignored on purpose: accepting a finding takes a suppression
    with a justification, an approver and an expiry, which a comment has none of.
    """
    started = time.monotonic()
    base = Path(os.path.abspath(root))
    relative_paths = {str(base / file): _relative(base, file) for file in files}

    manager = bandit_manager.BanditManager(
        bandit_config.BanditConfig(), "file", quiet=True, ignore_nosec=True
    )
    manager.discover_files(sorted(relative_paths))
    manager.run_tests()

    source_lines: dict[str, list[str]] = {}
    findings: list[Finding] = []
    occurrences: Counter[tuple[str, str, str]] = Counter()
    issues = sorted(manager.get_issue_list(), key=lambda issue: (issue.fname, issue.lineno))
    for issue in issues:
        path = relative_paths[issue.fname]
        lines = source_lines.setdefault(issue.fname, _read_lines(issue.fname))
        code_hash = _code_hash(lines, issue)
        # Identical flagged code twice in one file: the second keeps its own identity.
        seen_before = occurrences[(issue.test_id, path, code_hash)]
        occurrences[(issue.test_id, path, code_hash)] += 1
        if seen_before:
            code_hash = hashlib.sha256(f"{code_hash}\x1f{seen_before}".encode()).hexdigest()
        findings.append(_finding(issue, path, code_hash))

    skipped = Counter(_skip_reason(reason) for _, reason in manager.get_skipped())
    stats = ScanStats(
        files_seen=len(relative_paths),
        files_scanned=len(manager.files_list),
        files_skipped=dict(skipped),
        seconds=time.monotonic() - started,
    )
    return sorted(findings, key=Finding.sort_key), stats


def _relative(base: Path, file: Path) -> str:
    absolute = Path(os.path.abspath(base / file))
    try:
        return normalise_path(absolute.relative_to(base).as_posix())
    except ValueError as error:
        raise ValueError(f"{file} is not under the scan root {base}") from error


def _read_lines(fname: str) -> list[str]:
    return Path(fname).read_bytes().decode("utf-8", errors="replace").splitlines()


def _code_hash(lines: list[str], issue: Any) -> str:
    """sha256 of the flagged lines, each stripped: indentation and blank lines do not count."""
    numbers = list(issue.linerange) or [issue.lineno]
    flagged = lines[max(min(numbers), 1) - 1 : max(numbers)]
    normalised = "\n".join(line.strip() for line in flagged if line.strip())
    return hashlib.sha256(normalised.encode()).hexdigest()


def _finding(issue: Any, path: str, code_hash: str) -> Finding:
    test_id = str(issue.test_id)
    return Finding(
        fingerprint=fingerprint(Tool.BANDIT, test_id, path, code_hash),
        tool=Tool.BANDIT,
        rule=test_id,
        rule_name=_rule_name(issue),
        category=Category.CODE,
        severity=_SEVERITY.get(str(issue.severity), Severity.INFO),
        confidence=str(issue.confidence),
        cwe=int(issue.cwe.id) or None,
        path=path,
        line=int(issue.lineno),
        message=_WITHHELD_VALUE_TEXT if test_id in _PASSWORD_RULES else str(issue.text),
        help_uri=str(docs_utils.get_url(test_id)),
    )


def _rule_name(issue: Any) -> str:
    """The test's name; for the blacklist tests, the blacklisted item's ("import_subprocess")."""
    if issue.test == "blacklist":
        listed = extension_loader.MANAGER.blacklist_by_id.get(issue.test_id)
        if listed is not None:
            # docs_utils.get_url rewrites this shared entry's underscores to dashes in place.
            return str(listed["name"]).replace("-", "_")
    return str(issue.test)


def _skip_reason(reason: str) -> str:
    # Anything else is the strerror of a file bandit could not open.
    return _SKIP_REASONS.get(reason, "unreadable")
