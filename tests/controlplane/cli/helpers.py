"""Helpers for CLI tests: invoke `gatehouse` in-process, check the one-line error contract."""

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from typer.testing import CliRunner, Result

from controlplane.cli.main import app as cli_app
from tests import factories


@dataclass
class Cli:
    url: str
    home: Path

    def __call__(
        self,
        *args: str,
        token: str | None = None,
        stdin: str | None = None,
        env: Mapping[str, str | None] | None = None,
    ) -> Result:
        environment: dict[str, str | None] = {
            "GATEHOUSE_URL": self.url,
            "GATEHOUSE_HOME": str(self.home),
            "GATEHOUSE_TOKEN": token,
            "GATEHOUSE_WORKSPACE": None,
            "GATEHOUSE_CURRENT_PASSWORD": None,
            # Wide enough that rich tables keep ids on one line.
            "COLUMNS": "250",
        }
        environment.update(env or {})
        return CliRunner().invoke(cli_app, list(args), input=stdin, env=environment)

    def ok(
        self,
        *args: str,
        token: str | None = None,
        stdin: str | None = None,
        env: Mapping[str, str | None] | None = None,
    ) -> Result:
        """Invoke and insist on success."""
        result = self(*args, token=token, stdin=stdin, env=env)
        assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
        return result

    def login(self, username: str, password: str = factories.PASSWORD) -> None:
        self.ok("login", "--username", username, "--password-stdin", stdin=password + "\n")


def assert_one_line_error(result: Result, *fragments: str) -> None:
    """Exit 1, nothing on stdout, exactly one `error: …` line on stderr, no traceback."""
    assert result.exit_code == 1, (result.stdout, result.stderr, result.exception)
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
