"""The README's generated parts stay in step with the code."""

from pathlib import Path

from controlplane.auth.scopes import role_table_markdown

README = (Path(__file__).parent.parent / "README.md").read_text()


def test_role_table_matches_the_code() -> None:
    assert role_table_markdown() in README


def test_quickstart_is_the_two_commands() -> None:
    quickstart = README.split("## Quickstart", 1)[1].split("```", 2)[1]
    commands = [line.split("#")[0].strip() for line in quickstart.splitlines()[1:] if line.strip()]
    assert commands == ["make run", "make test"]
