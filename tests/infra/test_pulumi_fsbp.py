"""AWS Foundational Security Best Practices controls closed in the Pulumi program (issue 19)."""

from __future__ import annotations

import pytest
from pulumi_harness import ACCOUNT, Platform

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
    "zone", ["raw", "processed", "curated", "scripts", "query-results", "logs", "trail"]
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


def test_cloudtrail_2_trail_logs_encrypted_with_a_dedicated_key(platform: Platform) -> None:
    (trail,) = platform.of_type("aws:cloudtrail/trail:Trail")
    keys = {
        f"arn:aws:kms:us-east-1:{ACCOUNT}:key/key-{k.name}": k
        for k in platform.of_type("aws:kms/key:Key")
    }
    key = keys[trail.inputs["kmsKeyId"]]
    assert key.inputs["enableKeyRotation"] is True
    assert trail.inputs["kmsKeyId"] != platform.outputs["data_key_arn"]
    statements = platform.policy(key)["Statement"]
    cloudtrail = [
        s for s in statements if s.get("Principal") == {"Service": "cloudtrail.amazonaws.com"}
    ]
    trail_arn = f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/{trail.inputs['name']}"
    encrypt = [s for s in cloudtrail if "kms:GenerateDataKey*" in s["Action"]]
    (encrypt,) = encrypt
    assert encrypt["Condition"]["StringLike"] == {
        "kms:EncryptionContext:aws:cloudtrail:arn": f"arn:aws:cloudtrail:*:{ACCOUNT}:trail/*"
    }
    assert encrypt["Condition"]["StringEquals"] == {"aws:SourceArn": trail_arn}
    assert any("kms:DescribeKey" in s["Action"] for s in cloudtrail)
    # Nothing but CloudTrail (and the account's own administration) may use the key.
    assert all(
        s.get("Principal")
        in ({"Service": "cloudtrail.amazonaws.com"}, {"AWS": f"arn:aws:iam::{ACCOUNT}:root"})
        for s in statements
    )


def test_analyst_role_trusts_only_the_configured_principals(platform: Platform) -> None:
    role = platform.one("aws:iam/role:Role", "storage-analyst")
    (statement,) = platform.policy(role, "assumeRolePolicy")["Statement"]
    assert statement["Principal"] == {"AWS": [f"arn:aws:iam::{ACCOUNT}:role/DataAnalysts"]}


def test_no_analyst_principals_means_no_analyst_role(minimal_platform: Platform) -> None:
    # Trusting the account root would let any principal in the account with sts:AssumeRole
    # read curated data: without an explicit list there is nobody to trust.
    roles = [r.name for r in minimal_platform.of_type("aws:iam/role:Role")]
    assert "storage-analyst" not in roles
    policies = [r.name for r in minimal_platform.of_type("aws:iam/rolePolicy:RolePolicy")]
    assert not [p for p in policies if "analyst" in p]
    assert "analyst_role_arn" not in minimal_platform.outputs


def test_cloudtrail_5_trail_delivers_to_an_encrypted_log_group(platform: Platform) -> None:
    (trail,) = platform.of_type("aws:cloudtrail/trail:Trail")
    group_name = f"/aws/cloudtrail/{trail.inputs['name']}"
    (group,) = [
        g
        for g in platform.of_type("aws:cloudwatch/logGroup:LogGroup")
        if g.inputs["name"] == group_name
    ]
    assert group.inputs["kmsKeyId"] == platform.outputs["data_key_arn"]
    assert trail.inputs["cloudWatchLogsGroupArn"].endswith(f"{group_name}:*")
    role = [
        r
        for r in platform.of_type("aws:iam/role:Role")
        if r.inputs.get("name")
        and f"arn:aws:iam::{ACCOUNT}:role/{r.inputs['name']}"
        == trail.inputs["cloudWatchLogsRoleArn"]
    ]
    (role,) = role
    (trust,) = platform.policy(role, "assumeRolePolicy")["Statement"]
    assert trust["Principal"] == {"Service": "cloudtrail.amazonaws.com"}
    (policy,) = [
        p
        for p in platform.of_type("aws:iam/rolePolicy:RolePolicy")
        if p.inputs["role"] == role.inputs["name"]
    ]
    (statement,) = platform.policy(policy)["Statement"]
    assert sorted(statement["Action"]) == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert all(group_name in r for r in statement["Resource"])
