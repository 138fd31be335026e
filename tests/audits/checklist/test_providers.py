"""The provider-credential check on rows written by the providers service, then altered in the
database as a plaintext import, a foreign master key or a swapped row would leave them."""

import secrets
from dataclasses import dataclass

from pydantic import SecretStr
from sqlalchemy import update

from audits.model import CheckStatus
from controlplane.container import Container
from controlplane.db import transaction
from controlplane.providers import service as providers
from controlplane.providers.models import ProviderCredential
from controlplane.providers.schemas import ProviderCredentialSet
from tests import factories
from tests.audits.checklist.conftest import result_of

CHECK = "provider_credentials_encrypted"


def fake_key() -> str:
    return "sk-test-" + secrets.token_hex(20)


@dataclass
class Stored:
    default: ProviderCredential
    override: ProviderCredential
    keys: tuple[str, str]


def store_two(container: Container) -> Stored:
    """A workspace default for openai and an agent's override, through the service."""
    keys = (fake_key(), fake_key())
    with transaction(container.session_factory) as session:
        tenant = factories.tenant(session, container, "acme")
        ctx = factories.user_ctx(session, container, tenant.owner)
        default = providers.set_credential(
            ctx, tenant.workspace.id, "openai", ProviderCredentialSet(api_key=SecretStr(keys[0]))
        )
        override = providers.set_credential(
            ctx,
            tenant.workspace.id,
            "openai",
            ProviderCredentialSet(api_key=SecretStr(keys[1]), agent_id=tenant.agent.id),
        )
    return Stored(default, override, keys)


def alter(container: Container, row: ProviderCredential, **values: object) -> None:
    with container.engine.begin() as connection:
        connection.execute(
            update(ProviderCredential).where(ProviderCredential.id == row.id).values(**values)
        )


def assert_no_key_in(explanation: str, stored: Stored) -> None:
    for key in stored.keys:
        assert key not in explanation
        assert key[-12:] not in explanation


def test_no_stored_credential_is_nothing_to_check(committed_container: Container) -> None:
    result = result_of(committed_container, CHECK)
    assert result.status is CheckStatus.NOT_APPLICABLE
    assert result.explanation == "no provider credential is stored"


def test_envelopes_that_open_pass(committed_container: Container) -> None:
    stored = store_two(committed_container)
    result = result_of(committed_container, CHECK)
    assert result.status is CheckStatus.PASS, result.explanation
    assert result.explanation.startswith(
        f"all 2 provider credentials open with the data key (master key ids "
        f"{stored.default.key_id})"
    )
    assert_no_key_in(result.explanation, stored)


def test_a_plaintext_key_in_the_ciphertext_column_fails(committed_container: Container) -> None:
    stored = store_two(committed_container)
    alter(committed_container, stored.override, ciphertext=stored.keys[1].encode())

    result = result_of(committed_container, CHECK)

    assert result.status is CheckStatus.FAIL
    assert result.explanation.startswith(
        "1 of 2 provider credentials are not stored only as an envelope under the data key: "
        f"{stored.override.id} (openai, workspace {stored.override.workspace_id}, "
        f"agent {stored.override.agent_id}): does not open with the data key"
    )
    assert stored.default.id not in result.explanation
    assert_no_key_in(result.explanation, stored)


def test_a_key_wrapped_under_an_unknown_master_key_fails(committed_container: Container) -> None:
    stored = store_two(committed_container)
    alter(committed_container, stored.default, key_id="0123456789abcdef")
    result = result_of(committed_container, CHECK)
    assert result.status is CheckStatus.FAIL
    assert f"{stored.default.id} (openai, workspace {stored.default.workspace_id}, " in (
        result.explanation
    )
    assert "master key 0123456789abcdef is neither active nor retired here" in result.explanation
    assert_no_key_in(result.explanation, stored)


def test_an_envelope_moved_from_another_row_fails(committed_container: Container) -> None:
    # The associated data binds an envelope to its row: a copy does not open elsewhere.
    stored = store_two(committed_container)
    source = stored.default
    alter(
        committed_container,
        stored.override,
        wrapped_key=source.wrapped_key,
        key_nonce=source.key_nonce,
        ciphertext=source.ciphertext,
        nonce=source.nonce,
    )
    result = result_of(committed_container, CHECK)
    assert result.status is CheckStatus.FAIL
    assert f"{stored.override.id} (openai" in result.explanation
    assert result.explanation.startswith("1 of 2 provider credentials")
    assert stored.default.id not in result.explanation


def test_a_key_that_is_not_the_one_its_fingerprint_names_fails(
    committed_container: Container,
) -> None:
    stored = store_two(committed_container)
    alter(committed_container, stored.default, fingerprint="0" * 16)
    result = result_of(committed_container, CHECK)
    assert result.status is CheckStatus.FAIL
    assert (
        f"{stored.default.id} (openai, workspace {stored.default.workspace_id}, workspace "
        "default): opens to a key other than the one its fingerprint names"
    ) in result.explanation


def test_a_key_also_kept_in_clear_in_the_base_url_fails(committed_container: Container) -> None:
    stored = store_two(committed_container)
    alter(committed_container, stored.default, base_url=f"https://llm.example/{stored.keys[0]}/v1")
    result = result_of(committed_container, CHECK)
    assert result.status is CheckStatus.FAIL
    assert f"{stored.default.id} (openai" in result.explanation
    assert "the key is stored in clear in its base_url" in result.explanation
    assert_no_key_in(result.explanation, stored)
