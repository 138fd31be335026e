"""The internal credential: how the runtime knows a request was forwarded by the control plane.

The proxy mints a short-lived JWT for every request it forwards to the runtime, signed with
an Ed25519 key only control planes hold. It names the workspace, the agent and the accessor of
the token the caller presented (never the token itself). The runtime verifies it with the
public half, so a runtime can check credentials but never mint one. The runtime presents the
same credential back to the proxy for the run's model calls, which the proxy authorizes and
logs as that token's. Both directions carry it as `Authorization: Bearer <jwt>`.
"""

import secrets
import time
from dataclasses import dataclass
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ISSUER = "gatehouse"
AUDIENCE = "gatehouse-runtime"
ALGORITHM = "EdDSA"


class CredentialError(Exception):
    """The credential is missing, forged, expired or malformed (the reason is safe to show)."""


@dataclass(frozen=True)
class RuntimeClaims:
    workspace_id: str
    agent_id: str | None  # the agent the token is bound to, if any
    token_id: str
    token_accessor: str
    user_id: str
    scopes: frozenset[str]
    expires_at: float
    jwt_id: str


def load_or_create_signing_key(path: Path, public_path: Path) -> Ed25519PrivateKey:
    """The control plane's key; created (0600) with its public half on first use."""
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise CredentialError("the runtime signing key must be an Ed25519 private key")
    else:
        from controlplane.kit.keyfiles import write_private_file  # noqa: PLC0415 - control plane only

        key = Ed25519PrivateKey.generate()
        write_private_file(
            path,
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        )
    public = public_pem(key.public_key())
    if not public_path.exists() or public_path.read_bytes() != public:
        public_path.parent.mkdir(parents=True, exist_ok=True)
        public_path.write_bytes(public)
    return key


def public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load_trust_key(path: Path) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(path.read_bytes())
    if not isinstance(key, Ed25519PublicKey):
        raise CredentialError("the runtime trust key must be an Ed25519 public key")
    return key


def mint(key: Ed25519PrivateKey, claims: RuntimeClaims) -> str:
    now = int(time.time())
    return jwt.encode(
        {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "iat": now,
            "nbf": now,
            "exp": int(claims.expires_at),
            "jti": claims.jwt_id,
            "ws": claims.workspace_id,
            "agt": claims.agent_id,
            "tid": claims.token_id,
            "acc": claims.token_accessor,
            "uid": claims.user_id,
            "scp": sorted(claims.scopes),
        },
        key,
        algorithm=ALGORITHM,
    )


def new_jwt_id() -> str:
    return secrets.token_urlsafe(12)


def verify(key: Ed25519PublicKey, token: str) -> RuntimeClaims:
    try:
        payload = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],  # pinned: "none" and HMAC confusion are refused
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": ["exp", "iat", "iss", "aud", "jti"]},
            leeway=5,
        )
    except jwt.ExpiredSignatureError as error:
        raise CredentialError("the runtime credential has expired") from error
    except jwt.PyJWTError as error:
        raise CredentialError("the runtime credential is not valid") from error
    try:
        agent = payload.get("agt")
        return RuntimeClaims(
            workspace_id=str(payload["ws"]),
            agent_id=str(agent) if agent is not None else None,
            token_id=str(payload["tid"]),
            token_accessor=str(payload["acc"]),
            user_id=str(payload["uid"]),
            scopes=frozenset(str(scope) for scope in payload["scp"]),
            expires_at=float(payload["exp"]),
            jwt_id=str(payload["jti"]),
        )
    except (KeyError, TypeError) as error:
        raise CredentialError("the runtime credential is missing claims") from error
