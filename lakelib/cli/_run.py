"""``lake run``: the scheduled daily pipeline; ``--export-step-functions`` for AWS."""

from __future__ import annotations

import datetime as dt
import sys
from typing import Annotated

import typer

from lakelib.cli._app import app
from lakelib.cli._console import err, out
from lakelib.config import get_settings
from lakelib.pipeline import daily_pipeline, export_state_machine, report_path, run_pipeline


@app.command("run")
def run_command(
    date: Annotated[
        dt.datetime | None,
        typer.Option(
            formats=["%Y-%m-%d"], help="Run date (default: today, UTC).", show_default=False
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Run every stage again, even those already done.")
    ] = False,
    export_step_functions: Annotated[
        bool,
        typer.Option(
            "--export-step-functions",
            help="Print the pipeline as an AWS Step Functions definition (JSON) and exit.",
        ),
    ] = False,
) -> None:
    """The daily run: ingest, crawl, ETL, curate, train (when due), transform, report, notebooks."""
    pipeline = daily_pipeline()
    if export_step_functions:
        sys.stdout.write(export_state_machine(pipeline))
        return
    settings = get_settings()
    day = date.date() if date else dt.datetime.now(dt.UTC).date()
    with err.status(f"{pipeline.name} {day}") as spinner:
        record = run_pipeline(
            pipeline,
            day,
            settings=settings,
            force=force,
            on_stage=lambda stage, state: spinner.update(f"{stage}: {state}"),
        )
    for stage in record.stages:
        note = f" ({stage.error})" if stage.error else ""
        out.print(f"{stage.name:<10} {stage.status:<10} {stage.duration_s:7.1f} s{note}")
    out.print(f"report: {report_path(settings, day)}")
