"""Two Gatehouse processes on one database: revocation reaches the other within 2 s."""

import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from tests.e2e.harness import Server, environment, init_json, run_cli

_HITS = re.compile(r'gatehouse_token_cache_lookups_total\{result="hit"\} ([0-9.e+]+)')


def _cache_hits(server: Server, admin_token: str) -> float:
    with server.client(admin_token) as api:
        match = _HITS.search(api.get("/metrics").text)
    return float(match.group(1)) if match else 0.0


def test_revocation_through_one_process_is_refused_by_the_other(
    e2e_database: str, tmp_path: Path
) -> None:
    env = environment(tmp_path / "home", e2e_database)
    assert run_cli(env, "db", "upgrade").returncode == 0
    setup = init_json(env)
    admin, workspace_id = setup["admin_token"], setup["workspace_id"]

    with Server(env, tmp_path) as one, Server(env, tmp_path) as two:
        with one.client(admin) as api:
            issued = api.post(
                f"/v1/workspaces/{workspace_id}/tokens", json={"scopes": ["agents:read"]}
            )
        assert issued.status_code == 201, issued.text
        agent_token, accessor = issued.json()["token"], issued.json()["accessor"]
        agents_path = f"/v1/workspaces/{workspace_id}/agents"

        with two.client(agent_token) as agent:
            # Warm the second process until it really serves the token from its cache, so what
            # follows tests invalidation and not merely a database lookup. Each metrics read
            # adds at most one hit of its own (the admin token), so a rise of two or more over
            # three agent requests means the agent's token was served from the cache. Under
            # heavy load the poller may lag and the cache rightly stays cold: keep asking.
            deadline = time.monotonic() + 30
            warmed = False
            while not warmed and time.monotonic() < deadline:
                before = _cache_hits(two, admin)
                for _ in range(3):
                    assert agent.get(agents_path).status_code == 200
                warmed = _cache_hits(two, admin) - before >= 2
            assert warmed

            with one.client(admin) as api:
                assert api.post(f"/v1/tokens/{accessor}/revoke").status_code == 200
                # Same process: refused on the very next request.
                refused_here = api.get(
                    agents_path, headers={"Authorization": f"Bearer {agent_token}"}
                )
                assert refused_here.status_code == 401
            revoked_at = time.monotonic()

            observed = None
            while time.monotonic() - revoked_at < 2.0:
                if agent.get(agents_path).status_code == 401:
                    observed = time.monotonic() - revoked_at
                    break
                time.sleep(0.02)
            # The bound is a design guarantee (the cache stops answering 1.5 s after its last
            # successful poll), not a performance figure: past 2 s the token must be refused.
            time.sleep(max(0.0, 2.0 - (time.monotonic() - revoked_at)))
            assert agent.get(agents_path).status_code == 401
            print(f"revocation reached the other process after {observed!r} s")  # noqa: T201


def test_use_limit_holds_under_50_concurrent_requests(e2e_database: str, tmp_path: Path) -> None:
    env = environment(tmp_path / "home", e2e_database)
    assert run_cli(env, "db", "upgrade").returncode == 0
    setup = init_json(env)
    with Server(env, tmp_path) as server:
        with server.client(setup["admin_token"]) as api:
            issued = api.post(
                f"/v1/workspaces/{setup['workspace_id']}/tokens",
                json={"scopes": ["agents:read"], "use_limit": 7},
            )
        assert issued.status_code == 201, issued.text
        limited = issued.json()["token"]

        def call(_: int) -> int:
            with server.client(limited) as client:
                return client.get(f"/v1/workspaces/{setup['workspace_id']}/agents").status_code

        with ThreadPoolExecutor(max_workers=50) as pool:
            statuses = list(pool.map(call, range(50)))
    assert statuses.count(200) == 7
    assert statuses.count(401) == 43


def test_servers_refuse_a_stale_schema_on_postgres_only(e2e_database: str, tmp_path: Path) -> None:
    env = environment(tmp_path / "home", e2e_database)
    if e2e_database.startswith("sqlite"):
        # The embedded store upgrades itself on start.
        with Server(env, tmp_path) as server:
            assert httpx.get(f"{server.url}/readyz").status_code == 200
        return
    result = run_cli(env, "serve", "--port", "1")
    assert result.returncode == 1
    assert "gatehouse db upgrade" in result.stderr
