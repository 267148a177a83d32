"""Analytics layer: the three Athena workgroups, enforced, encrypted, with scan cutoffs."""

from __future__ import annotations

import tomllib

from pulumi_harness import REPO, Platform

WORKGROUP = "aws:athena/workgroup:Workgroup"


def test_workgroups_match_lake_toml_and_are_enforced_and_encrypted(platform: Platform) -> None:
    lake = tomllib.loads((REPO / "lake.toml").read_text())["workgroups"]
    groups = {w.inputs["name"]: w.inputs["configuration"] for w in platform.of_type(WORKGROUP)}
    assert set(groups) == {"primary", "analytics", "ml_data"} == set(lake)
    results = platform.outputs["query_results_bucket"]
    for name, config in groups.items():
        assert config["enforceWorkgroupConfiguration"] is True
        assert config["publishCloudwatchMetricsEnabled"] is True
        assert config["bytesScannedCutoffPerQuery"] == lake[name]["bytes_scanned_cutoff"]
        result = config["resultConfiguration"]
        assert result["outputLocation"] == f"s3://{results}/{name}/"
        assert result["encryptionConfiguration"]["encryptionOption"] == "SSE_KMS"
        assert result["encryptionConfiguration"]["kmsKeyArn"] == platform.outputs["data_key_arn"]


def test_primary_is_adopted_not_created(platform: Platform) -> None:
    # Every account has `primary` already; creating it would fail on a real `pulumi up`.
    assert platform.imports == {"analytics-primary": "primary"}


def test_workgroup_info_is_exported(platform: Platform) -> None:
    info = platform.outputs["workgroups"]
    assert info["ml_data"]["bytes_scanned_cutoff"] == 50_000_000_000
    assert platform.outputs["workgroup_analytics_output_location"].endswith("/analytics/")
