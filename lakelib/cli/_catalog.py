"""``lake crawl`` and ``lake catalog export|import|tables|show``: the metadata layer."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table as RichTable

from lakelib.cli._app import app
from lakelib.cli._console import OutputFormat, check_format, emit_rows, err, out
from lakelib.errors import CatalogError

catalog_app = typer.Typer(
    name="catalog",
    help="Inspect, back up and restore the catalog (SQLite locally, Glue on aws).",
    no_args_is_help=True,
)
app.add_typer(catalog_app, name="catalog")


@app.command()
def crawl(
    zone: Annotated[
        str | None,
        typer.Argument(help="Zone to crawl: raw, processed, curated or quarantine (default: all)."),
    ] = None,
    explain: Annotated[
        bool,
        typer.Option("--explain", help="Print every decision: why a type, a header, a change."),
    ] = False,
    output: Annotated[
        str, typer.Option("--format", help="table | json (json: the report, nothing else).")
    ] = "table",
) -> None:
    """Update the catalog from what is in a zone: tables, schemas, partitions.

    Exits 1 when it finds problems (unreadable files, folders it cannot make a table of, a
    damaged catalog), after listing them one per line.
    """
    from lakelib.catalog import DEFAULT_ZONES, open_catalog
    from lakelib.catalog import crawl as run_crawl

    if output not in {"table", "json"}:
        raise typer.BadParameter("use table or json", param_hint="--format")
    if zone is not None and zone not in {z.value for z in DEFAULT_ZONES}:
        known = ", ".join(z.value for z in DEFAULT_ZONES)
        raise typer.BadParameter(f"use one of: {known}", param_hint="ZONE")
    catalog = open_catalog()
    # A file that cannot be read at all stops here (CatalogError: one line, exit 1); damaged
    # rows are listed with the crawl's own problems while the sound tables are updated.
    damage = [f"catalog: {line}" for line in catalog_problems(catalog)]
    with err.status(f"crawling {zone or 'raw, processed, curated, quarantine'}..."):
        report = run_crawl(zone, catalog=catalog, explain=explain)
    report.zone_problems[:0] = damage
    if output == "json":
        typer.echo(json.dumps(report.to_dict(), indent=2, default=list))
        _fail_on_problems(len(report.problems), "in the report")
        return
    if explain:
        for table in report.tables:
            if table.decisions:
                out.print(f"{table.table}:", style="bold", markup=False)
                for line in table.decisions:
                    out.print(f"  {line}", markup=False)
    summary = RichTable(title=f"crawl of {', '.join(report.zones)}", title_justify="left")
    for name in ("table", "zone", "action", "version", "columns", "added", "widened"):
        summary.add_column(name, justify="right" if name in {"version", "columns"} else "left")
    summary.add_column("partitions", justify="right")
    summary.add_column("problems", justify="right")
    for t in report.tables:
        partitions = f"{t.partitions}"
        if t.partitions_added or t.partitions_removed:
            partitions += f" (+{len(t.partitions_added)}/-{len(t.partitions_removed)})"
        summary.add_row(
            t.table,
            t.zone,
            t.action,
            str(t.version or "-"),
            str(t.columns),
            ", ".join(t.columns_added) or "-",
            ", ".join(f"{c} {a}->{b}" for c, a, b in t.types_widened) or "-",
            partitions,
            str(len(t.problems)),
        )
    if report.tables:
        out.print(summary)
    else:
        out.print("nothing to crawl: no table folders in " + ", ".join(report.zones))
    for line in report.problems:
        out.print(f"problem: {line}", markup=False)
    changed = sum(1 for t in report.tables if t.changed)
    out.print(
        f"{len(report.tables)} table folder(s), {changed} changed, "
        f"{len(report.problems)} problem(s)",
        markup=False,
    )
    _fail_on_problems(len(report.problems), "above")


def catalog_problems(catalog: object) -> list[str]:
    """Integrity problems of the local catalog file, one line each (Glue keeps its own)."""
    from lakelib.catalog import LocalCatalog

    return catalog.check() if isinstance(catalog, LocalCatalog) else []


def _fail_on_problems(count: int, where: str) -> None:
    if count:
        raise CatalogError(f"crawl found {count} problem(s), listed {where}")


@catalog_app.command("export")
def export(
    file: Annotated[str, typer.Argument(help="Target: a local path or s3://bucket/key.json.")],
) -> None:
    """Write the whole catalog (tables, partitions, schema history) to a JSON file."""
    from lakelib.catalog import export_catalog

    done = export_catalog(file)
    out.print(
        f"exported {done.tables} table(s), {done.partitions} partition(s) of "
        f"{done.database} to {done.location}",
        markup=False,
    )


@catalog_app.command("import")
def import_(
    file: Annotated[str, typer.Argument(help="A file written by `lake catalog export`.")],
    replace: Annotated[
        bool, typer.Option("--replace", help="Drop the catalog's tables first.")
    ] = False,
) -> None:
    """Restore the catalog from an export (into an empty catalog unless --replace)."""
    from lakelib.catalog import import_catalog

    done = import_catalog(file, replace=replace)
    out.print(
        f"imported {done.tables} table(s), {done.partitions} partition(s) into "
        f"{done.database} from {done.location}",
        markup=False,
    )


@catalog_app.command("tables")
def tables(fmt: OutputFormat = "table") -> None:
    """List the catalog's tables (as a table, CSV or JSON)."""
    from lakelib.tables import tables_frame

    check_format(fmt)
    frame = tables_frame()
    rows = frame.to_dict(orient="records")
    if emit_rows(rows, list(frame.columns), fmt):
        return
    from lakelib.catalog import open_catalog

    listing = RichTable(title=f"catalog {open_catalog().database}", title_justify="left")
    for name in ("table", "zone", "format", "columns", "partition keys", "partitions", "version"):
        listing.add_column(name)
    listing.add_column("location", overflow="fold")
    for row in rows:
        listing.add_row(
            row["table"],
            row["zone"] or "-",
            row["format"] + ("" if row["compression"] == "none" else f" ({row['compression']})"),
            str(row["columns"]),
            row["partition_keys"] or "-",
            str(row["partitions"]),
            str(row["version"]),
            row["location"],
        )
    out.print(listing)


@catalog_app.command("show")
def show(
    table: Annotated[str, typer.Argument(help="Table name, e.g. raw_sales.")],
    history: Annotated[
        bool, typer.Option("--history", help="Also list every schema version.")
    ] = False,
) -> None:
    """Show one table: columns, partition keys, location, parameters, partitions."""
    from lakelib.catalog import open_catalog

    catalog = open_catalog()
    t = catalog.get_table(table)
    out.print(f"{catalog.database}.{t.name}  (schema version {t.version})", markup=False)
    out.print(f"location: {t.location}", markup=False)
    out.print(f"format: {t.classification}, compression {t.compression}", markup=False)
    for key, value in sorted(t.parameters.items()):
        out.print(f"parameter {key} = {value}", markup=False)
    columns = RichTable(title="columns", title_justify="left")
    columns.add_column("name")
    columns.add_column("type", overflow="fold")
    columns.add_column("comment")
    for col in t.columns:
        columns.add_row(col.name, col.type, col.comment)
    for key in t.partition_keys:
        columns.add_row(key, "string", "partition key")
    out.print(columns)
    if t.partition_keys:
        partitions = catalog.list_partitions(t.name)
        shown = ", ".join(p.spec for p in partitions[-5:])
        more = "... " if len(partitions) > 5 else ""
        out.print(f"{len(partitions)} partition(s): {more}{shown}", markup=False)
    if history:
        for entry in catalog.schema_history(t.name):
            out.print(
                f"v{entry.version} {entry.changed_at}: {'; '.join(entry.changes)}", markup=False
            )
