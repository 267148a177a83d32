"""AWS Foundational Security Best Practices controls closed in the Pulumi program (issue 19)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from lake_platform import policies
from pulumi_harness import ACCOUNT, REGION, REPO, Platform, run_program, stack_config

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


# -- issue 19, second part: Object Lock, endpoints, Glue in the VPC, keys, detective layer --

OBJECT_LOCK = "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration"
PROD_STACK = REPO / "infra" / "pulumi" / "Pulumi.prod.yaml"


def _lock(platform: Platform, zone: str) -> dict | None:
    bucket = platform.outputs[f"{zone}_bucket"]
    locks = platform.for_bucket(OBJECT_LOCK, bucket)
    assert len(locks) <= 1
    return locks[0].inputs if locks else None


def test_s3_15_raw_and_trail_under_governance_object_lock(platform: Platform) -> None:
    for zone, days in (("raw", 30), ("trail", 90)):
        lock = _lock(platform, zone)
        assert lock is not None, zone
        assert lock["objectLockEnabled"] == "Enabled"
        assert lock["rule"]["defaultRetention"] == {"mode": "GOVERNANCE", "days": days}
    # S3 refuses access-log delivery into a bucket with a default retention: the log target
    # has none, and says why in its tag (the S3.15 rule reads it).
    assert _lock(platform, "logs") is None
    (logs,) = [
        b
        for b in platform.of_type("aws:s3/bucket:Bucket")
        if b.inputs["bucket"] == platform.outputs["logs_bucket"]
    ]
    assert logs.inputs["tags"]["lake:object-lock"] == "access-log-target-refuses-retention"
    # The raw replica must accept locked objects: Object Lock there too, and the role may
    # read the source's retention.
    replica = platform.outputs["raw_replica_bucket"]
    assert platform.for_bucket(OBJECT_LOCK, replica)
    (replication,) = [
        r
        for r in platform.of_type("aws:iam/rolePolicy:RolePolicy")
        if r.name == "storage-replication"
    ]
    actions = {a for s in platform.policy(replication)["Statement"] for a in s["Action"]}
    assert {"s3:GetObjectRetention", "s3:GetObjectLegalHold"} <= actions


def test_object_lock_retention_comes_from_stack_config(tmp_path: Path) -> None:
    config = stack_config(tmp_path)
    config["objectLock"] = {"rawDays": 400, "trailDays": 2000, "mode": "COMPLIANCE"}
    platform = run_program(config)
    assert _lock(platform, "raw")["rule"]["defaultRetention"] == {"mode": "COMPLIANCE", "days": 400}
    assert _lock(platform, "trail")["rule"]["defaultRetention"]["days"] == 2000


def test_the_trail_bucket_is_sse_kms_with_the_trail_key(platform: Platform) -> None:
    (trail,) = platform.of_type("aws:cloudtrail/trail:Trail")
    (sse,) = platform.for_bucket(policies.ENCRYPTION, platform.outputs["trail_bucket"])
    (rule,) = sse.inputs["rules"]
    default = rule["applyServerSideEncryptionByDefault"]
    assert default == {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": trail.inputs["kmsKeyId"]}


def test_every_endpoint_admits_only_this_accounts_principals(platform: Platform) -> None:
    endpoints = platform.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")
    assert len(endpoints) >= 3
    for endpoint in endpoints:
        for st in platform.policy(endpoint)["Statement"]:
            assert st["Condition"]["StringEquals"]["aws:PrincipalAccount"] == ACCOUNT
    (s3,) = [e for e in endpoints if e.inputs["vpcEndpointType"] == "Gateway"]
    statements = {st["Sid"]: st for st in platform.policy(s3)["Statement"]}
    buckets = {
        f"arn:aws:s3:::{platform.outputs[f'{zone}_bucket']}"
        for zone in ("raw", "processed", "curated", "scripts", "query_results", "logs", "trail")
    }
    assert set(statements["StackBucketsOnly"]["Resource"]) == buckets | {f"{b}/*" for b in buckets}
    # EMR is on in this stack: its nodes reach the AL2023 and EMR repositories, nothing else.
    assert statements["EmrPackageRepositories"]["Resource"] == [
        f"arn:aws:s3:::al2023-repos-{REGION}-de612dc2/*",
        f"arn:aws:s3:::repo.{REGION}.emr.amazonaws.com/*",
    ]
    glue = [e for e in endpoints if e.inputs["serviceName"].endswith(".glue")]
    (st,) = platform.policy(glue[0])["Statement"]
    assert st["Action"] == ["glue:*"] and st["Resource"] == [f"arn:aws:glue:{REGION}:{ACCOUNT}:*"]


def test_reads_outside_the_stack_are_added_by_stack_config(tmp_path: Path) -> None:
    config = stack_config(tmp_path)
    config["s3EndpointReads"] = [f"arn:aws:s3:::aws-glue-assets-{REGION}/*"]
    platform = run_program(config)
    (s3,) = [
        e
        for e in platform.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")
        if e.inputs["vpcEndpointType"] == "Gateway"
    ]
    (reads,) = [st for st in platform.policy(s3)["Statement"] if st["Sid"] == "ConfiguredReads"]
    assert reads["Resource"] == [f"arn:aws:s3:::aws-glue-assets-{REGION}/*"]
    assert "s3:PutObject" not in reads["Action"]


def test_no_emr_no_emr_buckets_through_the_endpoint(minimal_platform: Platform) -> None:
    (s3,) = [
        e
        for e in minimal_platform.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")
        if e.inputs["vpcEndpointType"] == "Gateway"
    ]
    assert [st["Sid"] for st in minimal_platform.policy(s3)["Statement"]] == ["StackBucketsOnly"]


def test_glue_jobs_run_in_the_private_subnet_with_the_workload_group(platform: Platform) -> None:
    (connection,) = platform.of_type("aws:glue/connection:Connection")
    assert connection.inputs["connectionType"] == "NETWORK"
    network = connection.inputs["physicalConnectionRequirements"]
    subnets = {s.name: s for s in platform.of_type("aws:ec2/subnet:Subnet")}
    assert network["subnetId"] == "security-private-0-id"
    assert network["availabilityZone"] == subnets["security-private-0"].inputs["availabilityZone"]
    assert network["securityGroupIdLists"] == [platform.outputs["sagemaker_security_group"]]
    jobs = platform.of_type("aws:glue/job:Job")
    assert jobs and all(j.inputs["connections"] == [connection.inputs["name"]] for j in jobs)
    # Jobs in a VPC create their ENIs: the Glue role may, tagged as Glue tags them.
    (glue,) = [
        r for r in platform.of_type("aws:iam/rolePolicy:RolePolicy") if r.name == "security-glue"
    ]
    sids = {st["Sid"]: st for st in platform.policy(glue)["Statement"]}
    assert "ec2:CreateNetworkInterface" in sids["RunInsideTheVpc"]["Action"]
    assert sids["TagGlueEnis"]["Condition"]["ForAllValues:StringEquals"] == {
        "aws:TagKeys": ["aws-glue-service-resource"]
    }


def _key_statements(platform: Platform, purpose: str) -> dict[str, dict]:
    (key,) = [k for k in platform.of_type(policies.KMS_KEY) if k.name == f"keys-{purpose}"]
    return {st["Sid"]: st for st in platform.policy(key)["Statement"]}


def test_key_administrators_manage_but_cannot_use_the_keys(platform: Platform) -> None:
    statements = _key_statements(platform, "data")
    admin = statements["KeyAdministratorsManageButCannotUse"]
    # No keyAdministrators in config: whoever runs `pulumi up` (the mock caller, a user).
    assert admin["Condition"] == {
        "ArnLike": {"aws:PrincipalArn": [f"arn:aws:iam::{ACCOUNT}:user/test"]}
    }
    assert not [
        a for a in admin["Action"] if a.startswith(("kms:Encrypt", "kms:Decrypt", "kms:Gen"))
    ]
    breakglass = statements["BreakGlassAccountRootUser"]
    assert breakglass["Condition"] == {
        "ArnEquals": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:root"}
    }
    users = statements["StackRolesUseTheKey"]
    assert users["Condition"] == {
        "ArnLike": {"aws:PrincipalArn": [f"arn:aws:iam::{ACCOUNT}:role/lake-test-*"]}
    }
    assert "kms:Create*" not in users["Action"]
    # The trail key has no role users at all: only CloudTrail encrypts with it.
    assert "StackRolesUseTheKey" not in _key_statements(platform, "trail")
    # `pulumi up` uploads into the SSE-KMS scripts bucket: data keys through S3, no decrypt.
    upload = statements["AdministratorsUploadThroughS3Only"]
    assert upload["Action"] == ["kms:GenerateDataKey"]
    assert upload["Condition"]["StringEquals"] == {"kms:ViaService": f"s3.{REGION}.amazonaws.com"}
    assert "AdministratorsUploadThroughS3Only" not in _key_statements(platform, "alerts")


def test_key_administrators_from_stack_config(tmp_path: Path) -> None:
    config = stack_config(tmp_path)
    config["keyAdministrators"] = [
        f"arn:aws:iam::{ACCOUNT}:role/KeyAdmins",
        f"arn:aws:sts::{ACCOUNT}:assumed-role/Deployer/ci-run-17",
    ]
    platform = run_program(config)
    admin = _key_statements(platform, "alerts")["KeyAdministratorsManageButCannotUse"]
    assert admin["Condition"]["ArnLike"]["aws:PrincipalArn"] == [
        f"arn:aws:iam::{ACCOUNT}:role/KeyAdmins",
        f"arn:aws:iam::{ACCOUNT}:role/Deployer",
        f"arn:aws:iam::{ACCOUNT}:role/*/Deployer",
    ]


DETECTIVE_TYPES = (
    "aws:guardduty/detector:Detector",
    "aws:securityhub/account:Account",
    "aws:securityhub/standardsSubscription:StandardsSubscription",
    "aws:cfg/recorder:Recorder",
    "aws:cfg/deliveryChannel:DeliveryChannel",
    "aws:cfg/recorderStatus:RecorderStatus",
    "aws:accessanalyzer/analyzer:Analyzer",
)


def test_detective_controls_are_off_by_default(
    minimal_platform: Platform, platform: Platform
) -> None:
    for typ in DETECTIVE_TYPES:
        assert minimal_platform.of_type(typ) == [] and platform.of_type(typ) == [], typ


def _prod_config(tmp: Path) -> dict[str, Any]:
    """``Pulumi.prod.yaml`` with this test's built inputs (wheelhouse, jobs, Lambda deps)."""
    import yaml

    built = stack_config(tmp)
    config: dict[str, Any] = dict(yaml.safe_load(PROD_STACK.read_text())["config"])
    config = {k.removeprefix("lakelib-platform:"): v for k, v in config.items()}
    for key in ("wheelhouse", "jobsDir", "stateMachineFile"):
        config[key] = built[key]
    config["ingest"] = {**config["ingest"], "dependenciesDir": built["ingest"]["dependenciesDir"]}
    return config


def test_the_prod_stack_turns_the_detective_layer_on_and_passes_every_rule(tmp_path: Path) -> None:
    prod = run_program(_prod_config(tmp_path))
    for typ in DETECTIVE_TYPES:
        assert len(prod.of_type(typ)) == 1, typ
    (standard,) = prod.of_type("aws:securityhub/standardsSubscription:StandardsSubscription")
    assert standard.inputs["standardsArn"] == (
        f"arn:aws:securityhub:{REGION}::standards/aws-foundational-security-best-practices/v/1.0.0"
    )
    (channel,) = prod.of_type("aws:cfg/deliveryChannel:DeliveryChannel")
    assert channel.inputs["s3BucketName"] == prod.outputs["logs_bucket"]
    (logs_policy,) = prod.for_bucket(policies.BUCKET_POLICY, prod.outputs["logs_bucket"])
    config_write = [
        st for st in prod.policy(logs_policy)["Statement"] if st.get("Sid") == "ConfigWrite"
    ]
    assert config_write[0]["Resource"] == [
        f"arn:aws:s3:::{prod.outputs['logs_bucket']}/config/AWSLogs/{ACCOUNT}/Config/*"
    ]
    assert _lock(prod, "raw")["rule"]["defaultRetention"] == {"mode": "GOVERNANCE", "days": 365}
    assert [str(v) for v in policies.check_all(prod.records, account_controls=True)] == []


@pytest.mark.parametrize(
    ("object_lock", "message"),
    [
        ({"mode": "LEGAL_HOLD"}, "objectLock.mode must be GOVERNANCE or COMPLIANCE"),
        ({"rawDays": 0}, "objectLock.rawDays must be a positive number of days"),
        ({"trailYears": 1}, r"objectLock: unknown keys \['trail_years'\]"),
    ],
)
def test_object_lock_config_is_checked(object_lock: dict, message: str) -> None:
    from lake_platform.settings import PlatformConfigError
    from test_pulumi_settings import _load

    with pytest.raises(PlatformConfigError, match=message):
        _load(objectLock=object_lock)
