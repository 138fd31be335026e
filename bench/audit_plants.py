"""Fake secrets for the secret-scan benchmark's corpus, built at run time from a seeded random.

Nothing here is a secret, and no line of this file looks like one to a scanner: every value is
assembled from pieces when the corpus is generated.
"""

import base64
import json
import random
import string
import zlib
from collections.abc import Callable

from controlplane.kit.base62 import ALPHABET, encode_fixed
from controlplane.tokens.format import TOKEN_PREFIX, is_well_formed

UPPER_DIGITS = string.ascii_uppercase + string.digits
LOWER_DIGITS = string.ascii_lowercase + string.digits
ALNUM = string.ascii_letters + string.digits
BASE64 = ALNUM + "+/"


def pick(rng: random.Random, alphabet: str, length: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(length))


def gatehouse_token(rng: random.Random) -> str:
    """A token in the real format with a valid checksum (seeded, unlike generate_token)."""
    body = pick(rng, ALPHABET, 30)
    token = f"{TOKEN_PREFIX}{body}{encode_fixed(zlib.crc32(f'{TOKEN_PREFIX}{body}'.encode()), 6)}"
    if not is_well_formed(token):  # the format changed: the benchmark must follow it
        raise AssertionError("the benchmark's token builder disagrees with the token format")
    return token


def bad_gatehouse_token(rng: random.Random) -> str:
    """Shaped like a token, checksum broken: a look-alike that must not be a finding."""
    token = gatehouse_token(rng)
    last = token[-1]
    return token[:-1] + ("A" if last != "A" else "B")


def aws_key(rng: random.Random) -> str:
    return "AKI" + "A" + pick(rng, UPPER_DIGITS, 16)


def github_token(rng: random.Random) -> str:
    return "gh" + "p_" + pick(rng, ALNUM, 36)


def slack_token(rng: random.Random) -> str:
    return "xo" + "xb-" + pick(rng, string.digits, 11) + "-" + pick(rng, LOWER_DIGITS, 24)


def stripe_key(rng: random.Random) -> str:
    return "sk" + "_live_" + pick(rng, ALNUM, 24)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def jwt(rng: random.Random) -> str:
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    claims = {"sub": pick(rng, LOWER_DIGITS, 12), "iat": rng.randint(1_600_000_000, 1_800_000_000)}
    signature = _b64url(bytes(rng.getrandbits(8) for _ in range(32)))
    return ".".join((header, _b64url(json.dumps(claims).encode()), signature))


def basic_auth_url(rng: random.Random) -> str:
    user, password = pick(rng, string.ascii_lowercase, 7), pick(rng, ALNUM, 14)
    host = rng.choice(("db.internal.example.com", "queue.example.net", "cache.example.org"))
    return "https" + "://" + user + ":" + password + "@" + host + "/" + pick(rng, LOWER_DIGITS, 6)


def password(rng: random.Random) -> str:
    return pick(rng, ALNUM + "!#%", rng.randint(12, 20))


def base64_blob(rng: random.Random) -> str:
    return pick(rng, BASE64, 40)


def hex_blob(rng: random.Random) -> str:
    return pick(rng, "0123456789abcdef", 40)


def private_key(rng: random.Random) -> str:
    kind = "RSA " + "PRIVATE KEY"
    body = "\n".join(pick(rng, BASE64, 64) for _ in range(rng.randint(8, 25)))
    return f"-----BEGIN {kind}-----\n{body}\n-----END {kind}-----"


Plant = Callable[[random.Random], str]
# Each planted kind and how it is written into a line of a file: `{v}` is the value.
LINE_PLANTS: dict[str, tuple[Plant, tuple[str, ...]]] = {
    "aws": (aws_key, ('AWS_ACCESS_KEY_ID = "{v}"', "aws_access_key_id={v}", "  key: {v}")),
    "github": (github_token, ('GITHUB_TOKEN = "{v}"', "export GH_TOKEN={v}", "token: {v}")),
    "slack": (slack_token, ('slack_token = "{v}"', "SLACK_BOT_TOKEN={v}")),
    "stripe": (stripe_key, ('stripe.api_key = "{v}"', "STRIPE_KEY={v}")),
    "jwt": (jwt, ('headers = {{"Authorization": "Bearer {v}"}}', "jwt: {v}")),
    "basic_auth": (basic_auth_url, ('DATABASE_URL = "{v}"', "url: {v}", "BROKER_URL={v}")),
    "keyword": (password, ('db_password = "{v}"', 'password: "{v}"', 'const apiKey = "{v}";')),
    "base64": (base64_blob, ('SIGNING_SEED = "{v}"', "seed: '{v}'")),
    "hex": (hex_blob, ('CACHE_SALT = "{v}"', "salt: '{v}'")),
    "gatehouse": (gatehouse_token, ("GATEHOUSE_TOKEN={v}", 'token = "{v}"', "  - {v}")),
    "gatehouse_bad": (bad_gatehouse_token, ("example token: {v}", "# e.g. {v}")),
}
ALLOWLIST = "  # pragma: allowlist secret"
