"""History scans: every blob ever committed, read once, and the commits each one appeared in.

`git rev-list --all --objects` names every reachable object once, blobs with a path they had;
`git cat-file --batch-check` tells blobs from trees and gives their sizes, and a long-lived
`git cat-file --batch` reads the blobs to scan (lazily, as workers need them). Results are
cached by blob id, so a rescan only reads blobs committed since.

Which commits contain a blob with findings is answered from the trees: each distinct tree is
read once and remembers which of those blobs lie below it, so shared subtrees cost nothing
more, and each commit asks only its root tree.
"""

import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType

from audits.config import AuditConfig
from audits.model import Finding, ScanStats
from audits.secrets import git, scanner
from audits.secrets.options import SecretScanError, SecretScanOptions
from audits.secrets.protocol import Detected, FileResult, FileTask
from audits.secrets.severity import to_finding
from audits.secrets.targets import path_skip

_TREE_MODE = b"40000"


@dataclass(frozen=True, slots=True)
class Blob:
    oid: str
    path: str  # relative to the scan root
    size: int

    @property
    def cache_key(self) -> str:
        return f"blob:{self.oid}"


class ObjectReader:
    """`git cat-file --batch`: one object at a time, on request."""

    def __init__(self, top: Path) -> None:
        self._process = subprocess.Popen(  # noqa: S603 - fixed git arguments, no shell
            ["git", "-C", str(top), "cat-file", "--batch"],  # noqa: S607 - git from PATH
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        if self._process.stdin is None or self._process.stdout is None:
            raise SecretScanError("git cat-file did not start")
        self._requests, self._answers = self._process.stdin, self._process.stdout

    def __enter__(self) -> "ObjectReader":
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def read(self, oid: str) -> bytes:
        self._requests.write(f"{oid}\n".encode())
        self._requests.flush()
        header = self._answers.readline().split()
        if len(header) != 3:
            raise SecretScanError(f"git cannot read object {oid}")
        data = self._answers.read(int(header[2]))
        self._answers.read(1)  # the newline after each object
        return data

    def close(self) -> None:
        self._requests.close()
        self._process.wait()
        self._answers.close()


def _commits(top: Path) -> list[tuple[str, str]]:
    """(commit, root tree) for every reachable commit, oldest first."""
    out = git.git(top, "rev-list", "--all", "--topo-order", "--reverse", "--format=%T")
    lines = out.decode().split()
    # Pairs of "commit <oid>" header words and the tree line: ["commit", oid, tree, ...].
    return [(lines[i + 1], lines[i + 2]) for i in range(0, len(lines), 3)]


def _blobs(top: Path, prefix: str) -> list[Blob]:
    named = {}
    for line in git.git(top, "rev-list", "--all", "--objects").decode().splitlines():
        oid, space, path = line.partition(" ")
        if space and path.startswith(prefix) and path != prefix.rstrip("/"):
            named[oid] = path[len(prefix) :]
    if not named:
        return []
    checked = git.git(
        top,
        "cat-file",
        "--batch-check=%(objectname) %(objecttype) %(objectsize)",
        stdin="".join(f"{oid}\n" for oid in named).encode(),
    )
    blobs = []
    for line in checked.decode().splitlines():
        oid, kind, size = line.split()
        if kind == "blob":
            blobs.append(Blob(oid, named[oid], int(size)))
    return blobs


def _tree_entries(data: bytes, oid_bytes: int) -> Iterator[tuple[bytes, str]]:
    """(mode, object id) of each entry of a raw tree object."""
    position = 0
    while position < len(data):
        space = data.index(b" ", position)
        end_of_name = data.index(b"\0", space)
        yield data[position:space], data[end_of_name + 1 : end_of_name + 1 + oid_bytes].hex()
        position = end_of_name + 1 + oid_bytes


def commits_containing(
    reader: ObjectReader, commits: list[tuple[str, str]], wanted: set[str]
) -> dict[str, list[str]]:
    """For each wanted blob, the commits (oldest first) whose tree contains it."""
    below: dict[str, frozenset[str]] = {}

    def blobs_below(tree: str) -> frozenset[str]:
        if tree not in below:
            found: set[str] = set()
            for mode, oid in _tree_entries(reader.read(tree), len(tree) // 2):
                if mode == _TREE_MODE:
                    found |= blobs_below(oid)
                elif oid in wanted:
                    found.add(oid)
            below[tree] = frozenset(found)
        return below[tree]

    containing: dict[str, list[str]] = {oid: [] for oid in wanted}
    for commit, tree in commits:
        for oid in blobs_below(tree):
            containing[oid].append(commit)
    return containing


def _merge(
    blobs: list[Blob],
    results: dict[int, FileResult],
    containing: dict[str, list[str]],
    commit_order: dict[str, int],
) -> Iterator[Finding]:
    """One finding per (path, type, secret) across blobs, with every commit that held it; its
    line is the one in the blob committed first."""

    def first_seen(index: int) -> int:
        held = containing.get(blobs[index].oid, ())
        return min((commit_order[commit] for commit in held), default=len(commit_order))

    merged: dict[tuple[str, str, str], tuple[Detected, set[str]]] = {}
    for index in sorted((i for i, r in results.items() if r.secrets), key=first_seen):
        blob = blobs[index]
        for found in results[index].secrets:
            key = (blob.path, found.secret_type, found.secret_hash)
            merged.setdefault(key, (found, set()))[1].update(containing.get(blob.oid, ()))
    for (path, _, _), (found, held) in merged.items():
        yield to_finding(path, found, tuple(sorted(held, key=commit_order.__getitem__)))


def _considered(blobs: list[Blob], config: AuditConfig) -> tuple[list[int], Counter[str]]:
    """The blobs to analyse (by index), and why the others are skipped."""
    considered: list[int] = []
    skipped: Counter[str] = Counter()
    for index, blob in enumerate(blobs):
        reason = path_skip(blob.path, config)
        if reason is None and blob.size > config.max_file_bytes:
            reason = "too_large"
        if reason is None:
            considered.append(index)
        else:
            skipped[reason] += 1
    return considered, skipped


def scan_history(root: Path, options: SecretScanOptions) -> tuple[list[Finding], ScanStats]:
    started = time.monotonic()
    if not git.is_work_tree(root):
        raise SecretScanError(f"{root}: a history scan needs a git repository")
    top = Path(git.git(root, "rev-parse", "--show-toplevel").decode().strip())
    prefix = git.git(root, "rev-parse", "--show-prefix").decode().strip()
    commits = _commits(top)
    blobs = _blobs(top, prefix)
    considered, skipped = _considered(blobs, options.config)
    cache = scanner.open_cache(options)
    tally = scanner.Tally()
    try:
        keys = [(blobs[i].path, blobs[i].cache_key) for i in considered]
        remembered = cache.results(keys) if cache else {}
        tasks = []
        for index in considered:
            blob = blobs[index]
            if (blob.path, blob.cache_key) in remembered:
                tally.cached[index] = remembered[(blob.path, blob.cache_key)]
            else:
                tasks.append(
                    FileTask(
                        index, blob.path, None, blob.size, label=f"{blob.path}@{blob.oid[:12]}"
                    )
                )
        progress = scanner.Progress(options.progress, len(considered))
        progress.advance(len(tally.cached))
        with ObjectReader(top) as reader:

            def load(task: FileTask) -> FileTask:
                return replace(task, data=reader.read(blobs[task.index].oid))

            scanner.run_pool(options, tasks, tally, progress, load)
            results = {**tally.cached, **tally.fresh}
            wanted = {blobs[i].oid for i, result in results.items() if result.secrets}
            containing = commits_containing(reader, commits, wanted) if wanted else {}
        if cache is not None:
            fresh = [
                (blobs[i].path, replace(result, content_hash=blobs[i].cache_key))
                for i, result in tally.fresh.items()
                if result.cacheable
            ]
            used = [(blobs[i].path, blobs[i].cache_key) for i in tally.cached]
            cache.save(results=fresh, used=used)
    finally:
        if cache is not None:
            cache.close()
    stats = tally.stats(len(blobs), skipped, started)
    analysed = stats.files_scanned + stats.files_cached
    stats = stats.model_copy(update={"blobs": analysed, "commits": len(commits)})
    order = {commit: position for position, (commit, _) in enumerate(commits)}
    return scanner.sorted_findings(_merge(blobs, results, containing, order)), stats
