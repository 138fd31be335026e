"""Plain-text tables for the benchmarks' reports: the first column left, the rest right."""

from collections.abc import Sequence
from typing import TextIO


def print_table(header: Sequence[str], rows: Sequence[Sequence[str]], out: TextIO) -> None:
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        first, *rest = cells
        parts = [first.ljust(widths[0])]
        parts += [cell.rjust(width) for cell, width in zip(rest, widths[1:], strict=True)]
        return "  ".join(parts).rstrip()

    print(line(header), file=out)
    print(line(["-" * width for width in widths]), file=out)
    for row in rows:
        print(line(row), file=out)
    print(file=out)
