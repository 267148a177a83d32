"""The deploy rehearsal's failure paths: an outage alerts, and broken declarations fail it.

Negative controls: each changes one declaration of the rendered platform (as if the Pulumi
program declared it so), stands it up afresh and runs the first day; the rehearsal must fail
with a message naming the stage, the role and the cause.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from rehearsal_harness import (
    DAYS,
    DayResult,
    Platform,
    Rehearsal,
    stand_up,
    variant,
    without_statement,
)

pytestmark = [pytest.mark.aws]


def test_a_failing_stage_alerts_and_fails_the_execution(
    rendered: Platform,
    rehearsal_endpoint: str,
    tmp_path_factory: pytest.TempPathFactory,
    daily_source: Any,
) -> None:
    """The vendor API stops serving sales (404): ingest fails its attempts, the alert goes out."""
    stack = stand_up(rendered, rehearsal_endpoint, tmp_path_factory.mktemp("alert"))
    sqs, sns = stack.client("sqs"), stack.client("sns")
    queue = sqs.create_queue(QueueName="alerts-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(
        TopicArn=str(stack.outputs["alerts_topic_arn"]), Protocol="sqs", Endpoint=queue_arn
    )
    served = daily_source.server.records
    daily_source.server.records = {k: v for k, v in served.items() if k != "sales"}
    try:
        with Rehearsal(stack).running() as rehearsal:
            result = rehearsal.run_day(DAYS[0])
    finally:
        daily_source.server.records = served
    assert result.status == "FAILED"
    assert "notify_failure" in result.states()
    with pytest.raises(
        AssertionError, match=r"stage ingest \(lambda lake-dev-ingest as role lake-dev-ingest\)"
    ):
        result.check()
    # Ingest was attempted 1 + 2 retries times, as the state machine says.
    assert [p.name for p in result.plays] == ["lake-dev-ingest"] * 3
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    (alert,) = [json.loads(m["Body"]) for m in messages]
    assert alert["Subject"] == "lakelib: daily failed"
    assert "404" in alert["Message"], alert["Message"]


def _first_day(
    platform: Platform, endpoint: str, workdir: Path, source: Any, spark: Any = None
) -> DayResult:
    stack = stand_up(platform, endpoint, workdir)
    source.serve(DAYS[0])
    with Rehearsal(stack, spark).running() as rehearsal:
        return rehearsal.run_day(DAYS[0])


def test_control_a_role_missing_a_statement_fails_its_stage(
    rendered: Platform, rehearsal_endpoint: str, tmp_path: Path, daily_source: Any
) -> None:
    def drop_landing(typ: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
        if typ == "aws:iam/rolePolicy:RolePolicy" and str(inputs["role"]).endswith("-ingest"):
            inputs["policy"] = without_statement(inputs["policy"], "LandRaw")
        return inputs

    result = _first_day(variant(rendered, drop_landing), rehearsal_endpoint, tmp_path, daily_source)
    with pytest.raises(AssertionError) as failure:
        result.check()
    message = str(failure.value)
    assert "stage ingest (lambda lake-dev-ingest as role lake-dev-ingest)" in message, message
    assert re.search(r"AccessDenied|Forbidden|403", message), message


def test_control_the_config_not_shipped_fails_the_first_stage(
    rendered: Platform, rehearsal_endpoint: str, tmp_path: Path, daily_source: Any
) -> None:
    def no_config(typ: str, name: str, inputs: dict[str, Any]) -> dict[str, Any] | None:
        if typ == "aws:s3/bucketObjectv2:BucketObjectv2" and inputs["key"].endswith("lake.toml"):
            return None
        return inputs

    result = _first_day(variant(rendered, no_config), rehearsal_endpoint, tmp_path, daily_source)
    with pytest.raises(AssertionError) as failure:
        result.check()
    message = str(failure.value)
    assert "stage ingest (lambda lake-dev-ingest" in message, message
    assert "LAKE_CONFIG" in message or "lake.toml" in message, message


def test_control_a_wrong_job_argument_fails_that_job(
    rendered: Platform, rehearsal_endpoint: str, tmp_path: Path, daily_source: Any, spark: Any
) -> None:
    def wrong_bucket(typ: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
        if typ == "aws:glue/job:Job" and inputs["name"].endswith("sales_clean"):
            inputs["defaultArguments"]["--raw_bucket"] = "lake-dev-raw-typo"
        return inputs

    result = _first_day(
        variant(rendered, wrong_bucket), rehearsal_endpoint, tmp_path, daily_source, spark
    )
    with pytest.raises(AssertionError) as failure:
        result.check()
    message = str(failure.value)
    assert "stage etl (glue lake-dev-sales_clean as role lake-dev-glue)" in message, message
    assert "lake-dev-raw-typo" in message, message


def test_control_the_etl_role_without_its_state_prefix_fails_the_etl(
    rendered: Platform, rehearsal_endpoint: str, tmp_path: Path, daily_source: Any, spark: Any
) -> None:
    """Issue 13 gap 3 as it was: the Glue role could not write runs/etl/ (lock, checkpoint)."""

    def drop_state(typ: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
        if typ == "aws:iam/rolePolicy:RolePolicy" and str(inputs["role"]).endswith("-glue"):
            inputs["policy"] = without_statement(inputs["policy"], "EtlLocksCheckpointsRunRecords")
        return inputs

    result = _first_day(
        variant(rendered, drop_state), rehearsal_endpoint, tmp_path, daily_source, spark
    )
    with pytest.raises(AssertionError) as failure:
        result.check()
    message = str(failure.value)
    assert "stage etl (glue lake-dev-sales_clean as role lake-dev-glue)" in message, message
    assert "runs/etl/" in message, message
