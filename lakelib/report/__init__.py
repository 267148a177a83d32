"""Reports and alerts: threshold rules from ``lake.toml``, the alerts log and SNS."""

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

__all__ = [
    "SEVERITIES",
    "Alert",
    "AlertLog",
    "AlertRule",
    "AlertSink",
    "SnsAlerts",
    "alert_sinks",
    "evaluate",
    "load_rules",
]
