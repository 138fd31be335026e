"""`gatehouse keys rotate` against a committed store, on each engine, in a real subprocess.

The rotation re-wraps data keys only: ciphertexts stay byte-for-byte, the old master key is kept
as retired, and a process that started before the rotation still decrypts.
"""

import json
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from controlplane import migrate
from controlplane.audit_events.models import AuditEvent
from controlplane.container import Container
from controlplane.db import transaction
from controlplane.errors import ConfigurationError
from controlplane.kit.envelope import generate_master_key, key_id
from controlplane.providers import service
from controlplane.providers.models import ProviderCredential
from controlplane.providers.schemas import ProviderCredentialSet
from tests import factories
from tests.conftest import test_settings as settings_for
from tests.controlplane.providers.helpers import ANTHROPIC_KEY, OPENAI_KEY
from tests.databases import database_url
from tests.e2e.harness import environment, run_cli


@dataclass
class Store:
    """A committed store, and a container standing for a process that was running before."""

    url: str
    home: Path
    container: Container
    workspace_id: str
    agent_id: str

    def rows(self) -> dict[str, ProviderCredential]:
        with transaction(self.container.session_factory, read_only=True) as session:
            return {row.id: row for row in session.scalars(select(ProviderCredential))}

    def keys_seen_by(self, container: Container) -> tuple[str | None, str | None]:
        with transaction(container.session_factory, read_only=True) as session:
            default = service.resolve_credential(
                session, container, self.workspace_id, None, "openai"
            )
            override = service.resolve_credential(
                session, container, self.workspace_id, self.agent_id, "anthropic"
            )
        return (
            default.api_key if default else None,
            override.api_key if override else None,
        )

    def cli(self, *args: str, **env: str) -> tuple[int, str, str]:
        result = run_cli(environment(self.home, self.url, **env), "keys", "rotate", *args)
        return result.returncode, result.stdout, result.stderr


@contextmanager
def committed_store(engine_kind: str, tmp_path: Path, **settings: object) -> Iterator[Store]:
    with database_url(engine_kind, tmp_path) as url:
        home = tmp_path / "home"
        container = Container.build(settings_for(home, database_url=url, **settings))
        try:
            migrate.upgrade(container.engine)
            with transaction(container.session_factory) as session:
                tenant = factories.tenant(session, container, "acme")
                ctx = factories.user_ctx(session, container, tenant.owner)
                ws, agent = tenant.workspace.id, tenant.agent.id
                default = ProviderCredentialSet(api_key=SecretStr(OPENAI_KEY))
                override = ProviderCredentialSet(api_key=SecretStr(ANTHROPIC_KEY), agent_id=agent)
                service.set_credential(ctx, ws, "openai", default)
                service.set_credential(ctx, ws, "anthropic", override)
            yield Store(url, home, container, ws, agent)
        finally:
            container.engine.dispose()


def test_rotate_rewraps_every_data_key_and_keeps_the_old_master_key(
    engine_kind: str, tmp_path: Path
) -> None:
    with committed_store(engine_kind, tmp_path) as store:
        keys_dir = store.home / "keys"
        old_id = key_id((keys_dir / "data-encryption.key").read_bytes().strip())
        before = store.rows()
        assert {row.key_id for row in before.values()} == {old_id}
        if engine_kind == "sqlite":
            for path in tmp_path.glob("gatehouse.db*"):  # the database file and its WAL
                assert OPENAI_KEY.encode() not in path.read_bytes(), path

        code, stdout, stderr = store.cli("--json")
        assert code == 0, stderr
        rotation = json.loads(stdout)
        new_id = rotation["key_id"]
        assert rotation == {"key_id": new_id, "previous_key_id": old_id, "rewrapped": 2}
        assert new_id != old_id

        after = store.rows()
        assert after.keys() == before.keys()
        for credential_id, row in after.items():
            old = before[credential_id]
            assert row.key_id == new_id
            assert (row.ciphertext, row.nonce) == (old.ciphertext, old.nonce)
            assert row.wrapped_key != old.wrapped_key
            assert row.updated_at == old.updated_at

        # The new key is active on disk, the old one retired beside it; both private.
        active = keys_dir / "data-encryption.key"
        retired = keys_dir / f"data-encryption.{old_id}.retired.key"
        assert key_id(active.read_bytes().strip()) == new_id
        for path in (active, retired):
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert sorted(path.name for path in keys_dir.glob("data-encryption*")) == sorted(
            [active.name, retired.name]
        )

        # A process that started before the rotation reloads on the unknown key id; one that
        # starts now loads the new key. Both decrypt.
        assert store.keys_seen_by(store.container) == (OPENAI_KEY, ANTHROPIC_KEY)
        fresh = Container.build(store.container.settings)
        try:
            assert service.master_keyring(fresh).active.id == new_id
            assert store.keys_seen_by(fresh) == (OPENAI_KEY, ANTHROPIC_KEY)
        finally:
            fresh.engine.dispose()

        with transaction(store.container.session_factory, read_only=True) as session:
            event = session.scalars(
                select(AuditEvent).where(AuditEvent.action == "provider_keys.rotate")
            ).one()
        assert (event.actor_type, event.actor_id) == ("system", "gatehouse keys rotate")
        assert event.workspace_id is None
        assert event.target_id == new_id
        assert event.details["rewrapped"] == 2
        assert event.details["previous_key_ids"] == [old_id]

        # A second rotation moves everything again, and the first retired key stays.
        code, stdout, stderr = store.cli()
        assert code == 0, stderr
        assert stdout == ""
        assert "re-wrapped 2 credentials under master key" in stderr
        assert retired.exists()
        assert store.keys_seen_by(store.container) == (OPENAI_KEY, ANTHROPIC_KEY)


def test_a_supplied_key_is_rotated_only_to_a_key_file(engine_kind: str, tmp_path: Path) -> None:
    old_file, new_file = tmp_path / "old.key", tmp_path / "new.key"
    old_file.write_bytes(generate_master_key())
    new_file.write_bytes(generate_master_key() + b"\n")
    with committed_store(engine_kind, tmp_path, data_key_file=old_file) as store:
        configured = {"GATEHOUSE_DATA_KEY_FILE": str(old_file)}

        code, stdout, stderr = store.cli(**configured)
        assert code == 1
        assert stdout == ""
        assert len(stderr.splitlines()) == 1, stderr
        assert stderr.startswith("error: ")
        assert "--new-key-file PATH" in stderr
        placeholder = tmp_path / "placeholder.key"
        placeholder.write_text("changeme")
        for bad, complaint in ((placeholder, "placeholder"), (old_file, "already in use")):
            code, _, stderr = store.cli("--new-key-file", str(bad), **configured)
            assert code == 1
            assert complaint in stderr
            assert len(stderr.splitlines()) == 1, stderr
        assert {row.key_id for row in store.rows().values()} == {key_id(old_file.read_bytes())}

        code, _, stderr = store.cli("--new-key-file", str(new_file), **configured)
        assert code == 0, stderr
        assert f"GATEHOUSE_DATA_KEY_FILE={new_file}" in stderr
        new_id = key_id(new_file.read_bytes().strip())
        assert {row.key_id for row in store.rows().values()} == {new_id}
        keys_dir = store.home / "keys"
        retired = f"data-encryption.{key_id(old_file.read_bytes())}.retired.key"
        # The old key is retired in the home; the operator's new key is not copied anywhere.
        assert [path.name for path in keys_dir.iterdir() if "data-encryption" in path.name] == [
            retired
        ]

        switched = Container.build(
            store.container.settings.model_copy(update={"data_key_file": new_file})
        )
        try:
            assert store.keys_seen_by(switched) == (OPENAI_KEY, ANTHROPIC_KEY)
        finally:
            switched.engine.dispose()
        # A process still configured with the old file cannot open the new wrapping until it
        # is restarted with the new file, or the old file's content is replaced in place: on an
        # unknown key id the keyring reads its configured file again.
        with pytest.raises(ConfigurationError, match=f"master key {new_id}"):
            store.keys_seen_by(store.container)
        old_file.write_bytes(new_file.read_bytes())
        assert store.keys_seen_by(store.container) == (OPENAI_KEY, ANTHROPIC_KEY)
