"""``lake etl``: run the Spark jobs (in-process, or on Glue / EMR with the aws profile)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from lakelib.cli._app import app
from lakelib.cli._console import check_format, emit_csv, emit_json, err, out
from lakelib.config import get_settings
from lakelib.errors import ConfigError
from lakelib.etl._jobs import ETL_JOBS, etl_job

if TYPE_CHECKING:
    from lakelib.etl import EtlRun

_JOB_NAMES = ", ".join(ETL_JOBS)


def _print_runs(runs: list[EtlRun]) -> None:
    table = Table(title="etl runs", title_justify="left")
    for column in ("job", "rows in", "rows out", "quarantined", "duplicates", "files", "seconds"):
        table.add_column(column, justify="right" if column != "job" else "left")
    summaries = [etl_job(run.job).summarise(run) for run in runs]
    for run, summary in zip(runs, summaries, strict=True):
        table.add_row(
            run.job,
            f"{run.rows_in:,}",
            summary.rows_out,
            summary.quarantined,
            summary.duplicates,
            f"{run.files_written:,}",
            f"{run.duration_s:.1f}",
        )
    out.print(table)
    for summary in summaries:
        for note in summary.notes:
            out.print(note)


def _print_bookmarks(fmt: str) -> None:
    from lakelib.etl import list_run_records, read_bookmark

    settings = get_settings()
    marks = {
        job.name: read_bookmark(job.name, settings) for job in ETL_JOBS.values() if job.bookmarked
    }
    last: dict[str, dict[str, Any] | None] = {}
    for job in ETL_JOBS:
        records = list_run_records(job, settings)
        last[job] = records[-1] if records else None
    if fmt == "json":
        emit_json({**{name: mark.as_dict() for name, mark in marks.items()}, "last_runs": last})
        return
    if fmt == "csv":
        rows = []
        for job in ETL_JOBS:
            mark = marks.get(job)
            fields = mark.as_dict() if mark else {}
            rows.append(
                {
                    **{k: v for k, v in fields.items() if not isinstance(v, list | dict)},
                    "job": job,
                    "last_run_started": (last[job] or {}).get("started"),
                    "last_run_status": (last[job] or {}).get("status"),
                }
            )
        widest = max(rows, key=len)
        columns = ["job", *(k for k in widest if k != "job")]
        emit_csv(rows, columns)
        return
    table = Table(title="etl bookmarks", title_justify="left")
    for column in ("job", "batches", "raw files", "arrivals", "last file", "rewind", "last run"):
        table.add_column(column)
    for job in ETL_JOBS:
        run = last[job]
        ran = f"{run['started']} {run['status']}" if run else "-"
        mark = marks.get(job)
        if mark is None:
            table.add_row(job, "-", "-", "-", "-", "-", ran)
            continue
        arrivals = f"{mark.first_arrival} .. {mark.last_arrival}" if mark.files else "-"
        table.add_row(
            job,
            str(mark.batches),
            f"{mark.files:,}",
            arrivals,
            mark.last_file or "-",
            mark.rewind_since or "-",
            ran,
        )
    out.print(table)
    for mark in marks.values():
        out.print(f"checkpoint: {mark.checkpoint}")


@app.command("etl")
def etl_command(
    job: Annotated[
        str | None,
        typer.Argument(
            help=f"{_JOB_NAMES} or all (default: all, in that order).", show_default=False
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
        for name in (j.name for j in ETL_JOBS.values() if j.bookmarked):
            reset_bookmark(name, settings, since=day)
            out.print(
                f"{name} bookmark reset{f' to files arriving from {day}' if day else ''}; "
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
