"""Health, metrics, cancellation, and the process entry point."""

import asyncio
import threading

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from runtime.__main__ import main
from runtime.contract import CONTRACT_VERSION, StreamChunk, Usage
from runtime.service import in_transaction
from runtime.store.models import RuntimeRun
from tests.runtime.server.conftest import Runtime
from tests.runtime.server.wire import (
    DEADLINE_SECONDS,
    bearer,
    finished_run,
    sse_events,
    stream_run,
    user,
)

pytestmark = pytest.mark.usefixtures("engine_kind")


def test_health_needs_no_credential(client: httpx.Client) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["contract_version"] == CONTRACT_VERSION
    assert body["version"]


def test_metrics_expose_the_runtime_latencies(client: httpx.Client, token: str) -> None:
    stream_run(client, token, {"agent_id": "helper", "messages": [user("count me")]})

    response = client.get("/metrics")
    assert response.status_code == 200
    text = response.text
    for name in (
        "gatehouse_runtime_ttft_seconds_bucket",
        "gatehouse_runtime_inter_chunk_seconds_bucket",
        "gatehouse_runtime_e2e_seconds_bucket",
        "gatehouse_runtime_overhead_seconds_bucket",
    ):
        assert f'{name}{{le="0.001",model="local-scripted",provider="local"}}' in text, name
    assert 'gatehouse_runtime_runs_total{finish_reason="stop",model="local-scripted"' in text


def test_a_client_going_away_cancels_the_run(
    runtime: Runtime, client: httpx.Client, token: str
) -> None:
    body = {"agent_id": "helper", "messages": [user("/hang")]}
    with client.stream("POST", "/v1/runs", json=body, headers=bearer(token)) as response:
        run_id = None
        for event in sse_events(response.iter_lines()):
            run_id = event.run_id
            if isinstance(event, StreamChunk):
                break
    assert run_id is not None

    row = finished_run(runtime.session_factory, run_id)
    assert row.finish_reason == "cancelled"
    assert row.error_code is None
    assert row.ttft_ms is not None


def test_a_client_going_away_while_tools_are_awaited_cancels_the_run(
    runtime: Runtime, client: httpx.Client, token: str
) -> None:
    tool = {"name": "search", "parameters": {"type": "object", "properties": {}}}
    body = {"agent_id": "helper", "messages": [user("/tools")], "tools": [tool]}
    with client.stream("POST", "/v1/runs", json=body, headers=bearer(token)) as response:
        run_id = None
        for event in sse_events(response.iter_lines()):
            run_id = event.run_id
            if isinstance(event, Usage):
                break
    assert run_id is not None

    row = finished_run(runtime.session_factory, run_id)
    assert row.finish_reason == "cancelled"
    assert row.awaiting_tool_calls is None


def test_a_cancelled_caller_waits_for_its_transaction_to_end(runtime: Runtime) -> None:
    """A run cancelled mid-write writes its final row next: the first write must have ended,
    or the two race (the cause of the test above failing now and then)."""
    inside, release = threading.Event(), threading.Event()
    ended: list[str] = []

    def work(session: Session) -> None:
        session.execute(select(func.count()).select_from(RuntimeRun))
        inside.set()
        release.wait(DEADLINE_SECONDS)
        ended.append("transaction")

    async def cancel_mid_transaction() -> None:
        task = asyncio.ensure_future(in_transaction(runtime.session_factory, work))
        assert await asyncio.to_thread(inside.wait, DEADLINE_SECONDS)
        task.cancel()
        for _ in range(20):  # every chance for the cancellation to land
            await asyncio.sleep(0)
        assert not task.done(), "the cancellation overtook the transaction"
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert ended == ["transaction"]

    try:
        asyncio.run(cancel_mid_transaction())
    finally:
        release.set()


def test_the_command_line_rejects_a_worker_count_below_one() -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--workers", "0"])
    assert exit_info.value.code == 2
