"""AWS Foundational Security Best Practices controls closed in the Pulumi program (issue 19)."""

from __future__ import annotations

import pytest
from pulumi_harness import Platform

ACCOUNT_BLOCK = "aws:s3/accountPublicAccessBlock:AccountPublicAccessBlock"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"


@pytest.mark.parametrize("which", ["platform", "minimal_platform"])
def test_s3_1_account_level_block_public_access_all_four(
    which: str, request: pytest.FixtureRequest
) -> None:
    platform: Platform = request.getfixturevalue(which)
    (block,) = platform.of_type(ACCOUNT_BLOCK)
    assert {
        k: block.inputs.get(k)
        for k in (
            "blockPublicAcls",
            "blockPublicPolicy",
            "ignorePublicAcls",
            "restrictPublicBuckets",
        )
    } == {
        "blockPublicAcls": True,
        "blockPublicPolicy": True,
        "ignorePublicAcls": True,
        "restrictPublicBuckets": True,
    }


@pytest.mark.parametrize(
    "zone", ["raw", "processed", "curated", "scripts", "query-results", "logs"]
)
def test_every_lake_bucket_is_versioned(platform: Platform, zone: str) -> None:
    bucket = platform.outputs[f"{zone.replace('-', '_')}_bucket"]
    statuses = [
        v.inputs["versioningConfiguration"]["status"]
        for v in platform.for_bucket(VERSIONING, bucket)
    ]
    assert statuses == ["Enabled"], zone


def test_ec2_2_default_security_group_of_the_vpc_allows_nothing(platform: Platform) -> None:
    (vpc,) = platform.of_type("aws:ec2/vpc:Vpc")
    (default,) = platform.of_type("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
    assert default.inputs["vpcId"] == f"{vpc.name}-id"
    # Adopting the default group with no rules makes Pulumi strip the allow-all rules it has.
    assert default.inputs.get("ingress", []) == []
    assert default.inputs.get("egress", []) == []
