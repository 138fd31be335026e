"""The scoped-token wire format: prefix, entropy, checksum; accessors never authenticate."""

import math
import secrets
import string
import zlib

import httpx
import pytest
from sqlalchemy.orm import Session

from controlplane.container import Container
from controlplane.tokens.format import (
    ACCESSOR_PREFIX,
    TOKEN_PREFIX,
    generate_accessor,
    generate_token,
    is_well_formed,
)
from tests import factories

# Written out here rather than imported, so a change to the format module cannot move both sides.
BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
CHECKSUM_CHARS = 6
REQUEST_ID = "format-test-request"


def _base62(value: int, width: int) -> str:
    digits = []
    for _ in range(width):
        value, digit = divmod(value, 62)
        digits.append(BASE62[digit])
    assert value == 0, "value does not fit the checksum width"
    return "".join(reversed(digits))


def _body(token: str) -> str:
    return token[len("gth_") : -CHECKSUM_CHARS]


def test_token_has_the_gth_prefix_fixed_length_and_base62_alphabet() -> None:
    assert TOKEN_PREFIX == "gth_"
    for _ in range(200):
        token = generate_token()
        assert token.startswith("gth_")
        assert len(token) == len("gth_") + 30 + CHECKSUM_CHARS
        assert set(token[len("gth_") :]) <= set(BASE62)


def test_token_carries_at_least_128_bits_of_entropy() -> None:
    tokens = [generate_token() for _ in range(3_000)]
    bodies = [_body(token) for token in tokens]
    assert {len(body) for body in bodies} == {30}
    # The checksum is a function of the body and adds nothing; only the body is random.
    alphabet = set("".join(bodies))
    # 90 000 uniform draws leave no base62 character unused unless the alphabet shrank.
    assert alphabet == set(BASE62)
    bits = len(bodies[0]) * math.log2(len(alphabet))
    assert bits >= 128, f"only {bits:.1f} bits of entropy"
    # Every position varies (a constant position would carry no entropy).
    for position in range(30):
        assert len({body[position] for body in bodies}) > 40
    assert len(set(tokens)) == len(tokens)


def test_checksum_is_crc32_of_prefix_and_body() -> None:
    for _ in range(200):
        token = generate_token()
        body = _body(token)
        expected = _base62(zlib.crc32(f"gth_{body}".encode()), CHECKSUM_CHARS)
        assert token[-CHECKSUM_CHARS:] == expected
        assert is_well_formed(token)


def test_a_token_with_a_valid_looking_but_wrong_checksum_is_rejected() -> None:
    body = "".join(secrets.choice(BASE62) for _ in range(30))
    good = _base62(zlib.crc32(f"gth_{body}".encode()), CHECKSUM_CHARS)
    bad = _base62((zlib.crc32(f"gth_{body}".encode()) + 1) % 2**32, CHECKSUM_CHARS)
    assert is_well_formed(f"gth_{body}{good}")
    assert not is_well_formed(f"gth_{body}{bad}")
    # A checksum computed without the prefix (a plausible implementation slip) must not pass.
    unprefixed = _base62(zlib.crc32(body.encode()), CHECKSUM_CHARS)
    assert not is_well_formed(f"gth_{body}{unprefixed}")


@pytest.mark.parametrize("sample", range(5))
def test_every_single_character_corruption_is_rejected(sample: int) -> None:
    token = generate_token()
    assert is_well_formed(token)
    replacements = BASE62 + "_-. +/=\n\x00é"
    for position, original in enumerate(token):
        for replacement in replacements:
            if replacement == original:
                continue
            corrupted = token[:position] + replacement + token[position + 1 :]
            assert not is_well_formed(corrupted), (sample, position, replacement)


def test_truncated_extended_and_odd_variants_are_rejected() -> None:
    token = generate_token()
    variants = [
        "",
        "gth_",
        token[:-1],
        token + "0",
        token + "\n",
        " " + token,
        token.upper(),
        "GTH_" + token[4:],
        "gth-" + token[4:],
        token[4:],
        f"Bearer {token}",
        token[:20] + token[21:] + "0",  # one character moved: same length, broken checksum
    ]
    for variant in variants:
        assert not is_well_formed(variant), repr(variant)


def test_accessor_has_its_own_prefix_and_is_never_well_formed() -> None:
    assert ACCESSOR_PREFIX == "acc_"
    for _ in range(1_000):
        accessor = generate_accessor()
        assert accessor.startswith("acc_")
        assert not is_well_formed(accessor)
        # Even dressed up with the token prefix it does not pass for a token.
        assert not is_well_formed("gth_" + accessor[4:])


def _unauthenticated_body(client: httpx.Client, headers: dict[str, str]) -> dict[str, object]:
    response = client.get("/v1/me", headers={**headers, "X-Request-Id": REQUEST_ID})
    assert response.status_code == 401, response.text
    assert response.headers.get("www-authenticate") == "Bearer"
    body: dict[str, object] = response.json()
    return body


def test_accessor_never_authenticates_over_the_api(
    client: httpx.Client, session: Session, container: Container
) -> None:
    tenant = factories.tenant(session, container, "acme")
    session.commit()
    # Positive control: the secret itself works.
    ok = client.get("/v1/me", headers={"Authorization": f"Bearer {tenant.agent_token}"})
    assert ok.status_code == 200, ok.text

    reference = _unauthenticated_body(client, {})
    assert reference == {
        "error": "unauthenticated",
        "detail": "missing or invalid credentials",
        "request_id": REQUEST_ID,
    }
    accessor = tenant.agent_token_accessor
    for headers in (
        {"Authorization": f"Bearer {accessor}"},
        {"x-api-key": accessor},
        {"Authorization": f"Bearer gth_{accessor[4:]}"},
    ):
        assert _unauthenticated_body(client, headers) == reference, headers
    # The same body as for garbage and for a well-formed token that does not exist.
    assert _unauthenticated_body(client, {"Authorization": "Bearer nonsense"}) == reference
    unknown = {"Authorization": f"Bearer {generate_token()}"}
    assert _unauthenticated_body(client, unknown) == reference
