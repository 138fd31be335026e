"""Session JWTs: EdDSA only, pinned issuer and audience, every claim required, keys rotate.

Forged tokens are built by hand (base64url + raw signatures) so that no library convenience can
quietly fix them up.
"""

import base64
import hashlib
import hmac
import json
import stat
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.orm import Session

from controlplane.auth.sessions import SessionTokens
from controlplane.auth.signing import Keyring
from controlplane.container import Container
from controlplane.errors import Unauthenticated
from controlplane.identity.models import User
from controlplane.kit.clock import utcnow
from tests import factories

REQUEST_ID = "session-test-request"
REFUSED = {
    "error": "unauthenticated",
    "detail": "missing or invalid credentials",
    "request_id": REQUEST_ID,
}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _segments(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return (
        _b64(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + _b64(json.dumps(claims, separators=(",", ":")).encode())
    )


def _claims(container: Container, user_id: str, **changes: Any) -> dict[str, Any]:
    now = int(utcnow().timestamp())
    claims: dict[str, Any] = {
        "iss": container.settings.jwt_issuer,
        "aud": container.settings.jwt_audience,
        "sub": user_id,
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "jti": "hand-made-jti",
    }
    for name, value in changes.items():
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    return claims


def _token(header: dict[str, Any], claims: dict[str, Any], sign: Callable[[bytes], bytes]) -> str:
    signing_input = _segments(header, claims)
    return signing_input + "." + _b64(sign(signing_input.encode()))


def _active_key(container: Container) -> Ed25519PrivateKey:
    key = container.keyring.active().private_key
    assert key is not None
    return key


def _signed(
    container: Container, claims: dict[str, Any], kid: object = None, *, with_kid: bool = True
) -> str:
    """Signed with the server's real active key: only the named defect makes it invalid."""
    header: dict[str, Any] = {"alg": "EdDSA", "typ": "JWT"}
    if with_kid:
        header["kid"] = container.keyring.active().kid if kid is None else kid
    return _token(header, claims, _active_key(container).sign)


def _hmac_signer(secret: bytes) -> Callable[[bytes], bytes]:
    return lambda data: hmac.new(secret, data, hashlib.sha256).digest()


def _get_me(client: httpx.Client, credential: str) -> httpx.Response:
    return client.get(
        "/v1/me", headers={"Authorization": f"Bearer {credential}", "X-Request-Id": REQUEST_ID}
    )


def _assert_refused(client: httpx.Client, container: Container, credential: str) -> None:
    with pytest.raises(Unauthenticated):
        container.session_tokens.verify(credential)
    response = _get_me(client, credential)
    assert response.status_code == 401, response.text
    assert response.json() == REFUSED
    assert response.headers["www-authenticate"] == "Bearer"


def _public_pem(container: Container) -> bytes:
    return container.keyring.active().public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _public_raw(container: Container) -> bytes:
    return container.keyring.active().public_key.public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )


def _with_alg(container: Container, user: User, alg: str, signature: bytes = b"") -> str:
    header = {"alg": alg, "typ": "JWT", "kid": container.keyring.active().kid}
    return _token(header, _claims(container, user.id), lambda _data: signature)


def _hmac_with(
    container: Container, user: User, secret: bytes, alg: str = "HS256", kid: str | None = None
) -> str:
    header = {"alg": alg, "typ": "JWT", "kid": kid or container.keyring.active().kid}
    return _token(header, _claims(container, user.id), _hmac_signer(secret))


def _tampered(container: Container, user: User, victim: User) -> str:
    header, payload, signature = container.session_tokens.issue(user.id).split(".")
    claims = json.loads(_unb64(payload))
    claims["sub"] = victim.id
    return f"{header}.{_b64(json.dumps(claims).encode())}.{signature}"


def _foreign(container: Container, user: User, kid: str) -> str:
    header = {"alg": "EdDSA", "typ": "JWT", "kid": kid}
    return _token(header, _claims(container, user.id), Ed25519PrivateKey.generate().sign)


def _now() -> int:
    return int(utcnow().timestamp())


Forgery = Callable[[Container, User, User], str]

FORGERIES: dict[str, Forgery] = {
    "alg-none": lambda c, u, _v: _with_alg(c, u, "none"),
    "alg-None": lambda c, u, _v: _with_alg(c, u, "None"),
    "alg-NONE-with-signature": lambda c, u, _v: _with_alg(c, u, "NONE", b"signature"),
    "alg-none-with-real-signature": lambda c, u, _v: _token(
        {"alg": "none", "typ": "JWT", "kid": c.keyring.active().kid},
        _claims(c, u.id),
        _active_key(c).sign,
    ),
    "hs256-with-public-key-pem": lambda c, u, _v: _hmac_with(c, u, _public_pem(c)),
    "hs256-with-raw-public-key": lambda c, u, _v: _hmac_with(c, u, _public_raw(c)),
    "eddsa-header-with-hmac-signature": lambda c, u, _v: _hmac_with(
        c, u, _public_pem(c), alg="EdDSA"
    ),
    "missing-exp": lambda c, u, _v: _signed(c, _claims(c, u.id, exp=None)),
    "missing-aud": lambda c, u, _v: _signed(c, _claims(c, u.id, aud=None)),
    "missing-iss": lambda c, u, _v: _signed(c, _claims(c, u.id, iss=None)),
    "missing-iat": lambda c, u, _v: _signed(c, _claims(c, u.id, iat=None)),
    "missing-sub": lambda c, u, _v: _signed(c, _claims(c, u.id, sub=None)),
    "missing-jti": lambda c, u, _v: _signed(c, _claims(c, u.id, jti=None)),
    "wrong-aud": lambda c, u, _v: _signed(c, _claims(c, u.id, aud="some-other-api")),
    "wrong-iss": lambda c, u, _v: _signed(c, _claims(c, u.id, iss="someone-else")),
    "non-string-sub": lambda c, u, _v: _signed(c, _claims(c, u.id, sub=12345)),
    "expired": lambda c, u, _v: _signed(
        c, _claims(c, u.id, iat=_now() - 7200, nbf=_now() - 7200, exp=_now() - 60)
    ),
    "not-yet-valid": lambda c, u, _v: _signed(c, _claims(c, u.id, nbf=_now() + 3600)),
    "tampered-sub": _tampered,
    "unknown-kid": lambda c, u, _v: _foreign(c, u, "unknownkid12345"),
    "foreign-key-with-real-kid": lambda c, u, _v: _foreign(c, u, c.keyring.active().kid),
    "unknown-kid-signed-with-real-key": lambda c, u, _v: _signed(
        c, _claims(c, u.id), "unknownkid12345"
    ),
    "missing-kid": lambda c, u, _v: _signed(c, _claims(c, u.id), with_kid=False),
    "kid-not-a-string": lambda c, u, _v: _signed(c, _claims(c, u.id), 1),
    "kid-path-traversal": lambda c, u, _v: _signed(c, _claims(c, u.id), "../../keys/token-hmac"),
    "kid-path-traversal-hs256-with-that-file": lambda c, u, _v: _hmac_with(
        c, u, c.token_key, kid="../../keys/token-hmac"
    ),
    "kid-absolute-path": lambda c, u, _v: _signed(
        c, _claims(c, u.id), str(c.settings.keys_dir / "token-hmac.key")
    ),
    "kid-sql": lambda c, u, _v: _signed(c, _claims(c, u.id), "' OR 1=1 --"),
    "truncated-signature": lambda c, u, _v: c.session_tokens.issue(u.id)[:-4],
    "garbage-three-parts": lambda _c, _u, _v: "a.b.c",
}


@pytest.mark.parametrize("name", sorted(FORGERIES))
def test_forged_or_defective_session_is_refused(
    client: httpx.Client, session: Session, container: Container, name: str
) -> None:
    user = factories.user(session, container, "alice")
    victim = factories.user(session, container, "root", is_admin=True)
    session.commit()
    forged = FORGERIES[name](container, user, victim)
    assert forged.count(".") == 2, "the API must take it for a JWT"
    _assert_refused(client, container, forged)


def test_hand_made_and_issued_sessions_verify(
    client: httpx.Client, session: Session, container: Container
) -> None:
    """The positive controls: the builder above makes valid tokens unless told otherwise."""
    user = factories.user(session, container, "alice")
    session.commit()
    for credential in (
        container.session_tokens.issue(user.id),
        _signed(container, _claims(container, user.id)),
    ):
        assert container.session_tokens.verify(credential).user_id == user.id
        response = _get_me(client, credential)
        assert response.status_code == 200, response.text
        assert response.json()["kind"] == "user"
        assert response.json()["user"]["id"] == user.id


def test_issued_session_pins_algorithm_kid_and_claims(
    session: Session, container: Container
) -> None:
    user = factories.user(session, container, "alice")
    session.commit()
    issued = container.session_tokens.issue(user.id)
    header = jwt.get_unverified_header(issued)
    assert header["alg"] == "EdDSA"
    assert header["kid"] == container.keyring.active().kid
    claims = json.loads(_unb64(issued.split(".")[1]))
    assert {"iss", "aud", "exp", "iat", "sub", "jti"} <= set(claims)
    assert claims["exp"] - claims["iat"] == container.settings.session_ttl_seconds
    assert container.session_tokens.issue(user.id) != issued  # a fresh jti each time


def test_session_of_a_disabled_user_is_refused(
    client: httpx.Client, session: Session, container: Container
) -> None:
    user = factories.user(session, container, "alice")
    session.commit()
    credential = container.session_tokens.issue(user.id)
    assert _get_me(client, credential).status_code == 200
    user.disabled_at = utcnow()
    session.commit()
    response = _get_me(client, credential)
    assert response.status_code == 401
    assert response.json() == REFUSED


def test_session_for_an_unknown_user_is_refused(
    client: httpx.Client, session: Session, container: Container
) -> None:
    response = _get_me(client, _signed(container, _claims(container, "usr_does_not_exist")))
    assert response.status_code == 401
    assert response.json() == REFUSED


# --- signing keys ------------------------------------------------------------------------------


def test_sessions_signed_before_a_rotation_verify_within_the_overlap(
    client: httpx.Client, session: Session, container: Container
) -> None:
    user = factories.user(session, container, "alice")
    session.commit()
    old = container.session_tokens.issue(user.id)
    old_kid = jwt.get_unverified_header(old)["kid"]
    new_kid = container.keyring.rotate()
    assert new_kid != old_kid
    assert container.settings.signing_key_overlap_seconds > 0
    assert container.session_tokens.verify(old).user_id == user.id
    assert _get_me(client, old).status_code == 200
    new = container.session_tokens.issue(user.id)
    assert jwt.get_unverified_header(new)["kid"] == new_kid
    assert _get_me(client, new).status_code == 200


def _standalone(directory: Path, overlap_seconds: int) -> tuple[Keyring, SessionTokens]:
    keyring = Keyring(directory, overlap_seconds=overlap_seconds)
    return keyring, SessionTokens(keyring, "gatehouse", "gatehouse-api", ttl_seconds=900)


def test_rotation_without_overlap_refuses_sessions_signed_by_the_old_key(tmp_path: Path) -> None:
    keyring, sessions = _standalone(tmp_path / "signing", overlap_seconds=0)
    old = sessions.issue("usr_alice")
    assert sessions.verify(old).user_id == "usr_alice"
    keyring.rotate()
    with pytest.raises(Unauthenticated):
        sessions.verify(old)
    assert sessions.verify(sessions.issue("usr_alice")).user_id == "usr_alice"


def test_rotation_with_overlap_keeps_old_sessions_until_the_overlap_ends(tmp_path: Path) -> None:
    keyring, sessions = _standalone(tmp_path / "signing", overlap_seconds=3600)
    old = sessions.issue("usr_alice")
    keyring.rotate()
    assert sessions.verify(old).user_id == "usr_alice"
    # Another process on the same key directory, once the overlap has passed.
    index = tmp_path / "signing" / "keyring.json"
    entries = json.loads(index.read_text())
    for entry in entries:
        if entry["retired_at"] is not None:
            entry["retired_at"] = (utcnow() - timedelta(hours=2)).isoformat()
    index.write_text(json.dumps(entries))
    _, later = _standalone(tmp_path / "signing", overlap_seconds=3600)
    with pytest.raises(Unauthenticated):
        later.verify(old)


def test_signing_keys_are_private_files(container: Container) -> None:
    signing = container.settings.keys_dir / "signing"
    pems = list(signing.glob("*.pem"))
    assert pems
    for pem in pems:
        assert stat.S_IMODE(pem.stat().st_mode) == 0o600
