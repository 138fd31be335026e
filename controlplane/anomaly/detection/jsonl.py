"""Loading an exported access log (one JSON object per line) into the detectors' frame.

A file from elsewhere may hold anything, so no line can stop the load: a line that is not JSON,
not an object, has no valid `ts` or has a field of the wrong type is skipped and reported with
its line number (never its content). Blank lines are ignored.

Speed: the file is read in blocks of whole lines, and each block is parsed by pyarrow's JSON
reader against the record's schema, in C++ on every core (stdlib `json` alone takes longer than
the whole 1,000,000-event budget). A block that the fast path refuses, or that it could
misread, is parsed again line by line with the standard library to find its bad lines, so a bad
line costs only its own block's speed.
"""

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped]  # pyarrow ships no type information
import pyarrow.json as pa_json  # type: ignore[import-untyped]  # pyarrow ships no type information

from controlplane.access_log.records import FIELD_NAMES
from controlplane.anomaly.detection.frame import COUNT_COLUMNS, OPTIONAL_COUNT_COLUMNS, normalise

BLOCK_BYTES = 16 << 20
_INT64 = (-(2**63), 2**63 - 1)
_KINDS: dict[str, str] = {
    **dict.fromkeys(FIELD_NAMES, "text"),
    **dict.fromkeys((*COUNT_COLUMNS, *OPTIONAL_COUNT_COLUMNS), "int"),
    "latency_ms": "float",
    "ttfb_ms": "float",
    "streamed": "bool",
}
_NAMES = {"text": "a string", "int": "an integer", "float": "a number", "bool": "a boolean"}
# large_string is what pandas keeps Arrow-backed strings in: no conversion after the parse.
_ARROW_TYPES = {
    "text": pa.large_string(),
    "int": pa.int64(),
    "float": pa.float64(),
    "bool": pa.bool_(),
}
SCHEMA = pa.schema([(name, _ARROW_TYPES[_KINDS[name]]) for name in FIELD_NAMES])
_PARSE = pa_json.ParseOptions(explicit_schema=SCHEMA, unexpected_field_behavior="ignore")


@dataclass(frozen=True)
class Malformed:
    line: int
    error: str  # short, never the line's content


@dataclass(frozen=True)
class LoadedEvents:
    frame: pd.DataFrame
    events: int
    malformed: list[Malformed]


def load_jsonl(path: Path) -> LoadedEvents:
    """Every well-formed line of `path` as a frame (with its `line`, 1-based); the rest reported."""
    tables: list[Any] = []
    lines: list[np.ndarray[Any, np.dtype[np.int64]]] = []
    malformed: list[Malformed] = []
    first_line = 1
    with path.open("rb") as handle:
        for block in _blocks(handle):
            count = block.count(b"\n") + (0 if block.endswith(b"\n") else 1)
            table, numbers, bad = _parse_block(block, first_line, count)
            first_line += count
            tables.append(table)
            lines.append(numbers)
            malformed.extend(bad)
    raw = pa.concat_tables(tables).to_pandas() if tables else pd.DataFrame(columns=FIELD_NAMES)
    raw["line"] = np.concatenate(lines) if lines else np.array([], dtype=np.int64)
    frame, bad_ts = normalise(raw)
    for line in frame["line"][bad_ts]:
        malformed.append(Malformed(int(line), "ts is missing or not an ISO 8601 timestamp"))
    frame = frame[~bad_ts].reset_index(drop=True)
    malformed.sort(key=lambda bad: bad.line)
    return LoadedEvents(frame=frame, events=len(frame), malformed=malformed)


def _blocks(handle: IO[bytes]) -> Iterator[bytes]:
    """The file in blocks of whole lines, about BLOCK_BYTES each (the last may lack its newline)."""
    rest = b""
    while chunk := handle.read(BLOCK_BYTES):
        data = rest + chunk
        cut = data.rfind(b"\n") + 1
        block, rest = data[:cut], data[cut:]
        if block:
            yield block
    if rest:
        yield rest


def _parse_block(block: bytes, first_line: int, count: int) -> tuple[Any, Any, list[Malformed]]:
    table = _fast_parse(block, count)
    if table is not None:
        return table, np.arange(first_line, first_line + count, dtype=np.int64), []
    return _slow_parse(block, first_line)


def _fast_parse(block: bytes, count: int) -> Any:
    """The block's table, or None when only the line-by-line parse can be trusted with it.

    pyarrow crashes on a block that starts with `null`, so a block must start with `{`. It
    skips blank lines and reads two objects on one line as two rows: either way the row count
    no longer matches the line count. A `null` line further on becomes a row of nulls, which
    is then reported like any row without a ts. Arrow does not check UTF-8 while parsing.
    """
    if not block.startswith(b"{") or not (block.isascii() or _is_utf8(block)):
        return None
    try:
        table = pa_json.read_json(io.BytesIO(block), parse_options=_PARSE)
    except pa.ArrowInvalid:
        return None
    return table if table.num_rows == count else None


def _is_utf8(block: bytes) -> bool:
    try:
        block.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _slow_parse(block: bytes, first_line: int) -> tuple[Any, Any, list[Malformed]]:
    columns: dict[str, list[Any]] = {name: [] for name in FIELD_NAMES}
    numbers: list[int] = []
    malformed: list[Malformed] = []
    for offset, text in enumerate(block.split(b"\n")):
        if not text.strip():
            continue
        line = first_line + offset
        record, error = _record(text)
        if record is None:
            malformed.append(Malformed(line, error))
            continue
        numbers.append(line)
        for name in FIELD_NAMES:
            columns[name].append(record.get(name))
    table = pa.Table.from_pydict(columns, schema=SCHEMA)
    return table, np.array(numbers, dtype=np.int64), malformed


def _record(text: bytes) -> tuple[dict[str, Any] | None, str]:
    try:
        value = json.loads(text)
    except ValueError:  # UnicodeDecodeError is a ValueError too
        return None, "not valid JSON"
    if not isinstance(value, dict):
        return None, "not a JSON object"
    for name, kind in _KINDS.items():
        item = value.get(name)
        if item is not None and not _has_kind(item, kind):
            return None, f"{name} is not {_NAMES[kind]}"
    # A missing or null ts passes here and is reported with the unparseable ones.
    return value, ""


def _has_kind(value: object, kind: str) -> bool:
    if kind == "text":
        return isinstance(value, str)
    if kind == "bool":
        return isinstance(value, bool)
    if isinstance(value, bool):  # a bool is an int to Python, never a number in a record
        return False
    if kind == "int":
        return isinstance(value, int) and _INT64[0] <= value <= _INT64[1]
    return isinstance(value, int | float)
