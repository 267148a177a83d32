"""``lake report``: render the HTML report for a day and evaluate the alert rules."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer
from rich.table import Table

from lakelib._stamps import short_tag
from lakelib.cli._app import app
from lakelib.cli._console import out
from lakelib.config import Zone, get_settings


@app.command()
def report(
    date: Annotated[
        dt.datetime | None,
        typer.Option(
            formats=["%Y-%m-%d"],
            help="Report day (default: the last day with sales).",
            show_default=False,
        ),
    ] = None,
    window_days: Annotated[
        int, typer.Option(min=1, help="Days the region/category and product tables cover.")
    ] = 30,
) -> None:
    """Render the report (HTML + CSV extracts under runs/<date>/) and evaluate alerts."""
    from lakelib.report import (
        alert_sinks,
        evaluate,
        kpi_metrics,
        load_report_data,
        load_rules,
        write_report,
    )

    settings = get_settings()
    data = load_report_data(
        date.date() if date else None, settings=settings, window_days=window_days
    )
    kpis = data.kpis()
    fired = evaluate(
        load_rules(settings),
        kpi_metrics(kpis),
        run_date=data.as_of.isoformat(),
        run_id=f"report-{short_tag()}",
    )
    data.alerts = fired
    runs = settings.store(Zone.RUNS)
    files = write_report(data, runs, data.as_of.isoformat())
    for sink in alert_sinks(settings):
        sink.send(fired)
    table = Table(title=f"report for {data.as_of}", title_justify="left")
    for column in ("kpi", "value", "vs previous day", "vs last week"):
        table.add_column(column, justify="left" if column == "kpi" else "right")
    for kpi in kpis:
        table.add_row(
            kpi.label,
            f"{kpi.value:,.2f}",
            "n/a" if kpi.change_dod is None else f"{kpi.change_dod:+.1%}",
            "n/a" if kpi.change_wow is None else f"{kpi.change_wow:+.1%}",
        )
    out.print(table)
    for alert in fired:
        out.print(f"alert {alert.line()}", markup=False)
    out.print(f"report: {runs.url(files.html)}")
