"""``lake run``: the scheduled daily pipeline; ``--export-step-functions`` for AWS."""

from __future__ import annotations

import datetime as dt
import sys
from typing import Annotated, Any

import typer

from lakelib.cli._app import app
from lakelib.cli._console import OutputFormat, check_format, emit_csv, emit_json, err, out
from lakelib.config import Settings, Zone, get_settings
from lakelib.monitor import SUCCEEDED, RunRecord, load_run
from lakelib.pipeline import (
    PipelineError,
    daily_pipeline,
    export_state_machine,
    report_path,
    run_pipeline,
)

CSV_COLUMNS = ("name", "status", "ran_now", "attempts", "duration_s", "error")

# What the runner reports for a stage a previous run of the date finished (not run now).
_DONE_EARLIER = "done earlier"


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
    fmt: OutputFormat = "table",
) -> None:
    """The daily run: ingest, crawl, ETL, curate, train (when due), transform, report, notebooks.

    A date that already finished is not run again (it says so; --force runs it again); a
    date whose run failed resumes at the failed stage. --format json prints the run's
    summary (status, stages, timings, metrics) as one JSON document on stdout, also when
    the run fails (then exit 1); --format csv one row per stage.
    """
    check_format(fmt)
    pipeline = daily_pipeline()
    if export_step_functions:
        sys.stdout.write(export_state_machine(pipeline))
        return
    settings = get_settings()
    day = date.date() if date else dt.datetime.now(dt.UTC).date()
    previous = None if force else load_run(settings.store(Zone.RUNS), pipeline.name, str(day))
    if previous is not None and previous.status == SUCCEEDED:
        # The runner would return the old record untouched: say so rather than print its
        # timings as if the stages had just run.
        _show(previous, settings, ran=set(), fmt=fmt, already_finished=True)
        return

    ran: set[str] = set()

    def progress(stage: str, state: str) -> None:
        if not state.startswith(_DONE_EARLIER):
            ran.add(stage)
        spinner.update(f"{stage}: {state}")

    with err.status(f"{pipeline.name} {day}") as spinner:
        try:
            record = run_pipeline(pipeline, day, settings=settings, force=force, on_stage=progress)
        except PipelineError:
            failed = load_run(settings.store(Zone.RUNS), pipeline.name, str(day))
            if fmt != "table" and failed is not None:
                _show(failed, settings, ran=ran, fmt=fmt, already_finished=False)
            raise
    _show(record, settings, ran=ran, fmt=fmt, already_finished=False)


def _show(
    record: RunRecord, settings: Settings, *, ran: set[str], fmt: str, already_finished: bool
) -> None:
    """The run's summary: a JSON document, or one line per stage and the report's path.

    ``ran`` names the stages this command ran; the others' timings are from earlier runs.
    """
    report = str(report_path(settings, dt.date.fromisoformat(record.run_date)))
    summary = _summary(record, ran=ran, already_finished=already_finished, report=report)
    if fmt == "json":
        emit_json(summary)
        return
    if fmt == "csv":
        emit_csv(summary["stages"], CSV_COLUMNS)
        return
    if already_finished:
        out.print(
            f"{record.pipeline} {record.run_date} already finished at {record.finished_at}; "
            "nothing to do (use --force to run again)",
            markup=False,
        )
        out.print(f"report: {report}", markup=False)
        return
    for stage in record.stages:
        note = f" ({stage.error})" if stage.error else ""
        if stage.name not in ran:
            note += " (in an earlier run)"
        out.print(
            f"{stage.name:<10} {stage.status:<10} {stage.duration_s:7.1f} s{note}", markup=False
        )
    out.print(f"report: {report}", markup=False)


def _summary(
    record: RunRecord, *, ran: set[str], already_finished: bool, report: str
) -> dict[str, Any]:
    return {
        "pipeline": record.pipeline,
        "run_date": record.run_date,
        "run_id": record.run_id,
        "status": record.status,
        "already_finished": already_finished,
        "attempts": record.attempts,
        "started_at": record.started_at,
        "finished_at": record.finished_at,
        "stages": [
            {
                "name": stage.name,
                "status": stage.status,
                # False: the stage was finished by an earlier run of this date (its timing too).
                "ran_now": stage.name in ran,
                "attempts": stage.attempts,
                "duration_s": stage.duration_s,
                "error": stage.error,
                "metrics": stage.metrics,
            }
            for stage in record.stages
        ],
        # Only a finished run has a report to open (a failed one may have stopped before it).
        "report": report if record.status == SUCCEEDED else None,
    }
