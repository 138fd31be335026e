"""Reading one spool run directory back, for the flusher.

Segments are read in order, complete lines only. A `finish` completes the entry its `begin`
opened ("finish wins": it carries the whole outcome); a `begin` alone is held back, because its
request may still be running. Once a directory's process is gone and every line has been read,
the begins still open were cut off by that process stopping, and become records with
`error=INCOMPLETE`.

Progress is saved in `checkpoint.json` (written atomically) after each committed batch. It
never moves past an open begin, so a restart re-reads from there: lines already inserted are
skipped by their entry id, and nothing a dead process began is forgotten. Segments wholly before
the checkpoint are deleted.
"""

import dataclasses
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from controlplane.access_log.records import AccessRecord
from controlplane.access_log.spool import BEGIN, FINISH, segment_indexes, segment_name

log = logging.getLogger(__name__)

CHECKPOINT = "checkpoint.json"
INCOMPLETE = "incomplete: the process stopped before the response finished"
# Lines are a few KiB at most (records bound their fields); a chunk always holds whole lines.
_CHUNK = 1 << 20


@dataclass(frozen=True, order=True)
class Position:
    segment: int
    offset: int


@dataclass(frozen=True)
class Entry:
    entry_id: str
    record: AccessRecord


@dataclass(frozen=True)
class _Begun:
    record: AccessRecord
    run: str
    position: Position


class RunReader:
    """`live`: this process is still writing here, so the last segment may still grow."""

    def __init__(self, run_dir: Path, *, live: bool) -> None:
        self.run_dir = run_dir
        self.live = live
        self._position = self._saved = _load_checkpoint(run_dir)
        self._open: dict[str, _Begun] = {}
        self._batch: list[Entry] = []
        self.exhausted = False

    @property
    def idle(self) -> bool:
        """Nothing read and not yet committed, and no request still open."""
        return not self._batch and not self._open

    def next_batch(self, limit: int, current_run: str | None) -> list[Entry]:
        """Up to `limit` finished entries; the same ones again until `commit()`."""
        if not self._batch:
            self._read(limit)
            if self.exhausted:
                # Only a previous process run's begins can be cut off; ours may still finish.
                for entry_id, begun in list(self._open.items()):
                    if begun.run != current_run:
                        record = dataclasses.replace(begun.record, error=INCOMPLETE)
                        self._batch.append(Entry(entry_id, record))
                        del self._open[entry_id]
        return self._batch

    def commit(self) -> None:
        """The batch is in the database: save progress and drop segments no longer needed."""
        self._batch = []
        earliest_open = next(iter(self._open.values()), None)
        checkpoint = self._position if earliest_open is None else earliest_open.position
        if checkpoint == self._saved:
            return
        _save_checkpoint(self.run_dir, checkpoint)
        self._saved = checkpoint
        for index in segment_indexes(self.run_dir):
            if index < checkpoint.segment:
                (self.run_dir / segment_name(index)).unlink()

    def remove(self) -> None:
        """Delete the whole run directory (its process is gone and everything is flushed)."""
        for path in self.run_dir.iterdir():
            path.unlink()
        self.run_dir.rmdir()

    def _read(self, limit: int) -> None:
        while len(self._batch) < limit:
            segments = [i for i in segment_indexes(self.run_dir) if i >= self._position.segment]
            if not segments:
                self.exhausted = not self.live
                return
            if segments[0] != self._position.segment:
                self._position = Position(segments[0], 0)
            # A segment is final once a later one exists: the writer never goes back.
            final = len(segments) > 1 or not self.live
            if not self._consume(limit, final=final):
                if not final:
                    return
                self._position = Position(self._position.segment + 1, 0)

    def _consume(self, limit: int, *, final: bool) -> bool:
        """Read complete lines from the current position; False if there were none."""
        segment, offset = self._position.segment, self._position.offset
        with (self.run_dir / segment_name(segment)).open("rb") as handle:
            handle.seek(offset)
            data = handle.read(_CHUNK)
        end = data.rfind(b"\n")
        if end < 0:
            if data and final:
                log.warning(
                    "access-log spool %s segment %d: skipping a torn last line (%d bytes), "
                    "left by a write that failed",
                    self.run_dir.name,
                    segment,
                    len(data),
                )
            return False
        start = 0
        while start <= end and len(self._batch) < limit:
            stop = data.index(b"\n", start)
            self._take(data[start:stop], Position(segment, offset + start))
            start = stop + 1
        self._position = Position(segment, offset + start)
        return True

    def _take(self, line: bytes, position: Position) -> None:
        try:
            data = json.loads(line)
            kind, run, entry_id = data["kind"], data["run"], data["entry"]
            record = AccessRecord.from_dict(data["record"])
            if kind not in (BEGIN, FINISH):
                raise ValueError(kind)
        except (ValueError, KeyError, TypeError):
            log.warning(
                "access-log spool %s: skipping an unreadable line at segment %d offset %d",
                self.run_dir.name,
                position.segment,
                position.offset,
            )
            return
        if kind == BEGIN:
            self._open[entry_id] = _Begun(record, run, position)
        else:
            self._open.pop(entry_id, None)
            self._batch.append(Entry(entry_id, record))


def _load_checkpoint(run_dir: Path) -> Position:
    try:
        data = json.loads((run_dir / CHECKPOINT).read_text())
        return Position(int(data["segment"]), int(data["offset"]))
    except FileNotFoundError:
        return Position(0, 0)
    except (ValueError, KeyError, TypeError):
        # Replaying from the start is always safe: entries already stored are skipped.
        log.warning("access-log spool %s: unreadable checkpoint, replaying all", run_dir.name)
        return Position(0, 0)


def _save_checkpoint(run_dir: Path, position: Position) -> None:
    temporary = run_dir / f"{CHECKPOINT}.tmp"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, json.dumps(dataclasses.asdict(position)).encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temporary, run_dir / CHECKPOINT)
