"""The scoped-token wire format: `gth_` + 30 random base62 + 6 base62 CRC32 checksum.

- `gth_` is ours alone, so scanners (ours and GitHub-style push protection) can key on it.
- 30 base62 characters carry ~178 bits of CSPRNG entropy (≥ 128 required).
- The checksum (CRC32 of prefix + body, as GitHub does) lets a scanner confirm a token offline
  and lets the server reject a typo or a forgery before any database lookup.
The accessor (`acc_…`) has a different prefix and no checksum, so it can never authenticate.
"""

import hashlib
import hmac
import re
import zlib

from controlplane.kit.base62 import encode_fixed, random_string

TOKEN_PREFIX = "gth_"  # noqa: S105 - a public prefix, not a secret
ACCESSOR_PREFIX = "acc_"
_BODY_LENGTH = 30
_CHECKSUM_LENGTH = 6
TOKEN_PATTERN = re.compile(rf"{TOKEN_PREFIX}[0-9A-Za-z]{{{_BODY_LENGTH + _CHECKSUM_LENGTH}}}")
ACCESSOR_PATTERN = re.compile(rf"{ACCESSOR_PREFIX}[0-9A-Za-z]{{20}}")


def _checksum(body: str) -> str:
    return encode_fixed(zlib.crc32(f"{TOKEN_PREFIX}{body}".encode()), _CHECKSUM_LENGTH)


def generate_token() -> str:
    body = random_string(_BODY_LENGTH)
    return f"{TOKEN_PREFIX}{body}{_checksum(body)}"


def generate_accessor() -> str:
    return f"{ACCESSOR_PREFIX}{random_string(20)}"


def is_well_formed(candidate: str) -> bool:
    """Prefix, length, alphabet and checksum; pure CPU, no I/O."""
    if TOKEN_PATTERN.fullmatch(candidate) is None:
        return False
    body = candidate[len(TOKEN_PREFIX) : len(TOKEN_PREFIX) + _BODY_LENGTH]
    return hmac.compare_digest(candidate[-_CHECKSUM_LENGTH:], _checksum(body))


def secret_hmac(key: bytes, token: str) -> str:
    """What the database stores and looks up: HMAC-SHA256 under the server's token key."""
    return hmac.new(key, token.encode(), hashlib.sha256).hexdigest()
