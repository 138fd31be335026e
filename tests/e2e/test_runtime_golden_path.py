"""The golden path: `gatehouse run` → control plane (auth, policy, access log) → supervised
runtime → provider → back to the terminal, in real processes on loopback. Each test asserts
the run's exact event sequence, so a streaming regression fails here before users see it."""

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from runtime.assembler import assemble
from runtime.contract import Error, MemoryWriteEvent, RunFinish, ToolCallEnd
from runtime.guard import violations
from tests.e2e.harness import Server, environment, init_json, runtime_environment
from tests.e2e.runtime_path import Deployment, dumps, shape, wait_for
from tests.fakes.recorded import RecordedUpstream, expected, summarize
from tests.live import ServerThread

pytestmark = pytest.mark.slow

TEXT_RUN = ["run.start", "text.start", "text.delta", "text.end", "usage", "run.finish"]


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    home = tmp_path_factory.mktemp("golden")
    with ServerThread(RecordedUpstream()) as upstream:
        env = runtime_environment(
            environment(home / "home", None),
            GATEHOUSE_UPSTREAM_OPENAI_URL=upstream.url,
            GATEHOUSE_UPSTREAM_ANTHROPIC_URL=upstream.url,
            GATEHOUSE_UPSTREAM_OPENROUTER_URL=upstream.url,
            GATEHOUSE_RUNTIME_LOCAL_PACING_MS="1",
            GATEHOUSE_RUNTIME_HEALTH_INTERVAL_SECONDS="0.25",
            GATEHOUSE_RUNTIME_BACKOFF_INITIAL_SECONDS="0.2",
        )
        initialised = init_json(env)
        server = Server(env, home).start()
        try:
            cli_env = {
                **env,
                "GATEHOUSE_URL": server.url,
                "GATEHOUSE_TOKEN": initialised["admin_token"],
            }
            deployed = Deployment(
                server, cli_env, initialised["admin_token"], initialised["workspace_id"]
            )
            deployed.wait_until_up()
            yield deployed
        finally:
            server.stop()


def _kept(events: list) -> None:  # type: ignore[type-arg] - any contract events
    assert violations(events) == [], dumps(events)


def test_plain_text_streams_from_the_demo_agent(deployment: Deployment) -> None:
    events, stderr, code = deployment.run("demo", "hello")
    assert code == 0, stderr
    assert shape(events) == TEXT_RUN, dumps(events)
    _kept(events)
    result = assemble(events)
    assert result.text == "Hello from the local provider. You said: hello"
    assert result.finish_reason == "stop"
    assert "TTFT" in stderr


def test_parallel_tool_calls_round_trip_on_one_stream(deployment: Deployment) -> None:
    events, stderr, code = deployment.run(
        "demo", "/tools the weather", 'lookup={"temp": 21}', 'clock="noon"'
    )
    assert code == 0, stderr
    _kept(events)
    calls = [event for event in events if isinstance(event, ToolCallEnd)]
    assert [call.name for call in calls] == ["lookup", "clock"]
    assert [call.arguments for call in calls] == [
        {"query": "the weather"},
        {"query": "the weather"},
    ]
    # Both calls open before either closes: they stream in parallel.
    types = shape(events)
    assert types[:3] == ["run.start", "tool_call.start", "tool_call.start"], types
    assert types[-5:] == TEXT_RUN[1:], types
    assert types.count("run.finish") == 1, types
    result = assemble(events)
    assert 'Tool lookup returned {"temp": 21}.' in result.text
    assert "Tool clock returned" in result.text
    assert result.finish_reason == "stop"


def test_a_memory_write_is_streamed_and_kept(deployment: Deployment) -> None:
    events, stderr, code = deployment.run("demo", "/remember the sky is blue")
    assert code == 0, stderr
    _kept(events)
    [memory] = [event for event in events if isinstance(event, MemoryWriteEvent)]
    assert (memory.content, memory.kind, memory.scope) == ("the sky is blue", "fact", "agent")
    assert shape(events)[:2] == ["run.start", "memory.write"]
    with deployment.api() as api:
        issued = api.post(
            f"/v1/workspaces/{deployment.workspace_id}/tokens",
            json={"scopes": ["runtime:invoke"], "ttl_seconds": 600},
        )
        assert issued.status_code == 201, issued.text
        token = issued.json()["token"]
        listed = api.get(
            f"/proxy/runtime/v1/agents/{memory.agent_id}/memories",
            headers={"Authorization": f"Bearer {token}"},
        )
    assert listed.status_code == 200, listed.text
    assert memory.memory_id in [item["id"] for item in listed.json()["items"]]


def test_a_mid_stream_provider_error_ends_the_run_as_an_error(deployment: Deployment) -> None:
    events, stderr, code = deployment.run("demo", "/error")
    assert code == 1, stderr
    _kept(events)
    types = shape(events)
    assert types[-4:] == ["text.delta", "error", "text.end", "run.finish"] or types[-4:] == [
        "text.delta",
        "text.end",
        "error",
        "run.finish",
    ], types
    [error] = [event for event in events if isinstance(event, Error)]
    assert (error.code, error.retryable, error.after_first_token) == ("provider_error", True, True)
    assert isinstance(events[-1], RunFinish)
    assert events[-1].finish_reason == "error"


def test_a_client_that_goes_away_cancels_the_run(deployment: Deployment, tmp_path: Path) -> None:
    live = deployment.start_run("demo", "/hang", tmp_path / "hang.jsonl")
    run_id = live.wait_for_events(3)[0].run_id
    live.interrupt()
    _, _, code = live.finish()
    assert code == 130
    with deployment.api() as api:
        issued = api.post(
            f"/v1/workspaces/{deployment.workspace_id}/tokens",
            json={"scopes": ["runtime:invoke"], "ttl_seconds": 600},
        ).json()["token"]

        def cancelled() -> bool:
            found = api.get(
                f"/proxy/runtime/v1/runs/{run_id}", headers={"Authorization": f"Bearer {issued}"}
            )
            return found.status_code == 200 and found.json()["finish_reason"] == "cancelled"

        wait_for(cancelled, "the run to be recorded as cancelled")


def test_a_runtime_crash_mid_run_is_reported_and_the_runtime_comes_back(
    deployment: Deployment, tmp_path: Path
) -> None:
    before = deployment.wait_until_up()
    live = deployment.start_run("demo", "/hang", tmp_path / "crash.jsonl")
    live.wait_for_events(3)
    import os  # noqa: PLC0415 - only this test kills anything
    import signal  # noqa: PLC0415 - as above

    os.kill(before["pid"], signal.SIGKILL)
    events, stderr, code = live.finish()
    assert code == 1, stderr
    _kept(events)
    assert shape(events)[-4:] == ["text.delta", "error", "text.end", "run.finish"] or shape(events)[
        -4:
    ] == ["text.delta", "text.end", "error", "run.finish"], dumps(events)
    [error] = [event for event in events if isinstance(event, Error)]
    # The proxy ends the caller's stream cleanly when its upstream dies, so the client sees a
    # stream that stopped without run.finish: the contract's truncation error.
    assert error.code == "truncated"
    after = deployment.wait_until_restarted(before["restarts"] + 1)
    assert after["pid"] not in (None, before["pid"])
    assert after["last_exit_code"] == -signal.SIGKILL
    events, stderr, code = deployment.run("demo", "hello again")
    assert code == 0, stderr
    assert shape(events) == TEXT_RUN


@pytest.mark.parametrize(
    ("provider", "scenario"),
    [
        ("openai", "plain_text"),
        ("openai", "parallel_tool_calls"),
        ("openai", "mid_stream_error"),
        ("anthropic", "plain_text"),
        ("anthropic", "parallel_tool_calls"),
        ("anthropic", "mid_stream_error"),
        ("openrouter", "plain_text"),
        ("openrouter", "parallel_tool_calls"),
        ("openrouter", "mid_stream_error"),
        ("openai-responses", "plain_text"),
        ("openai-responses", "parallel_tool_calls"),
        ("openai-responses", "response_failed"),
    ],
)
def test_each_adapter_through_the_whole_path(
    deployment: Deployment, provider: str, scenario: str
) -> None:
    route = "openai" if provider == "openai-responses" else provider
    deployment.store_key(route, f"sk-test-{route}-key-000000000000")  # pragma: allowlist secret
    agent = f"replay-{provider}-{scenario}".replace("_", "-")
    deployment.configure(agent, provider, f"replay:{scenario}")
    events, stderr, code = deployment.run(agent, "hi")
    _kept(events)
    want = expected(provider, scenario)
    got = summarize(assemble(events))
    assert got == want, dumps(events)
    assert code == (1 if want["error"] else 0), stderr


def test_every_run_and_its_model_calls_are_in_the_access_log(deployment: Deployment) -> None:
    deployment.store_key("openai", "sk-test-openai-key-000000000000")  # pragma: allowlist secret
    deployment.configure("logged", "openai", "replay:plain_text")
    _, stderr, code = deployment.run("logged", "hi")
    assert code == 0, stderr

    def logged() -> bool:
        with deployment.api() as api:
            items = api.get("/v1/access-log", params={"limit": 20}).json()["items"]
        upstreams = [item["upstream"] for item in items]
        return "runtime" in upstreams and "openai" in upstreams

    wait_for(logged, "the run and its model call in the access log")
    with deployment.api() as api:
        items = api.get("/v1/access-log", params={"limit": 20}).json()["items"]
    call = next(item for item in items if item["upstream"] == "openai")
    runs = [item for item in items if item["upstream"] == "runtime" and item["method"] == "POST"]
    # The model call is the run's token's (`gatehouse run` issues one per run): the runtime
    # acted for it, with no key of its own.
    assert call["token_accessor"] in [run["token_accessor"] for run in runs]
    assert call["decision"] == "allow"


def test_the_runtime_refuses_requests_that_bypass_the_control_plane(
    deployment: Deployment,
) -> None:
    url = deployment.status()["url"]
    body = {"agent_id": "demo", "messages": [{"role": "user", "content": "hi"}]}
    for headers in ({}, {"Authorization": f"Bearer {deployment.admin_token}"}):
        response = httpx.post(f"{url}/v1/runs", json=body, headers=headers, timeout=30)
        assert response.status_code == 401, response.text
        assert response.json()["error"] == "unauthenticated"
