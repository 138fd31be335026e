"""wrk as the load generator: one Lua script per run, figures read back as JSON from `done()`.

wrk's own summary is meant for people; its Lua `done(summary, latency, requests)` hook sees the
same numbers (latencies in microseconds, from its HdrHistogram) and prints them on one line.
"""

import json
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

WRK = "wrk"
_MARKER = "WRK_JSON "
# The numbers `done()` prints, in this order (wrk 4.x Lua API; latencies in microseconds).
_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '%s{"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,'
    .. '"status":%d,"timeout":%d,"p50_us":%.1f,"p90_us":%.1f,"p99_us":%.1f,'
    .. '"mean_us":%.1f,"max_us":%.1f}\\n',
    "MARKER", summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,
    e.status, e.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.mean, latency.max))
end
""".replace("MARKER", _MARKER)


class WrkError(RuntimeError):
    pass


def wrk_path() -> str | None:
    return shutil.which(WRK)


def wrk_version() -> str:
    # `wrk -v` prints its version line and exits with status 1.
    path = wrk_path()
    if path is None:
        return "missing"
    result = subprocess.run(  # noqa: S603 - wrk from PATH with a fixed flag
        [path, "-v"], capture_output=True, text=True, check=False, timeout=10
    )
    first = (result.stdout or result.stderr).strip().splitlines()
    # "wrk debian/4.1.0-3+b2 [epoll] Copyright (C) 2012 Will Glozer": keep what names it.
    return first[0].split(" [", 1)[0] if first else "unknown"


def _lua_string(text: str) -> str:
    # A Lua long string cannot be broken out of unless the text holds its closing bracket.
    level = "=" * 4
    if f"]{level}]" in text:
        raise ValueError("body holds the Lua long-string terminator")
    return f"[{level}[{text}]{level}]"


def write_script(path: Path, body: bytes, headers: dict[str, str]) -> Path:
    lines = ['wrk.method = "POST"', f"wrk.body = {_lua_string(body.decode())}"]
    lines += [f"wrk.headers[ {_lua_string(k)} ] = {_lua_string(v)}" for k, v in headers.items()]
    path.write_text("\n".join(lines) + "\n" + _DONE)
    return path


@dataclass(frozen=True)
class WrkResult:
    connections: int
    requests: int
    seconds: float
    bytes: int
    errors: dict[str, int]
    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "rps": self.rps, "error_count": self.error_count}


def parse_output(stdout: str, connections: int) -> WrkResult:
    for line in stdout.splitlines():
        if line.startswith(_MARKER):
            data = json.loads(line.removeprefix(_MARKER))
            break
    else:
        raise WrkError(f"wrk printed no result line:\n{stdout}")
    errors = {name: int(data[name]) for name in ("connect", "read", "write", "status", "timeout")}
    return WrkResult(
        connections=connections,
        requests=int(data["requests"]),
        seconds=data["duration_us"] / 1e6,
        bytes=int(data["bytes"]),
        errors=errors,
        p50_ms=data["p50_us"] / 1000,
        p90_ms=data["p90_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        mean_ms=data["mean_us"] / 1000,
        max_ms=data["max_us"] / 1000,
    )


def run_wrk(url: str, script: Path, connections: int, seconds: int) -> WrkResult:
    """One wrk run: two threads (one when a single connection), a 10 s request timeout."""
    path = wrk_path()
    if path is None:
        raise WrkError("wrk is not installed")
    threads = min(2, connections)
    command = [
        path,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        url,
    ]
    result = subprocess.run(  # noqa: S603 - wrk from PATH, arguments built above
        command, capture_output=True, text=True, check=False, timeout=seconds + 60
    )
    # A Lua error does not change wrk's exit status; it only shows on stderr.
    if result.returncode != 0 or result.stderr.strip():
        raise WrkError(f"wrk exited {result.returncode}: {result.stderr.strip()}")
    return parse_output(result.stdout, connections)
