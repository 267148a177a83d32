"""The FSBP rule set: the platform passes it, and each rule refuses a resource that breaks it.

The violating resources are declared with pulumi_aws under the same mocks the program runs
under, so each rule sees exactly what a later change to the program would produce. A
violation reads ``[<control>] <type> <name>: <why>``: the tests look for that text.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pulumi
import pulumi_aws
import pytest
from lake_platform import policies
from lake_platform.policies import ResourceRecord, check_all
from pulumi_harness import ACCOUNT, REGION, Platform, declare

ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/test"


def _rules(violations: list[policies.Violation]) -> set[str]:
    return {v.rule for v in violations}


def _doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _allow(actions: Any, resources: Any, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": actions, "Resource": resources, **extra}


def _role_policy(name: str, *statements: dict[str, Any]) -> None:
    role = pulumi_aws.iam.Role(
        name,
        assume_role_policy=_doc(
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ),
    )
    pulumi_aws.iam.RolePolicy(name, role=role.name, policy=_doc(*statements))


def _bucket(name: str, **kwargs: Any) -> pulumi_aws.s3.Bucket:
    return pulumi_aws.s3.Bucket(name, bucket=name, **kwargs)


def _trail(name: str, **kwargs: Any) -> None:
    settings: dict[str, Any] = {
        "s3_bucket_name": "trail-bucket",
        "is_multi_region_trail": True,
        "include_global_service_events": True,
        "enable_log_file_validation": True,
        "kms_key_id": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/k",
        "cloud_watch_logs_group_arn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:t:*",
        "cloud_watch_logs_role_arn": ROLE_ARN,
    }
    pulumi_aws.cloudtrail.Trail(name, **{**settings, **kwargs})


def _notebook(name: str, **kwargs: Any) -> None:
    settings = {
        "instance_type": "ml.t3.medium",
        "role_arn": ROLE_ARN,
        "subnet_id": "subnet-1",
        "security_groups": ["sg-1"],
        "direct_internet_access": "Disabled",
        "root_access": "Disabled",
    }
    pulumi_aws.sagemaker.NotebookInstance(name, **{**settings, **kwargs})


def _glue_job(name: str, **kwargs: Any) -> None:
    settings: dict[str, Any] = {
        "role_arn": ROLE_ARN,
        "command": {"script_location": "s3://scripts/job.py"},
        "glue_version": "5.0",
        "security_configuration": "glue-kms",
    }
    pulumi_aws.glue.Job(name, **{**settings, **kwargs})


def _function(name: str, **kwargs: Any) -> None:
    settings: dict[str, Any] = {
        "role": ROLE_ARN,
        "runtime": "python3.12",
        "handler": "app.handler",
        "s3_bucket": "code",
        "s3_key": "app.zip",
        "vpc_config": {"subnet_ids": ["subnet-1"], "security_group_ids": ["sg-1"]},
    }
    pulumi_aws.lambda_.Function(name, **{**settings, **kwargs})


def _key(name: str, *statements: dict[str, Any], **kwargs: Any) -> None:
    pulumi_aws.kms.Key(name, enable_key_rotation=True, policy=_doc(*statements), **kwargs)


ROOT = {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}


def _public_topic() -> None:
    topic = pulumi_aws.sns.Topic("open-topic", kms_master_key_id="alias/k")
    policy = _doc(_allow(["sns:Publish"], ["*"], Principal="*"))
    pulumi_aws.sns.TopicPolicy("open-topic", arn=topic.arn, policy=policy)


def _public_queue() -> None:
    queue = pulumi_aws.sqs.Queue("open-queue")
    policy = _doc(_allow(["sqs:SendMessage"], ["*"], Principal="*"))
    pulumi_aws.sqs.QueuePolicy("open-queue", queue_url=queue.url, policy=policy)


def _vpc_with_open_default_group() -> None:
    vpc = pulumi_aws.ec2.Vpc("flat", cidr_block="10.0.0.0/16")
    pulumi_aws.ec2.DefaultSecurityGroup(
        "flat-default",
        vpc_id=vpc.id,
        ingress=[{"protocol": "-1", "from_port": 0, "to_port": 0, "self": True}],
    )
    pulumi_aws.ec2.FlowLog("flat", vpc_id=vpc.id, traffic_type="ALL", log_destination="x")


def _vpc_without_flow_log() -> None:
    vpc = pulumi_aws.ec2.Vpc("dark", cidr_block="10.0.0.0/16")
    pulumi_aws.ec2.DefaultSecurityGroup("dark-default", vpc_id=vpc.id)


def _open_endpoint() -> None:
    pulumi_aws.ec2.VpcEndpoint(
        "open-s3",
        vpc_id="vpc-1",
        service_name=f"com.amazonaws.{REGION}.s3",
        policy=_doc(_allow(["s3:*"], ["*"], Principal="*")),
    )


# control -> (what is built, the "<type> <name>" the violation names)
VIOLATING: dict[str, tuple[Callable[[], None], str]] = {
    "S3.1": (lambda: _bucket("no-account-block"), "account"),
    "S3.2": (
        lambda: pulumi_aws.s3.BucketPolicy(
            "website",
            bucket="website",
            policy=_doc(_allow(["s3:GetObject"], ["arn:aws:s3:::website/*"], Principal="*")),
        ),
        "BucketPolicy website",
    ),
    "S3.4": (lambda: _bucket("plain"), "Bucket plain"),
    "S3.5": (lambda: _bucket("http-ok"), "Bucket http-ok"),
    "S3.8": (
        lambda: pulumi_aws.s3.BucketPublicAccessBlock(
            "half-open",
            bucket=_bucket("half-open").id,
            block_public_acls=True,
            block_public_policy=False,
            ignore_public_acls=True,
            restrict_public_buckets=True,
        ),
        "Bucket half-open",
    ),
    "S3.9": (lambda: _bucket("unlogged"), "Bucket unlogged"),
    "S3.12": (
        lambda: pulumi_aws.s3.BucketOwnershipControls(
            "acl-bucket",
            bucket=_bucket("acl-bucket").id,
            rule={"object_ownership": "ObjectWriter"},
        ),
        "Bucket acl-bucket",
    ),
    "S3.14": (
        lambda: pulumi_aws.s3.BucketVersioning(
            "no-history",
            bucket=_bucket("no-history").id,
            versioning_configuration={"status": "Suspended"},
        ),
        "Bucket no-history",
    ),
    "S3.15": (lambda: _bucket("unlocked"), "Bucket unlocked"),
    "CloudTrail.1": (lambda: _trail("one-region", is_multi_region_trail=False), "Trail one-region"),
    "CloudTrail.2": (lambda: _trail("sse-s3", kms_key_id=None), "Trail sse-s3"),
    "CloudTrail.4": (
        lambda: _trail("unvalidated", enable_log_file_validation=False),
        "Trail unvalidated",
    ),
    "CloudTrail.5": (
        lambda: _trail("no-cwl", cloud_watch_logs_group_arn=None, cloud_watch_logs_role_arn=None),
        "Trail no-cwl",
    ),
    "KMS.4": (lambda: pulumi_aws.kms.Key("static"), "Key static"),
    "KMS.5": (
        lambda: _key("open-key", _allow(["kms:Decrypt"], ["*"], Principal="*")),
        "Key open-key",
    ),
    # The key policy the program had: the account root administers and uses the key.
    policies.KEY_SEPARATION: (
        lambda: _key(
            "root-does-all",
            _allow(
                ["kms:Create*", "kms:Put*", "kms:Decrypt", "kms:Encrypt"], ["*"], Principal=ROOT
            ),
        ),
        "Key root-does-all",
    ),
    "EC2.2": (_vpc_with_open_default_group, "DefaultSecurityGroup flat-default"),
    "EC2.6": (_vpc_without_flow_log, "Vpc dark"),
    policies.ENDPOINT_POLICIES: (_open_endpoint, "VpcEndpoint open-s3"),
    "IAM.1": (lambda: _role_policy("admin", _allow("*", "*")), "RolePolicy admin"),
    "IAM.21": (
        lambda: _role_policy("lazy", _allow("s3:*", "arn:aws:s3:::b/*")),
        "RolePolicy lazy",
    ),
    policies.SCOPED_RESOURCES: (
        lambda: _role_policy("everywhere", _allow(["glue:GetTable"], "*")),
        "RolePolicy everywhere",
    ),
    policies.MANAGED_POLICIES: (
        lambda: pulumi_aws.iam.RolePolicyAttachment(
            "admin", role="r", policy_arn="arn:aws:iam::aws:policy/AdministratorAccess"
        ),
        "RolePolicyAttachment admin",
    ),
    # What the analyst role trusted before: the whole account.
    policies.ROLE_TRUST: (
        lambda: pulumi_aws.iam.Role(
            "analyst",
            assume_role_policy=_doc(
                {"Effect": "Allow", "Principal": ROOT, "Action": "sts:AssumeRole"}
            ),
        ),
        "Role analyst",
    ),
    "SNS.4": (_public_topic, "TopicPolicy open-topic"),
    "SQS.3": (_public_queue, "QueuePolicy open-queue"),
    "SNS.1": (lambda: pulumi_aws.sns.Topic("plain-topic"), "Topic plain-topic"),
    "Lambda.1": (
        lambda: pulumi_aws.lambda_.Permission(
            "anyone", action="lambda:InvokeFunction", function="f", principal="*"
        ),
        "Permission anyone",
    ),
    "Lambda.2": (lambda: _function("old", runtime="python3.8"), "Function old"),
    "Lambda.3": (lambda: _function("outside", vpc_config=None), "Function outside"),
    "SageMaker.1": (
        lambda: _notebook("online", direct_internet_access="Enabled"),
        "NotebookInstance online",
    ),
    "SageMaker.2": (lambda: _notebook("no-vpc", subnet_id=None), "NotebookInstance no-vpc"),
    "SageMaker.3": (lambda: _notebook("rooted", root_access="Enabled"), "NotebookInstance rooted"),
    # What the SageMaker role allowed before: create calls without any condition.
    policies.SAGEMAKER_CONDITIONS: (
        lambda: _role_policy(
            "unconditioned",
            _allow(
                ["sagemaker:CreateTrainingJob", "sagemaker:CreateModel"],
                [f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:training-job/*"],
            ),
        ),
        "RolePolicy unconditioned",
    ),
    policies.SAGEMAKER_IMAGES: (
        lambda: _role_policy(
            "any-image",
            _allow(["ecr:BatchGetImage"], [f"arn:aws:ecr:{REGION}:*:repository/*"]),
        ),
        "RolePolicy any-image",
    ),
    policies.GLUE_IN_VPC: (lambda: _glue_job("outside-vpc"), "Job outside-vpc"),
    "Glue.4": (
        lambda: _glue_job("old-glue", glue_version="2.0", connections=["net"]),
        "Job old-glue",
    ),
    policies.GLUE_ENCRYPTED: (
        lambda: _glue_job("clear", security_configuration=None, connections=["net"]),
        "Job clear",
    ),
    "Athena.4": (lambda: pulumi_aws.athena.Workgroup("quiet"), "Workgroup quiet"),
    policies.ATHENA_ENCRYPTED: (
        lambda: pulumi_aws.athena.Workgroup(
            "clear-results",
            configuration={
                "enforce_workgroup_configuration": True,
                "publish_cloudwatch_metrics_enabled": True,
                "result_configuration": {
                    "encryption_configuration": {"encryption_option": "SSE_S3"}
                },
            },
        ),
        "Workgroup clear-results",
    ),
    "StepFunctions.1": (
        lambda: pulumi_aws.sfn.StateMachine("silent", role_arn=ROLE_ARN, definition="{}"),
        "StateMachine silent",
    ),
}
# Account-level controls of the detective layer, refused when a stack that needs them has none.
ACCOUNT_VIOLATING = {
    "GuardDuty.1": "account",
    "Config.1": "account",
    "IAM.28": "account",
    policies.SECURITY_HUB_FSBP: "account",
}


def test_every_rule_has_a_violating_case() -> None:
    controls = [rule.control for rule in policies.RULES + policies.ACCOUNT_RULES]
    assert len(controls) == len(set(controls))
    assert set(controls) == set(VIOLATING) | set(ACCOUNT_VIOLATING)


@pytest.mark.parametrize("control", sorted(VIOLATING))
def test_the_rule_refuses_a_violating_resource(control: str) -> None:
    build, resource = VIOLATING[control]
    mocks, _ = declare(build)
    (rule,) = [r for r in policies.RULES if r.control == control]
    found = [str(v) for v in rule.check(mocks.records)]
    assert any(v.startswith(f"[{control}] {resource}:") for v in found), found
    # The same violation fails the whole check, with the control ID and the resource name.
    assert any(str(v).startswith(f"[{control}] {resource}:") for v in check_all(mocks.records))


@pytest.mark.parametrize("control", sorted(ACCOUNT_VIOLATING))
def test_account_rules_refuse_a_stack_without_the_detective_layer(
    control: str, minimal_platform: Platform
) -> None:
    found = [str(v) for v in check_all(minimal_platform.records, account_controls=True)]
    assert any(v.startswith(f"[{control}] account:") for v in found), found
    # Off by default: the platform's own check does not require them.
    assert check_all(minimal_platform.records) == []


def test_the_platform_passes_every_rule(platform: Platform, minimal_platform: Platform) -> None:
    assert [str(v) for v in check_all(platform.records)] == []
    assert [str(v) for v in check_all(minimal_platform.records)] == []


def test_the_daily_platform_passes_every_rule(daily_platform: Platform) -> None:
    # The real export: the state machine's own SageMaker calls are checked too.
    assert [str(v) for v in check_all(daily_platform.records)] == []


def test_a_public_bucket_breaks_several_controls_at_once() -> None:
    def build() -> None:
        bucket = pulumi_aws.s3.Bucket("website", bucket="public-website")
        pulumi_aws.s3.BucketPublicAccessBlock(
            "website",
            bucket=bucket.id,
            block_public_acls=False,
            block_public_policy=False,
            ignore_public_acls=False,
            restrict_public_buckets=False,
        )
        pulumi_aws.s3.BucketPolicy(
            "website",
            bucket=bucket.id,
            policy=_doc(_allow(["s3:GetObject"], ["arn:aws:s3:::public-website/*"], Principal="*")),
        )

    mocks, _ = declare(build)
    violations = check_all(mocks.records)
    assert {"S3.1", "S3.2", "S3.4", "S3.5", "S3.8", "S3.9", "S3.12", "S3.14", "S3.15"} <= _rules(
        violations
    )
    (public,) = [v for v in violations if v.rule == "S3.2"]
    assert str(public).startswith("[S3.2] BucketPolicy website:")


def test_the_key_policy_rule_accepts_the_separated_form() -> None:
    # Administrators (by aws:PrincipalArn) manage; the stack's roles use; nobody does both.
    def build() -> None:
        admins = {"ArnLike": {"aws:PrincipalArn": [ROLE_ARN]}}
        users = {"ArnLike": {"aws:PrincipalArn": [f"arn:aws:iam::{ACCOUNT}:role/lake-*"]}}
        _key(
            "separated",
            _allow(["kms:Create*", "kms:Put*"], ["*"], Principal=ROOT, Condition=admins),
            _allow(["kms:Decrypt", "kms:Encrypt"], ["*"], Principal=ROOT, Condition=users),
        )

    mocks, _ = declare(build)
    assert policies.check_key_admins_not_users(mocks.records) == []
    # An administrator granted decryption in another statement is still both.
    admins = {"ArnLike": {"aws:PrincipalArn": [ROLE_ARN]}}
    split = ResourceRecord(
        policies.KMS_KEY,
        "split",
        {
            "policy": _doc(
                _allow(["kms:Put*"], ["*"], Principal=ROOT, Condition=admins),
                _allow(["kms:Decrypt"], ["*"], Principal=ROOT, Condition=admins),
            )
        },
    )
    (violation,) = policies.check_key_admins_not_users([split])
    assert f"{ROLE_ARN} administers the key and uses it (kms:Decrypt)" in violation.message
    # ... but may get data keys for writes through S3 only (a deployment's uploads).
    via_s3 = {**admins, "StringEquals": {"kms:ViaService": f"s3.{REGION}.amazonaws.com"}}
    upload = ResourceRecord(
        policies.KMS_KEY,
        "upload",
        {
            "policy": _doc(
                _allow(["kms:Put*"], ["*"], Principal=ROOT, Condition=admins),
                _allow(["kms:GenerateDataKey"], ["*"], Principal=ROOT, Condition=via_s3),
            )
        },
    )
    assert policies.check_key_admins_not_users([upload]) == []
    # Use handed to the account without naming who is the default key policy's weakness.
    bare = ResourceRecord(
        policies.KMS_KEY, "bare", {"policy": _doc(_allow(["kms:Decrypt"], ["*"], Principal=ROOT))}
    )
    (violation,) = policies.check_key_admins_not_users([bare])
    assert "any IAM policy of the account" in violation.message


def test_sagemaker_create_conditions_of_the_platform(platform: Platform) -> None:
    # Every create call of the SageMaker role carries the keys its request must satisfy.
    (policy,) = [
        r
        for r in platform.of_type("aws:iam/rolePolicy:RolePolicy")
        if r.name == "security-sagemaker"
    ]
    statements = {s.get("Sid"): s for s in platform.policy(policy)["Statement"]}
    training = statements["CreateTrainingJobInTheStacksVpcWithItsKey"]["Condition"]
    subnets = training["ForAllValues:StringEquals"]["sagemaker:VpcSubnets"]
    assert subnets == [s for s in platform.outputs["sagemaker_subnets"].split(",")]
    assert training["ForAllValues:StringEquals"]["sagemaker:VpcSecurityGroupIds"] == [
        platform.outputs["sagemaker_security_group"]
    ]
    assert training["Bool"] == {"sagemaker:NetworkIsolation": "true"}
    assert training["StringEquals"] == {
        "sagemaker:VolumeKmsKey": platform.outputs["sagemaker_kms_key_arn"]
    }
    assert training["Null"] == {
        "sagemaker:VpcSubnets": "false",
        "sagemaker:VpcSecurityGroupIds": "false",
        "sagemaker:VolumeKmsKey": "false",
    }
    model = statements["CreateModelInTheStacksVpcWithItsKey"]["Condition"]
    assert model["Bool"] == {"sagemaker:NetworkIsolation": "true"}
    assert "StringEquals" not in model  # CreateModel has no volume key condition
    pulls = statements["PullFrameworkImages"]["Resource"]
    assert f"arn:aws:ecr:{REGION}:683313688378:repository/sagemaker-scikit-learn" in pulls
    assert not [r for r in pulls if ":*:" in r or r.endswith("repository/*")]


def test_image_registries_match_lakelib() -> None:
    """The role may pull exactly the image lakelib's training and models name."""
    from lake_platform.settings import SAGEMAKER_IMAGE_REGISTRIES, SAGEMAKER_IMAGE_REPOSITORY

    from lakelib.ml._sagemaker import sklearn_image_uri

    assert SAGEMAKER_IMAGE_REGISTRIES["eu-west-1"] == "141502667606"
    for region, account in SAGEMAKER_IMAGE_REGISTRIES.items():
        uri = sklearn_image_uri(region)
        assert uri.startswith(f"{account}.dkr.ecr.{region}.amazonaws.com/")
        assert uri.split("/", 1)[1].startswith(f"{SAGEMAKER_IMAGE_REPOSITORY}:")


@pytest.mark.parametrize(
    ("action", "wildcard"),
    [("*", True), ("s3:*", True), ("kms:ReEncrypt*", False), ("s3:GetObject", False)],
)
def test_wildcard_action_rule(action: str, wildcard: bool) -> None:
    assert policies.is_wildcard_action(action) is wildcard


def test_public_principal_with_account_condition_is_not_public() -> None:
    statement = {
        "Effect": "Allow",
        "Principal": "*",
        "Action": ["s3:GetObject"],
        "Resource": ["arn:aws:s3:::b/*"],
        "Condition": {"StringEquals": {"aws:PrincipalAccount": "123456789012"}},
    }
    record = ResourceRecord(
        policies.BUCKET_POLICY,
        "scoped",
        {"bucket": "b", "policy": json.dumps({"Statement": [statement]})},
    )
    assert policies.check_no_public_resource_policies([record]) == []
    del statement["Condition"]
    record = ResourceRecord(
        policies.BUCKET_POLICY,
        "open",
        {"bucket": "b", "policy": json.dumps({"Statement": [statement]})},
    )
    assert _rules(policies.check_no_public_resource_policies([record])) == {"S3.2"}


def test_pulumi_outputs_resolve_in_the_harness() -> None:
    # The builders above rely on mocks resolving Output ids into the inputs the rules read.
    def build() -> None:
        bucket = pulumi_aws.s3.Bucket("b", bucket="b")
        pulumi.export("id", bucket.id)

    _, outputs = declare(build)
    assert outputs["id"]
