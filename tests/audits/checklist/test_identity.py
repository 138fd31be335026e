"""Identity checks on real accounts: the user mode against the accounts that exist, and
argon2 parameters of the hasher in use and of every stored hash."""

import dataclasses

from argon2 import PasswordHasher, Type

from audits.model import CheckStatus
from controlplane.container import Container
from controlplane.db import transaction
from controlplane.kit.clock import utcnow
from controlplane.kit.passwords import Passwords
from tests import factories
from tests.audits.checklist.conftest import result_of


def users(container: Container, *names: str, disabled: tuple[str, ...] = ()) -> None:
    with transaction(container.session_factory) as session:
        for name in names:
            user = factories.user(session, container, name)
            if name in disabled:
                user.disabled_at = utcnow()


def single_user(container: Container) -> Container:
    return container.rebind(container.session_factory, multi_user=False)


def test_multi_user_mode_passes_with_any_number_of_users(committed_container: Container) -> None:
    users(committed_container, "ada", "grace")
    result = result_of(committed_container, "multi_user_isolation")
    assert result.status is CheckStatus.PASS
    assert result.explanation == "multi-user mode is on (GATEHOUSE_MULTI_USER=true); 2 active users"


def test_single_user_mode_with_one_active_account_passes(committed_container: Container) -> None:
    users(committed_container, "admin", "former", disabled=("former",))
    result = result_of(single_user(committed_container), "multi_user_isolation")
    assert result.status is CheckStatus.PASS
    assert result.explanation == "single-user mode with 1 active user (1 disabled)"


def test_single_user_mode_with_several_accounts_fails_naming_them(
    committed_container: Container,
) -> None:
    users(committed_container, "admin", "ada", "grace", "former", disabled=("former",))
    result = result_of(single_user(committed_container), "multi_user_isolation")
    assert result.status is CheckStatus.FAIL
    assert result.explanation.startswith(
        "single-user mode (GATEHOUSE_MULTI_USER=false) but the database holds 3 active users "
        "(1 disabled): "
    )
    for name in ("admin", "ada", "grace"):
        assert name in result.explanation
    assert "former" not in result.explanation


def test_default_argon2_parameters_pass(committed_container: Container) -> None:
    users(committed_container, "ada")
    result = result_of(committed_container, "argon2_parameters")
    assert result.status is CheckStatus.PASS, result.explanation
    assert result.explanation == (
        "new password hashes use argon2id m=65536 KiB, t=3, p=4, at or above the minimum of "
        "argon2id m=19456 KiB, t=2, p=1; the only stored password hash meets it"
    )


def test_weak_stored_hashes_fail_by_username(committed_container: Container) -> None:
    container = committed_container
    with transaction(container.session_factory) as session:
        factories.user(session, container, "strong")
        weak = factories.user(session, container, "weak")
        weak.password_hash = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(
            factories.PASSWORD
        )
        legacy = factories.user(session, container, "legacy")
        legacy.password_hash = PasswordHasher(type=Type.I).hash(factories.PASSWORD)
        foreign = factories.user(session, container, "foreign")
        foreign.password_hash = "not an argon2 hash"  # pragma: allowlist secret

    result = result_of(container, "argon2_parameters")

    assert result.status is CheckStatus.FAIL
    assert "3 of 4 stored password hashes below the minimum (rehashed at their next login)" in (
        result.explanation
    )
    assert "weak (m=8192 KiB < 19456, t=1 < 2)" in result.explanation
    assert "legacy (type i, not id)" in result.explanation
    assert "foreign (not an argon2 hash)" in result.explanation
    assert "strong" not in result.explanation
    assert "new password hashes below" not in result.explanation


def test_a_weak_hasher_in_use_fails(committed_container: Container) -> None:
    weak = dataclasses.replace(committed_container, passwords=Passwords(1, 8192, 1))
    result = result_of(weak, "argon2_parameters")
    assert result.status is CheckStatus.FAIL
    assert result.explanation.startswith(
        "new password hashes below the minimum: m=8192 KiB < 19456, t=1 < 2; "
        "the minimum is argon2id m=19456 KiB, t=2, p=1"
    )


def test_weak_settings_fail_even_before_a_restart_applies_them(
    committed_container: Container,
) -> None:
    # Settings below argon2-cffi's defaults are refused at load; a copy made in code is not.
    changed = committed_container.rebind(
        committed_container.session_factory, argon2_memory_cost=8192, argon2_parallelism=0
    )
    result = result_of(changed, "argon2_parameters")
    assert result.status is CheckStatus.FAIL
    assert result.explanation.startswith(
        "GATEHOUSE_ARGON2_* settings below the minimum: m=8192 KiB < 19456, p=0 < 1"
    )
