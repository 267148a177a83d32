"""The same pipeline definition as an AWS Step Functions state machine (Amazon States Language).

The execution input is ``{"run_date": "YYYY-MM-DD..."}`` (the execution's start time when
absent). Each stage becomes a ``Task`` state with the stage's ``aws_task`` fields, its retries as a
``Retry`` policy (exponential backoff) and a ``Catch`` that publishes the error to the alerts
topic and fails the execution. Names of platform resources are ``${name}`` placeholders that
the Pulumi program fills (``${ingest_function_arn}``, ``${crawler_raw}``, ``${job_<job>}``,
``${alerts_topic_arn}``, ``${scripts_bucket}``, ``${sagemaker_role_arn}``, ...); Step
Functions' own ``$$.`` paths are left alone. A stage trained on SageMaker becomes a
``sagemaker:createTrainingJob.sync`` state between two steps of the stage job
(:func:`sagemaker_training_task`).
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


def sagemaker_training_task(stage_job: str, stage: str) -> dict[str, Any]:
    """A stage trained by a SageMaker training job that the state machine runs and waits for.

    Four states (the exporter adds the last three after ``<stage>``):

    - ``<stage>``: the stage job, ``--step prepare``: decides whether training is due, uploads
      the channels and the code bundle, and writes the execution's plan with the whole
      ``CreateTrainingJob`` request to ``s3://${scripts_bucket}/jobs/ml/plans/<execution>.json``;
    - ``<stage>_plan``: reads the plan (``aws-sdk:s3:getObject``);
    - ``<stage>_due``: a Choice: not due goes straight to the next stage;
    - ``<stage>_job``: ``sagemaker:createTrainingJob.sync`` with the plan's request, run with
      the SageMaker role (``${sagemaker_role_arn}``);
    - ``<stage>_register``: the stage job, ``--step register --model_artifact <the job's
      S3ModelArtifacts>``: registers the version and promotes it by the local rule.
    """
    arguments = {
        "--stage": stage,
        "--step": "prepare",
        "--run_date.$": "$.run_date",
        "--execution.$": "$$.Execution.Name",
        "--sagemaker_role_arn": "${sagemaker_role_arn}",
    }
    task = glue_job_task(stage_job, arguments)
    task["_sagemaker_training"] = stage_job
    return task


def _training_states(
    name: str, stage_job: str, after: str | None, catch: list[dict[str, Any]]
) -> dict[str, Any]:
    from lakelib.config import AWS_ZONE_LAYOUT, Zone
    from lakelib.ml._sagemaker import PLANS, TRAINING_REQUEST_FIELDS

    scripts_prefix = AWS_ZONE_LAYOUT[Zone.SCRIPTS][1]
    plan, due, job, register = (f"{name}_{s}" for s in ("plan", "due", "job", "register"))
    following = after or "pipeline_succeeded"
    states: dict[str, Any] = {
        plan: {
            "Type": "Task",
            "Comment": "read the training plan the prepare step wrote",
            "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
            "Parameters": {
                "Bucket": "${scripts_bucket}",
                "Key.$": f"States.Format('{scripts_prefix}{PLANS}/{{}}.json', $$.Execution.Name)",
            },
            "ResultSelector": {"plan.$": "States.StringToJson($.Body)"},
            "ResultPath": f"$.{name}",
            "Catch": catch,
            "Next": due,
        },
        due: {
            "Type": "Choice",
            "Choices": [{"Variable": f"$.{name}.plan.due", "BooleanEquals": True, "Next": job}],
            "Default": following,
        },
        job: {
            "Type": "Task",
            "Comment": "the training job (script mode, managed spot), waited for",
            "Resource": "arn:aws:states:::sagemaker:createTrainingJob.sync",
            "Parameters": {
                f"{field}.$": f"$.{name}.plan.request.{field}" for field in TRAINING_REQUEST_FIELDS
            },
            "ResultSelector": {
                "artifact.$": "$.ModelArtifacts.S3ModelArtifacts",
                "name.$": "$.TrainingJobName",
            },
            "ResultPath": f"$.{name}.job",
            "Catch": catch,
            "Next": register,
        },
        register: {
            "Type": "Task",
            "Comment": "register the trained version, promote it by the local rule",
            **glue_job_task(
                stage_job,
                {
                    "--stage": name,
                    "--step": "register",
                    "--run_date.$": "$.run_date",
                    "--execution.$": "$$.Execution.Name",
                    "--model_artifact.$": f"$.{name}.job.artifact",
                },
            ),
            "ResultPath": None,
            "Catch": catch,
            "Next": following,
        },
    }
    return states


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
        training = task.pop("_sagemaker_training", None)
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
        if training is not None:
            state["Next"] = f"{stage.name}_plan"
            states[stage.name] = state
            states.update(_training_states(stage.name, training, after, catch))
            if not after:
                states["pipeline_succeeded"] = {"Type": "Succeed"}
            continue
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
