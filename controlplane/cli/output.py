"""How the CLI speaks: rich tables for people, `--json` for scripts, one-line errors."""

import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Any, NoReturn, TextIO

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

console = Console()
errors = Console(stderr=True)


def fail(message: str, code: int = 1) -> NoReturn:
    """`error: <message>` on stderr as one line, verbatim (no wrapping, no markup), then exit."""
    errors.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True, highlight=False)
    raise typer.Exit(code)


def warn(message: str) -> None:
    errors.print(f"[yellow]warning:[/] {escape(message)}", soft_wrap=True, highlight=False)


def note(message: str) -> None:
    """A one-line message for people, on stderr so stdout stays parseable."""
    errors.print(escape(message), soft_wrap=True, highlight=False)


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def table(
    rows: Iterable[Mapping[str, Any]],
    columns: Sequence[str],
    title: str | None = None,
    *,
    to: Console = console,
) -> None:
    view = Table(title=title, show_lines=False)
    for column in columns:
        # Ids and accessors are copied into other commands: never cut them with an ellipsis.
        view.add_column(column, overflow="fold")
    for row in rows:
        view.add_row(*("" if row.get(c) is None else str(row.get(c)) for c in columns))
    to.print(view)


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


class ExportFormat(StrEnum):
    JSONL = "jsonl"
    CSV = "csv"


def write_atomically(target: Path, write: Callable[[TextIO], int]) -> int:
    """`write` into a 0600 temporary file beside `target`, renamed over it only once whole: an
    export that fails leaves no partial file, and exports name people and token accessors."""
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            count = write(out)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return count


@contextmanager
def progress(label: str, *, show: bool) -> Iterator[Callable[[int, int], None] | None]:
    """A transient progress bar on stderr for people at a terminal; nothing for scripts.

    Yields the `(done, total)` callback long jobs report through, or None when hidden.
    """
    if not show:
        yield None
        return
    columns = ("{task.description}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=errors, transient=True) as bar:
        task = bar.add_task(label, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)
