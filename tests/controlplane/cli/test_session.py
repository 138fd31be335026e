"""`gatehouse login` saves a private session that later commands use; failures are one line."""

import json
import socket
import stat

from sqlalchemy.orm import Session

from controlplane.cli.client import SESSION_FILE
from controlplane.container import Container
from tests import factories
from tests.controlplane.cli.helpers import Cli, assert_one_line_error


def test_login_then_me_uses_the_saved_session(
    cli: Cli, session: Session, container: Container
) -> None:
    factories.tenant(session, container, "acme")
    session.commit()

    result = cli.ok(
        "login", "--username", "acme-owner", "--password-stdin", stdin=factories.PASSWORD + "\n"
    )
    assert result.stdout == ""
    assert "logged in as acme-owner, session saved" in result.stderr
    saved = cli.home / SESSION_FILE
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    access_token = json.loads(saved.read_text())["access_token"]
    assert access_token not in result.output
    assert factories.PASSWORD not in result.output

    me = json.loads(cli.ok("me", "--json").stdout)
    assert me["kind"] == "user"
    assert me["user"]["username"] == "acme-owner"
    assert [ws["name"] for ws in me["workspaces"]] == ["acme"]

    table = cli.ok("me")
    assert "acme-owner" in table.stdout
    assert access_token not in table.output


def test_relogin_replaces_the_session_and_narrows_its_mode(
    cli: Cli, session: Session, container: Container
) -> None:
    factories.tenant(session, container, "acme")
    session.commit()
    cli.home.mkdir(parents=True)
    stale = cli.home / SESSION_FILE
    stale.write_text("left over")
    stale.chmod(0o644)

    cli.login("acme-viewer")
    assert stat.S_IMODE(stale.stat().st_mode) == 0o600
    cli.login("acme-owner")
    assert json.loads(stale.read_text())["username"] == "acme-owner"
    assert json.loads(cli.ok("me", "--json").stdout)["user"]["username"] == "acme-owner"


def test_login_prompts_for_the_password(cli: Cli, session: Session, container: Container) -> None:
    factories.tenant(session, container, "acme")
    session.commit()
    result = cli.ok("login", "-u", "acme-owner", stdin=factories.PASSWORD + "\n")
    assert factories.PASSWORD not in result.output
    assert (cli.home / SESSION_FILE).exists()


def test_login_with_a_wrong_password(cli: Cli, session: Session, container: Container) -> None:
    factories.tenant(session, container, "acme")
    session.commit()
    result = cli("login", "--username", "acme-owner", "--password-stdin", stdin="nope\n")
    assert_one_line_error(result, "missing or invalid credentials (unauthenticated)")
    assert not (cli.home / SESSION_FILE).exists()


def test_session_is_only_sent_to_the_server_that_issued_it(
    cli: Cli, session: Session, container: Container
) -> None:
    factories.tenant(session, container, "acme")
    session.commit()
    cli.login("acme-owner")
    elsewhere = cli("me", env={"GATEHOUSE_URL": "http://127.0.0.1:9"})
    assert_one_line_error(elsewhere, "saved session is for", "run `gatehouse login`")


def test_env_token_takes_precedence_over_the_session(
    cli: Cli, session: Session, container: Container
) -> None:
    tenant = factories.tenant(session, container, "acme")
    session.commit()
    cli.login("acme-owner")
    me = json.loads(cli.ok("me", "--json", token=tenant.agent_token).stdout)
    assert me["kind"] == "token"
    assert me["token_accessor"] == tenant.agent_token_accessor


def test_bad_token_is_one_line(cli: Cli) -> None:
    result = cli("tokens", "list", token="gth_not-a-real-token")
    assert_one_line_error(result, "error: missing or invalid credentials (unauthenticated)")


def test_expired_or_foreign_session_hints_at_login(cli: Cli) -> None:
    cli.home.mkdir(parents=True)
    (cli.home / SESSION_FILE).write_text(
        json.dumps({"url": cli.url, "username": "x", "access_token": "a.b.c"})
    )
    result = cli("me")
    assert_one_line_error(result, "(unauthenticated)", "run `gatehouse login`")


def test_unreadable_session(offline_cli: Cli) -> None:
    offline_cli.home.mkdir(parents=True)
    (offline_cli.home / SESSION_FILE).write_text("{not json")
    assert_one_line_error(offline_cli("me"), "unreadable", "gatehouse login")


def test_missing_credential(offline_cli: Cli) -> None:
    result = offline_cli("agents", "list")
    assert_one_line_error(result, "no credential: set GATEHOUSE_TOKEN or run `gatehouse login`")


def test_unreachable_server(offline_cli: Cli) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    # Nothing listens on the port once the probe is closed.
    result = offline_cli("me", token="gth_whatever", env={"GATEHOUSE_URL": url})
    assert_one_line_error(result, f"cannot reach Gatehouse at {url}")


def test_not_an_http_url(offline_cli: Cli) -> None:
    result = offline_cli("me", token="gth_whatever", env={"GATEHOUSE_URL": "ftp://example"})
    assert_one_line_error(result, "GATEHOUSE_URL must be an http:// or https:// URL")


def test_long_errors_stay_on_one_line(cli: Cli, session: Session, container: Container) -> None:
    tenant = factories.tenant(session, container, "acme")
    _, operator = factories.token(
        session, container, tenant.workspace, tenant.owner, ["proxy:invoke", "tokens:write"]
    )
    session.commit()
    # A narrow console must not wrap the message, and the API's detail is never read as markup.
    result = cli(
        "tokens",
        "issue",
        "-s",
        "proxy:invoke",
        "--cidr",
        "[bold]nowhere",
        token=operator,
        env={"COLUMNS": "40"},
    )
    assert_one_line_error(result, "[bold]nowhere", "(validation_error)")
