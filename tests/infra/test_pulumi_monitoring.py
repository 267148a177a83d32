"""Monitoring layer: alerts topic, the architecture's alarm thresholds, the dashboard."""

from __future__ import annotations

import json
from typing import Any

from pulumi_harness import Platform

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"


def _alarm(platform: Platform, key: str) -> dict[str, Any]:
    return platform.one(ALARM, f"monitoring-{key}").inputs


def test_alerts_topic_is_encrypted_and_every_alarm_notifies_it(platform: Platform) -> None:
    (topic,) = platform.of_type("aws:sns/topic:Topic")
    assert topic.inputs["kmsMasterKeyId"].startswith("arn:aws:kms:")
    arn = platform.outputs["alerts_topic_arn"]
    alarms = platform.of_type(ALARM)
    assert alarms
    assert all(a.inputs["alarmActions"] == [arn] for a in alarms)


def test_lambda_error_rate_above_five_percent(platform: Platform) -> None:
    alarm = _alarm(platform, "ingest-error-rate")
    assert alarm["threshold"] == 5
    assert alarm["comparisonOperator"] == "GreaterThanThreshold"
    (rate,) = [q for q in alarm["metricQueries"] if q.get("returnData")]
    assert "100 * errors / invocations" in rate["expression"]
    metrics = {q["metric"]["metricName"] for q in alarm["metricQueries"] if "metric" in q}
    assert metrics == {"Errors", "Invocations"}


def test_glue_job_failure_alarms_and_events(platform: Platform) -> None:
    for job in ("sales_clean", "curate"):
        alarm = _alarm(platform, f"{job}-failed-tasks")
        assert alarm["metricName"] == "glue.driver.aggregate.numFailedTasks"
        assert alarm["threshold"] == 0
    rule = platform.one("aws:cloudwatch/eventRule:EventRule", "monitoring-glue-failures")
    pattern = json.loads(rule.inputs["eventPattern"])
    (jobs,) = [p for p in pattern["$or"] if p["detail-type"] == ["Glue Job State Change"]]
    assert "FAILED" in jobs["detail"]["state"]
    assert set(jobs["detail"]["jobName"]) == set(platform.outputs["glue_jobs"].values())
    target = platform.one("aws:cloudwatch/eventTarget:EventTarget", "monitoring-glue-failures")
    assert target.inputs["arn"] == platform.outputs["alerts_topic_arn"]


def test_emr_unhealthy_nodes(platform: Platform, minimal_platform: Platform) -> None:
    alarm = _alarm(platform, "emr-unhealthy-nodes")
    assert alarm["metricName"] == "MRUnhealthyNodes"
    assert alarm["dimensions"] == {"JobFlowId": platform.outputs["emr_cluster_id"]}
    assert alarm["threshold"] == 0
    assert not [a for a in minimal_platform.of_type(ALARM) if "emr" in a.name]


def test_bucket_size_over_threshold(platform: Platform) -> None:
    for zone in ("raw", "processed", "curated"):
        alarm = _alarm(platform, f"{zone}-bucket-size")
        assert alarm["metricName"] == "BucketSizeBytes"
        assert alarm["dimensions"]["BucketName"] == platform.outputs[f"{zone}_bucket"]
        assert alarm["threshold"] == 1_000_000_000_000


def test_athena_scan_cost_above_100_dollars_a_day(platform: Platform) -> None:
    alarm = _alarm(platform, "athena-daily-scan")
    # $100 at $5 per TB scanned = 20 TB.
    assert alarm["threshold"] == 100 / 5 * 10**12
    metrics = [q["metric"] for q in alarm["metricQueries"] if "metric" in q]
    assert {m["dimensions"]["WorkGroup"] for m in metrics} == {"primary", "analytics", "ml_data"}
    assert all(m["metricName"] == "ProcessedBytes" and m["period"] == 86_400 for m in metrics)


def test_dashboard_has_the_five_sections(platform: Platform) -> None:
    (dashboard,) = platform.of_type("aws:cloudwatch/dashboard:Dashboard")
    body = json.loads(dashboard.inputs["dashboardBody"])
    headers = [w["properties"]["markdown"] for w in body["widgets"] if w["type"] == "text"]
    assert headers == [
        "## Pipeline health",
        "## Cost",
        "## Data quality",
        "## Query performance",
        "## Pipeline stages",
    ]
