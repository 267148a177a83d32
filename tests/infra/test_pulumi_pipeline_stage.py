"""The Step Functions pipeline from lakelib's real export: its ML and report stages on SageMaker.

Issue 14: train, transform, report and notebooks ran in a Glue Spark job that never started
Spark (``pipeline_stage``). Now the state machine runs SageMaker's own jobs: training and
batch transform, and processing jobs of ``jobs/pipeline_stage.py`` for the steps around them,
the report and the notebooks, all in the stack's subnets with its key, under the SageMaker
role. No Glue stage job or role is left.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from lake_platform.ingestion import unfilled_placeholders
from pulumi_harness import ACCOUNT, REGION, REPO, Platform, run_program

import lakelib.pipeline

JOB = "aws:glue/job:Job"
MACHINE = "aws:sfn/stateMachine:StateMachine"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
OBJECT = "aws:s3/bucketObjectv2:BucketObjectv2"
SM = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}"
PROCESSING = "arn:aws:states:::sagemaker:createProcessingJob.sync"


@pytest.fixture(scope="module")
def exported(daily_platform: Platform) -> Platform:
    """The platform deployed from `lake run --export-step-functions` and the real jobs/."""
    return daily_platform


def _definition(platform: Platform) -> str:
    (machine,) = platform.of_type(MACHINE)
    return machine.inputs["definition"]


def _statements(platform: Platform, name: str) -> dict[str, dict[str, Any]]:
    policy = platform.policy(platform.one(ROLE_POLICY, name))
    return {s["Sid"]: s for s in policy["Statement"]}


def test_the_ml_and_report_stages_are_sagemaker_jobs_in_the_stacks_vpc(
    exported: Platform,
) -> None:
    text = _definition(exported)
    assert unfilled_placeholders(text) == []
    states = json.loads(text)["States"]
    out = exported.outputs
    resources = {name: s.get("Resource") for name, s in states.items() if s["Type"] == "Task"}
    assert resources["train_job"] == "arn:aws:states:::sagemaker:createTrainingJob.sync"
    assert resources["transform_model"] == "arn:aws:states:::sagemaker:createModel"
    assert resources["transform_job"] == "arn:aws:states:::sagemaker:createTransformJob.sync"
    processing = [n for n, r in resources.items() if r == PROCESSING]
    assert processing == [
        "train",
        "train_register",
        "transform",
        "transform_catalog",
        "report",
        "notebooks",
    ]
    assert not any("glue:startJobRun" in str(r) and n in processing for n, r in resources.items())
    image = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/lake-test-processing:lakelib-py311"
    assert out["sagemaker_processing_image"] == image
    for name in processing:
        parameters = states[name]["Parameters"]
        assert parameters["RoleArn"] == out["sagemaker_role_arn"]
        assert parameters["AppSpecification"]["ImageUri"] == image
        network = parameters["NetworkConfig"]
        assert network["EnableNetworkIsolation"] is False  # it reads S3 through the endpoint
        assert network["VpcConfig"]["SecurityGroupIds"] == [out["sagemaker_security_group"]]
        # One stack output, split at run time into the request's list.
        assert network["VpcConfig"]["Subnets.$"] == (
            f"States.StringSplit('{out['sagemaker_subnets']}', ',')"
        )
        cluster = parameters["ProcessingResources"]["ClusterConfig"]
        assert cluster["VolumeKmsKeyId"] == out["sagemaker_kms_key_arn"] == out["data_key_arn"]
        env = parameters["Environment"]
        assert env["LAKE_PROFILE"] == "aws" and env["LAKE_CONFIG"] == out["lake_config_uri"]
        assert env["LAKE_SCRIPTS_BUCKET"] == out["scripts_bucket"]
        assert env["LAKE_SAGEMAKER_SUBNETS"] == out["sagemaker_subnets"]
        inputs = {i["InputName"]: i["S3Input"]["S3Uri"] for i in parameters["ProcessingInputs"]}
        assert inputs["code"] == f"s3://{out['scripts_bucket']}/jobs/pipeline_stage.py"
        assert inputs["wheels"] == f"s3://{out['scripts_bucket']}/jobs/lib/"
        assert ("notebooks" in inputs) == (name == "notebooks")
    assert out["sagemaker_subnets"] == ",".join(out["private_subnet_ids"])
    # Step Functions' own context path survives the filling.
    assert states["run_context"]["Parameters"]["execution.$"] == "$$.Execution.Name"


def test_the_stage_script_and_notebooks_are_uploaded_and_no_glue_stage_job_exists(
    exported: Platform,
) -> None:
    keys = {o.inputs["key"]: o.inputs for o in exported.of_type(OBJECT)}
    script = keys["jobs/pipeline_stage.py"]
    assert script["source"].path == str(REPO / "jobs" / "pipeline_stage.py")
    notebooks = sorted(k for k in keys if k.startswith("jobs/notebooks/"))
    assert notebooks == [
        f"jobs/notebooks/{p.name}" for p in sorted((REPO / "notebooks").glob("*.ipynb"))
    ]
    assert len(notebooks) == 4
    # Pulumi's mocks register resources as their outputs resolve: the order is not fixed.
    assert sorted(j.name for j in exported.of_type(JOB)) == [
        "catalog-curate",
        "catalog-sales_clean",
    ]
    assert not [r for r in exported.of_type(ROLE_POLICY) if "pipeline-stage" in r.name]
    assert "pipeline_stage_job" not in exported.outputs
    (repository,) = exported.of_type("aws:ecr/repository:Repository")
    assert repository.inputs["imageTagMutability"] == "IMMUTABLE"
    assert repository.inputs["imageScanningConfiguration"] == {"scanOnPush": True}


def test_the_state_machine_may_run_exactly_its_sagemaker_jobs(exported: Platform) -> None:
    out = exported.outputs
    statements = _statements(exported, "ingestion-pipeline")
    nouns = {
        "TrainingJob": "training-job",
        "ProcessingJob": "processing-job",
        "TransformJob": "transform-job",
        "Model": "model",
    }
    for kind, noun in nouns.items():
        create = statements[f"Create{kind}InTheStacksVpcWithItsKey"]
        assert create["Action"] == [f"sagemaker:Create{kind}"]
        assert create["Resource"] == [f"{SM}:{noun}/*"]
        # Only with the stack's network (and key, isolation where the request has them).
        conditions = create["Condition"]
        if kind != "TransformJob":
            assert (
                conditions["ForAllValues:StringEquals"]["sagemaker:VpcSubnets"]
                == (out["private_subnet_ids"])
            )
        if kind in ("TrainingJob", "Model"):
            assert conditions["Bool"] == {"sagemaker:NetworkIsolation": "true"}
        if kind != "Model":
            assert conditions["StringEquals"] == {"sagemaker:VolumeKmsKey": out["data_key_arn"]}
    run = statements["RunSageMakerJobs"]
    assert not any(a.startswith("sagemaker:Create") for a in run["Action"])
    assert not any(a.startswith("sagemaker:Delete") or "Endpoint" in a for a in run["Action"])
    assert set(run["Resource"]) == {f"{SM}:{noun}/*" for noun in nouns.values()}
    assert statements["PassSageMakerRole"]["Resource"] == [out["sagemaker_role_arn"]]
    rules = {r.rsplit("/", 1)[1] for r in statements["SyncSageMakerJobs"]["Resource"]}
    assert rules == {
        f"StepFunctionsGetEventsForSageMaker{k}JobsRule"
        for k in ("Training", "Processing", "Transform")
    }
    # No Glue job but the declared ETL ones (glueJobs) is started by the state machine.
    glue = f"arn:aws:glue:{REGION}:{ACCOUNT}"
    assert all(r.startswith(f"{glue}:job/") for r in statements["RunEtl"]["Resource"])
    assert not any("stage" in r for r in statements["RunEtl"]["Resource"])


def test_the_sagemaker_role_runs_the_pipelines_processing_steps(exported: Platform) -> None:
    out = exported.outputs
    statements = _statements(exported, "security-sagemaker")
    assert statements["PublishAlerts"]["Resource"] == [out["alerts_topic_arn"]]
    catalog = statements["CatalogPredictions"]["Resource"]
    assert f"arn:aws:glue:{REGION}:{ACCOUNT}:table/data_lake_db/predictions" in catalog
    assert not any(r.endswith("/sales_clean") for r in catalog)
    pulls = statements["PullFrameworkImages"]["Resource"]
    assert f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/lake-test-processing" in pulls


def test_a_placeholder_without_a_value_is_reported() -> None:
    text = '{"A": "${job_x}", "B": "${job_x}", "C": "$$.Execution.Id", "D": "${crawler_raw}"}'
    assert unfilled_placeholders(text) == ["${crawler_raw}", "${job_x}"]


def test_an_exported_definition_without_the_etl_jobs_still_deploys_with_a_warning(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """glueJobs is what declares sales_clean/curate: without it their states stay unfilled."""
    tmp = tmp_path_factory.mktemp("no-etl")
    definition = tmp / "state_machine.json"
    definition.write_text(lakelib.pipeline.export_state_machine(lakelib.pipeline.daily_pipeline()))
    platform = run_program(
        {"aws:region": REGION, "stateMachineFile": str(definition), "jobsDir": str(REPO / "jobs")}
    )
    text = _definition(platform)
    assert unfilled_placeholders(text) == ["${job_curate}", "${job_sales_clean}"]
