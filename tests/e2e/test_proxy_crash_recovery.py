"""`kill -9` under proxy load: after a restart, every request that got a response has its record.

The real `gatehouse serve` process is killed twice while a dozen clients drive chat completions
(plain and streamed) through it, and while a few streams are held open:
- the first run flushes only every 60 s, so at the kill its records are all still in the spool;
- the second run replays the first run's spool at start, flushes every 200 ms while it takes load
  of its own, and is killed in the middle of that;
- a third run replays what is left. Then every completed request is in the log exactly once,
  with its status; the held-open streams are there as incomplete; and the hash chain verifies.

It caught a real ordering bug before e461e68: a plain response relayed with its Content-Length
was whole at the client before its finish line was spooled, so a kill in between stored it as
incomplete with status 0 (streamed, chunked responses were fine).

The spool alone under SIGKILL is covered by tests/controlplane/access_log/test_flusher.py; this is
the same promise kept by the whole server.
"""

import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from controlplane.access_log.reader import INCOMPLETE
from controlplane.access_log.spool import lock_run, run_directories
from tests.e2e.harness import Server, environment, init_json, run_cli
from tests.e2e.proxying import (
    CHAT_PATH,
    Completed,
    chat,
    configure_openai,
    issue_token,
    upstream_environment,
    wait_for_records,
)
from tests.fakes.providers import FakeProvider
from tests.live import ServerThread

WORKERS = 12  # clients sending complete requests, one after another
HELD_OPEN = 2  # clients holding an endless stream open when the kill comes
KILL_AFTER = 200  # complete responses per run before the kill


@dataclass
class Load:
    """What the clients of one server run sent and saw."""

    prefix: str
    sent: list[str] = field(default_factory=list)
    completed: list[Completed] = field(default_factory=list)
    held_open: list[str] = field(default_factory=list)
    enough: threading.Event = field(default_factory=threading.Event)
    streams_open: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(0))
    lock: threading.Lock = field(default_factory=threading.Lock)


def _requests(server: Server, token: str, load: Load, worker: int) -> None:
    """Complete requests, alternating plain and streamed, until the server goes away."""
    with httpx.Client(base_url=server.url, timeout=30) as client:
        number = 0
        while True:
            request_id = f"{load.prefix}-{worker:02d}-{number:05d}"
            with load.lock:
                load.sent.append(request_id)
            try:
                done = chat(client, token, request_id, stream=(worker + number) % 2 == 0)
            except httpx.TransportError:
                return  # killed: this request may or may not have got through
            assert done.status == 200, done
            with load.lock:
                load.completed.append(done)
                if len(load.completed) >= KILL_AFTER:
                    load.enough.set()
            number += 1


def _hold_open(server: Server, token: str, load: Load, worker: int) -> None:
    """An endless stream, read until the server dies under it."""
    request_id = f"{load.prefix}-open-{worker:02d}"
    with load.lock:
        load.sent.append(request_id)
        load.held_open.append(request_id)
    body = {"model": "endless", "stream": True, "messages": [{"role": "user", "content": "go"}]}
    headers = {"Authorization": f"Bearer {token}", "X-Request-Id": request_id}
    with (
        httpx.Client(base_url=server.url, timeout=30) as client,
        client.stream("POST", CHAT_PATH, json=body, headers=headers) as response,
    ):
        assert response.status_code == 200
        chunks = response.iter_bytes()
        try:
            next(chunks)  # forwarded, so its begin is spooled: the kill cuts it off
            load.streams_open.release()
            for _ in chunks:
                pass
        except httpx.TransportError:
            return
    raise AssertionError("an endless stream ended while the server was alive")


def _load_then_kill(server: Server, spool: Path, token: str, prefix: str) -> Load:
    """Drive load until KILL_AFTER responses are complete and every held stream is open, then
    SIGKILL the server in the middle of it."""
    load = Load(prefix)
    jobs: list[tuple[Callable[[Server, str, Load, int], None], int]] = [
        *((_hold_open, n) for n in range(HELD_OPEN)),
        *((_requests, n) for n in range(WORKERS)),
    ]
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        futures = [pool.submit(job, server, token, load, worker) for job, worker in jobs]
        try:
            for _ in range(HELD_OPEN):
                assert load.streams_open.acquire(timeout=30), "a stream did not open"
            assert load.enough.wait(timeout=60), f"only {len(load.completed)} responses"
            # This run's directory is the newest one, and the process we kill holds its lock.
            own = list(run_directories(spool))[-1]
            assert not _lock_is_free(own)
        finally:
            server.kill()
        for future in futures:
            future.result()  # a client's failed assertion fails the test
    assert _lock_is_free(own), "the killed process was the one holding the spool"
    return load


def _lock_is_free(run_dir: Path) -> bool:
    lock_fd = lock_run(run_dir)
    if lock_fd is None:
        return False
    os.close(lock_fd)  # at once: the next server must be able to adopt the directory
    return True


def _by_request_id(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    found = {record["request_id"]: record for record in records}
    assert len(found) == len(records), "a request was stored twice"
    return found


def _outcome(record: dict[str, Any]) -> tuple[str, int, str | None, bool]:
    return record["decision"], record["status"], record["error"], record["streamed"]


def test_every_answered_request_survives_kill_9_under_load(
    e2e_database: str, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    spool = home / "spool"
    with ServerThread(FakeProvider()) as upstream:

        def env(flush_seconds: str) -> dict[str, str]:
            return environment(
                home,
                e2e_database,
                GATEHOUSE_ACCESS_LOG_FLUSH_SECONDS=flush_seconds,
                **upstream_environment(upstream.url),
            )

        assert run_cli(env("1"), "db", "upgrade").returncode == 0
        setup = init_json(env("1"))
        admin, workspace_id = setup["admin_token"], setup["workspace_id"]

        # Run 1 flushes once at start and then not for a minute: at the kill, the spool holds
        # every record it took.
        first = Server(env("60"), tmp_path).start()
        try:
            configure_openai(first, admin, workspace_id)
            agent, _ = issue_token(first, admin, workspace_id, "proxy:invoke")
            reader, _ = issue_token(first, admin, workspace_id, "access-log:read")
            one = _load_then_kill(first, spool, agent, "one")
        finally:
            first.stop()
        assert len(list(run_directories(spool))) == 1

        # Run 2 replays run 1 at start while taking load of its own, flushing all the time.
        second = Server(env("0.2"), tmp_path).start()
        try:
            two = _load_then_kill(second, spool, agent, "two")
        finally:
            second.stop()

        # Run 3 takes no traffic: it only replays what is left, then removes the dead runs.
        with Server(env("0.2"), tmp_path) as third:
            deadline = time.monotonic() + 60
            while list(run_directories(spool)) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert list(run_directories(spool)) == [], "the dead runs' spools are drained"
            expected = {done.request_id for load in (one, two) for done in load.completed}
            expected |= {request_id for load in (one, two) for request_id in load.held_open}
            records = _by_request_id(wait_for_records(third, reader, workspace_id, expected))

    sent = {request_id for load in (one, two) for request_id in load.sent}
    assert set(records) <= sent, "every record is one of ours"
    missing = [
        done.request_id for load in (one, two) for done in load.completed
        if done.request_id not in records
    ]  # fmt: skip
    assert missing == [], f"{len(missing)} answered requests have no record: {missing[:10]}"
    wrong = [
        (done, _outcome(records[done.request_id]))
        for load in (one, two)
        for done in load.completed
        if _outcome(records[done.request_id]) != ("allow", 200, None, done.streamed)
    ]
    assert wrong == [], f"{len(wrong)} answered requests are recorded wrongly: {wrong[:5]}"
    for load in (one, two):
        for request_id in load.held_open:
            record = records[request_id]
            assert (record["decision"], record["error"]) == ("allow", INCOMPLETE), record
            assert record["model"] == "endless"
        answered = {done.request_id for done in load.completed}
        for request_id in set(load.sent) - answered - set(load.held_open):
            # In flight at the kill: if its begin reached the spool it is there, finished or not.
            if request_id in records:
                assert records[request_id]["error"] in (None, INCOMPLETE), records[request_id]

    verified = run_cli(env("1"), "access-log", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert f"intact: {len(records)} records" in verified.stdout
