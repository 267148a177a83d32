"""The workspace config reaches AWS: uploaded once, named by LAKE_CONFIG everywhere it runs.

Issue 13 item 2: Pulumi uploaded the wheel and the job scripts only, so ``sales_clean`` found
no ``[sources.sales]`` contract, the Lambda landed records unvalidated and EMR steps pointed
at an S3 ``lake.toml`` that did not exist. Contract (OWNERS.md): ``config/lake.toml`` in the
scripts bucket; ``LAKE_CONFIG`` in every Lambda's environment, ``--LAKE_CONFIG`` in every Glue
job's default arguments, in the environment of EMR's Spark processes.
"""

from __future__ import annotations

import base64
import json
import subprocess
from typing import Any

import pytest
from lake_platform.settings import PlatformConfigError
from pulumi_harness import REPO, Platform, run_program, stack_config

OBJECT = "aws:s3/bucketObjectv2:BucketObjectv2"
# Every resource type of the program that runs lakelib code.
COMPUTE = {
    "aws:lambda/function:Function",
    "aws:glue/job:Job",
    "aws:emr/cluster:Cluster",
    "aws:sagemaker/notebookInstance:NotebookInstance",
}
LIFECYCLE = (
    "aws:sagemaker/notebookInstanceLifecycleConfiguration:NotebookInstanceLifecycleConfiguration"
)


def _config_uri(platform: Platform) -> str:
    return f"s3://{platform.outputs['scripts_bucket']}/config/lake.toml"


def _emr_env(inputs: dict[str, Any]) -> dict[str, dict[str, str]]:
    """LAKE_CONFIG as each kind of Spark process on the cluster sees it."""
    found: dict[str, dict[str, str]] = {}
    for classification in json.loads(inputs["configurationsJson"]):
        if classification["Classification"] == "spark-env":
            for nested in classification.get("Configurations", []):
                if nested["Classification"] == "export":
                    found["spark-env"] = nested["Properties"]
        if classification["Classification"] == "spark-defaults":
            props = classification["Properties"]
            for prefix in ("spark.yarn.appMasterEnv", "spark.executorEnv"):
                found[prefix] = {
                    k.removeprefix(prefix + "."): v
                    for k, v in props.items()
                    if k.startswith(prefix + ".")
                }
    return found


def test_the_workspace_config_is_uploaded_to_the_scripts_bucket(platform: Platform) -> None:
    (config,) = [o for o in platform.of_type(OBJECT) if o.inputs["key"] == "config/lake.toml"]
    assert config.inputs["bucket"] == platform.outputs["scripts_bucket"]
    assert config.inputs["source"].path == str(REPO / "lake.toml")
    assert platform.outputs["lake_config_uri"] == _config_uri(platform)


@pytest.mark.parametrize("which", ["platform", "minimal_platform"])
def test_every_compute_resource_is_given_the_config(
    which: str, request: pytest.FixtureRequest
) -> None:
    platform: Platform = request.getfixturevalue(which)
    uri = _config_uri(platform)
    compute = [r for r in platform.records if r.type in COMPUTE]
    assert compute
    for record in compute:
        inputs = record.inputs
        if record.type == "aws:lambda/function:Function":
            assert inputs["environment"]["variables"]["LAKE_CONFIG"] == uri, record.name
        elif record.type == "aws:glue/job:Job":
            assert inputs["defaultArguments"]["--LAKE_CONFIG"] == uri, record.name
        elif record.type == "aws:sagemaker/notebookInstance:NotebookInstance":
            (lifecycle,) = platform.of_type(LIFECYCLE)
            assert inputs["lifecycleConfigName"] == lifecycle.inputs["name"]
            script = base64.b64decode(lifecycle.inputs["onStart"]).decode()
            assert f"export LAKE_CONFIG={uri}\n" in script
            assert "export LAKE_PROFILE=aws\n" in script
            subprocess.run(["bash", "-n"], input=script, text=True, check=True)
        else:
            env = _emr_env(dict(inputs))
            assert set(env) == {"spark-env", "spark.yarn.appMasterEnv", "spark.executorEnv"}
            for where, variables in env.items():
                assert variables["LAKE_CONFIG"] == uri, where
    if which == "platform":
        kinds = {r.type for r in compute}
        assert kinds == COMPUTE
        jobs = {r.name for r in compute if r.type == "aws:glue/job:Job"}
        assert jobs == {"catalog-sales_clean", "catalog-curate"}


def test_a_missing_config_stops_the_deployment(tmp_path_factory: pytest.TempPathFactory) -> None:
    tmp = tmp_path_factory.mktemp("no-config")
    config = stack_config(tmp)
    config["lakeToml"] = str(tmp / "absent.toml")
    with pytest.raises(PlatformConfigError, match=r"no workspace config at .*absent\.toml"):
        run_program(config)
