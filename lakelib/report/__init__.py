"""Reports and alerts: KPIs, charts, the HTML report with CSV extracts, threshold alerts."""

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
from lakelib.report._data import last_event_day, load_report_data, quality_by_day
from lakelib.report._kpis import Kpi, compute_kpis, kpi_metrics
from lakelib.report._render import ReportData, ReportFiles, render_html, write_report

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
    "write_report",
]
