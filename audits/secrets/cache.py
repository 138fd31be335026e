"""The scan cache: one SQLite file, so an unchanged tree is rescanned from metadata alone.

Two tables. `files` maps a path under a scan root to what it looked like when last read (size,
mtime, ctime, inode) and the hash of the content read then. `results` maps (settings key,
path, content hash) to what the scan found: the settings key names the detect-secrets version,
its configuration and our detection code, so any change to them misses the cache. A result
depends on the path as well as the content because detect-secrets chooses its rules by file
name. History scans key their results by git blob id instead of a content hash.

Nothing here can hold a raw secret: a result lists detect-secrets' SHA-1 hashes and redacted
previews. Every save is one SQLite transaction, so a crash leaves the previous state intact; a
file that is not a usable cache (corrupt, or an older layout) is discarded and rebuilt, and a
cache that cannot be opened or written at all only costs speed, never the scan.
"""

import json
import logging
import os
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audits.secrets.protocol import Detected, FileResult, Outcome

log = logging.getLogger(__name__)

FILE_NAME = "secrets.sqlite3"
_LAYOUT = "1"
_RETENTION_SECONDS = 30 * 24 * 3600  # results no tree points at (old blobs, old settings)
_META = "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    root TEXT NOT NULL, path TEXT NOT NULL,
    size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, ctime_ns INTEGER NOT NULL,
    inode INTEGER NOT NULL, content_hash TEXT NOT NULL,
    PRIMARY KEY (root, path)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS results (
    settings TEXT NOT NULL, path TEXT NOT NULL, content_hash TEXT NOT NULL,
    body TEXT NOT NULL, used_at INTEGER NOT NULL,
    PRIMARY KEY (settings, path, content_hash)
) WITHOUT ROWID;
"""

Signature = tuple[int, int, int, int]


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME")
    return (Path(base) if base else Path.home() / ".cache") / "gatehouse" / "audit"


@dataclass(frozen=True, slots=True)
class Known:
    """What the cache remembers of one path under a root."""

    signature: Signature
    content_hash: str
    result: FileResult | None  # None: not under the current settings


def encode(result: FileResult) -> str:
    secrets = [[s.secret_type, s.secret_hash, s.line, s.preview] for s in result.secrets]
    return json.dumps({"outcome": result.outcome, "reason": result.reason, "secrets": secrets})


def decode(body: str, content_hash: str) -> FileResult:
    data = json.loads(body)
    secrets = tuple(Detected(str(t), str(h), int(n), str(p)) for t, h, n, p in data["secrets"])
    return FileResult(Outcome(data["outcome"]), data["reason"], content_hash, secrets)


class ScanCache:
    def __init__(self, connection: sqlite3.Connection | None, settings_key: str) -> None:
        self._db = connection
        self._settings = settings_key

    @classmethod
    def open(cls, directory: Path, settings_key: str) -> "ScanCache":
        """Never fails: at worst a cache that remembers nothing."""
        path = directory / FILE_NAME
        try:
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            return cls(_connect(path), settings_key)
        except (sqlite3.Error, OSError) as error:
            log.warning("scan cache %s unusable, discarding it: %s", path, error)
        try:
            for suffix in ("", "-journal", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            return cls(_connect(path), settings_key)
        except (sqlite3.Error, OSError) as error:
            log.warning("scanning without a cache: %s", error)
            return cls(None, settings_key)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def files(self, root: str) -> dict[str, Known]:
        """Every path remembered under `root`, with its result under the current settings."""
        rows = self._query(
            "SELECT f.path, f.size, f.mtime_ns, f.ctime_ns, f.inode, f.content_hash, r.body "
            "FROM files f LEFT JOIN results r ON r.settings = ? AND r.path = f.path "
            "AND r.content_hash = f.content_hash WHERE f.root = ?",
            (self._settings, root),
        )
        known = {}
        for path, size, mtime, ctime, inode, digest, body in rows:
            signature = (int(size), int(mtime), int(ctime), int(inode))
            result = decode(str(body), str(digest)) if body else None
            known[str(path)] = Known(signature, str(digest), result)
        return known

    def results(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], FileResult]:
        """Results under the current settings for (path, content hash) pairs."""
        found: dict[tuple[str, str], FileResult] = {}
        for path, digest in keys:
            rows = self._query(
                "SELECT body FROM results WHERE settings = ? AND path = ? AND content_hash = ?",
                (self._settings, path, digest),
            )
            if rows:
                found[(path, digest)] = decode(rows[0][0], digest)
        return found

    def save(
        self,
        *,
        root: str | None = None,
        files: Sequence[tuple[str, Signature, str]] = (),
        gone: Iterable[str] = (),
        results: Sequence[tuple[str, FileResult]] = (),
        used: Iterable[tuple[str, str]] = (),
    ) -> None:
        """One transaction: remember `files` under `root` and forget `gone`; store `results`
        (path, result) and mark `used` (path, content hash) results as still wanted."""
        if self._db is None:
            return
        now = int(time.time())
        try:
            with self._db:
                if root is not None:
                    self._db.executemany(
                        "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?, ?)",
                        [(root, path, *signature, digest) for path, signature, digest in files],
                    )
                    self._db.executemany(
                        "DELETE FROM files WHERE root = ? AND path = ?",
                        [(root, path) for path in gone],
                    )
                self._db.executemany(
                    "INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?, ?)",
                    [(self._settings, p, r.content_hash, encode(r), now) for p, r in results],
                )
                self._db.executemany(
                    "UPDATE results SET used_at = ? WHERE settings = ? AND path = ? "
                    "AND content_hash = ?",
                    [(now, self._settings, path, digest) for path, digest in used],
                )
                self._db.execute(
                    "DELETE FROM results WHERE used_at < ? AND NOT EXISTS (SELECT 1 FROM files f "
                    "WHERE f.path = results.path AND f.content_hash = results.content_hash)",
                    (now - _RETENTION_SECONDS,),
                )
        except sqlite3.Error as error:
            log.warning("the scan cache was not updated: %s", error)

    def _query(self, sql: str, parameters: tuple[str, ...]) -> list[tuple[Any, ...]]:
        if self._db is None:
            return []
        try:
            return self._db.execute(sql, parameters).fetchall()
        except sqlite3.Error as error:
            log.warning("the scan cache could not be read: %s", error)
            return []


def _connect(path: Path) -> sqlite3.Connection:
    if not path.exists():
        # Created owner-only before SQLite opens it: it names files and secret hashes.
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    connection = sqlite3.connect(path, timeout=10.0)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")  # with WAL: atomic, never corrupt
        connection.execute(_META)
        row = connection.execute("SELECT value FROM meta WHERE key = 'layout'").fetchone()
        if row is None or row[0] != _LAYOUT:
            connection.executescript("DROP TABLE IF EXISTS files; DROP TABLE IF EXISTS results;")
        connection.executescript(_SCHEMA)
        with connection:
            connection.execute("INSERT OR REPLACE INTO meta VALUES ('layout', ?)", (_LAYOUT,))
    except BaseException:
        connection.close()
        raise
    return connection
