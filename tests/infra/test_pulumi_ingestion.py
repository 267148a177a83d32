"""Ingestion & orchestration: Lambda, schedule, S3-event path, webhook, state machine."""

from __future__ import annotations

import json

import pytest
from pulumi_harness import REPO, Platform, run_program, stack_config

FUNCTION = "aws:lambda/function:Function"
RULE = "aws:cloudwatch/eventRule:EventRule"
TARGET = "aws:cloudwatch/eventTarget:EventTarget"
TRIGGER = "aws:glue/trigger:Trigger"


def test_lambda_has_the_design_settings(platform: Platform) -> None:
    (function,) = platform.of_type(FUNCTION)
    inputs = function.inputs
    assert inputs["runtime"] == "python3.12"
    assert inputs["architectures"] == ["x86_64"]
    assert inputs["memorySize"] == 512
    assert inputs["timeout"] == 300
    assert inputs["reservedConcurrentExecutions"] == 10
    assert inputs["handler"] == "lakelib.ingest.handler"
    env = inputs["environment"]["variables"]
    assert env["S3_RAW_BUCKET"] == platform.outputs["raw_bucket"]
    assert env["SOURCE_API_ENDPOINT"] == "https://api.example.com/sales"
    assert env["LOG_LEVEL"] == "INFO"
    assert inputs["role"] == platform.outputs["lambda_role_arn"]


def test_lambda_code_is_the_lakelib_package(platform: Platform) -> None:
    (function,) = platform.of_type(FUNCTION)
    archive = function.inputs["code"]
    assert archive.assets["lakelib"].path == str(REPO / "lakelib")
    # Next to lakelib: every pinned package of deps/lambda.txt, with its dist-info.
    assert {"orjson", "urllib3", "ijson", "boto3", "botocore"} <= set(archive.assets)
    assert "urllib3-2.8.0.dist-info" in archive.assets


def test_daily_schedule_at_two_utc(platform: Platform, minimal_platform: Platform) -> None:
    for deployed in (platform, minimal_platform):
        (daily,) = [r for r in deployed.of_type(RULE) if r.name == "ingestion-daily"]
        assert daily.inputs["scheduleExpression"] == "cron(0 2 * * ? *)"
    # Without a state machine the schedule calls the Lambda directly ...
    (target,) = [t for t in minimal_platform.of_type(TARGET) if t.name == "ingestion-daily"]
    assert target.inputs["arn"].endswith(":function:lake-test-ingest")
    (permission,) = minimal_platform.of_type("aws:lambda/permission:Permission")
    assert permission.inputs["principal"] == "events.amazonaws.com"
    # ... with one, it starts the pipeline, whose first step is the Lambda.
    (target,) = [t for t in platform.of_type(TARGET) if t.name == "ingestion-daily"]
    assert target.inputs["arn"] == platform.outputs["state_machine_arn"]


def test_without_a_pipeline_new_raw_objects_start_the_glue_workflow(
    minimal_platform: Platform, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """No Step Functions definition: the S3-event Glue workflow is the one orchestrator."""
    tmp = tmp_path_factory.mktemp("no-pipeline")
    config = stack_config(tmp)
    config["stateMachineFile"] = str(tmp / "absent.json")
    platform = run_program(config)
    (notification,) = platform.of_type("aws:s3/bucketNotification:BucketNotification")
    assert notification.inputs == {"bucket": platform.outputs["raw_bucket"], "eventbridge": True}
    (rule,) = [r for r in platform.of_type(RULE) if r.name == "ingestion-raw-object-created"]
    pattern = json.loads(rule.inputs["eventPattern"])
    assert pattern["detail-type"] == ["Object Created"]
    assert pattern["detail"]["bucket"]["name"] == [platform.outputs["raw_bucket"]]
    (target,) = [t for t in platform.of_type(TARGET) if t.name == "ingestion-raw-object-created"]
    assert target.inputs["arn"].endswith(":workflow/lake-test-on-raw-arrival")
    triggers = {t.name: t.inputs for t in platform.of_type(TRIGGER)}
    arrival = triggers["ingestion-raw-arrived"]
    assert arrival["type"] == "EVENT"
    assert arrival["actions"] == [{"crawlerName": platform.outputs["crawlers"]["raw"]}]
    crawled = triggers["ingestion-raw-crawled"]
    assert {a["jobName"] for a in crawled["actions"]} == set(platform.outputs["glue_jobs"].values())
    done = triggers["ingestion-jobs-done"]
    assert done["predicate"]["logical"] == "AND"
    assert {a["crawlerName"] for a in done["actions"]} == {
        platform.outputs["crawlers"][z] for z in ("processed", "quarantine", "curated")
    }
    assert "state_machine_arn" not in platform.outputs
    assert minimal_platform.of_type("aws:glue/workflow:Workflow")
    # Without a state machine, Glue's own retry is the only one.
    assert {j.inputs["maxRetries"] for j in platform.of_type("aws:glue/job:Job")} == {1}


def test_with_the_pipeline_step_functions_is_the_only_orchestrator(
    platform: Platform, daily_platform: Platform
) -> None:
    """Two orchestrators started sales_clean and curate twice (issue 13, item 4)."""
    assert platform.outputs["state_machine_arn"]
    assert platform.of_type(TRIGGER) == []
    assert platform.of_type("aws:glue/workflow:Workflow") == []
    assert platform.of_type("aws:s3/bucketNotification:BucketNotification") == []
    targets = [t.inputs["arn"] for t in platform.of_type(TARGET)]
    assert not [arn for arn in targets if ":workflow/" in arn or ":job/" in arn]
    # What starts a Glue job or crawler: only the state machine's role may.
    starters = {
        r.name
        for r in platform.of_type("aws:iam/rolePolicy:RolePolicy")
        for st in platform.policy(r)["Statement"]
        if {"glue:StartJobRun", "glue:StartCrawler", "glue:notifyEvent"} & set(st["Action"])
    }
    assert starters == {"ingestion-pipeline"}
    # Nor does Glue restart a failed run itself: that run would overlap the state machine's
    # own retry of the same job.
    (machine,) = daily_platform.of_type("aws:sfn/stateMachine:StateMachine")
    states = json.loads(machine.inputs["definition"])["States"].values()
    started = {
        st["Parameters"]["JobName"] for st in states if "JobName" in st.get("Parameters", {})
    }
    jobs = {j.inputs["name"]: j.inputs for j in daily_platform.of_type("aws:glue/job:Job")}
    assert started == set(jobs)  # sales_clean, curate, pipeline-stage
    assert {name: job["maxRetries"] for name, job in jobs.items()} == dict.fromkeys(jobs, 0)


def test_webhook_is_optional_and_signed(platform: Platform, minimal_platform: Platform) -> None:
    (route,) = platform.of_type("aws:apigatewayv2/route:Route")
    assert route.inputs["routeKey"] == "POST /ingest/{source}"
    assert route.inputs["authorizationType"] == "AWS_IAM"
    assert platform.outputs["webhook_url"].endswith("/ingest/")
    assert minimal_platform.of_type("aws:apigatewayv2/api:Api") == []


def test_state_machine_comes_from_the_exported_definition(
    platform: Platform, minimal_platform: Platform
) -> None:
    (machine,) = platform.of_type("aws:sfn/stateMachine:StateMachine")
    definition = json.loads(machine.inputs["definition"])
    function_arn = "arn:aws:lambda:us-east-1:123456789012:function:lake-test-ingest"
    parameters = definition["States"]["Ingest"]["Parameters"]
    assert parameters["FunctionName"] == function_arn
    # Step Functions' own `$$` context paths and unknown placeholders pass through untouched.
    assert parameters["Payload"] == {"run_id.$": "$$.Execution.Id", "note": "${unknown}"}
    assert machine.inputs["loggingConfiguration"]["level"] == "ERROR"
    assert minimal_platform.of_type("aws:sfn/stateMachine:StateMachine") == []
    assert "state_machine_arn" not in minimal_platform.outputs
