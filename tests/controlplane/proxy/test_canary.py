"""A canary secret sent to the proxy appears nowhere: not in the logs, the database, the spool,
the exports or the Sentry events.

Each case puts one fresh canary in one place of the request (the credential itself, another
header, a secret-named query parameter) and sends it down every path of the proxy: allowed and
streamed, allowed and not streamed, refused (401 and a 403 from policy), an unreachable
upstream (502) and an unexpected server error (500, which reaches Sentry). Then every sink is
read back whole and searched, and each is checked to hold what it should (the request ids, the
harmless parameter), so that no check passes on an empty sink.

The requests go to a server configured as `gatehouse serve` runs it (uvicorn's own logging
config, access log on), not the session's quiet test server, so uvicorn's loggers are sinks too.
"""

import csv
import io
import logging
import secrets
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import uvicorn
from _pytest.mark.structures import ParameterSet
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.types import Receive, Scope, Send
from uvicorn.logging import AccessFormatter

from controlplane.access_log import service
from controlplane.app import create_app
from controlplane.cli.access_log import ExportFormat, _write
from controlplane.container import Container
from controlplane.db import Base
from controlplane.observability import RedactingFilter, redact_server_logs
from controlplane.tokens.format import generate_token
from tests.controlplane.proxy.conftest import ANTHROPIC_KEY, OPENAI_KEY, Proxied
from tests.controlplane.test_observability import CapturingTransport
from tests.fakes.providers import FakeProvider
from tests.live import ServerThread

CHAT = {"model": "gpt-fake", "messages": [{"role": "user", "content": "hi"}]}
HARMLESS = "note=kept-parameter"
# The format `configure_logging` installs on the root handler, with `RedactingFilter`.
APP_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")
# The test's own HTTP client logs the URLs it calls; the server never uses httpx.
CLIENT_LOGGERS = ("httpx", "httpcore")


# --- the servers ------------------------------------------------------------------------------


class ServedAsInProduction(ServerThread):
    """The app on loopback with uvicorn configured as `gatehouse serve` configures it (its
    default logging config, access log on), at debug level so every record is seen."""

    def __init__(self, app: FastAPI) -> None:
        super().__init__(app)
        config = uvicorn.Config(
            app,
            log_level="debug",
            lifespan="auto",
            proxy_headers=False,
            server_header=False,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    @property
    def thread_name(self) -> str:
        return self._thread.name


async def garbage_upstream(scope: Scope, receive: Receive, send: Send) -> None:
    """Answers with a header value no HTTP/1.1 proxy can pass on as latin-1: the proxy fails
    with an error of its own, not a GatehouseError, after the request was spooled."""
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"x-garbage", "☃".encode())],
        }
    )
    await send({"type": "http.response.body", "body": b"{}"})


@pytest.fixture(scope="module")
def public_app(base_container: Container) -> Iterator[tuple[FastAPI, str]]:
    # uvicorn's logging config is process-wide: put back what the other tests' servers set.
    loggers = [logging.getLogger(name) for name in UVICORN_LOGGERS]
    saved = [(logger.handlers[:], logger.propagate, logger.level) for logger in loggers]
    app = create_app(base_container, background=False)
    redact_server_logs()  # as `gatehouse serve` does, through `configure_logging`
    try:
        with ServedAsInProduction(app) as thread:
            app.state.server_thread_name = thread.thread_name
            yield app, thread.url
    finally:
        for logger, (handlers, propagate, level) in zip(loggers, saved, strict=True):
            logger.handlers, logger.propagate = handlers, propagate
            logger.setLevel(level)


@pytest.fixture(scope="module")
def garbage_url() -> Iterator[str]:
    with ServerThread(garbage_upstream) as thread:
        yield thread.url


# --- the sinks --------------------------------------------------------------------------------


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _reaches_root(name: str) -> bool:
    logger: logging.Logger | None = logging.getLogger(name)
    while logger is not None and logger.parent is not None:
        if not logger.propagate:
            return False
        logger = logger.parent
    return True


def render(record: logging.LogRecord) -> str:
    """The line as production writes it: through the root handler's redaction and format when
    the record propagates there, else (uvicorn's own handlers) as it is."""
    copy = logging.makeLogRecord(record.__dict__)
    if _reaches_root(record.name):
        RedactingFilter().filter(copy)
    if record.name == "uvicorn.access":
        # uvicorn's own access formatter reads the record's arguments: it must still work.
        AccessFormatter().format(logging.makeLogRecord(copy.__dict__))
    formatter = logging.Formatter(APP_FORMAT)
    return formatter.format(copy) + (copy.stack_info or "")


@pytest.fixture
def log_records() -> Iterator[list[logging.LogRecord]]:
    """Every record at DEBUG and above, from every logger, uvicorn's non-propagating ones too.
    Its own handler (not caplog's) so it holds the record exactly as emitted."""
    handler = Records()
    root = logging.getLogger()
    saved = {name: logging.getLogger(name).level for name in ("", *UVICORN_LOGGERS)}
    root.addHandler(handler)
    for name in ("uvicorn", "uvicorn.access"):  # they do not propagate: attach there too
        logging.getLogger(name).addHandler(handler)
    for name in saved:
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        yield handler.records
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)
            logging.getLogger(name).removeHandler(handler)


def database_dump(session: Session) -> str:
    session.expire_all()
    rows = [
        f"{table.name}: {row!r}"
        for table in Base.metadata.sorted_tables
        for row in session.execute(select(table)).all()
    ]
    return "\n".join(rows)


def spool_dump(directory: Path) -> str:
    files = sorted(path for path in directory.rglob("*") if path.is_file())
    return "\n".join(path.read_bytes().decode("utf-8", "replace") for path in files)


def export_dump(session: Session, fmt: ExportFormat) -> str:
    """What `gatehouse access-log export --format <fmt>` writes: the command's own writer over
    the command's own query, on this test's database."""
    out = io.StringIO()
    _write(service.export(session, since=None, until=None), out, fmt)
    return out.getvalue()


# --- the requests -----------------------------------------------------------------------------


@dataclass
class Request:
    """Where the canary goes. When the placement carries the Gatehouse credential itself,
    no other credential is sent."""

    headers: dict[str, str] = field(default_factory=dict)
    query: str = ""
    is_credential: bool = False


Placement = Callable[[str], Request]
CanaryMaker = Callable[[Proxied], str]


def in_authorization(canary: str) -> Request:
    return Request(headers={"Authorization": f"Bearer {canary}"}, is_credential=True)


def in_x_api_key(canary: str) -> Request:
    # A Gatehouse credential too (older Anthropic SDKs), read when no Authorization is sent.
    return Request(headers={"x-api-key": canary}, is_credential=True)


def in_custom_header(canary: str) -> Request:
    return Request(headers={"x-canary": canary})


def in_query(name: str) -> Placement:
    def placement(canary: str) -> Request:
        return Request(query=f"{name}={canary}")

    return placement


def agent_token(proxied: Proxied) -> str:
    """The agent's own, valid, token: the secret the proxy must never record."""
    return proxied.agent_token


def gth_canary(_proxied: Proxied) -> str:
    return generate_token()


def provider_canary(_proxied: Proxied) -> str:
    return f"sk-proj-{secrets.token_urlsafe(32)}"


def opaque_canary(_proxied: Proxied) -> str:
    """No recognisable shape: only the parameter's name can tell that it is a secret."""
    return f"canary{secrets.token_hex(16)}"


@dataclass
class Sent:
    label: str
    request_id: str
    status: int


@dataclass
class Exercise:
    public: tuple[FastAPI, str]
    proxied: Proxied
    client: httpx.Client
    session_factory: sessionmaker[Session]
    sent: list[Sent] = field(default_factory=list)
    containers: list[Container] = field(default_factory=list)

    def rebind(self, **settings: object) -> None:
        """A fresh container for the public app; each has a spool run directory of its own."""
        app = self.public[0]
        app.state.container = app.state.container.rebind(self.session_factory, **settings)
        self.containers.append(app.state.container)

    def send(self, label: str, request: Request, credential: str, *, stream: bool = False) -> int:
        headers = {"x-request-id": f"canary-{label}-{secrets.token_hex(6)}"}
        if not request.is_credential:
            headers["Authorization"] = f"Bearer {credential}"
        headers.update(request.headers)
        query = "&".join(part for part in (request.query, HARMLESS) if part)
        url = f"{self.public[1]}/proxy/openai/v1/chat/completions?{query}"
        response = httpx.post(url, json={**CHAT, "stream": stream}, headers=headers, timeout=30)
        self.sent.append(Sent(label, headers["x-request-id"], response.status_code))
        return response.status_code

    def set_policy(self, rules: dict[str, object]) -> None:
        workspace = self.proxied.tenant.workspace.id
        response = self.client.put(
            f"/v1/workspaces/{workspace}/policy", json=rules, headers=self.proxied.owner_headers
        )
        assert response.status_code == 200, response.text


@pytest.fixture
def exercise(
    public_app: tuple[FastAPI, str],
    app: FastAPI,
    proxied: Proxied,
    client: httpx.Client,
    session_factory: sessionmaker[Session],
) -> Exercise:
    """The production-like app, serving this test's database and provider."""
    public_app[0].state.container = app.state.container
    run = Exercise(public_app, proxied, client, session_factory)
    run.rebind()
    return run


def run_every_path(run: Exercise, placement: Placement, canary: str, garbage_url: str) -> str:
    """Every path of the proxy, with the canary in its place. Returns the refused token sent
    on the 401 path (a secret too)."""
    agent = run.proxied.agent_token
    request = placement(canary)
    refused_token = generate_token()
    if request.is_credential and canary != agent:
        # The canary is a credential Gatehouse does not know: refused, whatever the path.
        assert run.send("unknown-credential", request, agent) == 401
        assert run.send("unknown-credential-stream", request, agent, stream=True) == 401
        return refused_token
    refused = placement(refused_token) if request.is_credential else request
    assert run.send("stream", request, agent, stream=True) == 200
    assert run.send("plain", request, agent) == 200
    assert run.send("refused-token", refused, refused_token) == 401
    run.rebind(upstream_openai_url="http://127.0.0.1:9")  # nothing listens on the discard port
    assert run.send("unreachable", request, agent) == 502
    run.rebind(upstream_openai_url=garbage_url)
    assert run.send("server-error", request, agent) == 500
    run.set_policy({"upstreams": ["anthropic"]})
    assert run.send("policy", request, agent) == 403
    return refused_token


# --- the cases --------------------------------------------------------------------------------


def case(placement: Placement, make: CanaryMaker, case_id: str) -> ParameterSet:
    return pytest.param(placement, make, id=case_id)


def _query_cases() -> Iterator[ParameterSet]:
    """Each name with an opaque value (only the name can redact it) and with one shaped value
    (the value's shape redacts it), the shapes taken in turn."""
    shaped = [(gth_canary, "gth"), (provider_canary, "sk")]
    for number, name in enumerate(("api_key", "token", "key", "access_token", "signature")):
        make, shape = shaped[number % 2]
        yield case(in_query(name), make, f"query-{name}-{shape}")
        yield case(in_query(name), opaque_canary, f"query-{name}-opaque")
    for name in ("pass", "bearer", "hmac", "cookie", "code", "otp", "ticket", "client_assertion"):
        yield case(in_query(name), opaque_canary, f"query-{name}-opaque")


CASES = [
    # The agent's own token is the canary: allowed on every path but the refused one.
    case(in_authorization, agent_token, "authorization-agent-token"),
    case(in_x_api_key, agent_token, "x-api-key-agent-token"),
    # A credential Gatehouse does not know.
    case(in_authorization, gth_canary, "authorization-unknown-gth"),
    case(in_authorization, provider_canary, "authorization-sk"),
    case(in_x_api_key, provider_canary, "x-api-key-sk"),
    # Beside a valid credential.
    case(in_custom_header, gth_canary, "x-canary-gth"),
    case(in_custom_header, provider_canary, "x-canary-sk"),
    *_query_cases(),
]


@pytest.mark.parametrize(("placement", "make_canary"), CASES)
def test_a_canary_reaches_no_sink(
    exercise: Exercise,
    session: Session,
    log_records: list[logging.LogRecord],
    sentry: CapturingTransport,
    fake: FakeProvider,
    garbage_url: str,
    placement: Placement,
    make_canary: CanaryMaker,
) -> None:
    run = exercise
    canary = make_canary(run.proxied)
    refused_token = run_every_path(run, placement, canary, garbage_url)
    # Never in any sink, whatever the case: the tokens sent and the provider keys.
    secret_values = {
        "canary": canary,
        "agent token": run.proxied.agent_token,
        "refused token": refused_token,
        "OpenAI key": OPENAI_KEY,
        "Anthropic key": ANTHROPIC_KEY,
    }

    # Before flushing: the whole spool under the shared home, for leaks.
    spool = spool_dump(run.containers[0].settings.home / "spool")
    own_spool = "\n".join(
        spool_dump(container.spool.run_directory)
        for container in run.containers
        if container.spool.run_directory is not None
    )
    for container in run.containers:
        container.flusher.flush()
    # The server's records: uvicorn's from the public server's thread only (the fake upstreams
    # are uvicorn servers too, and forwarding the query to the provider is the proxy's job);
    # the test client's own loggers are not the server's.
    server_thread = run.public[0].state.server_thread_name
    server_records = [
        record
        for record in log_records
        if record.name.split(".")[0] not in CLIENT_LOGGERS
        and (not record.name.startswith("uvicorn") or record.threadName == server_thread)
    ]
    access = [record for record in server_records if record.name == "uvicorn.access"]
    others = [record for record in server_records if record.name != "uvicorn.access"]
    exports = {f"{fmt} export": export_dump(session, fmt) for fmt in ExportFormat}
    sinks = {
        "spool": spool,
        "database": database_dump(session),
        **exports,
        "app logs": "\n".join(render(record) for record in others),
        "access log": "\n".join(render(record) for record in access),
        "sentry": sentry.serialized(),
    }

    # Positive controls: each sink holds this test's requests, so no check below is vacuous.
    request_ids = [sent.request_id for sent in run.sent]
    for name, text in {**exports, "spool": own_spool, "database": sinks["database"]}.items():
        missing = [request_id for request_id in request_ids if request_id not in text]
        assert not missing, f"{name} lacks requests {missing}"
        assert HARMLESS in text  # the path is recorded, with its harmless parameter
    exported = list(csv.DictReader(io.StringIO(exports["csv export"])))
    assert {row["request_id"] for row in exported} >= set(request_ids)
    assert len(access) == len(request_ids)
    assert all(HARMLESS in render(record) for record in access)
    if "server-error" in {sent.label for sent in run.sent}:
        assert any(r.name == "uvicorn.error" and r.exc_info for r in others)
        assert "unhandled UnicodeEncodeError on /proxy/openai" in sinks["app logs"]
        assert sentry.envelopes, "the unexpected error reached no Sentry event"
        assert "UnicodeEncodeError" in sinks["sentry"]
        assert "canary-server-error-" in sinks["sentry"]  # the event has the request's id

    leaks = {
        sink: [what for what, value in secret_values.items() if value in text]
        for sink, text in sinks.items()
    }
    leaks = {sink: found for sink, found in leaks.items() if found}
    assert not leaks, f"secrets leaked: {leaks} (requests: {run.sent})"
