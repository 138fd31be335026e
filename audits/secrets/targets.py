"""Which files a scan reads: a git checkout's tracked files, or a directory walk that honours
`.gitignore`, minus what the configuration skips. Each skip is counted by its reason.

Reasons: `gitignored`, `excluded` (an `exclude` glob), `lock_file`, `minified`, `not_a_file`
(symlinks, sockets, submodules, tracked files deleted from the work tree), `too_large`. The
workers add `binary`, `filtered` (a detect-secrets filename filter), `unreadable` and `error`.
"""

import os
import stat
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath

from audits.config import AuditConfig
from audits.model import normalise_path
from audits.secrets import git
from audits.secrets.ignore import walk


@dataclass(frozen=True, slots=True)
class Target:
    path: str  # normalised, relative to the scan root
    size: int
    # What says "unchanged" without reading the file: size, mtime, ctime and inode.
    signature: tuple[int, int, int, int]


@dataclass
class Selection:
    targets: list[Target] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    seen: int = 0


def matches_any(path: str, globs: Iterable[str]) -> bool:
    """fnmatch over the normalised path or any directory above it, so `tests/fixtures` (or
    `tests/fixtures/*`) covers everything below it; `*` also matches `/`, so `*.pem` matches
    `keys/dev.pem`."""
    candidates = [path, *(str(parent) for parent in PurePosixPath(path).parents if parent.name)]
    return any(
        fnmatchcase(candidate, glob.rstrip("/")) for glob in globs for candidate in candidates
    )


def path_skip(path: str, config: AuditConfig) -> str | None:
    """Why a path is skipped before anything is read, judging by its name alone."""
    if config.exclude and matches_any(path, config.exclude):
        return "excluded"
    name = PurePosixPath(path).name
    if config.skip_lock_files and any(fnmatchcase(name, glob) for glob in config.lock_files):
        return "lock_file"
    if config.skip_minified and any(fnmatchcase(name, glob) for glob in config.minified):
        return "minified"
    return None


def _candidates(root: Path, config: AuditConfig) -> Iterable[tuple[str, bool]]:
    if config.respect_gitignore and git.is_work_tree(root):
        return ((path, False) for path in git.tracked_files(root))
    return walk(root, respect_gitignore=config.respect_gitignore)


def select(root: Path, config: AuditConfig) -> Selection:
    selection = Selection()
    for raw, ignored in _candidates(root, config):
        selection.seen += 1
        path = normalise_path(raw)
        reason = "gitignored" if ignored else path_skip(path, config)
        if reason is None:
            try:
                status = os.lstat(root / path)
            except OSError:
                status = None
            if status is None or not stat.S_ISREG(status.st_mode):
                reason = "not_a_file"
            elif status.st_size > config.max_file_bytes:
                reason = "too_large"
            else:
                signature = (status.st_size, status.st_mtime_ns, status.st_ctime_ns, status.st_ino)
                selection.targets.append(Target(path, status.st_size, signature))
        if reason is not None:
            selection.skipped[reason] += 1
    return selection
