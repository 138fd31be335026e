"""A real webhook receiver on loopback: it checks every signature as a customer's would."""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from controlplane.kit.webhooks import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    SignatureError,
    verify,
)


@dataclass
class Received:
    event: str | None
    delivery: str | None
    body: bytes
    verified: bool


@dataclass
class Receiver:
    secret: bytes
    # Status codes to answer with, in order; once spent, 200.
    script: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    url: str = ""
    _arrived: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        with self._arrived:
            self._arrived.wait_for(lambda: len(self.received) >= count, timeout)
        return list(self.received)

    def record(self, headers: Any, body: bytes) -> int:
        try:
            verify(self.secret, body, headers.get(SIGNATURE_HEADER))
            verified = True
        except SignatureError:
            verified = False
        with self._arrived:
            self.received.append(
                Received(headers.get(EVENT_HEADER), headers.get(DELIVERY_HEADER), body, verified)
            )
            status = self.script.pop(0) if self.script else 200
            self._arrived.notify_all()
        return status if verified else 401


@contextmanager
def receiving(secret: bytes, script: list[int] | None = None) -> Iterator[Receiver]:
    receiver = Receiver(secret=secret, script=list(script or []))

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            self.send_response(receiver.record(self.headers, body))
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/audit"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
