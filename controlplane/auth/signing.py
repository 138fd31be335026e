"""Ed25519 signing keys for session JWTs, with rotation and an overlap window.

Keys live in `<home>/keys/signing/<kid>.pem` (0600) with non-secret metadata in
`keyring.json`. The newest key signs; a retired key keeps verifying for the overlap so sessions
issued just before a rotation stay valid. A `kid` is only ever a dictionary key, never a path.
"""

import json
import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from controlplane.errors import ConfigurationError
from controlplane.kit.clock import as_utc, utcnow
from controlplane.kit.keyfiles import write_private_file

KID_PATTERN = re.compile(r"[A-Za-z0-9_-]{8,64}")
_RELOAD_CHECK_SECONDS = 2.0


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: Ed25519PrivateKey | None
    public_key: Ed25519PublicKey
    created_at: datetime
    retired_at: datetime | None


def _pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _load_private(data: bytes) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(data, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigurationError("the signing key must be an Ed25519 private key")
    return key


class Keyring:
    """Signing and verification keys, reloaded when another process rotates them."""

    def __init__(self, directory: Path, overlap_seconds: int, fixed_key_file: Path | None = None):
        self._directory = directory
        self._overlap = timedelta(seconds=overlap_seconds)
        self._fixed_key_file = fixed_key_file
        self._lock = threading.Lock()
        self._keys: dict[str, SigningKey] = {}
        self._loaded_mtime = -1.0
        self._checked_at = 0.0
        self._load()

    @property
    def _index(self) -> Path:
        return self._directory / "keyring.json"

    def _read_index(self) -> list[dict[str, str | None]]:
        if not self._index.exists():
            return []
        entries: list[dict[str, str | None]] = json.loads(self._index.read_text())
        return entries

    def _load(self) -> None:
        if self._fixed_key_file is not None:
            private = _load_private(self._fixed_key_file.read_bytes())
            kid = "fixed-" + _thumbprint(private.public_key())
            self._keys = {kid: SigningKey(kid, private, private.public_key(), utcnow(), None)}
            return
        if not self._read_index():
            self.rotate()
            return
        self._reload()

    def _reload(self) -> None:
        keys: dict[str, SigningKey] = {}
        for entry in self._read_index():
            kid = str(entry["kid"])
            if KID_PATTERN.fullmatch(kid) is None:
                raise ConfigurationError("keyring.json holds an invalid kid")
            private = _load_private((self._directory / f"{kid}.pem").read_bytes())
            retired = entry.get("retired_at")
            keys[kid] = SigningKey(
                kid,
                private,
                private.public_key(),
                as_utc(datetime.fromisoformat(str(entry["created_at"]))),
                as_utc(datetime.fromisoformat(retired)) if retired else None,
            )
        self._keys = keys
        self._loaded_mtime = self._index.stat().st_mtime

    def _maybe_reload(self) -> None:
        if self._fixed_key_file is not None:
            return
        now = time.monotonic()
        if now - self._checked_at < _RELOAD_CHECK_SECONDS:
            return
        with self._lock:
            self._checked_at = now
            if self._index.exists() and self._index.stat().st_mtime != self._loaded_mtime:
                self._reload()

    def rotate(self) -> str:
        """Add a new active key and retire the current one (it verifies for the overlap)."""
        if self._fixed_key_file is not None:
            raise ConfigurationError("the signing key is supplied by file; rotate it there")
        now = utcnow()
        entries = self._read_index()
        for entry in entries:
            entry["retired_at"] = entry.get("retired_at") or now.isoformat()
        private = Ed25519PrivateKey.generate()
        kid = secrets.token_urlsafe(12)
        write_private_file(self._directory / f"{kid}.pem", _pem(private))
        entries.append({"kid": kid, "created_at": now.isoformat(), "retired_at": None})
        temporary = self._index.with_suffix(".tmp")
        temporary.write_text(json.dumps(entries, indent=2))
        temporary.replace(self._index)
        self._reload()
        return kid

    def active(self) -> SigningKey:
        self._maybe_reload()
        candidates = [key for key in self._keys.values() if key.retired_at is None]
        return max(candidates, key=lambda key: key.created_at)

    def verification_key(self, kid: str) -> Ed25519PublicKey | None:
        if KID_PATTERN.fullmatch(kid) is None:
            return None
        self._maybe_reload()
        key = self._keys.get(kid)
        if key is None:
            return None
        if key.retired_at is not None and utcnow() > key.retired_at + self._overlap:
            return None
        return key.public_key


def _thumbprint(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return raw.hex()[:16]
