"""Key material: taken from the environment or a file, or generated once into a 0600 file.

Placeholders ("changeme", short or repetitive values) are refused outside dev mode, because a
default secret shipped in a sample `.env` is the same secret on every deployment that copied it.
"""

import base64
import os
import secrets
from pathlib import Path

from pydantic import SecretStr

from controlplane.errors import ConfigurationError

_PLACEHOLDERS = {
    "changeme",
    "change-me",
    "change_me",
    "secret",
    "password",
    "placeholder",
    "example",
    "default",
    "test",
    "dev",
    "xxx",
    "todo",
}
MIN_KEY_BYTES = 32


def is_placeholder(raw: bytes) -> bool:
    text = raw.decode("utf-8", "replace").strip().lower()
    return (
        text in _PLACEHOLDERS
        or any(word in text for word in ("changeme", "change-me", "placeholder"))
        or len(raw) < MIN_KEY_BYTES
        or len(set(raw)) < 8
    )


def write_private_file(path: Path, data: bytes) -> None:
    """Create `path` with mode 0600 from the start; never widen an existing file."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def load_symmetric_key(
    name: str, inline: SecretStr | None, file: Path | None, keys_dir: Path, *, dev_mode: bool
) -> bytes:
    """Return raw key bytes for `name` (e.g. token HMAC key, data-encryption key)."""
    if inline is not None:
        raw = inline.get_secret_value().encode()
    elif file is not None:
        raw = file.read_bytes().strip()
    else:
        generated = keys_dir / f"{name}.key"
        if not generated.exists():
            write_private_file(generated, base64.b64encode(secrets.token_bytes(MIN_KEY_BYTES)))
        raw = generated.read_bytes().strip()
    if is_placeholder(raw) and not dev_mode:
        raise ConfigurationError(
            f"the {name} key is a placeholder or too short; supply at least {MIN_KEY_BYTES} "
            "random bytes, or remove it so one is generated"
        )
    return raw
