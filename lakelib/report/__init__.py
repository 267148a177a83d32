"""Reports and alerts: KPIs, charts, the HTML report with CSV extracts, threshold alerts.

The alert rules load eagerly (the pipeline runner and ``lake status`` use them); the report
parts need pandas, jinja2 and plotly and load on first use, so the CLI starts quickly.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from lakelib.report._alerts import (
    SEVERITIES,
    Alert,
    AlertLog,
    AlertRule,
    AlertSink,
    SnsAlerts,
    alert_sinks,
    evaluate,
    load_rules,
)

if TYPE_CHECKING:
    from lakelib.report._data import last_event_day, load_report_data, quality_by_day
    from lakelib.report._figures import report_figures
    from lakelib.report._kpis import Kpi, compute_kpis, kpi_metrics
    from lakelib.report._render import ReportData, ReportFiles, render_html, write_report

_LAZY = {
    "last_event_day": "_data",
    "load_report_data": "_data",
    "quality_by_day": "_data",
    "report_figures": "_figures",
    "Kpi": "_kpis",
    "compute_kpis": "_kpis",
    "kpi_metrics": "_kpis",
    "ReportData": "_render",
    "ReportFiles": "_render",
    "render_html": "_render",
    "write_report": "_render",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "SEVERITIES",
    "Alert",
    "AlertLog",
    "AlertRule",
    "AlertSink",
    "Kpi",
    "ReportData",
    "ReportFiles",
    "SnsAlerts",
    "alert_sinks",
    "compute_kpis",
    "evaluate",
    "kpi_metrics",
    "last_event_day",
    "load_report_data",
    "load_rules",
    "quality_by_day",
    "render_html",
    "report_figures",
    "write_report",
]
