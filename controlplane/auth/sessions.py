"""Short-lived session JWTs: EdDSA only, `kid` required, every registered claim required."""

import secrets
from dataclasses import dataclass
from datetime import timedelta

import jwt

from controlplane.auth.signing import Keyring
from controlplane.errors import Unauthenticated
from controlplane.kit.clock import utcnow

ALGORITHM = "EdDSA"
REQUIRED_CLAIMS = ["iss", "aud", "exp", "iat", "sub", "jti"]


@dataclass(frozen=True)
class SessionClaims:
    user_id: str
    jti: str


class SessionTokens:
    def __init__(self, keyring: Keyring, issuer: str, audience: str, ttl_seconds: int) -> None:
        self._keyring = keyring
        self._issuer = issuer
        self._audience = audience
        self._ttl = timedelta(seconds=ttl_seconds)

    @property
    def ttl_seconds(self) -> int:
        return int(self._ttl.total_seconds())

    def issue(self, user_id: str) -> str:
        key = self._keyring.active()
        if key.private_key is None:
            raise RuntimeError("active signing key has no private half")
        now = utcnow()
        claims = {
            "iss": self._issuer,
            "aud": self._audience,
            "sub": user_id,
            "iat": now,
            "nbf": now,
            "exp": now + self._ttl,
            "jti": secrets.token_urlsafe(16),
        }
        return jwt.encode(claims, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid})

    def verify(self, token: str) -> SessionClaims:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as error:
            raise Unauthenticated("jwt_malformed") from error
        kid = header.get("kid")
        # Checked before any key lookup: `alg` is pinned, never taken from the token.
        if header.get("alg") != ALGORITHM or not isinstance(kid, str):
            raise Unauthenticated("jwt_bad_header")
        public_key = self._keyring.verification_key(kid)
        if public_key is None:
            raise Unauthenticated("jwt_unknown_kid")
        try:
            claims = jwt.decode(
                token,
                public_key,
                algorithms=[ALGORITHM],
                audience=self._audience,
                issuer=self._issuer,
                options={"require": REQUIRED_CLAIMS},
            )
        except jwt.PyJWTError as error:
            raise Unauthenticated("jwt_invalid") from error
        subject, jti = claims.get("sub"), claims.get("jti")
        if not isinstance(subject, str) or not isinstance(jti, str):
            raise Unauthenticated("jwt_invalid")
        return SessionClaims(user_id=subject, jti=jti)
