"""A secret scan of a tree: pick the files, answer what the cache can, scan the rest in
parallel, remember what was read, and turn detect-secrets' results into findings."""

import os
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from audits.model import Finding, ScanStats
from audits.secrets import targets
from audits.secrets.cache import ScanCache, default_cache_dir
from audits.secrets.options import SecretScanError, SecretScanOptions
from audits.secrets.pool import Handlers, Pool
from audits.secrets.protocol import FileResult, FileTask, Outcome
from audits.secrets.severity import to_finding


class Progress:
    """Counts files done and tells the caller's callback, if any."""

    def __init__(self, callback: Callable[[int, int], None] | None, total: int) -> None:
        self._callback = callback
        self.total = total
        self.done = 0

    def advance(self, count: int = 1) -> None:
        self.done += count
        if self._callback is not None and count:
            self._callback(self.done, self.total)


@dataclass
class Tally:
    """Results as they arrive, for stats: fresh ones scanned now, cached ones remembered."""

    fresh: dict[int, FileResult] = field(default_factory=dict)  # by task index
    cached: dict[int, FileResult] = field(default_factory=dict)
    timed_out: list[str] = field(default_factory=list)

    def stats(self, seen: int, skipped: Counter[str], started: float) -> ScanStats:
        reasons = Counter(skipped)
        for result in (*self.fresh.values(), *self.cached.values()):
            if result.outcome is Outcome.SKIPPED and result.reason:
                reasons[result.reason] += 1
        return ScanStats(
            files_seen=seen,
            files_scanned=sum(r.outcome is Outcome.SCANNED for r in self.fresh.values()),
            files_cached=sum(r.outcome is Outcome.SCANNED for r in self.cached.values()),
            files_skipped=dict(sorted(reasons.items())),
            timed_out=tuple(sorted(self.timed_out)),
            seconds=round(time.monotonic() - started, 3),
        )


def open_cache(options: SecretScanOptions) -> ScanCache | None:
    if not options.use_cache:
        return None
    return ScanCache.open(options.cache_dir or default_cache_dir(), options.detectors.key)


def run_pool(
    options: SecretScanOptions,
    tasks: list[FileTask],
    tally: Tally,
    progress: Progress,
    load: Callable[[FileTask], FileTask] | None = None,
) -> None:
    if not tasks:
        return

    def result(task: FileTask, outcome: FileResult) -> None:
        tally.fresh[task.index] = outcome
        progress.advance()

    def timed_out(task: FileTask) -> None:
        tally.timed_out.append(task.label or task.path)
        progress.advance()

    handlers = Handlers(result, timed_out, load)
    config = options.config
    jobs = options.jobs or os.cpu_count() or 1
    document = options.detectors.document()
    pool = Pool(jobs, document, config.max_file_bytes, config.file_timeout_seconds)
    pool.run(tasks, handlers)


def sorted_findings(findings: Iterable[Finding]) -> list[Finding]:
    return sorted(findings, key=Finding.sort_key)


def scan_tree(root: Path, options: SecretScanOptions) -> tuple[list[Finding], ScanStats]:
    started = time.monotonic()
    # Files changed after this instant may change again within the same clock tick: their
    # metadata is not trusted to prove them unchanged next time.
    trusted_before_ns = time.time_ns()
    if not root.is_dir():
        raise SecretScanError(f"{root}: not a directory")
    selection = targets.select(root, options.config)
    cache = open_cache(options)
    try:
        known = cache.files(str(root)) if cache else {}
        tally = Tally()
        tasks = []
        for index, target in enumerate(selection.targets):
            remembered = known.get(target.path)
            if remembered and remembered.result and remembered.signature == target.signature:
                tally.cached[index] = remembered.result
            else:
                tasks.append(FileTask(index, target.path, str(root / target.path), target.size))
        progress = Progress(options.progress, len(selection.targets))
        progress.advance(len(tally.cached))
        run_pool(options, tasks, tally, progress)
        if cache is not None:
            _remember(cache, root, selection, tally, known.keys(), trusted_before_ns)
    finally:
        if cache is not None:
            cache.close()
    results = {**tally.cached, **tally.fresh}
    findings = (
        to_finding(selection.targets[index].path, found)
        for index, result in results.items()
        for found in result.secrets
    )
    return sorted_findings(findings), tally.stats(selection.seen, selection.skipped, started)


def _remember(
    cache: ScanCache,
    root: Path,
    selection: targets.Selection,
    tally: Tally,
    known: Iterable[str],
    trusted_before_ns: int,
) -> None:
    keep = [(selection.targets[i], result) for i, result in tally.fresh.items() if result.cacheable]
    files = [
        (target.path, target.signature, result.content_hash)
        for target, result in keep
        if target.signature[1] < trusted_before_ns  # its mtime
    ]
    gone = set(known) - {target.path for target in selection.targets}
    results = [(target.path, result) for target, result in keep]
    cache.save(root=str(root), files=files, gone=gone, results=results)
