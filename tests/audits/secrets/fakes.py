"""Fake secrets, built when a test runs: no line of this file looks like a secret to a scanner."""

import os
import random
import string
import subprocess
from pathlib import Path

from controlplane.tokens.format import generate_token

_rng = random.SystemRandom()
UPPER_DIGITS = string.ascii_uppercase + string.digits
ALNUM = string.ascii_letters + string.digits


def _pick(alphabet: str, length: int) -> str:
    return "".join(_rng.choice(alphabet) for _ in range(length))


def aws_key() -> str:
    return "AKI" + "A" + _pick(UPPER_DIGITS, 16)


def github_token() -> str:
    return "gh" + "p_" + _pick(ALNUM, 36)


def stripe_key() -> str:
    return "sk" + "_live_" + _pick(ALNUM, 24)


def password() -> str:
    return _pick(ALNUM, 18)


def private_key() -> str:
    kind = "RSA " + "PRIVATE KEY"
    body = "\n".join(_pick(ALNUM, 64) for _ in range(6))
    return f"-----BEGIN {kind}-----\n{body}\n-----END {kind}-----\n"


def gatehouse_token() -> str:
    return generate_token()


def broken_checksum(token: str) -> str:
    """The same shape with a wrong checksum: a look-alike, not a token."""
    return token[:-1] + ("A" if token[-1] != "A" else "B")


def write(root: Path, relative: str, text: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def git(root: Path, *args: str) -> str:
    done = subprocess.run(  # noqa: S603 - fixed git arguments
        ["git", "-C", str(root), *args],  # noqa: S607 - git from PATH
        capture_output=True,
        text=True,
        check=True,
        env={
            **os.environ,
            "GIT_AUTHOR_NAME": "Test",
            "GIT_AUTHOR_EMAIL": "test@example.com",
            "GIT_COMMITTER_NAME": "Test",
            "GIT_COMMITTER_EMAIL": "test@example.com",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_CONFIG_NOSYSTEM": "1",
        },
    )
    return done.stdout.strip()


def init_repo(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q", "-b", "main")


def commit(root: Path, message: str) -> str:
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)
    return git(root, "rev-parse", "HEAD")
