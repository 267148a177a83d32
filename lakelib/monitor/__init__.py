"""Monitoring: run records of the pipeline, stage metrics, CloudWatch EMF on AWS.

>>> from lakelib.monitor import recent_runs
>>> recent_runs(zone_store("runs"), "daily")        # doctest: +SKIP
"""

from lakelib.monitor._metrics import (
    DAILY_PIPELINE,
    DIMENSIONS,
    NAMESPACE,
    EmfMetrics,
    LocalMetrics,
    MetricsSink,
    emf_document,
    emit_stage_metrics,
    ingest_metrics,
    metrics_namespace,
)
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
)

__all__ = [
    "DAILY_PIPELINE",
    "DIMENSIONS",
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
    "emit_stage_metrics",
    "ingest_metrics",
    "load_run",
    "metrics_namespace",
    "recent_runs",
]
