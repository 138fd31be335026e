"""The work of one scanning process: detect-secrets over one file at a time.

detect-secrets keeps its settings in one global object per process, so each worker process
configures it once, at start, and then scans file after file. `Scanner.scan` reproduces
detect-secrets' `scan_file` step for step (filename filters, transformers, the eager second
pass, line filters, plugins, secret filters), calling detect-secrets' own functions for each
step; the one difference is that `Prefilter` picks the lines and plugins worth running, see
there. Files are read as bytes, once: the same bytes give the cache its content hash.

Only hashes and redacted previews leave this process: raw secrets stay in its memory.
"""

import hashlib
import io
import os
import signal
import stat
from collections.abc import Iterator
from multiprocessing.connection import Connection
from typing import Any, cast

from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
from detect_secrets.core.scan import _is_filtered_out, _scan_line
from detect_secrets.filters.heuristic import is_lock_file, is_non_text_file
from detect_secrets.settings import Settings, configure_settings_from_baseline, get_plugins
from detect_secrets.settings import get_settings as detect_secrets_settings
from detect_secrets.transformers import get_transformed_file
from detect_secrets.types import NamedIO
from detect_secrets.util.code_snippet import get_code_snippet

from audits.secrets.detectors import EXCLUDE_KINDS, regex_filter
from audits.secrets.gatehouse_plugin import GatehouseTokenDetector
from audits.secrets.prefilter import Prefilter
from audits.secrets.protocol import Detected, FileResult, FileTask, Outcome
from audits.secrets.redact import preview

# Our worker checks that a file exists itself, and this filter resolves names against the
# working directory, which is not the scan root here.
_CWD_FILTER = "detect_secrets.filters.common.is_invalid_file"
_BASELINE_FILTER = "detect_secrets.filters.common.is_baseline_file"


def configure(document: dict[str, Any]) -> None:
    """Apply `DetectorSettings.document()` to this process's detect-secrets settings."""
    classes: list[type] = list(get_mapping_from_secret_type_to_class().values())
    builtins = sorted(plugin.__name__ for plugin in classes)
    # The mapping is cached; it must be rebuilt once our plugin's file is in the settings.
    get_mapping_from_secret_type_to_class.cache_clear()
    plugins: list[dict[str, Any]] = [{"name": name} for name in builtins]
    plugins.append(
        {"name": GatehouseTokenDetector.__name__, "path": f"file://{document['plugin_file']}"}
    )
    filters: list[dict[str, Any]] = [
        {"path": path}
        for path in sorted(Settings().filters)
        if path not in Settings.DEFAULT_FILTERS
    ]
    filters += [
        {"path": regex_filter(kind), "pattern": document[f"exclude_{kind}s"]}
        for kind in EXCLUDE_KINDS
        if document[f"exclude_{kind}s"]
    ]
    if document["baseline_file"]:
        filters.append({"path": _BASELINE_FILTER, "filename": document["baseline_file"]})
    configure_settings_from_baseline({"plugins_used": plugins, "filters_used": filters})
    detect_secrets_settings().disable_filters(_CWD_FILTER)


class _NamedBytes(io.BytesIO):
    """Bytes with a name: detect-secrets' transformers choose by the file's name."""

    def __init__(self, data: bytes, name: str) -> None:
        super().__init__(data)
        self.name = name


class Scanner:
    def __init__(self, document: dict[str, Any], max_file_bytes: int) -> None:
        configure(document)
        self._plugins = list(get_plugins())
        self._prefilter = Prefilter(self._plugins)
        self._max_file_bytes = max_file_bytes

    def scan(self, task: FileTask) -> FileResult:
        if _is_filtered_out(required_filter_parameters=["filename"], filename=task.path):
            return FileResult(Outcome.SKIPPED, _filtered_reason(task.path))
        data = task.data if task.data is not None else _read(task.source, self._max_file_bytes)
        if data is None:
            return FileResult(Outcome.SKIPPED, "unreadable")
        if len(data) > self._max_file_bytes:
            return FileResult(Outcome.SKIPPED, "too_large")
        content_hash = hashlib.blake2b(data, digest_size=20).hexdigest()
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            # detect-secrets reads text with the (UTF-8) locale encoding and ignores what fails.
            return FileResult(Outcome.SKIPPED, "binary", content_hash)
        first: dict[tuple[str, str], Detected] = {}
        for secret in self._secrets(task.path, data):
            key = (secret.type, secret.secret_hash)
            if key not in first:  # like a detect-secrets baseline: one entry, its first line
                value = secret.secret_value
                first[key] = Detected(
                    secret.type, secret.secret_hash, secret.line_number, preview(value)
                )
        return FileResult(Outcome.SCANNED, None, content_hash, tuple(first.values()))

    def _secrets(self, filename: str, data: bytes) -> list[Any]:
        """detect-secrets' scan_file over these bytes: a second, eager pass only if the first
        found nothing."""
        file = cast(NamedIO, io.TextIOWrapper(_NamedBytes(data, filename), encoding="utf-8"))
        lines = get_transformed_file(file) or file.readlines()
        found = list(self._scan_lines(filename, lines))
        if found:
            return found
        file.seek(0)
        eager = get_transformed_file(file, use_eager_transformers=True)
        return list(self._scan_lines(filename, eager)) if eager else []

    def _scan_lines(self, filename: str, lines: list[str]) -> Iterator[Any]:
        """detect-secrets' _process_line_based_plugins, on the lines the prefilter picked."""
        stripped = [line.rstrip() for line in lines]
        for number, plugin_indexes in self._prefilter.plan(stripped):
            line = stripped[number - 1]
            context = get_code_snippet(lines=lines, line_number=number)
            if _is_filtered_out(
                required_filter_parameters=["line"], filename=filename, line=line, context=context
            ):
                continue
            for index in plugin_indexes:
                plugin = self._plugins[index]
                for secret in _scan_line(
                    plugin=plugin, filename=filename, line=line, line_number=number, context=context
                ):
                    if not _is_filtered_out(
                        required_filter_parameters=["context"],
                        filename=secret.filename,
                        secret=secret.secret_value,
                        plugin=plugin,
                        line=line,
                        context=context,
                    ):
                        yield secret


def _filtered_reason(path: str) -> str:
    if is_non_text_file(path):
        return "binary"
    if is_lock_file(path):
        return "lock_file"
    return "filtered"


def _read(source: str | None, max_file_bytes: int) -> bytes | None:
    """At most one byte past the cap; None when it is gone or no longer a regular file."""
    if source is None:
        return None
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        descriptor = os.open(source, flags)
    except OSError:
        return None
    with os.fdopen(descriptor, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            return None
        try:
            return handle.read(max_file_bytes + 1)
        except OSError:
            return None


def serve(connection: Connection, document: dict[str, Any], max_file_bytes: int) -> None:
    """A worker's life: configure, say ready, then scan each batch sent until told to stop."""
    # Ctrl-C reaches the whole process group; the parent decides, and ends the workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    scanner = Scanner(document, max_file_bytes)
    try:
        connection.send(("ready",))
        while (batch := connection.recv()) is not None:
            for task in batch:
                try:
                    result = scanner.scan(task)
                except Exception:  # noqa: BLE001 - one file's failure must not end the scan
                    # Only the kind of failure is reported: messages can quote the content.
                    result = FileResult(Outcome.SKIPPED, "error")
                connection.send(("done", task.index, result))
    except (EOFError, OSError):
        return  # the parent is gone: nobody wants the rest
