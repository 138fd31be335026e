"""Provider credentials: set, read and delete them without ever revealing a key; resolve them for
the proxy; re-wrap them all when the master key rotates.

A key is sealed in an envelope (`controlplane.kit.envelope`) bound to its row: the credential
id, workspace, provider and agent are the associated data, so a ciphertext moved elsewhere
fails to decrypt.
"""

import hashlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from sqlalchemy.orm import Session

from controlplane.audit_events import service as audit
from controlplane.auth.policy import Resource, authorize
from controlplane.auth.scopes import Scope
from controlplane.config import Settings
from controlplane.container import Container
from controlplane.context import Ctx
from controlplane.db import after_commit, transaction
from controlplane.errors import ConfigurationError, Conflict, Forbidden, NotFound
from controlplane.identity import service as identity
from controlplane.kit.clock import utcnow
from controlplane.kit.envelope import (
    MASTER_KEY_NAME,
    Envelope,
    EnvelopeError,
    MasterKey,
    MasterKeyring,
    associated_data,
    generate_master_key,
    key_id,
    open_envelope,
    rewrap,
    seal,
    write_durably,
)
from controlplane.kit.ids import new_id
from controlplane.kit.keyfiles import MIN_KEY_BYTES, is_placeholder, load_symmetric_key
from controlplane.providers import repository
from controlplane.providers.models import ProviderCredential
from controlplane.providers.schemas import ProviderCredentialSet, ResolvedCredential
from controlplane.tokens import repository as epochs
from controlplane.tokens.models import PROVIDERS_EPOCH

RESOURCE = "provider credential"


@dataclass(frozen=True)
class Rotation:
    key_id: str
    previous_key_id: str
    rewrapped: int


def fingerprint(api_key: str) -> str:
    """A stable public name for a key: the same key always shows the same fingerprint."""
    return hashlib.sha256(api_key.encode()).hexdigest()[:16]


# --- the master keyring -----------------------------------------------------------------

_keyrings: dict[tuple[Path, Path | None, bytes], MasterKeyring] = {}
_keyrings_lock = threading.Lock()


def _configured_key(settings: Settings) -> bytes:
    return load_symmetric_key(
        MASTER_KEY_NAME,
        settings.data_key,
        settings.data_key_file,
        settings.keys_dir,
        dev_mode=settings.dev_mode,
    )


def master_keyring(container: Container) -> MasterKeyring:
    """One keyring per process and key configuration, kept so that disk reads are rare.

    It lives here rather than on the Container, which predates it; containers rebound over the
    same keys (the tests do this) share one.
    """
    settings = container.settings
    configuration = (settings.keys_dir.resolve(), settings.data_key_file, container.data_key)
    with _keyrings_lock:
        keyring = _keyrings.get(configuration)
        if keyring is None:
            keyring = MasterKeyring(settings.keys_dir, partial(_configured_key, settings))
            _keyrings[configuration] = keyring
    return keyring


def _secret_aad(row: ProviderCredential) -> bytes:
    return associated_data(row.id, row.workspace_id, row.provider, row.agent_id or "")


def _wrap_aad(row: ProviderCredential) -> bytes:
    return associated_data(row.id)


def _envelope(row: ProviderCredential) -> Envelope:
    return Envelope(row.key_id, row.wrapped_key, row.key_nonce, row.ciphertext, row.nonce)


def _store(row: ProviderCredential, envelope: Envelope) -> None:
    row.key_id = envelope.key_id
    row.wrapped_key = envelope.wrapped_key
    row.key_nonce = envelope.key_nonce
    row.ciphertext = envelope.ciphertext
    row.nonce = envelope.nonce


# --- the API ----------------------------------------------------------------------------


def _credential(
    ctx: Ctx, workspace_id: str, provider: str, agent_id: str | None, action: Scope
) -> ProviderCredential:
    identity.workspace_or_agent_for(ctx, workspace_id, agent_id, action)
    row = repository.get(ctx.session, workspace_id, provider, agent_id)
    if row is None:
        raise NotFound(f"{RESOURCE} not found")
    # An agent-bound token sees its own agent's overrides only: the same 404 otherwise.
    authorize(ctx.require_principal(), action, Resource(RESOURCE, workspace_id, row.agent_id))
    return row


def _changed(ctx: Ctx) -> None:
    """Every process's proxy drops its decrypted copies: this one at commit, others by epoch."""
    epochs.bump_epoch(ctx.session, PROVIDERS_EPOCH)
    after_commit(ctx.session, ctx.app.credential_cache.invalidate)


def _audit_details(row: ProviderCredential) -> dict[str, str | None]:
    return {
        "provider": row.provider,
        "agent_id": row.agent_id,
        "fingerprint": row.fingerprint,
        "last4": row.last4,
    }


def set_credential(
    ctx: Ctx, workspace_id: str, provider: str, body: ProviderCredentialSet
) -> ProviderCredential:
    """Create or replace; a replacement gets a fresh data key, and keeps its id."""
    identity.workspace_or_agent_for(ctx, workspace_id, body.agent_id, Scope.PROVIDERS_WRITE)
    token = ctx.require_principal().token
    if body.agent_id is None and token is not None and token.agent_id is not None:
        raise Forbidden(
            "an agent-bound token can only set its own agent's credentials", code="agent_bound"
        )
    row = repository.get(ctx.session, workspace_id, provider, body.agent_id, lock=True)
    replaced = row is not None
    now = utcnow()
    if row is None:
        row = ProviderCredential(
            id=new_id("pcr"),
            workspace_id=workspace_id,
            agent_id=body.agent_id,
            provider=provider,
            created_at=now,
        )
    api_key = body.api_key.get_secret_value()
    row.base_url = body.base_url
    row.fingerprint = fingerprint(api_key)
    row.last4 = api_key[-4:]
    row.updated_at = now
    active = master_keyring(ctx.app).active
    _store(row, seal(active, api_key.encode(), aad=_secret_aad(row), wrap_aad=_wrap_aad(row)))
    repository.add(ctx.session, row)
    _changed(ctx)
    audit.record(
        ctx,
        "provider.set",
        target_type="provider_credential",
        target_id=row.id,
        workspace_id=workspace_id,
        details={**_audit_details(row), "base_url": row.base_url, "replaced": replaced},
    )
    return row


def list_credentials(
    ctx: Ctx, workspace_id: str, after: str | None, limit: int
) -> Sequence[ProviderCredential]:
    identity.workspace_for(ctx, workspace_id, Scope.PROVIDERS_READ)
    token = ctx.require_principal().token
    return repository.list_for_workspace(
        ctx.session,
        workspace_id,
        agent_id=token.agent_id if token is not None else None,
        after=after,
        limit=limit,
    )


def get_credential(
    ctx: Ctx, workspace_id: str, provider: str, agent_id: str | None
) -> ProviderCredential:
    return _credential(ctx, workspace_id, provider, agent_id, Scope.PROVIDERS_READ)


def delete_credential(ctx: Ctx, workspace_id: str, provider: str, agent_id: str | None) -> None:
    row = _credential(ctx, workspace_id, provider, agent_id, Scope.PROVIDERS_WRITE)
    repository.remove(ctx.session, row)
    _changed(ctx)
    audit.record(
        ctx,
        "provider.delete",
        target_type="provider_credential",
        target_id=row.id,
        workspace_id=workspace_id,
        details=_audit_details(row),
    )


# --- the proxy --------------------------------------------------------------------------


def resolve_credential(
    session: Session,
    container: Container,
    workspace_id: str,
    agent_id: str | None,
    provider: str,
) -> ResolvedCredential | None:
    """The key to inject for this agent: its override, else the workspace default, else None.

    No principal: the proxy has authorized the caller already. Nothing is written.
    """
    rows = repository.default_and_override(session, workspace_id, provider, agent_id)
    if not rows:
        return None
    row = next((row for row in rows if row.agent_id is not None), rows[0])
    try:
        master = master_keyring(container).get(row.key_id)
        plaintext = open_envelope(
            master, _envelope(row), aad=_secret_aad(row), wrap_aad=_wrap_aad(row)
        )
    except EnvelopeError as error:
        raise ConfigurationError(f"{RESOURCE} {row.id} cannot be decrypted: {error}") from None
    return ResolvedCredential(
        provider=row.provider,
        api_key=plaintext.decode(),
        base_url=row.base_url,
        agent_id=row.agent_id,
        fingerprint=row.fingerprint,
    )


# --- master key rotation ----------------------------------------------------------------


def _rewrap(
    rows: Sequence[ProviderCredential], keyring: MasterKeyring, new: MasterKey
) -> tuple[int, list[str]]:
    """Re-wrap each row's DEK under `new`; ciphertexts stay as they are.

    Returns how many were re-wrapped and under which keys they were before.
    """
    rewrapped = 0
    previous: set[str] = set()
    for row in rows:
        # Already there: an earlier --new-key-file run whose key is not configured yet.
        if row.key_id == new.id:
            continue
        try:
            envelope = rewrap(keyring.get(row.key_id), new, _envelope(row), wrap_aad=_wrap_aad(row))
        except EnvelopeError as error:
            raise ConfigurationError(
                f"{RESOURCE} {row.id} cannot be re-wrapped ({error}); nothing was changed"
            ) from None
        previous.add(row.key_id)
        _store(row, envelope)
        rewrapped += 1
    return rewrapped, sorted(previous)


def _read_new_key(path: Path, *, dev_mode: bool) -> bytes:
    try:
        raw = path.read_bytes().strip()
    except OSError as error:
        raise ConfigurationError(f"cannot read {path}: {error.strerror}") from None
    if is_placeholder(raw) and not dev_mode:
        raise ConfigurationError(
            f"the key in {path} is a placeholder or too short; it needs at least "
            f"{MIN_KEY_BYTES} random bytes"
        )
    return raw


def rotate_master_key(container: Container, new_key_file: Path | None) -> Rotation:
    """Move every credential to a new master key, keeping the old one as retired.

    Everything happens under the rotation lock, and the key in use is read only once it is
    held, so concurrent rotations run one after the other. Every key is on disk before anything
    is wrapped under it: a crash at any point leaves each row openable by a key on disk. A
    generated key is replaced in place; a key the operator supplies stays the operator's.
    """
    settings = container.settings
    supplied = settings.data_key is not None or settings.data_key_file is not None
    if new_key_file is None and supplied:
        raise ConfigurationError(
            "the data-encryption key comes from GATEHOUSE_DATA_KEY or GATEHOUSE_DATA_KEY_FILE; "
            "write a new key to a file and run `gatehouse keys rotate --new-key-file PATH`"
        )
    new_raw = (
        _read_new_key(new_key_file, dev_mode=settings.dev_mode)
        if new_key_file is not None
        else generate_master_key()
    )
    new = MasterKey.from_bytes(new_raw)
    keyring = master_keyring(container)
    with transaction(container.session_factory) as session:
        rows = repository.lock_for_rotation(session)
        old_raw = _configured_key(settings)
        if key_id(old_raw) == new.id:
            raise Conflict("the new key is the one already in use")
        keyring.retire(old_raw)
        if new_key_file is None:
            write_durably(settings.keys_dir / f"{MASTER_KEY_NAME}.key", new_raw, replace=True)
        rewrapped, previous = _rewrap(rows, keyring, new)
        session.flush()
        audit.record(
            Ctx(session=session, app=container),
            "provider_keys.rotate",
            target_type="master_key",
            target_id=new.id,
            workspace_id=None,
            actor_type="system",
            actor_id="gatehouse keys rotate",
            details={
                "rewrapped": rewrapped,
                "previous_key_ids": previous,
                "retired_key_id": key_id(old_raw),
            },
        )
    keyring.reload()
    return Rotation(key_id=new.id, previous_key_id=key_id(old_raw), rewrapped=rewrapped)
