"""The durable local spool: the proxy's access records reach disk before the request goes on.

Layout under `<GATEHOUSE_HOME>/spool/`: one directory per process run, `<run id>/`, holding a
`lock` file (flock-held for the life of the process), size-rotated segments `0000000001.jsonl`,
`0000000002.jsonl`, … and the flusher's `checkpoint.json`. Two processes sharing a home never
share a directory; a run directory whose lock is free belongs to a dead process and is adopted
by the next flusher that finds it.

Each `begin`/`finish` is one JSON line, `{"kind","run","entry","record"}`, written with one
`os.write` on an O_APPEND descriptor. Once that call returns the line is in the page cache,
which survives the process being killed (even `kill -9`); it survives power loss once fsynced,
which the flusher's sync thread does every 100 ms (`Spool.sync`). A line that cannot be written
raises `SpoolUnavailableError` (503): the proxy must not forward what it could not log.

`entry` pairs a finish with its begin. It is the spool's own id (run id + counter), not the
request id, which clients may set and repeat.
"""

import errno
import fcntl
import itertools
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

from controlplane.access_log.records import AccessRecord
from controlplane.errors import ServiceUnavailable
from controlplane.kit.ids import new_id

log = logging.getLogger(__name__)
SEGMENT_BYTES = 16 * 1024 * 1024
SEGMENT_SUFFIX = ".jsonl"
LOCK_FILE = "lock"
BEGIN = "begin"
FINISH = "finish"


class SpoolUnavailableError(ServiceUnavailable):
    code = "access_log_unavailable"


def segment_name(index: int) -> str:
    return f"{index:010d}{SEGMENT_SUFFIX}"


def segment_indexes(run_dir: Path) -> list[int]:
    """The run directory's segments, oldest first."""
    return sorted(
        int(path.name.removesuffix(SEGMENT_SUFFIX))
        for path in run_dir.iterdir()
        if path.name.endswith(SEGMENT_SUFFIX) and path.name[: -len(SEGMENT_SUFFIX)].isdigit()
    )


def fsync_directory(directory: Path) -> None:
    """A new or removed file survives power loss only once its directory entry is synced."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def lock_run(run_dir: Path) -> int | None:
    """The run directory's lock fd if no live process holds it, else None."""
    try:
        fd = os.open(run_dir / LOCK_FILE, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def run_directories(directory: Path) -> Iterator[Path]:
    """Every run directory, oldest run first (run ids sort by time). Staging ones are hidden."""
    if not directory.is_dir():
        return
    for path in sorted(directory.iterdir()):
        if path.is_dir() and not path.name.startswith("."):
            yield path


class Spool:
    def __init__(self, directory: Path, *, segment_bytes: int = SEGMENT_BYTES) -> None:
        self.directory = directory
        # Both set when the first record claims a directory, so that a process forked after
        # construction still gets a run of its own.
        self.run_id: str | None = None
        self.run_directory: Path | None = None
        self._segment_bytes = segment_bytes
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._lock_fd: int | None = None
        self._segment = 0
        self._size = 0
        self._entries = itertools.count(1)
        # request id → entries begun and not finished, oldest first (ids can repeat).
        self._open: dict[str, list[str]] = {}
        # Segments rotated out, fsynced and closed by the next `sync()`.
        self._retired: list[int] = []
        self._dirty = False
        self._new_file = False
        self._closed = False
        self._failing = False

    def begin(self, record: AccessRecord) -> None:
        """Record a request before it is forwarded. Raises SpoolUnavailableError."""
        body = record.to_json_line()
        with self._lock:
            entry = self._write(BEGIN, body, None)
            self._open.setdefault(record.request_id, []).append(entry)

    def finish(self, record: AccessRecord) -> None:
        """Record the outcome once the response is sent or failed. Raises SpoolUnavailableError.

        Call it exactly once per successful `begin` (in a `finally`): a request never finished
        stays open in memory and, in the spool, until the process stops.
        """
        body = record.to_json_line()
        with self._lock:
            begun = self._open.get(record.request_id)
            self._write(FINISH, body, begun[0] if begun else None)
            if begun:
                begun.pop(0)
                if not begun:
                    del self._open[record.request_id]

    def _write(self, kind: str, body: str, entry: str | None) -> str:
        """Append one line; returns its entry id (a new one unless `entry` is given)."""
        if self._closed:
            raise SpoolUnavailableError("the access log is closed; the request was not forwarded")
        try:
            fd = self._fd
            if fd is None or self._size >= self._segment_bytes:
                fd = self._rotate()
            entry = entry or f"{self.run_id}-{next(self._entries)}"
            # kind, run id and entry are our own [a-z0-9_-] strings: no escaping needed.
            line = f'{{"kind":"{kind}","run":"{self.run_id}","entry":"{entry}","record":{body}}}\n'
            data = line.encode()
            written = os.write(fd, data)
            if written != len(data):
                raise OSError(errno.ENOSPC, "short write")
        except OSError as error:
            # Whatever part of the line reached the file, the next line starts a new segment,
            # so a torn line can only ever be the last one of its segment.
            self._retire()
            if not self._failing:
                log.exception("access-log spool %s cannot be written", self.directory)
                self._failing = True
            # The client sees no path or errno, only that nothing was forwarded.
            raise SpoolUnavailableError(
                "the access log is unavailable; the request was not forwarded"
            ) from error
        if self._failing:
            log.warning("access-log spool %s is writable again", self.directory)
            self._failing = False
        self._size += written
        self._dirty = True
        return entry

    def _rotate(self) -> int:
        if self.run_directory is None:
            self.run_directory = self._claim_run_directory()
        self._retire()
        self._segment += 1
        self._fd = os.open(
            self.run_directory / segment_name(self._segment),
            os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC,
            0o600,
        )
        self._size = 0
        self._new_file = True
        return self._fd

    def _retire(self) -> None:
        if self._fd is not None:
            self._retired.append(self._fd)
            self._fd = None

    def _claim_run_directory(self) -> Path:
        """Lock the directory before it becomes visible, so nobody adopts a live run."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        run_id = new_id("run")
        staging = self.directory / f".{run_id}"
        staging.mkdir(mode=0o700, exist_ok=True)
        lock_fd = os.open(staging / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            final = self.directory / run_id
            staging.rename(final)
        except OSError:
            os.close(lock_fd)
            raise
        self.run_id, self._lock_fd = run_id, lock_fd
        return final

    def sync(self) -> None:
        """fsync what has been written; the flusher calls this every 100 ms, off the hot path."""
        with self._lock:
            retired, self._retired = self._retired, []
            # A duplicate, so that a rotation meanwhile cannot close the descriptor under us.
            current = os.dup(self._fd) if self._fd is not None and self._dirty else None
            self._dirty = False
            new_file, self._new_file = self._new_file, False
        fds = retired if current is None else [*retired, current]
        try:
            for fd in fds:
                os.fsync(fd)
            if new_file and self.run_directory is not None:
                fsync_directory(self.run_directory)
                fsync_directory(self.directory)  # the run directory's own entry, once renamed
        except OSError:
            # The kernel may have dropped the unsynced pages: start a new segment, so that the
            # next write proves whether the disk still works (and fails closed if not).
            with self._lock:
                self._retire()
            raise
        finally:
            for fd in fds:
                with suppress(OSError):
                    os.close(fd)

    def close(self) -> None:
        """Refuse further records and sync the rest. The run directory stays locked."""
        with self._lock:
            self._closed = True
            self._retire()
        self.sync()

    def release(self) -> None:
        """Give up the run directory: from now on another flusher may adopt it."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
