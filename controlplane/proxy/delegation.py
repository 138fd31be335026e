"""The credential the proxy hands the runtime, and takes back from it for a run's model calls.

Forwarding a run, the proxy replaces the caller's Gatehouse token with a short-lived signed
credential naming the workspace, the agent and the token's accessor (`runtime.credential`):
the runtime never sees the caller's secret. The runtime presents that credential back to the
proxy for its model calls, which are then authorized and logged as the caller's token, and
refused the moment that token is revoked.
"""

import time
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from controlplane.auth.principal import TokenGrant
from controlplane.config import Settings
from controlplane.errors import Unauthenticated
from runtime import credential
from runtime.credential import CredentialError, RuntimeClaims


def looks_delegated(raw: str) -> bool:
    """A JWT (three base64url parts, JSON header) rather than an opaque Gatehouse token."""
    return raw.startswith("eyJ") and raw.count(".") == 2


@dataclass(frozen=True)
class RuntimeSigner:
    private_key: Ed25519PrivateKey
    public_key: Ed25519PublicKey
    ttl_seconds: int

    @classmethod
    def from_settings(cls, settings: Settings) -> "RuntimeSigner":
        key = credential.load_or_create_signing_key(
            settings.runtime_signing_key_path, settings.runtime_trust_key_path
        )
        return cls(key, key.public_key(), settings.runtime_credential_ttl_seconds)

    def mint_for(self, grant: TokenGrant) -> str:
        if grant.workspace_id is None:
            raise ValueError("runtime credentials are for workspace tokens")
        # Never outlives the token it stands for.
        expires = min(time.time() + self.ttl_seconds, grant.expires_at.timestamp())
        return credential.mint(
            self.private_key,
            RuntimeClaims(
                workspace_id=grant.workspace_id,
                agent_id=grant.agent_id,
                token_id=grant.token_id,
                token_accessor=grant.accessor,
                user_id=grant.user_id,
                scopes=grant.scopes,
                expires_at=expires,
                jwt_id=credential.new_jwt_id(),
            ),
        )

    def verify(self, raw: str) -> RuntimeClaims:
        try:
            return credential.verify(self.public_key, raw)
        except CredentialError as error:
            reason = "expired" if "expired" in str(error) else "invalid"
            raise Unauthenticated(reason) from error
