"""`.gitignore` semantics for trees that are not git checkouts, with pathspec.

Each directory's `.gitignore` applies to the paths below it, and the deepest file that has an
opinion about a path decides (its own last matching pattern wins, negations included). An
ignored directory is not entered, as git does not re-include files inside one.
"""

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pathspec import GitIgnoreSpec

GITIGNORE = ".gitignore"


@dataclass(frozen=True)
class _Rules:
    base: str  # the directory holding the .gitignore, relative to the root ("" for the root)
    spec: GitIgnoreSpec


def _is_ignored(rules: tuple[_Rules, ...], path: str, is_dir: bool) -> bool:
    for rule in reversed(rules):
        relative = path[len(rule.base) + 1 :] if rule.base else path
        verdict = rule.spec.check_file(f"{relative}/" if is_dir else relative).include
        if verdict is not None:
            return verdict
    return False


def _load(directory: Path, base: str) -> _Rules | None:
    try:
        lines = (directory / GITIGNORE).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    return _Rules(base, GitIgnoreSpec.from_lines(lines))


def walk(root: Path, *, respect_gitignore: bool) -> Iterator[tuple[str, bool]]:
    """(path relative to root, ignored) for every non-directory below root, depth first.

    `.git` directories are never entered; ignored directories are not entered either.
    """
    pending: list[tuple[str, tuple[_Rules, ...]]] = [("", ())]
    while pending:
        base, rules = pending.pop()
        directory = root / base if base else root
        try:
            entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
        except OSError:
            continue
        if respect_gitignore and any(entry.name == GITIGNORE for entry in entries):
            loaded = _load(directory, base)
            rules = (*rules, loaded) if loaded else rules
        subdirectories = []
        for entry in entries:
            path = f"{base}/{entry.name}" if base else entry.name
            if entry.is_dir(follow_symlinks=False):
                if entry.name != ".git" and not (rules and _is_ignored(rules, path, True)):
                    subdirectories.append((path, rules))
            else:
                yield path, bool(rules) and _is_ignored(rules, path, False)
        pending.extend(reversed(subdirectories))
