"""Who is calling: the internal credential the control plane minted for this request.

Every route except `/healthz` and `/metrics` declares `CallerDep`. The credential is verified
with the public key loaded once at start-up; the runtime can check credentials but never mint
one. Every refusal looks the same (no oracle), and the credential itself never reaches a log
line, an error body or a repr.
"""

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi import Depends, Request

from controlplane.errors import ConfigurationError, Unauthenticated
from runtime.credential import CredentialError, RuntimeClaims, load_trust_key, verify

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Caller:
    claims: RuntimeClaims
    # Presented back to the proxy for the run's model calls.
    credential: str = field(repr=False)


def load_key(path: Path) -> Ed25519PublicKey:
    try:
        return load_trust_key(path)
    except (OSError, ValueError, CredentialError) as error:
        raise ConfigurationError(
            f"cannot load the runtime trust key from {path}: {type(error).__name__}"
        ) from error


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, value = header.partition(" ")
    value = value.strip()
    return value if scheme.lower() == "bearer" and value else None


# Async on purpose: an Ed25519 check costs tens of microseconds, less than a threadpool hop.
async def authenticate(request: Request) -> Caller:
    credential = _bearer(request)
    if credential is None:
        raise Unauthenticated("missing")
    key: Ed25519PublicKey = request.app.state.trust_key
    try:
        claims = verify(key, credential)
    except CredentialError as error:
        log.info("refused a runtime credential: %s", error)  # the reason, never the value
        raise Unauthenticated("invalid") from None
    return Caller(claims=claims, credential=credential)


CallerDep = Annotated[Caller, Depends(authenticate)]
