"""How the CLI speaks: rich tables for people, `--json` for scripts, one-line errors."""

import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

console = Console()
errors = Console(stderr=True)


def fail(message: str, code: int = 1) -> NoReturn:
    errors.print(f"[bold red]error:[/] {message}", highlight=False, markup=True)
    raise typer.Exit(code)


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def table(rows: Iterable[Mapping[str, Any]], columns: Sequence[str], title: str | None = None) -> None:
    view = Table(title=title, show_lines=False)
    for column in columns:
        view.add_column(column)
    for row in rows:
        view.add_row(*("" if row.get(c) is None else str(row.get(c)) for c in columns))
    console.print(view)


def show(data: Any, *, as_json: bool, columns: Sequence[str], title: str | None = None) -> None:
    """Print a record or a list of records either way."""
    if as_json:
        emit_json(data)
        return
    rows = data if isinstance(data, list) else [data]
    table(rows, columns, title)


def secret_once(label: str, secret: str) -> None:
    """An issued secret is shown exactly once; say so loudly, on stderr, away from the value."""
    errors.print(
        f"[bold yellow]Store this {label} now: it is shown once and cannot be recovered.[/]"
    )
    console.print(secret, highlight=False, soft_wrap=True)
