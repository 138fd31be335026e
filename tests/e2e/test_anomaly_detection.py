"""Attacks replayed through the real proxy are flagged by the scheduled scan, with evidence.

One `gatehouse serve` on its embedded SQLite, scanning every two seconds, with a workspace
policy that opts in to automatic suspension and a signed webhook receiver:
- an agent token builds its history from 127.0.0.1, then is used from another network
  (127.0.5.9, a different /24 on loopback) in a burst: a critical `new_network` alert, raised
  by the first scan that saw those records, whose evidence is those records; the token is
  suspended, the suspension is in the admin audit trail, and the token stops working;
- then a stuffing run of unknown tokens from a dozen addresses, and a guessing burst from one:
  `credential_stuffing` (for the instance: no workspace can be named) and `auth_failure_burst`.
"""

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, select

from controlplane.anomaly.models import AnomalyAlert, AnomalyScan
from controlplane.tokens.format import generate_token
from tests.controlplane.audit_runs.receiver import Receiver, receiving
from tests.e2e.harness import Server, environment, init_json
from tests.e2e.proxying import CHAT_PATH, configure_openai, issue_token, upstream_environment
from tests.fakes.providers import FakeProvider
from tests.live import ServerThread

WEBHOOK_SECRET = "anomaly-e2e-webhook-secret"  # pragma: allowlist secret
HISTORY = 120  # requests from the token's own network: past the 100-event warm-up
BURST = 40  # from the new network: past the 30 that make it critical
ALERTS = "/v1/anomaly/alerts"


def _chat(client: httpx.Client, token: str) -> int:
    body = {"model": "gpt-fake", "messages": [{"role": "user", "content": "hi"}]}
    response = client.post(CHAT_PATH, json=body, headers={"Authorization": f"Bearer {token}"})
    return response.status_code


def _client(url: str, source: str) -> httpx.Client:
    """A client whose requests come from `source`, a loopback address of our choosing."""
    transport = httpx.HTTPTransport(local_address=source)
    return httpx.Client(base_url=url, transport=transport, timeout=30)


def _wait_for(found: Callable[[], Any], what: str, timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = found()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def _alerts(server: Server, token: str, **params: str) -> list[dict[str, Any]]:
    with server.client(token) as api:
        response = api.get(ALERTS, params=params)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving(WEBHOOK_SECRET.encode()) as receiving_end:
        yield receiving_end


def test_replayed_attacks_are_flagged_with_evidence_and_the_token_suspended(
    tmp_path: Path, receiver: Receiver
) -> None:
    home = tmp_path / "home"
    with ServerThread(FakeProvider()) as upstream:
        env = environment(
            home,
            None,
            GATEHOUSE_ANOMALY_SCAN_SECONDS="2",
            GATEHOUSE_ACCESS_LOG_FLUSH_SECONDS="0.2",
            GATEHOUSE_ANOMALY_WEBHOOK_URL=receiver.url,
            GATEHOUSE_ANOMALY_WEBHOOK_SECRET=WEBHOOK_SECRET,
            **upstream_environment(upstream.url),
        )
        setup = init_json(env)
        admin, workspace_id = setup["admin_token"], setup["workspace_id"]
        with Server(env, tmp_path) as server:
            configure_openai(server, admin, workspace_id)
            with server.client(admin) as api:
                policy = api.put(
                    f"/v1/workspaces/{workspace_id}/policy", json={"anomaly_auto_suspend": True}
                )
                assert policy.status_code == 200, policy.text
            agent, accessor = issue_token(server, admin, workspace_id, "proxy:invoke")
            security, _ = issue_token(
                server, admin, workspace_id, "access-log:read", "audit:run", "tokens:read"
            )

            with _client(server.url, "127.0.0.1") as home_network:
                assert {_chat(home_network, agent) for _ in range(HISTORY)} == {200}
            with _client(server.url, "127.0.5.9") as thief:
                statuses = [_chat(thief, agent) for _ in range(BURST)]
            assert statuses[0] == 200

            def stolen() -> list[dict[str, Any]]:
                found = _alerts(server, security, detector="new_network", entity=accessor)
                return [a for a in found if a["severity"] == "critical" and a["response"]]

            [alert] = _wait_for(stolen, "the critical new_network alert")
            with server.client(security) as api:
                detail = api.get(f"{ALERTS}/{alert['id']}").json()
                token = api.get(f"/v1/tokens/{accessor}").json()
            assert detail["evidence"], detail
            assert {row["client_ip"] for row in detail["evidence"]} == {"127.0.5.9"}
            assert detail["evidence_count"] >= 30
            assert "127.0.5." in detail["explanation"]
            assert detail["response"]["action"] == "token_suspended"
            assert accessor in detail["response"]["tokens"]
            assert token["suspended_at"] is not None
            with _client(server.url, "127.0.0.1") as home_network:
                assert _chat(home_network, agent) == 401
            with server.client(admin) as api:
                events = api.get("/v1/audit-events", params={"action": "token.suspend"}).json()
            [suspension] = events["items"]
            assert (suspension["target_id"], suspension["actor_type"]) == (accessor, "system")

            # Stuffing: unknown tokens from a dozen addresses; guessing: many from one.
            for host in range(1, 13):
                with _client(server.url, f"127.0.6.{host}") as stuffer:
                    assert {_chat(stuffer, generate_token()) for _ in range(3)} == {401}
            with _client(server.url, "127.0.7.7") as guesser:
                assert {_chat(guesser, generate_token()) for _ in range(25)} == {401}
            stuffing = _wait_for(
                lambda: _alerts(server, admin, detector="credential_stuffing"), "stuffing"
            )
            guessing = _wait_for(
                lambda: _alerts(server, admin, detector="auth_failure_burst", entity="127.0.7.7"),
                "the guessing burst",
            )
            assert stuffing[0]["entity"] == "*"
            assert stuffing[0]["workspace_id"] is None
            assert guessing[0]["evidence_count"] >= 20
            # The workspace's security team sees its own alert, not the instance's.
            assert {a["detector"] for a in _alerts(server, security)} <= {
                "new_network",
                "rate_spike",
                "many_user_agents",
                "revoked_token_reuse",
            }
            database = home / "gatehouse.db"

    # The alert came from the first scan that saw the thief's records: no tick was wasted.
    engine = create_engine(f"sqlite:///{database}")
    with engine.connect() as connection:
        stored = connection.execute(
            select(AnomalyAlert.first_seen_at).where(AnomalyAlert.id == alert["id"])
        ).scalar_one()
        scans = connection.execute(select(AnomalyScan).order_by(AnomalyScan.after_seq)).all()
    engine.dispose()
    thief_seqs = sorted(row["seq"] for row in detail["evidence"])
    [first_sight] = [s for s in scans if s.after_seq < thief_seqs[0] <= s.through_seq]
    assert first_sight.started_at <= stored <= first_sight.finished_at

    received = receiver.wait_for(1)
    assert all(item.verified for item in received)
    assert {item.event for item in received} == {"anomaly.alerts"}
    announced = [a for item in received for a in json.loads(item.body)["data"]["alerts"]]
    assert alert["id"] in {a["id"] for a in announced}
