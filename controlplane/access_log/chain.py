"""The hash chain: each row's hash covers the previous row's hash and its own record.

    hash(N) = SHA-256(hash(N-1) + "\\n" + canonical JSON of row N's record fields)

`seq` is dense: 1, 2, 3, … assigned under the chain lock at flush time. Verification walks the
rows by seq from the anchor (the last pruned row, or the genesis hash) to the head and reports
each break where it is: a modified row no longer matches its hash; a deleted row leaves a gap;
an inserted or replaced row breaks the next row's link. Anyone able to rewrite the database can
also recompute every later hash: keep copies of the head hash elsewhere (verify prints it) to
catch that too.
"""

import hashlib
import itertools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from controlplane.access_log.records import canonical_json

MAX_FINDINGS = 5


def entry_hash(prev_hash: str, values: Mapping[str, Any]) -> str:
    """`values`: the record fields, from an `AccessRecord` or a stored row."""
    material = f"{prev_hash}\n{canonical_json(values)}"
    return hashlib.sha256(material.encode()).hexdigest()


@dataclass(frozen=True)
class Point:
    """A position in the chain: a row's seq and hash (seq 0 and the genesis hash at the start)."""

    seq: int
    hash: str


@dataclass(frozen=True)
class Link:
    seq: int
    prev_hash: str
    hash: str
    values: Mapping[str, Any]


def extend(tip: Point, records: Sequence[Mapping[str, Any]]) -> list[Link]:
    """The links for `records` (their field values) appended after `tip`, in order."""
    links = []
    seq, prev = tip.seq, tip.hash
    for values in records:
        seq += 1
        digest = entry_hash(prev, values)
        links.append(Link(seq, prev, digest, values))
        prev = digest
    return links


@dataclass
class Report:
    anchor: Point
    head: Point
    checked: int = 0
    findings: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.findings


def verify(anchor: Point, head: Point, rows: Iterable[Link], limit: int = MAX_FINDINGS) -> Report:
    """Walk `rows` (ordered by seq) and collect the first `limit` breaks, each located."""
    report = Report(anchor, head)
    report.findings = list(itertools.islice(_breaks(report, rows), limit))
    return report


def _breaks(report: Report, rows: Iterable[Link]) -> Iterator[str]:
    last, head = report.anchor, report.head
    for row in rows:
        report.checked += 1
        if row.seq <= last.seq:
            yield f"seq {row.seq}: a second row with this seq (inserted row)"
            continue
        if row.seq > last.seq + 1:
            yield f"seq {_span(last.seq + 1, row.seq - 1)}: missing before seq {row.seq} (deleted)"
        elif row.prev_hash != last.hash:
            yield (
                f"seq {row.seq}: prev_hash does not match the hash of seq {last.seq} "
                "(a row was inserted or replaced before it)"
            )
        if entry_hash(row.prev_hash, row.values) != row.hash:
            yield f"seq {row.seq}: contents do not match its hash (modified row)"
        if row.seq > head.seq:
            yield f"seq {row.seq}: beyond the chain head at seq {head.seq} (inserted row)"
        last = Point(row.seq, row.hash)
    if last.seq < head.seq:
        yield f"seq {_span(last.seq + 1, head.seq)}: missing at the end of the chain (deleted)"
    elif last.seq == head.seq and last.hash != head.hash:
        yield f"seq {head.seq}: its hash does not match the chain head's (modified row)"


def _span(first: int, last: int) -> str:
    return str(first) if first == last else f"{first}-{last}"
