"""Envelope encryption for secrets at rest, and the keyring of master keys that wrap them.

Each secret gets a fresh random 256-bit data key (DEK) that seals it with AES-256-GCM; the DEK is
itself sealed ("wrapped") under a master key. Rotating the master key re-wraps DEKs only: the
secrets' ciphertexts never change, and a master key never touches bulk data.

Associated data binds every ciphertext to where it belongs, so a ciphertext copied into another
row, or a wrapped DEK swapped between rows, fails authentication instead of decrypting.
"""

import base64
import dataclasses
import hashlib
import os
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from controlplane.kit.keyfiles import MIN_KEY_BYTES, write_private_file

NONCE_BYTES = 12
MASTER_KEY_NAME = "data-encryption"
RETIRED_SUFFIX = ".retired.key"
_KEK_INFO = b"gatehouse master key: wraps data keys (v1)"


class EnvelopeError(Exception):
    """A ciphertext that does not authenticate, or a master key this process cannot find.

    Messages name key ids at most, never key material or plaintext.
    """


def key_id(raw: bytes) -> str:
    """A master key's public name: safe to store beside what it wraps, and to print."""
    return hashlib.sha256(raw).hexdigest()[:16]


def generate_master_key() -> bytes:
    """In the format `load_symmetric_key` generates: base64 text of 32 random bytes."""
    return base64.b64encode(secrets.token_bytes(MIN_KEY_BYTES))


@dataclass(frozen=True)
class MasterKey:
    id: str
    kek: bytes = field(repr=False)

    @classmethod
    def from_bytes(cls, raw: bytes) -> "MasterKey":
        # Configured keys are text of any length (often base64): HKDF turns each into a uniform
        # AES-256 key, and the label keeps it apart from any other use of the same bytes.
        kek = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_KEK_INFO).derive(raw)
        return cls(key_id(raw), kek)


@dataclass(frozen=True)
class Envelope:
    key_id: str  # the master key that wraps the DEK
    wrapped_key: bytes
    key_nonce: bytes
    ciphertext: bytes
    nonce: bytes


def associated_data(*parts: str) -> bytes:
    """Length-prefixed, so ("ab", "c") and ("a", "bc") never bind the same way."""
    return b"".join(len(encoded).to_bytes(4, "big") + encoded for encoded in map(str.encode, parts))


def _seal(key: bytes, plaintext: bytes, aad: bytes) -> tuple[bytes, bytes]:
    # A random 96-bit nonce is safe here: a DEK seals one message, and a master key seals one
    # DEK per credential write or rotation, far below GCM's 2^32 random-nonce bound.
    nonce = secrets.token_bytes(NONCE_BYTES)
    return nonce, AESGCM(key).encrypt(nonce, plaintext, aad)


def _open(key: bytes, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes:
    try:
        return AESGCM(key).decrypt(nonce, ciphertext, aad)
    except InvalidTag:
        raise EnvelopeError("ciphertext or associated data does not authenticate") from None


def seal(master: MasterKey, plaintext: bytes, *, aad: bytes, wrap_aad: bytes) -> Envelope:
    dek = AESGCM.generate_key(bit_length=256)
    nonce, ciphertext = _seal(dek, plaintext, aad)
    key_nonce, wrapped = _seal(master.kek, dek, wrap_aad)
    return Envelope(master.id, wrapped, key_nonce, ciphertext, nonce)


def _unwrap(master: MasterKey, envelope: Envelope, wrap_aad: bytes) -> bytes:
    if master.id != envelope.key_id:
        raise EnvelopeError(f"wrapped under master key {envelope.key_id}, not {master.id}")
    return _open(master.kek, envelope.key_nonce, envelope.wrapped_key, wrap_aad)


def open_envelope(master: MasterKey, envelope: Envelope, *, aad: bytes, wrap_aad: bytes) -> bytes:
    dek = _unwrap(master, envelope, wrap_aad)
    return _open(dek, envelope.nonce, envelope.ciphertext, aad)


def rewrap(old: MasterKey, new: MasterKey, envelope: Envelope, *, wrap_aad: bytes) -> Envelope:
    """The same DEK and ciphertext, with the DEK wrapped under `new` instead of `old`."""
    key_nonce, wrapped = _seal(new.kek, _unwrap(old, envelope, wrap_aad), wrap_aad)
    return dataclasses.replace(envelope, key_id=new.id, wrapped_key=wrapped, key_nonce=key_nonce)


def write_durably(path: Path, data: bytes, *, replace: bool = False) -> None:
    """A 0600 key file that is on disk before anything is encrypted under it.

    With `replace`, the file is swapped in atomically: readers see the old key or the new one.
    """
    target = path.with_name(path.name + ".tmp") if replace else path
    if replace:
        target.unlink(missing_ok=True)  # our own leftover from an interrupted rotation
    write_private_file(target, data)
    fd = os.open(target, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    if replace:
        os.replace(target, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


class MasterKeyring:
    """The active master key, which wraps new DEKs, plus retired ones, which only unwrap.

    Retired keys live in `<keys_dir>/data-encryption.<key id>.retired.key`. On a key id it does
    not hold, the keyring reloads: it calls `load_active` again (which re-reads a generated or
    file-based key, so a rotation by another process is seen) and reads every retired file. A
    process started before a rotation so keeps decrypting rows re-wrapped after it.
    """

    def __init__(self, keys_dir: Path, load_active: Callable[[], bytes]) -> None:
        self.keys_dir = keys_dir
        self._load_active = load_active
        self._lock = threading.Lock()
        self._keys: dict[str, MasterKey] = {}
        self._active = self.reload()

    @property
    def active(self) -> MasterKey:
        return self._active

    def get(self, wanted: str) -> MasterKey:
        key = self._keys.get(wanted)
        if key is None:
            self.reload()
            key = self._keys.get(wanted)
        if key is None:
            raise EnvelopeError(f"master key {wanted} is neither active nor retired here")
        return key

    def reload(self) -> MasterKey:
        keys = {
            key.id: key
            for key in (
                MasterKey.from_bytes(path.read_bytes().strip())
                for path in sorted(self.keys_dir.glob(f"{MASTER_KEY_NAME}.*{RETIRED_SUFFIX}"))
            )
        }
        active = MasterKey.from_bytes(self._load_active())
        keys[active.id] = active
        with self._lock:
            self._keys, self._active = keys, active
        return active

    def retire(self, raw: bytes) -> str:
        """Keep `raw` for unwrapping only, on disk for every process sharing this home."""
        retired = key_id(raw)
        path = self.keys_dir / f"{MASTER_KEY_NAME}.{retired}{RETIRED_SUFFIX}"
        if not path.exists():
            write_durably(path, raw)
        with self._lock:
            self._keys[retired] = MasterKey.from_bytes(raw)
        return retired
