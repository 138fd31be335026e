"""`GET /v1/runtime/status` over real HTTP; the app's lifespan starts and stops the runtime."""

import dataclasses

import httpx
from sqlalchemy.orm import Session

from controlplane.app import create_app
from controlplane.container import Container
from controlplane.supervisor.schemas import RuntimeStatus
from controlplane.supervisor.supervisor import RuntimeSupervisor
from tests import factories
from tests.controlplane.supervisor.helpers import FakeRuntime, gone, wait_until
from tests.live import ServerThread

STATUS = "/v1/runtime/status"


def _token(session: Session, container: Container) -> dict[str, str]:
    tenant = factories.tenant(session, container, "acme")
    session.commit()
    return {"Authorization": f"Bearer {tenant.agent_token}"}


def test_the_status_needs_a_credential(client: httpx.Client) -> None:
    response = client.get(STATUS)
    assert response.status_code == 401
    assert response.json()["error"] == "unauthenticated"


def test_without_a_runtime_the_status_says_so(
    client: httpx.Client, session: Session, container: Container
) -> None:
    response = client.get(STATUS, headers=_token(session, container))

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == set(RuntimeStatus.model_fields)
    assert body["state"] == "down"
    assert body["managed"] is False
    assert body["pid"] is None
    assert body["last_error"] == "the runtime is not configured"


def test_the_app_runs_its_runtime_for_as_long_as_it_serves(
    session: Session, container: Container, fake: FakeRuntime
) -> None:
    fake.steer(version="7.0")
    supervisor = RuntimeSupervisor(fake.settings(), command=fake.command())
    headers = _token(session, container)
    served = dataclasses.replace(container, runtime=supervisor)

    with ServerThread(create_app(served, background=False)) as server:

        def status() -> dict[str, object]:
            response = httpx.get(f"{server.url}{STATUS}", headers=headers, timeout=10)
            assert response.status_code == 200, response.text
            body: dict[str, object] = response.json()
            return body

        wait_until(lambda: status()["state"] == "up", "the runtime is up")
        body = status()
        assert body["managed"] is True
        assert body["version"] == "7.0"
        assert body["url"] == fake.url
        pid = body["pid"]
        assert isinstance(pid, int)
        assert not gone(pid)

    assert gone(pid), "the lifespan's shutdown stops the runtime"
