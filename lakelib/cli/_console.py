"""Shared console objects: human output to stderr-safe rich consoles, data to stdout.

Output that is not a terminal (a pipe, a cron log, papermill, CI) is never cut to 80
columns: the consoles then lay tables out as wide as their content needs.
"""

from __future__ import annotations

import csv
import json
import math
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

import typer
from rich.console import Console, ConsoleDimensions
from rich.table import Table

# Wide enough that no table or line is folded; rich sizes tables to their content, so
# nothing is padded to this width.
PIPE_WIDTH = 10_000

FORMATS = ("table", "csv", "json")


class _PipeFriendlyConsole(Console):
    """A rich Console that is as wide as its content when writing to a non-terminal.

    rich falls back to 80 columns when its file is not a terminal (or to the width of
    whatever terminal stdin is), which truncates names in piped output (``customer…``).
    ``COLUMNS`` still wins when set.
    """

    @property
    def size(self) -> ConsoleDimensions:
        dims: ConsoleDimensions = Console.size.fget(self)  # type: ignore[attr-defined]
        if self._width is None and not self.is_terminal and "COLUMNS" not in os.environ:
            return ConsoleDimensions(PIPE_WIDTH, dims.height)
        return dims

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        Console.size.fset(self, new_size)  # type: ignore[attr-defined]


# Tables and summaries go to stdout; progress and errors go to stderr so that
# `--format csv|json` output on stdout stays machine-readable.
out: Console = _PipeFriendlyConsole(highlight=False, soft_wrap=True)
err: Console = _PipeFriendlyConsole(stderr=True, highlight=False, soft_wrap=True)

OutputFormat = Annotated[
    str,
    typer.Option(
        "--format",
        "-f",
        help="Output: table | csv | json (csv and json: the data on stdout, nothing else).",
    ),
]


def check_format(fmt: str, allowed: Sequence[str] = FORMATS) -> str:
    """``fmt`` if it is one of ``allowed``, else a usage error (exit 2) naming them."""
    if fmt not in allowed:
        raise typer.BadParameter(f"use one of: {', '.join(allowed)}", param_hint="--format")
    return fmt


def _plain(value: Any) -> Any:
    """JSON-safe: NaN and infinities (not JSON) become null, numpy scalars Python ones."""
    if type(value).__module__ == "numpy" and hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def emit_json(data: Any) -> None:
    """``data`` as indented JSON on stdout: plain text, never wrapped or colored."""
    sys.stdout.write(json.dumps(_plain(data), indent=2, default=str) + "\n")
    sys.stdout.flush()


def emit_csv(rows: Sequence[Mapping[Any, Any]], columns: Sequence[str]) -> None:
    """``rows`` as CSV with a header line on stdout; ``None`` is an empty field."""
    writer = csv.DictWriter(sys.stdout, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: "" if row.get(c) is None else row.get(c) for c in columns})
    sys.stdout.flush()


def emit_rows(
    rows: Sequence[Mapping[Any, Any]],
    columns: Sequence[str],
    fmt: str,
    *,
    table: Table | None = None,
) -> bool:
    """Print ``rows`` as JSON or CSV when ``fmt`` asks for it; ``False`` for the table view.

    ``table`` (already filled) is printed for ``fmt == "table"`` when given.
    """
    if fmt == "json":
        emit_json([{c: row.get(c) for c in columns} for row in rows])
        return True
    if fmt == "csv":
        emit_csv(rows, columns)
        return True
    if table is not None:
        out.print(table)
    return False


def human_bytes(size: float) -> str:
    """``1536`` -> ``'1.5 KiB'``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")
