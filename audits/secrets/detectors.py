"""Which detect-secrets plugins and filters every scan uses, and the key that names that choice.

All of detect-secrets' built-in plugins with their default settings, our Gatehouse token plugin,
and detect-secrets' default filters: the same as `detect-secrets scan --all-files -n --plugin
audits/secrets/gatehouse_plugin.py`, so both report the same findings. Optional regex excludes
(imported from a `.secrets.baseline`) use detect-secrets' own regex filters.

This module must not import detect-secrets: the parent process (a CLI, or a threaded web
server) only describes the settings; worker processes apply them, because detect-secrets keeps
its settings in one global object per process. The description is therefore declarative, and its
key covers everything that can change a result: the detect-secrets version, the excludes and
the source of the engine's own detection code, so editing any of them invalidates the cache.
"""

import hashlib
import json
from dataclasses import dataclass
from functools import cache, cached_property
from importlib.metadata import version
from pathlib import Path
from typing import Any

PACKAGE = Path(__file__).resolve().parent
PLUGIN_FILE = PACKAGE / "gatehouse_plugin.py"
# detect-secrets' regex filters are `should_exclude_<kind>`; their patterns live in the settings'
# `exclude_<kind>s` fields.
EXCLUDE_KINDS = ("file", "line", "secret")
# The modules whose code decides what a file's findings are.
_ENGINE_SOURCES = ("detectors.py", "gatehouse_plugin.py", "prefilter.py", "worker.py", "redact.py")


def regex_filter(kind: str) -> str:
    return f"detect_secrets.filters.regex.should_exclude_{kind}"


@cache
def detect_secrets_version() -> str:
    return version("detect-secrets")


@cache
def _engine_digest() -> str:
    digest = hashlib.sha256()
    for name in _ENGINE_SOURCES:
        digest.update((PACKAGE / name).read_bytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class DetectorSettings:
    """The detection settings, as data; `worker.configure` turns them into detect-secrets'."""

    exclude_files: tuple[str, ...] = ()  # regexes over the relative path
    exclude_lines: tuple[str, ...] = ()  # regexes over a line
    exclude_secrets: tuple[str, ...] = ()  # regexes over a secret
    baseline_file: str | None = None  # a baseline's own name: its hashes are not findings

    def document(self) -> dict[str, Any]:
        return {
            "detect_secrets": detect_secrets_version(),
            "engine": _engine_digest(),
            "plugin_file": str(PLUGIN_FILE),
            "exclude_files": list(self.exclude_files),
            "exclude_lines": list(self.exclude_lines),
            "exclude_secrets": list(self.exclude_secrets),
            "baseline_file": self.baseline_file,
        }

    @cached_property
    def key(self) -> str:
        canonical = json.dumps(self.document(), sort_keys=True).encode()
        return hashlib.sha256(canonical).hexdigest()
