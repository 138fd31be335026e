"""Plumbing shared by the commands that talk to a running Gatehouse over HTTP.

Where the server is (`GATEHOUSE_URL`), which credential to send (`GATEHOUSE_TOKEN`, else the
session `gatehouse login` saved), how API errors and transport failures become one line on
stderr, cursor pagination, and resolving workspace and agent names to ids. Command modules
(`account`, `identity`, `tokens`, `audit`) call `connect()` and never touch httpx themselves.
"""

import ipaddress
import json
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn
from urllib.parse import quote

import httpx
import typer
from pydantic import ValidationError

from controlplane.cli.output import fail, table, warn
from controlplane.config import get_settings

DEFAULT_URL = "http://127.0.0.1:8080"
SESSION_FILE = "cli-session"
DEFAULT_WORKSPACE = "default"
PAGE_SIZE = 500  # the API's maximum page size: fewest round trips when fetching everything
TIMEOUT_SECONDS = 30.0
NO_CREDENTIAL = "no credential: set GATEHOUSE_TOKEN or run `gatehouse login`"

Json = dict[str, Any]

JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
WorkspaceOption = Annotated[
    str | None,
    typer.Option(
        "--workspace",
        "-w",
        envvar="GATEHOUSE_WORKSPACE",
        help="Workspace id or name. Default: the workspace named `default`, else the only one "
        "visible to the credential.",
        show_default=False,
    ),
]
LimitOption = Annotated[
    int | None,
    typer.Option("--limit", min=1, help="Fetch at most this many (default: all, page by page)."),
]


def segment(value: str) -> str:
    """A user-typed value as one URL path segment: `a/../b` must not reach another route."""
    return quote(value, safe="")


def read_stdin_line(what: str) -> str:
    """The first line of stdin, for `--password-stdin`; the newline is not part of it."""
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        fail(f"expected the {what} on stdin, got nothing")
    return line


# --- where, and as whom -------------------------------------------------------------------


def base_url() -> str:
    url = (os.environ.get("GATEHOUSE_URL") or DEFAULT_URL).strip().rstrip("/")
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        fail(f"GATEHOUSE_URL is not a valid URL: {url}")
    if parsed.scheme not in ("http", "https") or not parsed.host:
        fail(f"GATEHOUSE_URL must be an http:// or https:// URL, got {url}")
    return url


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def home() -> Path:
    # The environment first, read on every call: get_settings() is cached for the process, and
    # in-process runs (the tests) change GATEHOUSE_HOME between invocations. The settings then
    # add what `gatehouse serve` would also see: a `.env` file, and the default.
    configured = os.environ.get("GATEHOUSE_HOME")
    if configured:
        return Path(configured)
    try:
        return get_settings().home
    except ValidationError as error:
        problem = error.errors()[0]
        fail(f"invalid setting {'.'.join(map(str, problem['loc']))}: {problem['msg']}")


def session_path() -> Path:
    return home() / SESSION_FILE


def save_session(url: str, username: str, access_token: str) -> Path:
    """Write the login session to `$GATEHOUSE_HOME/cli-session`, readable by its owner only.

    Like `kit.keyfiles.write_private_file`, but a re-login replaces the file: O_TRUNC instead
    of O_EXCL, and fchmod narrows a file that was created wider by something else.
    """
    path = session_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        os.fchmod(handle.fileno(), 0o600)
        json.dump({"url": url, "username": username, "access_token": access_token}, handle)
    return path


def credential(url: str) -> tuple[str, bool]:
    """The credential to send and whether it came from the saved session."""
    token = os.environ.get("GATEHOUSE_TOKEN", "").strip()
    if token:
        return token, False
    path = session_path()
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        token, saved_url = saved["access_token"], saved["url"]
    except FileNotFoundError:
        fail(NO_CREDENTIAL)
    except OSError as error:
        fail(f"cannot read the saved session {path}: {error.strerror}")
    except (ValueError, KeyError, TypeError):
        fail(f"the saved session {path} is unreadable; run `gatehouse login` again")
    if saved_url != url:
        # A session is only ever sent to the server that issued it.
        fail(
            f"the saved session is for {saved_url}, not {url}; run `gatehouse login` "
            "or set GATEHOUSE_TOKEN"
        )
    return str(token), True


# --- talking to the API -------------------------------------------------------------------


class Api:
    """An httpx client that turns every failure into `fail()` and every success into JSON."""

    def __init__(self, http: httpx.Client, url: str, *, from_session: bool) -> None:
        self._http = http
        self.url = url
        self._from_session = from_session

    def call(
        self,
        method: str,
        path: str,
        *,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> Any:
        query = {key: value for key, value in (params or {}).items() if value is not None}
        try:
            response = self._http.request(method, path, json=body, params=query)
        except httpx.TimeoutException:
            fail(f"Gatehouse at {self.url} did not answer within {TIMEOUT_SECONDS:g}s")
        except httpx.HTTPError as error:
            fail(f"cannot reach Gatehouse at {self.url}: {str(error) or type(error).__name__}")
        if not response.is_success:
            self._refuse(response)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            fail(f"unexpected non-JSON reply from {self.url}{path} (HTTP {response.status_code})")

    def _refuse(self, response: httpx.Response) -> NoReturn:
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and "error" in body:
            message = f"{body.get('detail') or body['error']} ({body['error']})"
        else:
            message = f"HTTP {response.status_code} from {self.url}{response.request.url.path}"
        if response.status_code == 401 and self._from_session:
            message += "; the saved session may have expired: run `gatehouse login`"
        fail(message)

    def get(self, path: str, **params: Any) -> Any:
        return self.call("GET", path, params=params)

    def post(self, path: str, body: Mapping[str, Any] | None = None) -> Any:
        return self.call("POST", path, body=body)

    def put(self, path: str, body: Mapping[str, Any]) -> Any:
        return self.call("PUT", path, body=body)

    def patch(self, path: str, body: Mapping[str, Any]) -> Any:
        return self.call("PATCH", path, body=body)

    def delete(self, path: str) -> Any:
        return self.call("DELETE", path)

    def pages(self, path: str, *, limit: int | None = None, **params: Any) -> Iterator[Json]:
        """Every item of a paginated list, following `next_cursor`; at most `limit` if given."""
        remaining = limit
        cursor: str | None = None
        while True:
            size = PAGE_SIZE if remaining is None else min(remaining, PAGE_SIZE)
            page = self.get(path, **params, limit=size, cursor=cursor)
            items: list[Json] = page["items"]
            yield from items
            if remaining is not None:
                remaining -= len(items)
                if remaining <= 0:
                    return
            cursor = page.get("next_cursor")
            if not cursor:
                return


@contextmanager
def connect(*, authenticated: bool = True) -> Iterator[Api]:
    url = base_url()
    host = httpx.URL(url).host
    headers = {"Accept": "application/json", "User-Agent": "gatehouse-cli"}
    from_session = False
    if authenticated:
        token, from_session = credential(url)
        headers["Authorization"] = f"Bearer {token}"
    if url.startswith("http://") and not _is_loopback(host):
        warn(f"{url} is plain http: credentials cross the network unencrypted")
    with httpx.Client(base_url=url, headers=headers, timeout=TIMEOUT_SECONDS) as http:
        yield Api(http, url, from_session=from_session)


# --- names to ids -------------------------------------------------------------------------


def resolve_workspace(api: Api, given: str | None) -> str:
    """A workspace id from an id or a name; with none given, `default` or the only one."""
    visible: list[Json] = api.get("/v1/workspaces")
    if given:
        for key in ("id", "name"):
            for workspace in visible:
                if workspace[key] == given:
                    return str(workspace["id"])
        fail(f"workspace {given} not found (or not visible to this credential)")
    for workspace in visible:
        if workspace["name"] == DEFAULT_WORKSPACE:
            return str(workspace["id"])
    if len(visible) == 1:
        return str(visible[0]["id"])
    if not visible:
        fail("this credential sees no workspace")
    names = ", ".join(sorted(str(workspace["name"]) for workspace in visible))
    fail(
        f"several workspaces are visible ({names}); choose one with --workspace or "
        "GATEHOUSE_WORKSPACE"
    )


def find(
    items: Sequence[Json], given: str, kind: str, *, keys: Sequence[str] = ("id", "name")
) -> Json:
    """The item whose id, else whose name, is `given` (an id always wins over a name)."""
    for key in keys:
        for item in items:
            if item.get(key) == given:
                return item
    fail(f"{kind} {given} not found")


def resolve_agent(api: Api, workspace_id: str, given: str) -> Json:
    agents = list(api.pages(f"/v1/workspaces/{workspace_id}/agents"))
    return find(agents, given, "agent")


# --- shaping output -----------------------------------------------------------------------


def cell(value: Any) -> Any:
    """A value as a table shows it: lists comma-joined, mappings as JSON."""
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return value


def cells(record: Json) -> Json:
    return {key: cell(value) for key, value in record.items()}


def record_table(record: Json, fields: Sequence[str] | None = None) -> None:
    """One record as a two-column field/value table."""
    rows = [{"field": key, "value": cell(record.get(key))} for key in fields or list(record)]
    table(rows, ["field", "value"])
