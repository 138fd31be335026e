"""What the scanning parent and its worker processes send each other.

Plain frozen dataclasses, pickled over a pipe. Nothing here can hold a raw secret: a worker
reports each secret as detect-secrets' SHA-1 hash and a redacted preview.
"""

from dataclasses import dataclass
from enum import StrEnum


class Outcome(StrEnum):
    SCANNED = "scanned"  # read and analysed (with or without secrets)
    SKIPPED = "skipped"  # not analysed; `reason` says why


@dataclass(frozen=True, slots=True)
class FileTask:
    index: int
    path: str  # normalised, relative to the scan root: the name detect-secrets sees
    source: str | None  # the file to read, or None when `data` carries the content
    size: int
    data: bytes | None = None
    label: str | None = None  # how it is named when it times out, if not by its path


@dataclass(frozen=True, slots=True)
class Detected:
    secret_type: str
    secret_hash: str  # detect-secrets' hashed_secret (SHA-1 hex)
    line: int
    preview: str


@dataclass(frozen=True, slots=True)
class FileResult:
    outcome: Outcome
    reason: str | None = None  # why it was skipped
    # What the result depends on besides the path and settings: a hash of the content, or ""
    # when the path alone decided (a detect-secrets filename filter), so no content was read.
    content_hash: str = ""
    secrets: tuple[Detected, ...] = ()

    @property
    def cacheable(self) -> bool:
        return self.outcome is Outcome.SCANNED or self.reason in CACHEABLE_SKIPS


# Skips that depend only on the path and content, so a cached verdict stays true.
CACHEABLE_SKIPS = frozenset({"binary", "lock_file", "filtered"})
