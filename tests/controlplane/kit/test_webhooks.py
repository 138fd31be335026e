"""Signed webhooks against a real loopback receiver that verifies every signature."""

import json
import logging
import secrets
import socket
import time

import pytest
from pydantic import SecretStr

from controlplane.kit.webhooks import (
    SIGNATURE_HEADER,
    SignatureError,
    WebhookTarget,
    deliver,
    deliver_in_background,
    sign,
    verify,
)
from tests.controlplane.audit_runs.receiver import receiving

SECRET_TEXT = secrets.token_urlsafe(32)
SECRET = SECRET_TEXT.encode()
FAST = {"backoff_seconds": 0.01, "timeout_seconds": 5.0}


def _target(url: str, secret: str = SECRET_TEXT) -> WebhookTarget:
    return WebhookTarget(url=url, secret=SecretStr(secret))


def test_a_delivery_arrives_signed_with_its_event_and_id() -> None:
    with receiving(SECRET) as receiver:
        outcome = deliver(_target(receiver.url), "audit.findings.new", {"run_id": "aud_1"}, **FAST)
        [received] = receiver.wait_for(1)
    assert outcome.delivered
    assert outcome.attempts == 1
    assert outcome.status_code == 200
    assert received.verified
    assert received.event == "audit.findings.new"
    assert received.delivery == outcome.id
    document = json.loads(received.body)
    assert document["id"] == outcome.id
    assert document["event"] == "audit.findings.new"
    assert document["data"] == {"run_id": "aud_1"}


def test_server_errors_are_retried_under_the_same_delivery_id() -> None:
    with receiving(SECRET, script=[503, 500]) as receiver:
        outcome = deliver(_target(receiver.url), "audit.findings.new", {"n": 1}, **FAST)
        received = receiver.wait_for(3)
    assert outcome.delivered
    assert outcome.attempts == 3
    assert [r.verified for r in received] == [True, True, True]
    assert {r.delivery for r in received} == {outcome.id}


def test_a_refusal_is_not_retried() -> None:
    with receiving(SECRET, script=[400]) as receiver:
        outcome = deliver(_target(receiver.url), "audit.findings.new", {"n": 1}, **FAST)
        assert len(receiver.wait_for(1)) == 1
    assert not outcome.delivered
    assert outcome.attempts == 1
    assert outcome.status_code == 400


def test_a_wrong_secret_is_refused_by_the_receiver() -> None:
    with receiving(SECRET) as receiver:
        outcome = deliver(_target(receiver.url, secrets.token_urlsafe(32)), "e", {}, **FAST)
        [received] = receiver.wait_for(1)
    assert not received.verified
    assert not outcome.delivered
    assert outcome.status_code == 401


def test_an_unreachable_receiver_is_logged_without_the_secret_or_the_path(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    secret_path = "/hooks/" + secrets.token_hex(8)
    target = _target(f"http://127.0.0.1:{port}{secret_path}")
    with caplog.at_level(logging.WARNING, logger="controlplane.kit.webhooks"):
        outcome = deliver(target, "audit.findings.new", {}, attempts=2, **FAST)
    assert not outcome.delivered
    assert outcome.attempts == 2
    assert outcome.status_code is None
    assert f"127.0.0.1:{port}" in caplog.text
    assert "ConnectError" in caplog.text
    assert secret_path not in caplog.text
    assert SECRET_TEXT not in caplog.text


def test_background_delivery_does_not_hold_up_the_caller() -> None:
    with receiving(SECRET) as receiver:
        thread = deliver_in_background(_target(receiver.url), "audit.findings.new", {}, **FAST)
        thread.join(timeout=10)
        [received] = receiver.wait_for(1)
    assert received.verified
    assert thread.daemon


def test_verify_accepts_only_the_signed_body_within_the_tolerance() -> None:
    body = b'{"data":{}}'
    now = int(time.time())
    header = sign(SECRET, body, now)
    assert header.startswith(f"t={now},v1=")
    assert verify(SECRET, body, header) == now
    with pytest.raises(SignatureError, match="no signature matches"):
        verify(SECRET, body + b" ", header)
    with pytest.raises(SignatureError, match="no signature matches"):
        verify(secrets.token_bytes(32), body, header)
    with pytest.raises(SignatureError, match="tolerance"):
        verify(SECRET, body, header, now=now + 301)
    assert verify(SECRET, body, header, now=now + 299) == now
    # A replay with the timestamp moved forward no longer matches the signature.
    moved = header.replace(f"t={now}", f"t={now + 60}")
    with pytest.raises(SignatureError, match="no signature matches"):
        verify(SECRET, body, moved)


@pytest.mark.parametrize("header", [None, "", "v1=abc", f"t={int(time.time())}", "t=soon,v1=ab"])
def test_verify_refuses_malformed_headers(header: str | None) -> None:
    with pytest.raises(SignatureError, match=SIGNATURE_HEADER):
        verify(SECRET, b"{}", header)


def test_verify_accepts_any_of_several_signatures_during_a_secret_rotation() -> None:
    body = b"{}"
    now = int(time.time())
    old = sign(secrets.token_bytes(32), body, now).split(",")[1]
    header = f"{sign(SECRET, body, now)},{old}"
    assert verify(SECRET, body, header) == now
