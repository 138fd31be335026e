"""Two `gatehouse serve` processes proxying on one database: one access log, one revocation.

Both processes share a home as well. That is safe for the spool: each process claims and locks
a run directory of its own under `<home>/spool/`, and flushes it into the shared, hash-chained
table under the chain lock. Like tests/e2e/test_scale_out.py, this runs on both engines.

Rate limits are counted in the shared database, so they hold across the processes; a policy
change made through one process reaches the other's cache through the polled epoch.
"""

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from controlplane.access_log.spool import run_directories
from tests.controlplane.proxy.conftest import away_from_a_minute_boundary
from tests.e2e.harness import (
    Server,
    environment,
    init_json,
    run_cli,
    token_cache_hits,
)
from tests.e2e.proxying import (
    Completed,
    access_log,
    chat,
    configure_openai,
    issue_token,
    serving,
    upstream_environment,
    wait_for_records,
)
from tests.fakes.providers import FakeProvider
from tests.live import ServerThread

CLIENTS = 8
CHAT = "/proxy/openai/v1/chat/completions"
BODY = {"model": "gpt-fake", "messages": [{"role": "user", "content": "hi"}]}
REQUESTS_PER_CLIENT = 24


def _environment(home: Path, database_url: str, upstream_url: str) -> dict[str, str]:
    return environment(
        home,
        database_url,
        GATEHOUSE_ACCESS_LOG_FLUSH_SECONDS="0.2",
        **upstream_environment(upstream_url),
    )


@dataclass(frozen=True)
class Pair:
    env: dict[str, str]
    admin: str
    workspace_id: str
    one: Server
    two: Server


@contextmanager
def _two_processes(database_url: str, tmp_path: Path, fake: FakeProvider) -> Iterator[Pair]:
    """Two servers on one home and one database, with the workspace's OpenAI key set."""
    with ServerThread(fake) as upstream:
        env = _environment(tmp_path / "home", database_url, upstream.url)
        assert run_cli(env, "db", "upgrade").returncode == 0
        setup = init_json(env)
        admin, workspace_id = setup["admin_token"], setup["workspace_id"]
        one, two = Server(env, tmp_path), Server(env, tmp_path)
        with serving(one, two):
            configure_openai(one, admin, workspace_id)
            yield Pair(env, admin, workspace_id, one, two)


def test_requests_through_both_processes_land_once_in_one_verified_chain(
    e2e_database: str, tmp_path: Path
) -> None:
    with _two_processes(e2e_database, tmp_path, FakeProvider()) as pair:
        admin, workspace_id, one, two = pair.admin, pair.workspace_id, pair.one, pair.two
        agent, _ = issue_token(one, admin, workspace_id, "proxy:invoke")
        reader, _ = issue_token(two, admin, workspace_id, "access-log:read")

        def client(number: int) -> list[Completed]:
            # Every client alternates between the processes and between plain and streamed.
            with (
                httpx.Client(base_url=one.url, timeout=30) as via_one,
                httpx.Client(base_url=two.url, timeout=30) as via_two,
            ):
                return [
                    chat(
                        (via_one, via_two)[i % 2],
                        agent,
                        f"scale-{number:02d}-{i:03d}-via-{i % 2 + 1}",
                        stream=(i // 2 + number) % 2 == 0,
                    )
                    for i in range(REQUESTS_PER_CLIENT)
                ]

        with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
            completed = [done for batch in pool.map(client, range(CLIENTS)) for done in batch]
        assert [done.status for done in completed] == [200] * CLIENTS * REQUESTS_PER_CLIENT

        sent = {done.request_id for done in completed}
        records = wait_for_records(one, reader, workspace_id, sent)
        # Each process spooled into a run directory of its own, under the one home.
        assert len(list(run_directories(tmp_path / "home" / "spool"))) == 2
        # The other process reads the very same log.
        assert access_log(two, reader, workspace_id) == records

        verified = run_cli(pair.env, "access-log", "verify")

    request_ids = [record["request_id"] for record in records]
    assert sorted(request_ids) == sorted(sent), "every request exactly once, and nothing else"
    # Both flushers appended to one chain: seq has no gap and no repeat.
    assert [record["seq"] for record in records] == list(range(1, len(sent) + 1))
    streamed = {done.request_id: done.streamed for done in completed}
    for record in records:
        assert (record["decision"], record["status"], record["error"]) == ("allow", 200, None)
        assert record["streamed"] is streamed[record["request_id"]], record
    assert {rid.rsplit("-", 1)[1] for rid in request_ids} == {"1", "2"}
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert f"intact: {len(sent)} records" in verified.stdout


def test_a_token_revoked_through_one_process_is_refused_by_the_other_proxy(
    e2e_database: str, tmp_path: Path
) -> None:
    with _two_processes(e2e_database, tmp_path, FakeProvider()) as pair:
        admin, workspace_id, one, two = pair.admin, pair.workspace_id, pair.one, pair.two
        with (
            httpx.Client(base_url=one.url, timeout=30) as via_one,
            httpx.Client(base_url=two.url, timeout=30) as via_two,
        ):
            agent, accessor = issue_token(one, admin, workspace_id, "proxy:invoke")
            counter = iter(range(1_000_000))
            refused: set[str] = set()

            def call(via: httpx.Client) -> int:
                done = chat(via, agent, f"revoke-{next(counter):06d}", stream=False)
                if done.status == 401:
                    refused.add(done.request_id)
                return done.status

            # Warm the second process until its proxy really serves the token from its cache,
            # so that what follows tests invalidation, not a database lookup (as in
            # test_scale_out.py: each metrics read adds at most one hit of its own, so a rise of
            # two or more over three proxied calls means the agent's token was a cache hit).
            deadline = time.monotonic() + 30
            warmed = False
            while not warmed and time.monotonic() < deadline:
                before = token_cache_hits(two, admin)
                for _ in range(3):
                    assert call(via_two) == 200
                warmed = token_cache_hits(two, admin) - before >= 2
            assert warmed

            with one.client(admin) as api:
                assert api.post(f"/v1/tokens/{accessor}/revoke").status_code == 200
            assert call(via_one) == 401  # the same process: refused at once
            revoked_at = time.monotonic()

            observed = None
            while time.monotonic() - revoked_at < 2.0:
                if call(via_two) == 401:
                    observed = time.monotonic() - revoked_at
                    break
                time.sleep(0.02)
            # The bound is a design guarantee (the cache stops answering 1.5 s after its last
            # successful poll), not a performance figure: past 2 s the token must be refused.
            time.sleep(max(0.0, 2.0 - (time.monotonic() - revoked_at)))
            assert call(via_two) == 401
            print(f"the other proxy refused the revoked token after {observed!r} s")  # noqa: T201

            # The refusals are in the log as denials. A revoked credential is known to no
            # workspace, so only an instance admin sees them, without a workspace filter.
            deadline = time.monotonic() + 30
            denied: dict[str, dict[str, Any]] = {}
            while not refused <= set(denied) and time.monotonic() < deadline:
                time.sleep(0.1)
                with two.client(admin) as api:
                    page = api.get("/v1/access-log", params={"decision": "deny", "limit": 500})
                assert page.status_code == 200, page.text
                denied = {record["request_id"]: record for record in page.json()["items"]}
            assert refused <= set(denied), "both processes logged their refusals"
            assert {denied[request_id]["status"] for request_id in refused} == {401}


RATE_LIMIT = 12
BURST = 40


def test_a_rate_limit_holds_across_processes_and_policy_changes_reach_both(
    e2e_database: str, tmp_path: Path
) -> None:
    fake = FakeProvider()
    with _two_processes(e2e_database, tmp_path, fake) as pair:
        admin, workspace_id, one, two = pair.admin, pair.workspace_id, pair.one, pair.two
        with (
            httpx.Client(base_url=one.url, timeout=30) as via_one,
            httpx.Client(base_url=two.url, timeout=30) as via_two,
        ):
            agent, _ = issue_token(one, admin, workspace_id, "proxy:invoke")
            policy = f"/v1/workspaces/{workspace_id}/policy"
            with one.client(admin) as api:
                assert api.put(policy, json={"token_rpm": RATE_LIMIT}).status_code == 200

            def call(number: int) -> int:
                via = (via_one, via_two)[number % 2]
                return chat(via, agent, f"limit-{number:04d}", stream=False).status

            away_from_a_minute_boundary()
            with ThreadPoolExecutor(max_workers=16) as pool:
                statuses = list(pool.map(call, range(BURST)))
            assert statuses.count(200) == RATE_LIMIT, statuses
            assert statuses.count(429) == BURST - RATE_LIMIT
            assert len(fake.requests) == RATE_LIMIT

            # A change made through one process reaches the other: it answers by the new policy.
            with one.client(admin) as api:
                changed = api.put(policy, json={"upstreams": ["anthropic"]})
            assert changed.status_code == 200, changed.text
            deadline = time.monotonic() + 30
            answer = via_two.post(CHAT, json=BODY, headers={"Authorization": f"Bearer {agent}"})
            while answer.status_code != 403 and time.monotonic() < deadline:
                time.sleep(0.05)
                answer = via_two.post(CHAT, json=BODY, headers={"Authorization": f"Bearer {agent}"})
            assert answer.json()["error"] == "upstream_not_allowed"
