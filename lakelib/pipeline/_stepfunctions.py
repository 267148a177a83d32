"""The same pipeline definition as an AWS Step Functions state machine (Amazon States Language).

The execution input is ``{"run_date": "YYYY-MM-DD..."}`` (the execution's start time when
absent). Each stage becomes a ``Task`` state with the stage's ``aws_task`` fields, its retries as a
``Retry`` policy (exponential backoff) and a ``Catch`` that publishes the error to the alerts
topic and fails the execution. Names of platform resources are ``${name}`` placeholders that
the Pulumi program fills (``${ingest_function_arn}``, ``${crawler_raw}``, ``${job_<job>}``,
``${alerts_topic_arn}``, ...); Step Functions' own ``$$.`` paths are left alone.
"""

from __future__ import annotations

import json
from typing import Any

from lakelib.errors import ConfigError
from lakelib.pipeline._runner import Pipeline

NOTIFY = "notify_failure"
FAILED = "pipeline_failed"
RETRY_INTERVAL_S = 60


def lambda_task(function: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": function, "Payload": payload or {}},
    }


def glue_job_task(job: str, arguments: dict[str, str] | None = None) -> dict[str, Any]:
    """A Glue job run that the state machine waits for (``.sync``)."""
    parameters: dict[str, Any] = {"JobName": job}
    if arguments:
        parameters["Arguments"] = arguments
    return {"Resource": "arn:aws:states:::glue:startJobRun.sync", "Parameters": parameters}


def crawler_task(crawler: str) -> dict[str, Any]:
    """Start a crawler; the exporter adds a wait-and-poll loop until it is READY again."""
    return {
        "Resource": "arn:aws:states:::aws-sdk:glue:startCrawler",
        "Parameters": {"Name": crawler},
        "_poll_crawler": crawler,
    }


def to_state_machine(pipeline: Pipeline, *, comment: str | None = None) -> dict[str, Any]:
    """The ASL document for ``pipeline``; every stage must declare its ``aws_task``."""
    missing = [stage.name for stage in pipeline.stages if not stage.aws_task]
    if missing:
        raise ConfigError(
            f"pipeline {pipeline.name}: no AWS task for stage(s) {', '.join(missing)}"
        )
    states: dict[str, Any] = {}
    catch = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": NOTIFY}]
    names = [stage.name for stage in pipeline.stages]
    for index, stage in enumerate(pipeline.stages):
        after = names[index + 1] if index + 1 < len(names) else None
        task = dict(stage.aws_task or {})
        crawler = task.pop("_poll_crawler", None)
        state: dict[str, Any] = {
            "Type": "Task",
            "Comment": stage.description or stage.name,
            **task,
            "ResultPath": None,
            "Catch": catch,
        }
        if stage.retries:
            state["Retry"] = [
                {
                    "ErrorEquals": ["States.ALL"],
                    "IntervalSeconds": RETRY_INTERVAL_S,
                    "MaxAttempts": stage.retries,
                    "BackoffRate": 2.0,
                }
            ]
        if crawler is None:
            state.update({"Next": after} if after else {"End": True})
            states[stage.name] = state
            continue
        wait, check, choice = f"{stage.name}_wait", f"{stage.name}_status", f"{stage.name}_ready"
        state["Next"] = wait
        states[stage.name] = state
        states[wait] = {"Type": "Wait", "Seconds": 30, "Next": check}
        states[check] = {
            "Type": "Task",
            "Resource": "arn:aws:states:::aws-sdk:glue:getCrawler",
            "Parameters": {"Name": crawler},
            "ResultSelector": {"state.$": "$.Crawler.State"},
            "ResultPath": "$.crawler",
            "Catch": catch,
            "Next": choice,
        }
        states[choice] = {
            "Type": "Choice",
            "Choices": [
                {
                    "Variable": "$.crawler.state",
                    "StringEquals": "READY",
                    **({"Next": after} if after else {"Next": "pipeline_succeeded"}),
                }
            ],
            "Default": wait,
        }
        if not after:
            states["pipeline_succeeded"] = {"Type": "Succeed"}
    states[NOTIFY] = {
        "Type": "Task",
        "Resource": "arn:aws:states:::sns:publish",
        "Parameters": {
            "TopicArn": "${alerts_topic_arn}",
            "Subject": f"lakelib: {pipeline.name} failed",
            "Message.$": "States.JsonToString($.error)",
        },
        "ResultPath": None,
        "Next": FAILED,
    }
    states[FAILED] = {"Type": "Fail", "Error": "PipelineFailed", "Cause": "a stage failed"}
    # Scheduled executions may start without input: the run date is then the start time.
    start = {
        "check_run_date": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.run_date", "IsPresent": True, "Next": names[0]}],
            "Default": "default_run_date",
        },
        "default_run_date": {
            "Type": "Pass",
            "Parameters": {"run_date.$": "$$.Execution.StartTime"},
            "Next": names[0],
        },
    }
    return {
        "Comment": comment or pipeline.description or f"lakelib pipeline {pipeline.name}",
        "StartAt": "check_run_date",
        "States": {**start, **states},
    }


def export_state_machine(pipeline: Pipeline) -> str:
    """The definition as the JSON text the Pulumi program reads (``state_machine.json``)."""
    return json.dumps(to_state_machine(pipeline), indent=2, sort_keys=False) + "\n"
