"""Streams pass through as they arrive; disconnects and upstream failures are handled."""

import time

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from tests.controlplane.proxy.conftest import Proxied
from tests.fakes.providers import FakeProvider


def _stream_request(proxied: Proxied, model: str) -> tuple[str, dict[str, object], dict[str, str]]:
    return (
        f"{proxied.url}/openai/v1/chat/completions",
        {"model": model, "stream": True, "messages": [{"role": "user", "content": "hi"}]},
        {"Authorization": f"Bearer {proxied.agent_token}"},
    )


def test_chunks_arrive_in_order_and_unbuffered(proxied: Proxied, fake: FakeProvider) -> None:
    url, body, headers = _stream_request(proxied, "slow")
    arrivals: list[float] = []
    received = b""
    with httpx.stream("POST", url, json=body, headers=headers, timeout=30) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for chunk in response.iter_raw():
            arrivals.append(time.monotonic())
            received += chunk
    # Ordering of events, not a timing threshold: the first bytes reached the client before
    # the upstream had even sent its last chunk, so nothing waited for the whole answer.
    assert arrivals[0] < fake.sent_at[-1]
    assert received.endswith(b"data: [DONE]\n\n")
    words = [w for w in (b"Hello", b", ", b"world", b"!") if w in received]
    assert len(words) == 4
    assert received.index(b"Hello") < received.index(b"world")
    assert b": keep-alive comment" in received  # SSE comments pass through untouched


def test_client_disconnect_cancels_the_upstream(proxied: Proxied, fake: FakeProvider) -> None:
    url, body, headers = _stream_request(proxied, "endless")
    with httpx.stream("POST", url, json=body, headers=headers, timeout=30) as response:
        for number, _ in enumerate(response.iter_raw()):
            if number == 2:
                break
    deadline = time.monotonic() + 10
    while not fake.client_went_away and time.monotonic() < deadline:
        time.sleep(0.05)
    assert fake.client_went_away


def test_an_upstream_failure_mid_stream_ends_the_stream_cleanly(
    proxied: Proxied, fake: FakeProvider
) -> None:
    url, body, headers = _stream_request(proxied, "die")
    with httpx.stream("POST", url, json=body, headers=headers, timeout=30) as response:
        assert response.status_code == 200
        received = b"".join(response.iter_raw())  # no transport error for the client
    assert b"chat.completion.chunk" in received
    assert b"[DONE]" not in received


def test_unreachable_upstream_is_502(
    proxied: Proxied, app: FastAPI, session_factory: sessionmaker[Session]
) -> None:
    app.state.container = app.state.container.rebind(
        session_factory, upstream_openai_url="http://127.0.0.1:9"
    )
    url, body, headers = _stream_request(proxied, "gpt-fake")
    response = httpx.post(url, json=body, headers=headers, timeout=30)
    assert response.status_code == 502
    assert response.json()["error"] == "upstream_unreachable"
    assert response.json()["request_id"] == response.headers["x-request-id"]


def test_silent_upstream_is_504(
    proxied: Proxied, app: FastAPI, session_factory: sessionmaker[Session]
) -> None:
    app.state.container = app.state.container.rebind(
        session_factory,
        upstream_openai_url=app.state.container.settings.upstream_openai_url,
        proxy_read_timeout_seconds=0.5,
    )
    url, body, headers = _stream_request(proxied, "hang")
    response = httpx.post(url, json=body, headers=headers, timeout=30)
    assert response.status_code == 504
    assert response.json()["error"] == "upstream_timeout"


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        # Nothing listens where the runtime would be: the proxy says so, and forwards nothing.
        ("/runtime/v1/runs", 502, "upstream_unreachable"),
        ("/elsewhere/v1/x", 404, "not_found"),
    ],
)
def test_routes_outside_the_providers(proxied: Proxied, path: str, status: int, code: str) -> None:
    response = httpx.post(
        f"{proxied.url}{path}",
        json={},
        headers={"Authorization": f"Bearer {proxied.agent_token}"},
        timeout=30,
    )
    assert response.status_code == status
    assert response.json()["error"] == code
