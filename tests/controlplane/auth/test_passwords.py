"""argon2id hashing: parameters never below the library defaults, rehash when they rise."""

import re

import httpx
import pytest
from argon2 import PasswordHasher
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from controlplane.config import Settings
from controlplane.container import Container
from controlplane.identity.models import User
from controlplane.kit.passwords import Passwords
from tests import factories

DEFAULTS = PasswordHasher()
HASH = re.compile(
    r"\$(?P<variant>argon2(?:id|i|d))\$v=(?P<version>\d+)"
    r"\$m=(?P<m>\d+),t=(?P<t>\d+),p=(?P<p>\d+)\$(?P<salt>[A-Za-z0-9+/]+)\$(?P<hash>[A-Za-z0-9+/]+)"
)


def parse(encoded: str) -> dict[str, str]:
    match = HASH.fullmatch(encoded)
    assert match is not None, encoded
    return match.groupdict()


def assert_strong(encoded: str) -> None:
    fields = parse(encoded)
    assert fields["variant"] == "argon2id"
    assert int(fields["version"]) == 19
    assert int(fields["m"]) >= DEFAULTS.memory_cost
    assert int(fields["t"]) >= DEFAULTS.time_cost
    assert int(fields["p"]) >= DEFAULTS.parallelism
    # Salt and output lengths (base64 without padding): 16 and 32 bytes at the defaults.
    assert len(fields["salt"]) >= (DEFAULTS.salt_len * 4 + 2) // 3
    assert len(fields["hash"]) >= (DEFAULTS.hash_len * 4 + 2) // 3


def test_container_hashes_with_argon2id_at_least_at_library_defaults(
    container: Container,
) -> None:
    first = container.passwords.hash("correct horse battery staple")
    second = container.passwords.hash("correct horse battery staple")
    assert_strong(first)
    assert first != second, "every hash needs its own salt"
    assert parse(first)["salt"] != parse(second)["salt"]


def test_users_created_over_the_api_get_strong_hashes(
    client: httpx.Client, session: Session, container: Container
) -> None:
    admin = factories.user(session, container, "root", is_admin=True)
    session.commit()
    headers = {"Authorization": f"Bearer {container.session_tokens.issue(admin.id)}"}
    password = "a long enough password"
    response = client.post(
        "/v1/users", headers=headers, json={"username": "newbie", "password": password}
    )
    assert response.status_code == 201, response.text
    stored = session.scalars(select(User.password_hash).where(User.username == "newbie")).one()
    assert stored is not None
    assert password not in stored
    assert_strong(stored)
    assert container.passwords.verify(stored, password)


@pytest.mark.parametrize(
    ("field", "floor"),
    [
        ("argon2_memory_cost", DEFAULTS.memory_cost),
        ("argon2_time_cost", DEFAULTS.time_cost),
        ("argon2_parallelism", DEFAULTS.parallelism),
    ],
)
def test_settings_refuse_argon2_parameters_below_the_defaults(field: str, floor: int) -> None:
    with pytest.raises(ValidationError, match=field):
        Settings(_env_file=None, **{field: floor - 1})  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match=field):
        Settings(_env_file=None, **{field: 1})  # type: ignore[call-arg]
    accepted = Settings(_env_file=None, **{field: floor + 1})  # type: ignore[call-arg]
    assert getattr(accepted, field) == floor + 1


def test_settings_refuse_weak_argon2_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEHOUSE_ARGON2_MEMORY_COST", "8192")
    with pytest.raises(ValidationError, match="argon2_memory_cost"):
        Settings(_env_file=None)  # type: ignore[call-arg]


def test_verify_refuses_wrong_missing_and_malformed_hashes(container: Container) -> None:
    passwords = container.passwords
    stored = passwords.hash("the right one")
    assert passwords.verify(stored, "the right one")
    assert not passwords.verify(stored, "the wrong one")
    assert not passwords.verify(stored, "")
    assert not passwords.verify(None, "the right one")
    # A missing hash is compared against a real dummy hash: its password must not open it.
    assert not passwords.verify(None, "dummy password for timing equalisation")
    assert not passwords.verify("not-a-hash", "the right one")
    assert not passwords.verify("$argon2id$v=19$m=65536,t=3,p=4$broken", "the right one")


def test_weaker_hashes_need_a_rehash_and_current_ones_do_not(container: Container) -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash("pw")
    assert container.passwords.needs_rehash(weak)
    assert not container.passwords.needs_rehash(container.passwords.hash("pw"))
    stronger = Passwords(DEFAULTS.time_cost + 1, DEFAULTS.memory_cost, DEFAULTS.parallelism)
    assert stronger.needs_rehash(container.passwords.hash("pw"))
