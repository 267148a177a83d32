"""``lake etl``: run the Spark jobs (in-process, or on Glue / EMR with the aws profile)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import typer
from rich.table import Table

from lakelib.cli._app import app
from lakelib.cli._console import check_format, emit_csv, emit_json, err, out
from lakelib.config import get_settings
from lakelib.errors import ConfigError


def _print_runs(runs: list[Any]) -> None:
    table = Table(title="etl runs", title_justify="left")
    for column in ("job", "rows in", "rows out", "quarantined", "duplicates", "files", "seconds"):
        table.add_column(column, justify="right" if column != "job" else "left")
    for run in runs:
        if run.job == "curate":
            detail = ", ".join(f"{k} {v:,}" for k, v in run.tables.items())
            table.add_row(
                run.job,
                f"{run.rows_in:,}",
                detail,
                "",
                "",
                f"{run.files_written:,}",
                f"{run.duration_s:.1f}",
            )
            continue
        table.add_row(
            run.job,
            f"{run.rows_in:,}",
            f"{run.rows_out:,}",
            f"{run.rows_quarantined:,}",
            f"{run.duplicates_removed:,}",
            f"{run.files_written:,}",
            f"{run.duration_s:.1f}",
        )
    out.print(table)
    for run in runs:
        if run.job != "curate":
            if run.raw_files == 0:
                out.print(f"{run.job}: no new raw files (bookmark up to date)")
            if run.reasons:
                reasons = ", ".join(f"{code} {count:,}" for code, count in run.reasons.items())
                out.print(f"{run.job} quarantined: {reasons}")
            if run.unknown_customers or run.unknown_products:
                out.print(
                    f"{run.job}: {run.unknown_customers:,} rows with an unknown customer, "
                    f"{run.unknown_products:,} with an unknown product (kept, marked)"
                )


def _print_bookmarks(fmt: str) -> None:
    from lakelib.etl import list_run_records, read_bookmark

    settings = get_settings()
    mark = read_bookmark("sales_clean", settings)
    last: dict[str, dict[str, Any] | None] = {}
    for job in ("sales_clean", "curate"):
        records = list_run_records(job, settings)
        last[job] = records[-1] if records else None
    if fmt == "json":
        emit_json({"sales_clean": mark.as_dict(), "last_runs": last})
        return
    if fmt == "csv":
        rows = [
            {
                **{k: v for k, v in mark.as_dict().items() if not isinstance(v, list | dict)},
                "job": "sales_clean",
                "last_run_started": (last["sales_clean"] or {}).get("started"),
                "last_run_status": (last["sales_clean"] or {}).get("status"),
            },
            {
                "job": "curate",
                "last_run_started": (last["curate"] or {}).get("started"),
                "last_run_status": (last["curate"] or {}).get("status"),
            },
        ]
        columns = ["job", *(k for k in rows[0] if k != "job")]
        emit_csv(rows, columns)
        return
    table = Table(title="etl bookmarks", title_justify="left")
    for column in ("job", "batches", "raw files", "arrivals", "last file", "rewind", "last run"):
        table.add_column(column)
    arrivals = f"{mark.first_arrival} .. {mark.last_arrival}" if mark.files else "-"
    run = last["sales_clean"]
    table.add_row(
        "sales_clean",
        str(mark.batches),
        f"{mark.files:,}",
        arrivals,
        mark.last_file or "-",
        mark.rewind_since or "-",
        f"{run['started']} {run['status']}" if run else "-",
    )
    run = last["curate"]
    table.add_row(
        "curate", "-", "-", "-", "-", "-", f"{run['started']} {run['status']}" if run else "-"
    )
    out.print(table)
    out.print(f"checkpoint: {mark.checkpoint}")


@app.command("etl")
def etl_command(
    job: Annotated[
        str | None,
        typer.Argument(
            help="sales_clean, curate or all (default: all, in that order).", show_default=False
        ),
    ] = None,
    full: Annotated[
        bool, typer.Option("--full", help="Forget the bookmark; rebuild from all raw files.")
    ] = False,
    since: Annotated[
        dt.datetime | None,
        typer.Option(
            formats=["%Y-%m-%d"],
            help="Rewind the bookmark to raw files that arrived on or after this date.",
            show_default=False,
        ),
    ] = None,
    bookmarks: Annotated[
        bool, typer.Option("--bookmarks", help="Show what each job has processed, and stop.")
    ] = False,
    reset: Annotated[
        bool,
        typer.Option("--reset", help="Reset the bookmark (all, or --since DATE) without running."),
    ] = False,
    engine: Annotated[
        str | None,
        typer.Option(
            help="local | glue | emr (default: local; glue with the aws profile).",
            show_default=False,
        ),
    ] = None,
    cluster_id: Annotated[
        str | None,
        typer.Option(help="EMR: the running cluster to add steps to.", show_default=False),
    ] = None,
    transient: Annotated[
        bool, typer.Option("--transient", help="EMR: start a cluster that runs the jobs and ends.")
    ] = False,
    fmt: Annotated[
        str, typer.Option("--format", help="table | json (and csv with --bookmarks).")
    ] = "table",
) -> None:
    """Run ETL jobs: incremental by default (only raw files not yet processed)."""
    from lakelib.etl import reset_bookmark

    check_format(fmt, ("table", "csv", "json") if bookmarks else ("table", "json"))
    settings = get_settings()
    day = since.date() if since else None
    if bookmarks:
        _print_bookmarks(fmt)
        return
    if reset:
        reset_bookmark("sales_clean", settings, since=day)
        out.print(
            f"sales_clean bookmark reset{f' to files arriving from {day}' if day else ''}; "
            "the next `lake etl` reprocesses them"
        )
        return
    chosen = engine or ("local" if settings.is_local else "glue")
    if chosen not in ("local", "glue", "emr"):
        raise typer.BadParameter("use local, glue or emr", param_hint="--engine")
    if chosen != "local":
        if settings.is_local:
            raise ConfigError(f"--engine {chosen} needs the aws profile (--profile aws)")
        from lakelib.etl._run import run_etl_remote

        with err.status(f"starting {chosen} run") as spinner:
            results = run_etl_remote(
                job,
                engine=chosen,
                full=full,
                since=day,
                settings=settings,
                cluster_id=cluster_id,
                transient=transient,
                on_step=lambda m: spinner.update(m),
            )
        if fmt == "json":
            emit_json([r.as_dict() for r in results])
            return
        table = Table(title=f"{chosen} runs", title_justify="left")
        for column in ("job", "run", "state", "seconds", "DPU-seconds"):
            table.add_column(column)
        for r in results:
            table.add_row(
                r.job,
                r.run_id,
                r.state,
                f"{r.duration_s or 0:.0f}",
                f"{r.dpu_seconds:.0f}" if r.dpu_seconds is not None else "-",
            )
        out.print(table)
        return
    from lakelib.etl._run import run_etl

    with err.status("starting Spark") as spinner:
        runs = run_etl(
            job, full=full, since=day, settings=settings, on_step=lambda m: spinner.update(m)
        )
    if fmt == "json":
        emit_json([r.as_dict() for r in runs])
        return
    _print_runs(runs)
