"""Envelope encryption: round trips, and every kind of tampering or wrong key is refused."""

import dataclasses
import stat
from pathlib import Path

import pytest

from controlplane.kit.envelope import (
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
)

SECRET = b"sk-test-0123456789abcdefghij"
AAD = associated_data("pcr_1", "ws_1", "openai", "")
WRAP_AAD = associated_data("pcr_1")


def _flip(data: bytes, index: int = 0) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


@pytest.fixture
def master() -> MasterKey:
    return MasterKey.from_bytes(generate_master_key())


@pytest.fixture
def sealed(master: MasterKey) -> Envelope:
    return seal(master, SECRET, aad=AAD, wrap_aad=WRAP_AAD)


def test_round_trip(master: MasterKey, sealed: Envelope) -> None:
    assert sealed.key_id == master.id
    assert SECRET not in sealed.ciphertext
    assert len(sealed.nonce) == len(sealed.key_nonce) == 12
    assert open_envelope(master, sealed, aad=AAD, wrap_aad=WRAP_AAD) == SECRET


def test_every_seal_uses_a_fresh_data_key_and_nonces(master: MasterKey, sealed: Envelope) -> None:
    again = seal(master, SECRET, aad=AAD, wrap_aad=WRAP_AAD)
    assert again.ciphertext != sealed.ciphertext
    assert again.wrapped_key != sealed.wrapped_key
    assert again.nonce != sealed.nonce


@pytest.mark.parametrize("part", ["ciphertext", "nonce", "wrapped_key", "key_nonce"])
def test_tampering_with_any_part_is_refused(master: MasterKey, sealed: Envelope, part: str) -> None:
    tampered = dataclasses.replace(sealed, **{part: _flip(getattr(sealed, part))})
    with pytest.raises(EnvelopeError):
        open_envelope(master, tampered, aad=AAD, wrap_aad=WRAP_AAD)


@pytest.mark.parametrize(
    ("aad", "wrap_aad"),
    [
        # Another workspace, provider or agent: a ciphertext moved to another row.
        (associated_data("pcr_1", "ws_2", "openai", ""), WRAP_AAD),
        (associated_data("pcr_1", "ws_1", "anthropic", ""), WRAP_AAD),
        (associated_data("pcr_1", "ws_1", "openai", "agt_1"), WRAP_AAD),
        # Another credential id: a wrapped key swapped between rows.
        (AAD, associated_data("pcr_2")),
    ],
)
def test_other_associated_data_is_refused(
    master: MasterKey, sealed: Envelope, aad: bytes, wrap_aad: bytes
) -> None:
    with pytest.raises(EnvelopeError):
        open_envelope(master, sealed, aad=aad, wrap_aad=wrap_aad)


def test_associated_data_is_unambiguous() -> None:
    assert associated_data("ab", "c") != associated_data("a", "bc")
    assert associated_data("a", "") != associated_data("a")


def test_a_wrong_master_key_is_refused(sealed: Envelope) -> None:
    other = MasterKey.from_bytes(generate_master_key())
    with pytest.raises(EnvelopeError):
        open_envelope(other, sealed, aad=AAD, wrap_aad=WRAP_AAD)
    # Even one that claims the right id: the key itself must open the wrapped DEK.
    impostor = MasterKey(sealed.key_id, other.kek)
    with pytest.raises(EnvelopeError):
        open_envelope(impostor, sealed, aad=AAD, wrap_aad=WRAP_AAD)


def test_rewrap_keeps_the_ciphertext_and_moves_the_key(master: MasterKey, sealed: Envelope) -> None:
    new = MasterKey.from_bytes(generate_master_key())
    moved = rewrap(master, new, sealed, wrap_aad=WRAP_AAD)
    assert moved.key_id == new.id != master.id
    assert (moved.ciphertext, moved.nonce) == (sealed.ciphertext, sealed.nonce)
    assert moved.wrapped_key != sealed.wrapped_key
    assert open_envelope(new, moved, aad=AAD, wrap_aad=WRAP_AAD) == SECRET
    with pytest.raises(EnvelopeError):
        open_envelope(master, moved, aad=AAD, wrap_aad=WRAP_AAD)


def test_master_keys_never_show_their_material() -> None:
    raw = generate_master_key()
    key = MasterKey.from_bytes(raw)
    assert key.id == key_id(raw)
    assert len(key.id) == 16
    assert key.kek.hex() not in repr(key)
    assert raw.decode() not in repr(key)


def test_keyring_retires_keys_to_disk_and_reloads_unknown_ids(tmp_path: Path) -> None:
    keys_dir = tmp_path / "keys"
    active_file = tmp_path / "active.key"
    first, second = generate_master_key(), generate_master_key()
    active_file.write_bytes(first)
    keyring = MasterKeyring(keys_dir, active_file.read_bytes)
    assert keyring.active.id == key_id(first)
    sealed = seal(keyring.active, SECRET, aad=AAD, wrap_aad=WRAP_AAD)

    # Another process rotates: it retires the first key, then makes the second active.
    other = MasterKeyring(keys_dir, active_file.read_bytes)
    other.retire(first)
    retired = keys_dir / f"data-encryption.{key_id(first)}.retired.key"
    assert stat.S_IMODE(retired.stat().st_mode) == 0o600
    active_file.write_bytes(second)
    moved = rewrap(
        other.get(key_id(first)), MasterKey.from_bytes(second), sealed, wrap_aad=WRAP_AAD
    )

    # This keyring has never seen the second key: it reloads, and then wraps under it too.
    assert open_envelope(keyring.get(moved.key_id), moved, aad=AAD, wrap_aad=WRAP_AAD) == SECRET
    assert keyring.active.id == key_id(second)
    assert keyring.get(key_id(first)).id == key_id(first)
    with pytest.raises(EnvelopeError, match="neither active nor retired"):
        keyring.get("0123456789abcdef")
