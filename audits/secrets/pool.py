"""Worker processes that scan files in parallel, each file under a time limit.

Processes, not threads: detect-secrets keeps its settings in one global per process. They are
started with `forkserver` (or `spawn` where that is missing), never a plain fork, because the
control plane calls this from a threaded web server and a fork copies other threads' locks.

Work goes out in batches (the largest files first, small files many to a batch, to cut the
messages) and every file's result comes back on its own, which is how the parent knows when
each worker started its current file. A worker past the per-file limit is killed: its file is
reported as timed out, the rest of its batch goes back in the queue, and a fresh worker takes
its place, so one pathological file can neither hang nor sink the scan.
"""

import multiprocessing
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.context import ForkServerContext, SpawnContext
from multiprocessing.process import BaseProcess
from typing import Any

from audits.secrets.protocol import FileResult, FileTask, Outcome

BATCH_FILES = 32
BATCH_BYTES = 512 * 1024
START_TIMEOUT_SECONDS = 120.0


class PoolError(RuntimeError):
    """The scanning workers could not be started."""


def _context() -> ForkServerContext | SpawnContext:
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        # The fork server imports the main module (which every child of a spawning start
        # method must import) and detect-secrets once; each worker forked from it starts warm.
        context.set_forkserver_preload(["__main__", "audits.secrets.worker"])
        return context
    return multiprocessing.get_context("spawn")


def _serve(connection: Connection, document: dict[str, Any], max_file_bytes: int) -> None:
    # Imported here, in the worker: the parent process never loads detect-secrets.
    from audits.secrets import worker  # noqa: PLC0415 - keeps detect-secrets out of the parent

    worker.serve(connection, document, max_file_bytes)


def batches(tasks: Sequence[FileTask]) -> list[list[FileTask]]:
    """Largest first; a large file alone, small ones together up to a count and a size."""
    ordered = sorted(tasks, key=lambda task: (-task.size, task.path))
    grouped: list[list[FileTask]] = []
    current: list[FileTask] = []
    size = 0
    for task in ordered:
        if current and (len(current) >= BATCH_FILES or size + task.size > BATCH_BYTES):
            grouped.append(current)
            current, size = [], 0
        current.append(task)
        size += task.size
    if current:
        grouped.append(current)
    return grouped


@dataclass
class _Worker:
    process: BaseProcess
    connection: Connection
    started: float
    ready: bool = False
    since: float = 0.0  # when its current file started (meaningful once ready)
    queue: deque[FileTask] = field(default_factory=deque)  # sent and not yet answered
    in_flight: deque[int] = field(default_factory=deque)  # unanswered files per batch sent


@dataclass
class Handlers:
    result: Callable[[FileTask, FileResult], None]
    timed_out: Callable[[FileTask], None]
    # Fills in a task's content just before it is sent (history scans read blobs lazily).
    load: Callable[[FileTask], FileTask] | None = None


class Pool:
    def __init__(self, jobs: int, document: dict[str, Any], max_file_bytes: int, timeout: float):
        self._jobs = max(1, jobs)
        self._document = document
        self._max_file_bytes = max_file_bytes
        self._timeout = timeout
        self._context = _context()

    def run(self, tasks: Sequence[FileTask], handlers: Handlers) -> None:
        pending = deque(batches(tasks))
        workers = [self._start() for _ in range(min(self._jobs, len(pending)))]
        try:
            while pending or any(worker.queue for worker in workers):
                for worker in workers:
                    self._feed(worker, pending, handlers)
                ready = wait(self._waitables(workers), timeout=self._next_deadline(workers))
                for index, worker in enumerate(workers):
                    if not self._collect(worker, ready, handlers):
                        workers[index] = self._replace(worker, pending, handlers, timed_out=False)
                now = time.monotonic()
                for index, worker in enumerate(workers):
                    if worker.ready and worker.queue and now - worker.since > self._timeout:
                        workers[index] = self._replace(worker, pending, handlers, timed_out=True)
        finally:
            for worker in workers:
                _stop(worker)

    def _start(self) -> _Worker:
        parent, child = self._context.Pipe()
        process = self._context.Process(
            target=_serve,
            args=(child, self._document, self._max_file_bytes),
            name="gatehouse-secrets-worker",
            daemon=True,
        )
        process.start()
        child.close()
        return _Worker(process, parent, started=time.monotonic())

    def _feed(self, worker: _Worker, pending: deque[list[FileTask]], handlers: Handlers) -> None:
        # A second batch waits in the pipe while the first is scanned, unless it carries file
        # content: a send larger than the pipe would block until the busy worker reads it.
        while pending and (
            not worker.in_flight
            or (len(worker.in_flight) == 1 and all(task.source for task in pending[0]))
        ):
            batch = pending.popleft()
            if handlers.load is not None:
                batch = [handlers.load(task) for task in batch]
            worker.connection.send(batch)
            if not worker.queue:
                worker.since = time.monotonic()
            worker.queue.extend(batch)
            worker.in_flight.append(len(batch))

    def _waitables(self, workers: Sequence[_Worker]) -> list[Any]:
        return [w.connection for w in workers] + [w.process.sentinel for w in workers]

    def _next_deadline(self, workers: Sequence[_Worker]) -> float | None:
        now = time.monotonic()
        deadlines = [
            w.since + self._timeout if w.ready else w.started + START_TIMEOUT_SECONDS
            for w in workers
            if w.queue
        ]
        return max(0.0, min(deadlines) - now) + 0.01 if deadlines else None

    def _collect(self, worker: _Worker, ready: Sequence[Any], handlers: Handlers) -> bool:
        """Take every message the worker sent; False when it has died."""
        try:
            while worker.connection.poll():
                message = worker.connection.recv()
                now = time.monotonic()
                worker.since = now
                if message[0] == "ready":
                    worker.ready = True
                    continue
                task = worker.queue.popleft()
                worker.in_flight[0] -= 1
                if not worker.in_flight[0]:
                    worker.in_flight.popleft()
                handlers.result(task, message[2])
        except (EOFError, OSError):
            return False
        if worker.process.sentinel in ready and not worker.process.is_alive():
            return False
        if not worker.ready and time.monotonic() - worker.started > START_TIMEOUT_SECONDS:
            raise PoolError("a secret-scanning worker did not start in time")
        return True

    def _replace(
        self,
        worker: _Worker,
        pending: deque[list[FileTask]],
        handlers: Handlers,
        *,
        timed_out: bool,
    ) -> _Worker:
        """End a stuck or dead worker, account for its current file, requeue the rest."""
        worker.process.kill()
        worker.process.join()
        worker.connection.close()
        if not worker.ready:
            code = worker.process.exitcode
            raise PoolError(f"a secret-scanning worker failed to start (exit code {code})")
        if worker.queue:
            current = worker.queue.popleft()
            if timed_out:
                handlers.timed_out(current)
            else:
                handlers.result(current, FileResult(Outcome.SKIPPED, "error"))
        if worker.queue:
            pending.appendleft(list(worker.queue))
        return self._start()


def _stop(worker: _Worker) -> None:
    """An idle worker is asked to exit; a busy one (the scan was interrupted) is killed."""
    if worker.process.is_alive() and not worker.queue:
        try:
            worker.connection.send(None)
            worker.process.join(timeout=5)
        except OSError:
            pass
    if worker.process.is_alive():
        worker.process.kill()
    worker.process.join()
    worker.connection.close()
