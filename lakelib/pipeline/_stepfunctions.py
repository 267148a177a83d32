"""The same pipeline definition as an AWS Step Functions state machine (Amazon States Language).

The execution input is ``{"run_date": "YYYY-MM-DD..."}`` (the execution's start time when
absent). Each stage becomes a ``Task`` state with the stage's ``aws_task`` fields, its retries as a
``Retry`` policy (exponential backoff) and a ``Catch`` that publishes the error to the alerts
topic and fails the execution. Names of platform resources are ``${name}`` placeholders that
the Pulumi program fills (``${ingest_function_arn}``, ``${crawler_raw}``, ``${job_<job>}``,
``${alerts_topic_arn}``, ``${scripts_bucket}``, ``${sagemaker_role_arn}``, ...); Step
Functions' own ``$$.`` paths are left alone. The ML and reporting stages run on SageMaker:
``train`` as a ``sagemaker:createTrainingJob.sync`` state between two processing-job steps
(:func:`sagemaker_training_task`), ``transform`` as ``createModel`` +
``createTransformJob.sync`` between two more (:func:`sagemaker_transform_task`), ``report``
and ``notebooks`` as processing jobs (:func:`processing_task`).
"""

from __future__ import annotations

import json
from typing import Any

from lakelib.errors import ConfigError
from lakelib.pipeline._runner import Pipeline

NOTIFY = "notify_failure"
RUN_CONTEXT = "run_context"
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


# -- the stages SageMaker runs ---------------------------------------------------------------
# Everything between the AWS services (deciding, uploading, registering, cataloging) and the
# report and notebooks run as SageMaker processing jobs of ``jobs/pipeline_stage.py`` under
# the SageMaker role; training and scoring are SageMaker's own training and transform jobs.

PROCESSING_ROOT = "/opt/ml/processing"
STAGE_SCRIPT = "pipeline_stage.py"  # jobs/pipeline_stage.py, uploaded to jobs/ by Pulumi
# What each processing job's container is given, by input name (see jobs/pipeline_stage.py).
STAGE_INPUTS = {
    "code": f"s3://${{scripts_bucket}}/jobs/{STAGE_SCRIPT}",
    "wheels": "s3://${scripts_bucket}/jobs/lib/",
}
NOTEBOOK_INPUT = {"notebooks": "s3://${scripts_bucket}/jobs/notebooks/"}
# The aws profile's names, as the container's LAKE_* variables (placeholders Pulumi fills).
STAGE_OUTPUTS = (
    "raw_bucket",
    "processed_bucket",
    "curated_bucket",
    "scripts_bucket",
    "query_results_bucket",
    "database",
    "alerts_topic_arn",
    "sagemaker_role_arn",
    "sagemaker_subnets",
    "sagemaker_security_group",
    "sagemaker_kms_key_arn",
    "region",
)


def _stage_environment() -> dict[str, str]:
    from lakelib.config._settings import AWS_OUTPUT_ENV

    env = {"LAKE_PROFILE": "aws", "LAKE_CONFIG": "${lake_config_uri}"}
    env.update({AWS_OUTPUT_ENV[name][0]: f"${{{name}}}" for name in STAGE_OUTPUTS})
    return env


def _network_placeholders() -> Any:
    from lakelib.ml._sagemaker import JobNetwork

    return JobNetwork(("${sagemaker_subnets}",), ("${sagemaker_security_group}",),
                      "${sagemaker_kms_key_arn}")  # fmt: skip


def _with_subnet_list(request: dict[str, Any]) -> dict[str, Any]:
    """``${sagemaker_subnets}`` is one comma-separated stack output: split it at run time."""
    for holder in (request, request.get("NetworkConfig", {})):
        vpc = holder.get("VpcConfig")
        if vpc is not None and "Subnets" in vpc:
            del vpc["Subnets"]
            vpc["Subnets.$"] = "States.StringSplit('${sagemaker_subnets}', ',')"
    return request


def processing_task(
    stage: str, step: str | None = None, paths: dict[str, str] | None = None
) -> dict[str, Any]:
    """A ``sagemaker:createProcessingJob.sync`` Task running one stage (or step) of the
    pipeline: ``pipeline_stage.py --stage <stage> [--step <step>] --run_date <run date>
    --execution <execution> [--<name> <value of path> ...]`` in the processing image, with
    lakelib installed from the wheelhouse in the scripts bucket (no index, no internet).
    """
    from lakelib.ml._sagemaker import processing_job_request

    literal = ["--stage", stage, *(["--step", step] if step else [])]
    arguments = [f"'{a}'" for a in literal] + ["'--run_date'", "$.run_date"]
    arguments += ["'--execution'", "$.execution"]
    for name, path in (paths or {}).items():
        arguments += [f"'--{name}'", path]
    label = f"{stage}-{step}" if step else stage
    request = processing_job_request(
        job_name="-",
        role_arn="${sagemaker_role_arn}",
        image_uri="${sagemaker_processing_image}",
        entrypoint=["python3", f"{PROCESSING_ROOT}/input/code/{STAGE_SCRIPT}"],
        inputs={**STAGE_INPUTS, **(NOTEBOOK_INPUT if stage == "notebooks" else {})},
        environment=_stage_environment(),
        network=_network_placeholders(),
    )
    del request["ProcessingJobName"]
    request["AppSpecification"]["ContainerArguments.$"] = f"States.Array({', '.join(arguments)})"
    # Unique per run (a rerun of the stage is a new job); 63 characters at most.
    parameters = {
        "ProcessingJobName.$": f"States.Format('lake-{label}-{{}}', States.UUID())",
        **_with_subnet_list(request),
    }
    return {
        "Resource": "arn:aws:states:::sagemaker:createProcessingJob.sync",
        "Parameters": parameters,
        "_sagemaker_stage": stage,
    }


def sagemaker_training_task(stage: str) -> dict[str, Any]:
    """A stage trained by a SageMaker training job that the state machine runs and waits for.

    Five states (the exporter adds the last four after ``<stage>``):

    - ``<stage>``: processing job, ``--step prepare``: decides whether training is due,
      uploads the channels and the code bundle, and writes the execution's plan with the
      whole ``CreateTrainingJob`` request to ``s3://${scripts_bucket}/jobs/ml/plans/<execution>.json``;
    - ``<stage>_plan``: reads the plan (``aws-sdk:s3:getObject``);
    - ``<stage>_due``: a Choice: not due goes straight to the next stage;
    - ``<stage>_job``: ``sagemaker:createTrainingJob.sync`` with the plan's request (the
      SageMaker role, the stack's VPC, isolation and key);
    - ``<stage>_register``: processing job, ``--step register --model_artifact <the job's
      S3ModelArtifacts>``: registers the version and promotes it by the local rule.
    """
    return {**processing_task(stage, "prepare"), "_sagemaker_chain": "train"}


def sagemaker_transform_task(stage: str) -> dict[str, Any]:
    """A stage scored by a SageMaker batch transform job.

    ``<stage>`` (processing, ``--step prepare``: the features as CSV, the model repacked,
    the plan ``jobs/ml/plans/<execution>.transform.json``) -> ``<stage>_plan`` ->
    ``<stage>_due`` (no promoted model: on to the next stage) -> ``<stage>_model``
    (``sagemaker:createModel``) -> ``<stage>_job`` (``sagemaker:createTransformJob.sync``) ->
    ``<stage>_catalog`` (processing, ``--step catalog``: the scores into
    ``curated/predictions``, cataloged).
    """
    return {**processing_task(stage, "prepare"), "_sagemaker_chain": "transform"}


def _plan_states(
    name: str, kind: str, first: str, after: str, catch: list[dict[str, Any]]
) -> dict[str, Any]:
    from lakelib.config import AWS_ZONE_LAYOUT, Zone
    from lakelib.ml._sagemaker import PLANS, plan_suffix

    scripts_prefix = AWS_ZONE_LAYOUT[Zone.SCRIPTS][1]
    key = f"{scripts_prefix}{PLANS}/{{}}{plan_suffix(kind)}.json"
    return {
        f"{name}_plan": {
            "Type": "Task",
            "Comment": f"read the {kind} plan the prepare step wrote",
            "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
            "Parameters": {
                "Bucket": "${scripts_bucket}",
                "Key.$": f"States.Format('{key}', $.execution)",
            },
            "ResultSelector": {"plan.$": "States.StringToJson($.Body)"},
            "ResultPath": f"$.{name}",
            "Catch": catch,
            "Next": f"{name}_due",
        },
        f"{name}_due": {
            "Type": "Choice",
            "Choices": [{"Variable": f"$.{name}.plan.due", "BooleanEquals": True, "Next": first}],
            "Default": after,
        },
    }


# Fields the state machine sets itself rather than take from a plan: the role a job runs as
# is the stack's SageMaker role, whatever a plan says.
ROLE_FIELDS = ("RoleArn", "ExecutionRoleArn")


def _forwarded(name: str, field: str, fields: tuple[str, ...]) -> dict[str, str]:
    return {
        (f if f in ROLE_FIELDS else f"{f}.$"): (
            "${sagemaker_role_arn}" if f in ROLE_FIELDS else f"$.{name}.plan.{field}.{f}"
        )
        for f in fields
    }


def _chain_states(
    name: str, kind: str, after: str | None, catch: list[dict[str, Any]]
) -> dict[str, Any]:
    from lakelib.ml._sagemaker import (
        MODEL_REQUEST_FIELDS,
        TRAINING_REQUEST_FIELDS,
        TRANSFORM_REQUEST_FIELDS,
    )

    following = after or "pipeline_succeeded"
    task = {"Type": "Task", "Catch": catch}
    if kind == "train":
        job, register = f"{name}_job", f"{name}_register"
        return {
            **_plan_states(name, kind, job, following, catch),
            job: {
                **task,
                "Comment": "the training job (script mode, managed spot), waited for",
                "Resource": "arn:aws:states:::sagemaker:createTrainingJob.sync",
                "Parameters": _forwarded(name, "request", TRAINING_REQUEST_FIELDS),
                "ResultSelector": {
                    "artifact.$": "$.ModelArtifacts.S3ModelArtifacts",
                    "name.$": "$.TrainingJobName",
                },
                "ResultPath": f"$.{name}.job",
                "Next": register,
            },
            register: {
                **task,
                "Comment": "register the trained version, promote it by the local rule",
                **_without_marks(
                    processing_task(name, "register", {"model_artifact": f"$.{name}.job.artifact"})
                ),
                "ResultPath": None,
                "Next": following,
            },
        }
    model, job, catalog = f"{name}_model", f"{name}_job", f"{name}_catalog"
    return {
        **_plan_states(name, kind, model, following, catch),
        model: {
            **task,
            "Comment": "the promoted version as a SageMaker model (VPC, isolation)",
            "Resource": "arn:aws:states:::sagemaker:createModel",
            "Parameters": _forwarded(name, "model_request", MODEL_REQUEST_FIELDS),
            "ResultPath": None,
            "Next": job,
        },
        job: {
            **task,
            "Comment": "the batch transform job over the features, waited for",
            "Resource": "arn:aws:states:::sagemaker:createTransformJob.sync",
            "Parameters": _forwarded(name, "transform_request", TRANSFORM_REQUEST_FIELDS),
            "ResultPath": None,
            "Next": catalog,
        },
        catalog: {
            **task,
            "Comment": "the scores into curated/predictions, cataloged",
            **_without_marks(processing_task(name, "catalog")),
            "ResultPath": None,
            "Next": following,
        },
    }


def _without_marks(task: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in task.items() if not k.startswith("_")}


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
        chain = task.pop("_sagemaker_chain", None)
        task.pop("_sagemaker_stage", None)
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
        if chain is not None:
            state["Next"] = f"{stage.name}_plan"
            states[stage.name] = state
            states.update(_chain_states(stage.name, chain, after, catch))
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
            "Choices": [{"Variable": "$.run_date", "IsPresent": True, "Next": RUN_CONTEXT}],
            "Default": "default_run_date",
        },
        "default_run_date": {
            "Type": "Pass",
            "Parameters": {"run_date.$": "$$.Execution.StartTime"},
            "Next": RUN_CONTEXT,
        },
        # The execution's name keys its plans and labels its jobs' arguments.
        RUN_CONTEXT: {
            "Type": "Pass",
            "Parameters": {"run_date.$": "$.run_date", "execution.$": "$$.Execution.Name"},
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
