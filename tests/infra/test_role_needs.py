"""Each role grants what its code paths need, and not what they do not.

Issue 13 item 3: the Glue ETL and EMR roles could not write ``runs/`` (lock, checkpoint, run
records), the pipeline-stage role could not create the ``predictions`` table, the SageMaker
role could not upload training inputs under ``jobs/ml/``. Since issue 14 the pipeline's steps
(train prepare/register, transform prepare/catalog, report, notebooks) are SageMaker
processing jobs under the SageMaker role: it has the needs the stage job had. Evaluated
statically against the rendered policies (FACTS.md: moto's IAM enforcement is trustworthy for
S3 only). The keys come from lakelib itself, so a change of layout there fails here, not on
AWS.
"""

from __future__ import annotations

import fnmatch
import json
from typing import Any

import pytest
from pulumi_harness import ACCOUNT, REGION, Platform

from lakelib.config import Zone
from lakelib.config._settings import AWS_ZONE_LAYOUT
from lakelib.etl import _state
from lakelib.ml._sagemaker import training_plan_key
from lakelib.ml._transform import PREDICTIONS_TABLE

ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
JOB, RUN = "sales_clean", "20260301T020000Z-1a2b3c"
TRAINING_JOB = "churn-20260302-020000-abc123"
EXECUTION = "daily-2026-03-02"

# Role policy (logical name) of each workload. The pipeline's processing jobs (STAGE) run
# under the SageMaker role.
ETL, EMR, SAGEMAKER, LAMBDA, PIPELINE = (
    "security-glue",
    "security-emr-ec2",
    "security-sagemaker",
    "security-ingest",
    "ingestion-pipeline",
)
STAGE = SAGEMAKER


@pytest.fixture(scope="module")
def deployed(daily_platform: Platform) -> Platform:
    """The platform with lakelib's real daily export and jobs (so the state machine is real)."""
    return daily_platform


def _zone_key(zone: Zone, key: str) -> tuple[str, str]:
    """(stack output of the bucket, key in it) of ``key`` in a zone, as lakelib lays it out."""
    output, prefix = AWS_ZONE_LAYOUT[zone]
    return output, prefix + key


def _lock_key(job: str) -> str:
    """The ETL lock's key in the runs zone: per job (runs/etl/<job>/lock/<generation>.json)
    once lakelib has it, else the older global one; either way lakelib decides, not this test."""
    if hasattr(_state, "lock_prefix"):
        return f"{_state.lock_prefix(job)}000000000001.json"
    return _state.LOCK_KEY


def _object(out: dict[str, Any], where: tuple[str, str]) -> str:
    return f"arn:aws:s3:::{out[where[0]]}/{where[1]}"


def needs(out: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(role policy, action, resource, the code path that needs it)."""
    glue = f"arn:aws:glue:{REGION}:{ACCOUNT}"
    config = f"arn:aws:s3:::{out['scripts_bucket']}/config/lake.toml"
    key = out["data_key_arn"]
    lock = _zone_key(Zone.RUNS, _lock_key(JOB))
    checkpoint = _zone_key(Zone.RUNS, _state.checkpoint_key(JOB) + "/commits/0")
    record = _zone_key(Zone.RUNS, f"{_state.job_prefix(JOB)}/{RUN}.json")
    rewind = _zone_key(Zone.RUNS, _state.rewind_key(JOB))
    train_input = _zone_key(Zone.SCRIPTS, f"ml/{TRAINING_JOB}/input/train/train.csv")
    bundle = _zone_key(Zone.SCRIPTS, f"ml/{TRAINING_JOB}/sourcedir.tar.gz")
    sm_checkpoint = _zone_key(Zone.SCRIPTS, f"ml/{TRAINING_JOB}/checkpoints/model.ckpt")
    plan = _zone_key(Zone.SCRIPTS, training_plan_key(EXECUTION))
    transform_plan = _zone_key(Zone.SCRIPTS, training_plan_key(EXECUTION, "transform"))
    features = _zone_key(Zone.SCRIPTS, f"ml/transform/{EXECUTION}/input/features.csv")
    scores = _zone_key(Zone.SCRIPTS, f"ml/transform/{EXECUTION}/output/features.csv.out")
    model = _zone_key(Zone.MODELS, f"training-jobs/{TRAINING_JOB}/output/model.tar.gz")
    table = f"{glue}:table/{out['database']}/{PREDICTIONS_TABLE}"
    rows: list[tuple[str, str, str, str]] = []
    for role in (ETL, EMR, SAGEMAKER, LAMBDA):
        rows += [
            (role, "s3:GetObject", config, "LAKE_CONFIG: the workspace config"),
            (role, "kms:Decrypt", key, "the config object is SSE-KMS"),
        ]
    for role in (ETL, EMR):  # lakelib.etl on Glue and as EMR steps
        for where, why in ((lock, "per-job lock"), (checkpoint, "Spark checkpoint (bookmark)"),
                           (record, "run record"), (rewind, "--since rewind")):  # fmt: skip
            for action in ("s3:GetObject", "s3:PutObject", "s3:DeleteObject"):
                rows.append((role, action, _object(out, where), why))
        rows.append((role, "kms:GenerateDataKey", key, "writes to the SSE-KMS scripts bucket"))
    for action in ("glue:GetTable", "glue:CreateTable", "glue:UpdateTable",
                   "glue:BatchCreatePartition", "glue:GetPartitions"):  # fmt: skip
        rows.append((STAGE, action, table, "transform: catalog predictions"))
    rows.append((STAGE, "glue:GetDatabase", f"{glue}:database/{out['database']}", "transform"))
    for where, why in ((train_input, "train prepare: inputs"), (bundle, "train prepare: bundle"),
                       (plan, "train prepare: the plan the state machine reads")):  # fmt: skip
        rows.append((STAGE, "s3:PutObject", _object(out, where), why))
        rows.append((SAGEMAKER, "s3:PutObject", _object(out, where), "notebooks train too"))
    raw_file = f"arn:aws:s3:::{out['raw_bucket']}/sales/year=2026/month=03/day=01/x.json.gz"
    for action, why in (("s3:PutObject", "land"), ("s3:GetObject", "duplicate check"),
                        ("s3:DeleteObject", "a failed run takes its files back")):  # fmt: skip
        rows.append((LAMBDA, action, raw_file, why))
    rows += [
        (STAGE, "s3:GetObject", _object(out, plan), "train register: reads the plan back"),
        (STAGE, "s3:GetObject", _object(out, model), "train register: the artifact"),
        (STAGE, "s3:PutObject", _object(out, transform_plan), "transform prepare: the plan"),
        (STAGE, "s3:PutObject", _object(out, features), "transform prepare: the features"),
        (STAGE, "s3:GetObject", _object(out, scores), "transform catalog: the job's output"),
        (STAGE, "sns:Publish", out["alerts_topic_arn"], "report: the alerts that fire"),
        (SAGEMAKER, "s3:GetObject", _object(out, train_input), "the training job's channel"),
        (SAGEMAKER, "s3:PutObject", _object(out, sm_checkpoint), "spot training checkpoints"),
        (SAGEMAKER, "s3:PutObject", _object(out, model), "the training job's output"),
    ]
    return rows


def must_not(out: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Least privilege: grants no code path needs."""
    glue = f"arn:aws:glue:{REGION}:{ACCOUNT}"
    config = f"arn:aws:s3:::{out['scripts_bucket']}/config/lake.toml"
    denied = [(role, "s3:PutObject", config) for role in (ETL, EMR, SAGEMAKER, LAMBDA)]
    denied += [
        (ETL, "s3:PutObject", f"arn:aws:s3:::{out['raw_bucket']}/sales/x.jsonl.gz"),
        (ETL, "s3:PutObject", _object(out, _zone_key(Zone.MODELS, "churn/registry.json"))),
        (ETL, "s3:PutObject", _object(out, _zone_key(Zone.RUNS, "2026-03-01/report.html"))),
        (STAGE, "glue:CreateTable", f"{glue}:table/{out['database']}/sales_clean"),
        (STAGE, "glue:DeleteTable", f"{glue}:table/{out['database']}/{PREDICTIONS_TABLE}"),
        (STAGE, "s3:PutObject", f"arn:aws:s3:::{out['raw_bucket']}/sales/x.jsonl.gz"),
        (LAMBDA, "s3:PutObject", f"arn:aws:s3:::{out['scripts_bucket']}/jobs/ml/x"),
        (LAMBDA, "kms:GenerateDataKey", out["data_key_arn"]),
        (SAGEMAKER, "s3:PutObject", f"arn:aws:s3:::{out['scripts_bucket']}/jobs/sales_clean.py"),
    ]
    return denied


def _statements(platform: Platform, role: str) -> list[dict[str, Any]]:
    return json.loads(platform.one(ROLE_POLICY, role).inputs["policy"])["Statement"]


def _listed(value: Any) -> list[str]:
    return value if isinstance(value, list) else [value]


def allowed(statements: list[dict[str, Any]], action: str, resource: str) -> bool:
    """IAM's verdict for one request, without conditions: an Allow matches, no Deny does."""

    def matches(st: dict[str, Any]) -> bool:
        actions = [a.lower() for a in _listed(st["Action"])]
        return any(fnmatch.fnmatchcase(action.lower(), a) for a in actions) and any(
            fnmatch.fnmatchcase(resource, r) for r in _listed(st["Resource"])
        )

    if any(st["Effect"] == "Deny" and matches(st) for st in statements):
        return False
    return any(st["Effect"] == "Allow" and matches(st) for st in statements)


def test_every_code_path_is_granted_what_it_needs(deployed: Platform) -> None:
    missing = [
        f"{role} lacks {action} on {resource} ({why})"
        for role, action, resource, why in needs(deployed.outputs)
        if not allowed(_statements(deployed, role), action, resource)
    ]
    assert missing == []


def test_no_role_is_granted_what_no_code_path_needs(deployed: Platform) -> None:
    extra = [
        f"{role} may {action} on {resource}"
        for role, action, resource in must_not(deployed.outputs)
        if allowed(_statements(deployed, role), action, resource)
    ]
    assert extra == []


INTEGRATION_NEEDS = {
    # Step Functions' documented IAM needs per integration (service integration pages).
    "lambda:invoke": ["lambda:InvokeFunction"],
    "aws-sdk:glue:startCrawler": ["glue:StartCrawler"],
    "aws-sdk:glue:getCrawler": ["glue:GetCrawler"],
    "glue:startJobRun.sync": ["glue:StartJobRun", "glue:GetJobRun", "glue:BatchStopJobRun"],
    "aws-sdk:s3:getObject": ["s3:GetObject"],
    "sagemaker:createTrainingJob.sync": [
        "sagemaker:CreateTrainingJob",
        "sagemaker:DescribeTrainingJob",
        "sagemaker:StopTrainingJob",
    ],
    "sagemaker:createProcessingJob.sync": [
        "sagemaker:CreateProcessingJob",
        "sagemaker:DescribeProcessingJob",
        "sagemaker:StopProcessingJob",
    ],
    "sagemaker:createTransformJob.sync": [
        "sagemaker:CreateTransformJob",
        "sagemaker:DescribeTransformJob",
        "sagemaker:StopTransformJob",
    ],
    "sagemaker:createModel": ["sagemaker:CreateModel"],
    "sns:publish": ["sns:Publish"],
}


def _task_resource(state: dict[str, Any], out: dict[str, Any]) -> str:
    """The ARN a Task state acts on, from its (filled) parameters."""
    p = state["Parameters"]
    glue = f"arn:aws:glue:{REGION}:{ACCOUNT}"
    service = state["Resource"].removeprefix("arn:aws:states:::")
    if service.startswith("lambda:"):
        return p["FunctionName"]
    if service.startswith("aws-sdk:glue:"):
        return f"{glue}:crawler/{p['Name']}"
    if service.startswith("glue:"):
        return f"{glue}:job/{p['JobName']}"
    if service == "aws-sdk:s3:getObject":
        assert "jobs/ml/plans/" in p["Key.$"], p  # States.Format over the plan key
        return _object(out, (p["Bucket"], _zone_key(Zone.SCRIPTS, training_plan_key(EXECUTION))[1]))
    if service.startswith("sagemaker:"):
        noun = {
            "createTrainingJob": "training-job",
            "createProcessingJob": "processing-job",
            "createTransformJob": "transform-job",
            "createModel": "model",
        }[service.split(":")[1].removesuffix(".sync")]
        return f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:{noun}/{TRAINING_JOB}"
    return p["TopicArn"]


def test_the_state_machine_may_call_every_integration_it_uses(deployed: Platform) -> None:
    (machine,) = deployed.of_type("aws:sfn/stateMachine:StateMachine")
    states = json.loads(machine.inputs["definition"])["States"]
    out = {
        **deployed.outputs,
        deployed.outputs["scripts_bucket"]: deployed.outputs["scripts_bucket"],
    }
    statements = _statements(deployed, PIPELINE)
    missing = []
    for name, state in states.items():
        if state["Type"] != "Task":
            continue
        service = state["Resource"].removeprefix("arn:aws:states:::")
        resource = _task_resource(state, out)
        for action in INTEGRATION_NEEDS[service]:
            if not allowed(statements, action, resource):
                missing.append(f"{name}: {action} on {resource}")
    assert missing == []
    uses_sagemaker = any("sagemaker:" in s.get("Resource", "") for s in states.values())
    assert uses_sagemaker
    # .sync training: pass the training role, manage Step Functions' own event rule.
    assert allowed(statements, "iam:PassRole", out["sagemaker_role_arn"])
    rule = (
        f"arn:aws:events:{REGION}:{ACCOUNT}:rule/StepFunctionsGetEventsForSageMakerTrainingJobsRule"
    )
    assert allowed(statements, "events:PutRule", rule)
    assert not allowed(
        statements, "s3:GetObject", f"arn:aws:s3:::{out['scripts_bucket']}/config/lake.toml"
    )
