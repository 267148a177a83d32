"""``lake query``: Trino (Athena) SQL on the lake; ``--history`` lists recent queries."""

from __future__ import annotations

import contextlib
import datetime as dt
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from lakelib.cli._app import app
from lakelib.cli._console import emit_rows, err, human_bytes, out
from lakelib.errors import QueryError

FORMATS = ("table", "csv", "json")
# Rows the table view prints by default: a terminal is no place for a whole result, which
# is in its CSV (named under the table) and in --format csv.
TABLE_ROWS = 100


def parameter_value(text: str) -> Any:
    """An Athena-style ``--param`` literal as a value: ``'a'`` text, ``5`` / ``1.5`` numbers,
    ``true``/``false``, ``NULL``, ``DATE '2024-01-02'``, ``TIMESTAMP '...'``.

    Bare words stay text, so ``--param 2026`` and ``--param "'2026'"`` both bind ``'2026'``
    only when quoted; a bare number binds a number, as in Athena.
    """
    value = text.strip()
    upper = value.upper()
    if len(value) >= 2 and value[0] == value[-1] == "'":
        return value[1:-1].replace("''", "'")
    for prefix, parse in (
        ("DATE ", dt.date.fromisoformat),
        ("TIMESTAMP ", dt.datetime.fromisoformat),
    ):
        if upper.startswith(prefix):
            inner = value[len(prefix) :].strip()
            if len(inner) >= 2 and inner[0] == inner[-1] == "'":
                try:
                    return parse(inner[1:-1])
                except ValueError as exc:
                    raise QueryError(f"bad {prefix.strip()} parameter {text!r}: {exc}") from exc
    if upper == "NULL":
        return None
    if upper in {"TRUE", "FALSE"}:
        return upper == "TRUE"
    try:
        return int(value)
    except ValueError:
        pass
    try:
        return Decimal(value) if "e" not in value.lower() else float(value)
    except (InvalidOperation, ValueError):
        return value


_HISTORY_COLUMNS = (
    "submitted_at",
    "query_id",
    "workgroup",
    "engine",
    "state",
    "state_reason",
    "total_ms",
    "bytes_scanned",
    "cost_usd",
    "rows",
    "output_location",
    "sql",
)


def _print_history(limit: int, workgroup: str | None, fmt: str = "table") -> None:
    from dataclasses import asdict

    from lakelib.query import query_history

    records = query_history(limit, workgroup=workgroup)
    if emit_rows([asdict(rec) for rec in records], _HISTORY_COLUMNS, fmt):
        return
    table = Table(title="recent queries", title_justify="left")
    for column in ("submitted", "id", "workgroup", "state", "time", "scanned", "cost", "sql"):
        table.add_column(column, overflow="fold")
    for rec in records:
        table.add_row(
            rec.submitted_at[:19].replace("T", " "),
            rec.query_id[:8],
            rec.workgroup,
            rec.state,
            f"{rec.total_ms:.0f} ms",
            human_bytes(rec.bytes_scanned),
            f"${rec.cost_usd:.6f}",
            " ".join(rec.sql.split())[:80]
            + (f"  ({rec.state_reason})" if rec.state_reason else ""),
        )
    out.print(table)


@app.command("query")
def query_command(
    sql: Annotated[
        str | None,
        typer.Argument(
            help="Trino (Athena) SQL, e.g. \"SELECT count(*) FROM sales_clean WHERE day = '05'\".",
            show_default=False,
        ),
    ] = None,
    workgroup: Annotated[
        str, typer.Option("--workgroup", "-w", help="Athena workgroup (lake.toml [workgroups]).")
    ] = "primary",
    fmt: Annotated[
        str, typer.Option("--format", "-f", help=f"Output: {' | '.join(FORMATS)}.")
    ] = "table",
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Write the result here instead of stdout.", show_default=False
        ),
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            "-p",
            help="Value for the next ? placeholder, as an Athena "
            "literal: 'text', 5, DATE '2024-01-02'. Repeat in order.",
            show_default=False,
        ),
    ] = None,
    database: Annotated[
        str | None,
        typer.Option(help="Catalog database (default from settings).", show_default=False),
    ] = None,
    explain: Annotated[
        bool, typer.Option("--explain", help="Show partitions, files, bytes and price; do not run.")
    ] = False,
    history: Annotated[
        bool, typer.Option("--history", help="List recent queries (--format csv|json too).")
    ] = False,
    limit: Annotated[int, typer.Option(min=1, help="How many --history entries.")] = 20,
    max_rows: Annotated[
        int,
        typer.Option(
            "--max-rows",
            min=1,
            help="Rows the table view prints (the full result is in its CSV and --format csv).",
        ),
    ] = TABLE_ROWS,
) -> None:
    """Run Trino SQL on the lake (DuckDB locally, Athena on AWS)."""
    if fmt not in FORMATS:
        raise typer.BadParameter(f"use one of: {', '.join(FORMATS)}", param_hint="--format")
    if history:
        _print_history(limit, workgroup if workgroup != "primary" else None, fmt)
        return
    if not sql:
        raise typer.BadParameter("give a SQL query (or --history)", param_hint="SQL")
    from lakelib.query import explain_query, run_query
    from lakelib.query._results import render_csv, render_json

    params = [parameter_value(p) for p in param or []]
    if explain:
        plan = explain_query(sql, database=database, workgroup=workgroup, params=params)
        for line in plan.lines():
            out.print(line, markup=False)
        return
    spinner = err.status("running query...") if fmt == "table" and output is None else None
    with spinner or contextlib.nullcontext():
        result = run_query(sql, database=database, workgroup=workgroup, params=params)
    record = result.record
    if fmt == "table" and output is None:
        table = Table(show_lines=False)
        shown = result.head(max_rows)
        for name in shown.column_names:
            table.add_column(name)
        from lakelib.query._results import textual

        for row in textual(shown).to_pylist():
            table.add_row(*("NULL" if v is None else str(v) for v in row.values()))
        out.print(table)
        if shown.num_rows < record.rows:
            err.print(
                f"{record.rows - shown.num_rows:,} more rows not shown (--max-rows); "
                f"the full result is in {record.output_location}",
                markup=False,
            )
        err.print(
            f"{record.rows:,} rows   query {record.query_id}   {record.total_ms:.0f} ms   "
            f"scanned {human_bytes(record.bytes_scanned)} (${record.cost_usd:.6f})",
            markup=False,
        )
        return
    if not getattr(result, "held", True) and fmt == "csv" and record.output_location:
        # Too large to hold: copied from the result file row by row, never whole in memory.
        from lakelib.query._results import plain_csv_from_result

        if output is not None:
            with output.open("w", newline="", encoding="utf-8") as handle:
                plain_csv_from_result(record.output_location, handle)
            err.print(f"{record.rows:,} rows written to {output}", markup=False)
        else:
            plain_csv_from_result(record.output_location, sys.stdout)
        return
    if fmt == "json":
        data = (render_json(result.table) + "\n").encode()
    else:  # csv, or the table view sent to --output: a file gets the whole result as CSV
        data = render_csv(result.table, quote_all=False)
    if output is not None:
        output.write_bytes(data)
        err.print(f"{record.rows:,} rows written to {output}", markup=False)
    else:
        typer.echo(data.decode(), nl=False)
