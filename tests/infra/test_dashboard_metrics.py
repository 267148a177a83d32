"""The dashboard and alarms ask CloudWatch for the stage metrics lakelib actually emits.

Issue 13 item 10 (dashboard side): the widgets named lakelib metrics without dimensions,
while every stage prints its EMF line with the dimensions ``Pipeline`` and ``Stage``;
CloudWatch matches a metric only with all of its dimensions, so the widgets stayed empty.
The expected names come from lakelib (``DIMENSIONS``, ``emf_document``, the metrics each
stage reports), not from a copy of them.
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

from pulumi_harness import Platform

import lakelib.pipeline
from lakelib.etl._jobs import ETL_JOBS
from lakelib.monitor import DIMENSIONS, emf_document, ingest_metrics
from lakelib.monitor._metrics import NAMESPACE

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"


def _emitted(metrics: dict[str, Any], stage: str) -> tuple[list[list[str]], set[str]]:
    """(EMF dimension sets, metric names) of one stage's line, as lakelib writes it."""
    document = emf_document(
        metrics, {DIMENSIONS[0]: lakelib.pipeline.PIPELINE, DIMENSIONS[1]: stage}
    )
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == NAMESPACE
    return directive["Dimensions"], {m["Name"] for m in directive["Metrics"]}


def emitted_names() -> dict[str, set[str]]:
    """Metric names per stage: what the Lambda, the ETL jobs and the stage job print."""
    etl_run = SimpleNamespace(
        job="sales_clean", rows_in=10, rows_out=8, rows_quarantined=1, duplicates_removed=1,
        files_written=2, unknown_customers=0, duration_s=3.0, tables={},
    )  # fmt: skip
    curate_run = SimpleNamespace(job="curate", duration_s=2.0, tables={"customer_aggregates": 5})
    summary = SimpleNamespace(
        read=10, landed=9, quarantined=1, files=["a"], quarantine_files=["b"], bytes_written=99
    )
    common = {"duration_s": 1.0, "failures": 0}
    samples = {
        "ingest": ingest_metrics([summary]),
        ETL_JOBS["sales_clean"].stage: {**ETL_JOBS["sales_clean"].metrics(etl_run), **common},
        ETL_JOBS["curate"].stage: {**ETL_JOBS["curate"].metrics(curate_run), **common},
        **{stage: {"rows": 1, **common} for stage in ("train", "transform", "report")},
    }
    names = {}
    for stage, metrics in samples.items():
        dimensions, names[stage] = _emitted(metrics, stage)
        assert dimensions == [list(DIMENSIONS)]
    return names


def _rows(platform: Platform) -> list[list[Any]]:
    (dashboard,) = platform.of_type("aws:cloudwatch/dashboard:Dashboard")
    body = json.loads(dashboard.inputs["dashboardBody"])
    return [
        row
        for widget in body["widgets"]
        if widget["type"] == "metric"
        for row in widget["properties"]["metrics"]
    ]


def test_dashboard_stage_metrics_use_the_emitted_namespace_dimensions_and_names(
    platform: Platform,
) -> None:
    names = emitted_names()
    stages = {stage.name for stage in lakelib.pipeline.daily_pipeline().stages}
    lake_rows = [row for row in _rows(platform) if row[0] == NAMESPACE]
    for row in lake_rows:
        name, pairs = row[1], row[2:]
        dimensions = dict(zip(pairs[::2], pairs[1::2], strict=True))
        assert tuple(dimensions) == DIMENSIONS, row
        assert dimensions["Pipeline"] == lakelib.pipeline.PIPELINE, row
        assert dimensions["Stage"] in stages, row
        assert name in names[dimensions["Stage"]], (row, sorted(names[dimensions["Stage"]]))
    assert len(lake_rows) >= 10  # data quality, ingestion, stage failures and durations
    shown = {(row[1], row[-1]) for row in lake_rows}
    assert {("RowsQuarantined", "etl"), ("Quarantined", "ingest"), ("Failures", "train")} <= shown


def test_stage_alarms_use_the_emitted_dimensions(platform: Platform) -> None:
    names = emitted_names()
    alarms = [a.inputs for a in platform.of_type(ALARM) if a.inputs.get("namespace") == NAMESPACE]
    assert {a["dimensions"]["Stage"] for a in alarms} == {
        "etl", "curate", "train", "transform", "report",
    }  # fmt: skip
    for alarm in alarms:
        assert set(alarm["dimensions"]) == set(DIMENSIONS), alarm
        assert alarm["dimensions"]["Pipeline"] == lakelib.pipeline.PIPELINE
        assert alarm["metricName"] in names[alarm["dimensions"]["Stage"]]
        assert alarm["alarmActions"] == [platform.outputs["alerts_topic_arn"]]
