"""Monitoring: run records of the pipeline, stage metrics, CloudWatch EMF on AWS.

>>> from lakelib.monitor import recent_runs
>>> recent_runs(zone_store("runs"), "daily")        # doctest: +SKIP
"""

from lakelib.monitor._metrics import NAMESPACE, EmfMetrics, LocalMetrics, MetricsSink, emf_document
from lakelib.monitor._records import (
    FAILED,
    PENDING,
    RUNNING,
    SKIPPED,
    SUCCEEDED,
    RunRecord,
    StageRecord,
    load_run,
    recent_runs,
    utc_now,
)

__all__ = [
    "FAILED",
    "NAMESPACE",
    "PENDING",
    "RUNNING",
    "SKIPPED",
    "SUCCEEDED",
    "EmfMetrics",
    "LocalMetrics",
    "MetricsSink",
    "RunRecord",
    "StageRecord",
    "emf_document",
    "load_run",
    "recent_runs",
    "utc_now",
]
