"""The few git commands the scanner needs, run as subprocesses with fixed arguments."""

import subprocess
from pathlib import Path


class GitError(RuntimeError):
    """git is missing, or refused a command; the message is git's own first line."""


def git(root: Path, *args: str, stdin: bytes | None = None) -> bytes:
    try:
        done = subprocess.run(  # noqa: S603 - fixed git arguments, no shell
            ["git", "-C", str(root), *args],  # noqa: S607 - git from PATH, like any git tool
            input=stdin,
            capture_output=True,
            check=False,
        )
    except FileNotFoundError as error:
        raise GitError("git is not installed") from error
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip().splitlines()
        raise GitError(message[0] if message else f"git {args[0]} failed")
    return done.stdout


def is_work_tree(root: Path) -> bool:
    try:
        return git(root, "rev-parse", "--is-inside-work-tree").strip() == b"true"
    except GitError:
        return False


def tracked_files(root: Path) -> list[str]:
    """Tracked paths under `root`, relative to it."""
    return [path for path in git(root, "ls-files", "-z").decode().split("\0") if path]
