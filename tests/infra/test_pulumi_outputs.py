"""Stack outputs: the names lakelib's aws profile reads, in the shape it reads them."""

from __future__ import annotations

import json
from pathlib import Path

from pulumi_harness import Platform

from lakelib.config import load_settings
from lakelib.config._settings import AWS_OUTPUT_ENV, AWS_ZONE_LAYOUT, Zone

REQUIRED = (
    "raw_bucket",
    "processed_bucket",
    "curated_bucket",
    "scripts_bucket",
    "query_results_bucket",
    "database",
    "region",
    "alerts_topic_arn",
    "sagemaker_role_arn",
    "glue_role_arn",
)


def test_required_outputs_are_flat_strings(platform: Platform) -> None:
    for name in REQUIRED:
        assert isinstance(platform.outputs[name], str) and platform.outputs[name], name
    # Every stack output lakelib knows about is exported.
    assert set(AWS_OUTPUT_ENV) <= set(platform.outputs)
    assert {bucket for bucket, _ in AWS_ZONE_LAYOUT.values()} <= set(platform.outputs)


def test_lakelib_aws_profile_reads_the_outputs_file(platform: Platform, tmp_path: Path) -> None:
    # What `pulumi stack output --json > stack-outputs.json` writes.
    path = tmp_path / "stack-outputs.json"
    path.write_text(json.dumps(platform.outputs))
    settings = load_settings(profile="aws", cwd=tmp_path, env={"LAKE_STACK_OUTPUTS": str(path)})
    out = platform.outputs
    assert settings.database == "data_lake_db"
    assert settings.region == "us-east-1"
    assert settings.zone_uri(Zone.RAW) == f"s3://{out['raw_bucket']}/"
    assert settings.zone_uri(Zone.QUARANTINE) == f"s3://{out['processed_bucket']}/quarantine/"
    assert settings.zone_uri(Zone.MODELS) == f"s3://{out['scripts_bucket']}/models/"
    assert settings.zone_uri(Zone.QUERY_RESULTS) == f"s3://{out['query_results_bucket']}/"
