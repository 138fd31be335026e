"""A stand-in for `python -m runtime` in the supervisor's tests: a tiny stdlib HTTP server.

    python tests/fakes/child_runtime.py --port P --control FILE [--host H] [--workers N]

FILE is JSON, re-read on every request, and steers it:
- "version": what `/healthz` reports (default "fake-1"), beside the two settings the
  supervisor passes in the environment;
- "crash": exit with this code at start, before listening;
- "exit_after" (+ "exit_code", default 0): exit that many seconds after starting;
- "hang": true: accept health checks but never answer them;
- "ignore_sigterm": true: keep running on SIGTERM (read at start).

With `--workers N` above 1 it starts N-1 idle worker processes in its own process group, as a
real server's workers would be, and writes their pids, one per line, to FILE + ".workers".
Stdlib only, so it starts in a few milliseconds.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

CONTRACT_VERSION = "1.0"


def control(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def handler(control_path: Path) -> type[BaseHTTPRequestHandler]:
    class Health(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            steer = control(control_path)
            if steer.get("hang"):
                time.sleep(3_600)  # alive, listening, never answering: hung
                return
            if self.path != "/healthz":
                self.send_error(404)
                return
            body = json.dumps(
                {
                    "status": "ok",
                    "version": steer.get("version", "fake-1"),
                    "contract_version": CONTRACT_VERSION,
                    # What the supervisor handed over, for its tests to check.
                    "proxy_url": os.environ.get("GATEHOUSE_RUNTIME_PROXY_URL"),
                    "trust_key_file": os.environ.get("GATEHOUSE_RUNTIME_TRUST_KEY_FILE"),
                }
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            pass  # the supervisor's tests read its status, not request lines

    return Health


def start_workers(count: int, control_path: Path) -> None:
    pids = [
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"]).pid
        for _ in range(count)
    ]
    Path(f"{control_path}.workers").write_text("".join(f"{pid}\n" for pid in pids))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--control", type=Path, required=True)
    args = parser.parse_args()

    steer = control(args.control)
    if "crash" in steer:
        sys.exit(int(steer["crash"]))
    if steer.get("ignore_sigterm"):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if "exit_after" in steer:
        code = int(steer.get("exit_code", 0))
        threading.Timer(float(steer["exit_after"]), os._exit, args=(code,)).start()
    if args.workers > 1:
        start_workers(args.workers - 1, args.control)
    server = ThreadingHTTPServer((args.host, args.port), handler(args.control))
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
