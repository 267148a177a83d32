"""The report's charts as plotly figures, for a notebook to show inline (``fig.show()``)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from lakelib.report._render import ReportData


def report_figures(data: ReportData) -> dict[str, Any]:
    """Daily revenue, revenue by region and by category, and data quality, as plotly figures.

    The same numbers as the HTML report with no filter: daily revenue over the data the
    report holds, the breakdowns over its window (``window_days`` up to ``as_of``).

    >>> for figure in report_figures(data).values():                    # doctest: +SKIP
    ...     figure.show()
    """
    import plotly.graph_objects as go

    window_start = data.as_of - dt.timedelta(days=data.window_days - 1)
    span = f"{window_start} – {data.as_of}"
    money = {"tickprefix": "$" if data.currency == "USD" else "", "tickformat": ",.0f"}
    layout: dict[str, Any] = {"height": 330, "margin": {"l": 70, "r": 20, "t": 50, "b": 40}}
    daily = data.daily.sort_values("date")
    mean = daily["revenue"].rolling(7, min_periods=1).mean()
    figures: dict[str, Any] = {
        "daily_revenue": go.Figure(
            [
                go.Bar(x=daily["date"], y=daily["revenue"], name="daily", opacity=0.45),
                go.Scatter(x=daily["date"], y=mean, name="7-day mean", mode="lines"),
            ],
            layout={
                **layout,
                "title": f"Daily revenue to {data.as_of} ({data.currency})",
                "yaxis": money,
            },
        )
    }
    for column in ("region", "category"):
        if data.segments.empty:
            continue
        totals = data.segments.groupby(column)["revenue"].sum().sort_values()
        figures[f"revenue_by_{column}"] = go.Figure(
            go.Bar(x=totals.to_numpy(), y=[str(v) for v in totals.index], orientation="h"),
            layout={**layout, "title": f"Revenue by {column}, {span}", "xaxis": money},
        )
    if data.quality is not None and not data.quality.empty:
        quality = data.quality.sort_values("date")
        figures["quarantine_rate"] = go.Figure(
            go.Scatter(
                x=pd.to_datetime(quality["date"]),
                y=100 * quality["quarantine_rate"],
                mode="lines+markers",
            ),
            layout={
                **layout,
                "title": "Records quarantined at ingestion (% of records read, by arrival day)",
                "yaxis": {"ticksuffix": "%", "rangemode": "tozero"},
            },
        )
    return figures
