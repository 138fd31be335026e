"""From the spool to the chain: merged, exactly once, across crashes and restarts."""

import dataclasses
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from controlplane.access_log import reader as reader_module
from controlplane.access_log import service
from controlplane.access_log.flusher import Flusher
from controlplane.access_log.reader import INCOMPLETE
from controlplane.access_log.spool import Spool, run_directories
from controlplane.db import transaction
from tests.controlplane.access_log.conftest import Database, record


def _flusher(database: Database, home: Path) -> Flusher:
    return Flusher(Spool(home / "spool"), database.factory)


def _intact(database: Database) -> None:
    with transaction(database.factory, read_only=True) as session:
        report = service.verify(session)
    assert report.intact, report.findings


def test_finish_wins_and_an_open_request_waits_for_its_finish(
    database: Database, tmp_path: Path
) -> None:
    flusher = _flusher(database, tmp_path)
    spool = flusher.spool
    spool.begin(record("req-00000001"))
    spool.finish(record("req-00000001", status=200, latency_ms=9.5, tokens_out=7))
    spool.begin(record("req-00000002"))  # still streaming
    assert flusher.flush() == 1
    [row] = database.rows()
    assert (row.request_id, row.status, row.latency_ms, row.tokens_out, row.error) == (
        "req-00000001",
        200,
        9.5,
        7,
        None,
    )

    spool.finish(record("req-00000002", status=200, streamed=True))
    assert flusher.flush() == 1
    assert [(row.seq, row.request_id, row.streamed) for row in database.rows()] == [
        (1, "req-00000001", False),
        (2, "req-00000002", True),
    ]
    _intact(database)


def test_a_clean_stop_removes_the_spool_and_keeps_open_requests_for_the_next_start(
    database: Database, tmp_path: Path
) -> None:
    first = _flusher(database, tmp_path)
    first.spool.begin(record("req-00000001"))
    first.spool.finish(record("req-00000001", status=200))
    first.start()
    first.stop()
    assert database.count() == 1
    assert list((tmp_path / "spool").iterdir()) == [], "a drained spool leaves nothing behind"

    second = _flusher(database, tmp_path)
    second.spool.begin(record("req-00000002"))  # the process stops mid-request
    second.stop()
    assert database.count() == 1
    run_dir = second.spool.run_directory
    assert run_dir is not None
    assert run_dir.is_dir()

    third = _flusher(database, tmp_path)
    assert third.flush() == 1
    assert not run_dir.exists()
    rows = database.rows()
    assert rows[-1].request_id == "req-00000002"
    assert rows[-1].error == INCOMPLETE
    _intact(database)


def test_a_live_process_spool_is_never_adopted(database: Database, tmp_path: Path) -> None:
    mine, theirs = _flusher(database, tmp_path), _flusher(database, tmp_path)
    theirs.spool.begin(record("req-00000001"))  # open, in a process that is alive
    assert mine.flush() == 0
    assert database.count() == 0
    theirs.spool.finish(record("req-00000001", status=200))
    assert theirs.flush() == 1
    assert mine.flush() == 0
    assert database.count() == 1


def test_a_crash_between_insert_and_checkpoint_replays_without_duplicates(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    crashed = _flusher(database, tmp_path)
    for i in range(30):
        crashed.spool.begin(record(f"req-{i:08d}"))
        crashed.spool.finish(record(f"req-{i:08d}", status=200))
    crashed.spool.begin(record("req-open-0001"))

    def power_cut(*_args: object) -> None:
        raise OSError("the process died before the checkpoint")

    monkeypatch.setattr(reader_module, "_save_checkpoint", power_cut)
    with pytest.raises(OSError, match="checkpoint"):
        crashed.flush()
    assert database.count() == 30, "the batch was committed"
    monkeypatch.undo()
    crashed.spool.release()  # what the kernel does when the process dies

    restarted = _flusher(database, tmp_path)
    assert restarted.flush() == 1, "only the open request is new: marked incomplete"
    assert restarted.flush() == 0
    rows = database.rows()
    assert [row.seq for row in rows] == list(range(1, 32))
    assert len({row.entry_id for row in rows}) == 31
    assert rows[-1].error == INCOMPLETE
    _intact(database)


KILLED_CHILD = """
import dataclasses, sys
from datetime import UTC, datetime
from pathlib import Path
from controlplane.access_log.records import AccessRecord
from controlplane.access_log.spool import Spool, run_directories

spool = Spool(Path(sys.argv[1]), segment_bytes=4096)
i = 0
while True:
    rec = AccessRecord(ts=datetime.now(UTC), request_id=f"req-{i:08d}", method="POST",
                       path="/v1/chat/completions", decision="allow")
    spool.begin(rec)
    print("begun", rec.request_id, flush=True)
    if i % 10 != 9:  # every tenth request never finishes
        spool.finish(dataclasses.replace(rec, status=200, latency_ms=1.5))
        print("finished", rec.request_id, flush=True)
    i += 1
"""


def test_a_killed_process_loses_nothing_it_wrote(database: Database, tmp_path: Path) -> None:
    child = subprocess.Popen(  # noqa: S603 - our own interpreter running our own code
        [sys.executable, "-c", KILLED_CHILD, str(tmp_path / "spool")],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    begun: list[str] = []
    finished: set[str] = set()
    for line in child.stdout:
        event, request_id = line.split()
        if event == "begun":
            begun.append(request_id)
        else:
            finished.add(request_id)
        if len(finished) >= 300:
            break
    os.kill(child.pid, signal.SIGKILL)  # mid-way: it is writing as fast as it can
    child.wait()
    child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    [run_dir] = run_directories(tmp_path / "spool")

    flusher = _flusher(database, tmp_path)
    flusher.flush()
    rows = {row.request_id: row for row in database.rows()}
    assert len(rows) == database.count(), "no request was stored twice"
    for request_id in begun:
        row = rows[request_id]  # every begun request is there, exactly once
        if request_id in finished:
            assert (row.status, row.error) == (200, None), request_id
        else:
            # Its finish may have reached the spool before the kill; if not, it is incomplete.
            assert row.error == INCOMPLETE or row.status == 200, request_id
    cut_off = [rid for rid in begun if int(rid[4:]) % 10 == 9]
    assert cut_off
    assert all(rows[rid].error == INCOMPLETE for rid in cut_off)
    # The child kept going between our last read and the kill: whatever it wrote until the
    # kill is there too, without holes (it begins requests one after another).
    assert sorted(rows) == [f"req-{i:08d}" for i in range(len(rows))]
    assert len(rows) >= len(begun)
    assert not run_dir.exists(), "the dead run's spool was drained"

    count = database.count()
    again = _flusher(database, tmp_path)
    assert again.flush() == 0
    assert database.count() == count
    _intact(database)


def test_incomplete_records_keep_what_the_begin_knew(database: Database, tmp_path: Path) -> None:
    dead = _flusher(database, tmp_path)
    begun = record("req-00000001", token_accessor="acc_" + "b" * 20, model="gpt-4o")
    dead.spool.begin(begun)
    dead.spool.release()
    _flusher(database, tmp_path).flush()
    [row] = database.rows()
    stored = {name: getattr(row, name) for name in ("token_accessor", "model", "status", "error")}
    assert stored == {
        "token_accessor": begun.token_accessor,
        "model": "gpt-4o",
        "status": 0,
        "error": INCOMPLETE,
    }
    assert dataclasses.replace(begun, error=INCOMPLETE).error == row.error
