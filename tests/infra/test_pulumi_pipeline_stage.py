"""The Step Functions pipeline from lakelib's real export, and its pipeline_stage Glue job."""

from __future__ import annotations

import json
from typing import Any

import pytest
from lake_platform import policies
from lake_platform.ingestion import unfilled_placeholders
from pulumi_harness import ACCOUNT, REGION, REPO, Platform, run_program

import lakelib.pipeline

JOB = "aws:glue/job:Job"
MACHINE = "aws:sfn/stateMachine:StateMachine"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
STAGE_JOB = "lake-test-pipeline-stage"
GLUE = f"arn:aws:glue:{REGION}:{ACCOUNT}"


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


def test_the_exported_definition_has_no_unfilled_placeholder(exported: Platform) -> None:
    text = _definition(exported)
    assert unfilled_placeholders(text) == []
    states = json.loads(text)["States"]
    out = exported.outputs
    assert states["ingest"]["Parameters"]["FunctionName"].endswith(":function:lake-test-ingest")
    assert states["crawl"]["Parameters"]["Name"] == out["crawlers"]["raw"]
    assert states["etl"]["Parameters"]["JobName"] == out["glue_jobs"]["sales_clean"]
    assert states["curate"]["Parameters"]["JobName"] == out["glue_jobs"]["curate"]
    assert states["notify_failure"]["Parameters"]["TopicArn"] == out["alerts_topic_arn"]
    for stage in ("train", "train_register", "transform", "report", "notebooks"):
        parameters = states[stage]["Parameters"]
        assert parameters["JobName"] == out["pipeline_stage_job"] == STAGE_JOB
        assert parameters["Arguments"]["--stage"] == stage.removesuffix("_register")
        assert parameters["Arguments"]["--run_date.$"] == "$.run_date"
        assert states[stage]["Resource"] == "arn:aws:states:::glue:startJobRun.sync"
    assert (
        states["train"]["Parameters"]["Arguments"]["--sagemaker_role_arn"]
        == (out["sagemaker_role_arn"])
    )
    assert states["train_plan"]["Parameters"]["Bucket"] == out["scripts_bucket"]
    # Step Functions' own context path survives the filling.
    assert states["default_run_date"]["Parameters"] == {"run_date.$": "$$.Execution.StartTime"}


def test_the_stage_job_runs_the_real_script_with_lakelib(exported: Platform) -> None:
    out = exported.outputs
    job = exported.one(JOB, "catalog-pipeline_stage").inputs
    scripts = out["scripts_bucket"]
    assert job["name"] == STAGE_JOB
    # Glue Python shell stops at Python 3.9 (Glue 3.0); lakelib needs 3.11 = Glue 5.0.
    assert job["command"] == {
        "name": "glueetl",
        "pythonVersion": "3",
        "scriptLocation": f"s3://{scripts}/jobs/pipeline_stage.py",
    }
    assert job["glueVersion"] == "5.0"
    assert (job["workerType"], job["numberOfWorkers"]) == ("G.1X", 2)  # Glue's smallest
    assert job["maxRetries"] == 0  # the state machine's Retry decides
    assert job["timeout"] == 120
    assert job["executionProperty"] == {"maxConcurrentRuns": 1}
    assert job["roleArn"] == out["pipeline_stage_role_arn"] != out["glue_role_arn"]
    args = job["defaultArguments"]
    # lakelib[aws] (awswrangler included) from the prebuilt wheelhouse, no index.
    assert args["--additional-python-modules"] == (
        f"s3://{scripts}/jobs/lib/lakelib-0.1.0-glue5.gluewheels.zip"
    )
    assert args["--python-modules-installer-option"] == "--no-index"
    assert args["--job-bookmark-option"] == "job-bookmark-disable"
    assert "--enable-auto-scaling" not in args
    # The names the aws profile reads, as arguments the script turns into LAKE_* variables.
    assert args["--profile"] == "aws"
    for output in ("raw_bucket", "curated_bucket", "query_results_bucket", "alerts_topic_arn"):
        assert args[f"--{output}"] == out[output]
    assert args["--database"] == "data_lake_db" and args["--region"] == REGION
    (script,) = [
        o
        for o in exported.of_type("aws:s3/bucketObjectv2:BucketObjectv2")
        if o.inputs["key"] == "jobs/pipeline_stage.py"
    ]
    assert script.inputs["source"].path == str(REPO / "jobs" / "pipeline_stage.py")


def test_the_state_machine_may_start_every_job_and_crawler_it_names(exported: Platform) -> None:
    statements = _statements(exported, "ingestion-pipeline")
    states = json.loads(_definition(exported))["States"]
    jobs = {
        s["Parameters"]["JobName"] for s in states.values() if "JobName" in s.get("Parameters", {})
    }
    assert f"{GLUE}:job/{STAGE_JOB}" in statements["RunEtl"]["Resource"]
    assert {f"{GLUE}:job/{j}" for j in jobs} <= set(statements["RunEtl"]["Resource"])
    assert "glue:StartJobRun" in statements["RunEtl"]["Action"]
    crawlers = {
        s["Parameters"]["Name"] for s in states.values() if "Crawler" in s.get("Resource", "")
    }
    assert {f"{GLUE}:crawler/{c}" for c in crawlers} <= set(statements["Crawl"]["Resource"])
    # notify_failure publishes to the SSE-KMS alerts topic: both keys, not only the data key.
    keys = statements["UseLakeKeys"]["Resource"]
    assert exported.outputs["data_key_arn"] in keys and len(keys) == 2


def test_the_stage_role_reaches_only_what_the_stages_use(exported: Platform) -> None:
    out = exported.outputs
    statements = _statements(exported, "security-pipeline-stage")
    resources = {r for s in statements.values() for r in s["Resource"]}
    writes = {
        r for s in statements.values() if "s3:PutObject" in s["Action"] for r in s["Resource"]
    }
    assert writes == {
        f"arn:aws:s3:::{out['scripts_bucket']}/jobs/ml/*",
        f"arn:aws:s3:::{out['scripts_bucket']}/models/*",
        f"arn:aws:s3:::{out['scripts_bucket']}/runs/*",
        f"arn:aws:s3:::{out['scripts_bucket']}/glue-temp/*",
        f"arn:aws:s3:::{out['curated_bucket']}/predictions/*",
        f"arn:aws:s3:::{out['query_results_bucket']}/ml_data/*",
        f"arn:aws:s3:::{out['query_results_bucket']}/analytics/*",
    }
    assert not any(out["raw_bucket"] in r for r in resources)  # raw is the Lambda's
    assert set(statements["QueryThroughAthena"]["Resource"]) == {
        f"arn:aws:athena:{REGION}:{ACCOUNT}:workgroup/ml_data",
        f"arn:aws:athena:{REGION}:{ACCOUNT}:workgroup/analytics",
    }
    assert statements["PublishAlerts"]["Resource"] == [out["alerts_topic_arn"]]
    assert [str(v) for v in policies.check_all(exported.records)] == []


def test_the_s3_event_workflow_never_starts_the_stage_job(exported: Platform) -> None:
    triggers = {t.name: t.inputs for t in exported.of_type("aws:glue/trigger:Trigger")}
    started = {a.get("jobName") for t in triggers.values() for a in t.get("actions", [])}
    assert STAGE_JOB not in started
    assert STAGE_JOB not in exported.outputs["glue_jobs"].values()


def test_no_state_machine_no_stage_job(minimal_platform: Platform) -> None:
    assert not [j for j in minimal_platform.of_type(JOB) if j.name == "catalog-pipeline_stage"]
    assert not [
        r for r in minimal_platform.of_type(ROLE_POLICY) if r.name == "security-pipeline-stage"
    ]
    assert "pipeline_stage_job" not in minimal_platform.outputs


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
    assert platform.outputs["pipeline_stage_job"] == STAGE_JOB
