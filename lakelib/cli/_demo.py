"""``lake demo``: sample data through every stage that exists, on the local lake."""

from __future__ import annotations

import datetime as dt

from rich.table import Table

from lakelib.cli._app import app
from lakelib.cli._console import err, out
from lakelib.cli._options import RowsPerDay, SampleDays
from lakelib.cli._status import status
from lakelib.config import Settings, get_settings
from lakelib.errors import ConfigError
from lakelib.pipeline import run_demo


@app.command()
def demo(
    days: SampleDays = None,
    rows_per_day: RowsPerDay = None,
) -> None:
    """Generate sample data and run the whole pipeline on the local lake."""
    settings = get_settings()
    if not settings.is_local:
        raise ConfigError("lake demo runs on the local profile only (it writes sample data)")
    with err.status("starting") as spinner:
        report = run_demo(
            days, rows_per_day, settings=settings, on_step=lambda m: spinner.update(m)
        )
    table = Table(title="demo: what ran", title_justify="left")
    table.add_column("stage")
    table.add_column("seconds", justify="right")
    table.add_column("result", overflow="fold")
    sales = report.generated.get("sales", {})
    table.add_row(
        "generate",
        "",
        f"{report.spec.days} days from {report.spec.start}: {sales.get('lines', 0):,} sales lines "
        f"({sales.get('rejected', 0):,} bad, {sales.get('duplicate_lines', 0):,} duplicates) "
        f"in {report.samples}",
    )
    for stage, result in report.stages:
        seconds = report.timings.get(stage)
        table.add_row(stage, "" if seconds is None else f"{seconds:.1f}", result)
    out.print(table)
    status()
    note = _no_model_note(report.spec.start, report.spec.days, settings)
    if note:
        out.print(note, markup=False)
    out.print(f"report: {report.report_path}")


def days_needed_to_train(start: dt.date) -> int:
    """The fewest days of sales from ``start`` the model's time split can train on."""
    from lakelib.ml import plan_cutoffs

    for days in range(1, 3660):
        try:
            plan_cutoffs(start, start + dt.timedelta(days=days - 1))
        except ValueError:
            continue
        return days
    raise AssertionError("no training window fits ten years of data")


def _no_model_note(start: dt.date, days: int, settings: Settings) -> str | None:
    """One line when the demo ended without a live model: why, and what to run instead."""
    from lakelib.ml import ModelRegistry

    if ModelRegistry(settings=settings).promoted_version() is not None:
        return None
    need = days_needed_to_train(start)
    if days < need:
        return (
            f"no model: {days} days of sales are too few to train (the model needs {need}), "
            f"so there are no predictions and no model section in the report; run "
            f"`lake demo --days {need}` or more for the whole pipeline"
        )
    return "no model: training did not promote one (see the train row above)"
