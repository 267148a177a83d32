"""Security layer: key rotation, least-privilege roles, CloudTrail, the private network."""

from __future__ import annotations

import json
from typing import Any

from lake_platform import policies
from pulumi_harness import ACCOUNT, Platform

ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"


def _role_statements(platform: Platform, logical_name: str) -> list[dict[str, Any]]:
    return platform.policy(platform.one(ROLE_POLICY, logical_name))["Statement"]


def _resources(statements: list[dict[str, Any]]) -> set[str]:
    return {r for s in statements for r in s["Resource"]}


def test_every_key_rotates(platform: Platform) -> None:
    keys = platform.of_type(policies.KMS_KEY)
    assert len(keys) == 4  # data, alerts, CloudTrail, DR replica
    assert all(k.inputs["enableKeyRotation"] is True for k in keys)
    assert policies.check_key_rotation(platform.records) == []


def test_no_policy_grants_a_wildcard_action_or_unscoped_resource(platform: Platform) -> None:
    assert policies.check_no_wildcard_actions(platform.records) == []
    assert policies.check_no_wildcard_resources(platform.records) == []
    assert policies.check_managed_policies(platform.records) == []


def test_workload_roles_are_scoped_to_lake_buckets_database_and_key(platform: Platform) -> None:
    out = platform.outputs
    glue = _role_statements(platform, "security-glue")
    resources = _resources(glue)
    assert f"arn:aws:s3:::{out['raw_bucket']}/*" in resources
    assert f"arn:aws:s3:::{out['scripts_bucket']}/jobs/*" in resources
    assert f"arn:aws:glue:us-east-1:{ACCOUNT}:database/data_lake_db" in resources
    assert out["data_key_arn"] in resources
    # Glue reads raw but never writes it: raw is the immutable landing zone.
    writes = [s for s in glue if "s3:PutObject" in s["Action"]]
    assert all(
        not r.startswith(f"arn:aws:s3:::{out['raw_bucket']}") for s in writes for r in s["Resource"]
    )

    ingest = _role_statements(platform, "security-ingest")
    s3_resources = {r for s in ingest for r in s["Resource"] if r.startswith("arn:aws:s3")}
    assert s3_resources == {
        f"arn:aws:s3:::{out['raw_bucket']}",
        f"arn:aws:s3:::{out['raw_bucket']}/*",
        # Read-only, one object: the workspace config (LAKE_CONFIG).
        f"arn:aws:s3:::{out['scripts_bucket']}/config/lake.toml",
    }

    sagemaker = _resources(_role_statements(platform, "security-sagemaker"))
    assert f"arn:aws:s3:::{out['scripts_bucket']}/models/*" in sagemaker
    assert f"arn:aws:athena:us-east-1:{ACCOUNT}:workgroup/ml_data" in sagemaker


def test_star_resources_only_for_actions_aws_cannot_scope(platform: Platform) -> None:
    for record in platform.of_type(ROLE_POLICY):
        for st in platform.policy(record)["Statement"]:
            if "*" in st["Resource"]:
                assert all(policies._unscopable(a) for a in st["Action"]), (record.name, st)


def test_service_trust_is_limited_to_this_account_where_aws_supports_it(platform: Platform) -> None:
    emr = platform.policy(platform.one(ROLE, "security-emr-service"), "assumeRolePolicy")
    (trust,) = emr["Statement"]
    assert trust["Principal"] == {"Service": "elasticmapreduce.amazonaws.com"}
    assert trust["Condition"]["StringEquals"]["aws:SourceAccount"] == ACCOUNT


def test_cloudtrail_is_multi_region_validated_and_records_data_access(platform: Platform) -> None:
    (trail,) = platform.of_type("aws:cloudtrail/trail:Trail")
    inputs = trail.inputs
    assert inputs["isMultiRegionTrail"] and inputs["enableLogFileValidation"]
    # A bucket of its own, under Object Lock (S3 access logs cannot land in such a bucket).
    assert inputs["s3BucketName"] == platform.outputs["trail_bucket"]
    (selector,) = inputs["eventSelectors"]
    (data,) = selector["dataResources"]
    assert f"arn:aws:s3:::{platform.outputs['processed_bucket']}/" in data["values"]


def test_vpc_has_private_subnets_endpoints_and_flow_logs(platform: Platform) -> None:
    subnets = platform.of_type("aws:ec2/subnet:Subnet")
    assert len(subnets) == 2
    assert len({s.inputs["availabilityZone"] for s in subnets}) == 2
    assert all(s.inputs["mapPublicIpOnLaunch"] is False for s in subnets)
    assert platform.of_type("aws:ec2/internetGateway:InternetGateway") == []
    assert platform.of_type("aws:ec2/natGateway:NatGateway") == []
    endpoints = {
        e.inputs["serviceName"].rsplit(".", 1)[-1]: e.inputs["vpcEndpointType"]
        for e in platform.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")
    }
    assert endpoints == {
        "s3": "Gateway",
        **{
            service: "Interface"
            for service in ("glue", "athena", "logs", "monitoring", "kms", "sts", "sns")
        },
    }
    (flow,) = platform.of_type("aws:ec2/flowLog:FlowLog")
    assert flow.inputs["trafficType"] == "ALL"
    assert flow.inputs["logDestination"].startswith(
        f"arn:aws:s3:::{platform.outputs['logs_bucket']}/"
    )


def test_endpoint_security_group_admits_only_https_from_the_vpc(platform: Platform) -> None:
    (group,) = [
        g
        for g in platform.of_type("aws:ec2/securityGroup:SecurityGroup")
        if g.name == "security-endpoints"
    ]
    (rule,) = group.inputs["ingress"]
    assert (rule["fromPort"], rule["toPort"], rule["protocol"]) == (443, 443, "tcp")
    assert rule["cidrBlocks"] == ["10.40.0.0/16"]


def test_key_policies_allow_only_named_services(platform: Platform) -> None:
    for key in platform.of_type(policies.KMS_KEY):
        for st in json.loads(key.inputs["policy"])["Statement"]:
            principal = st["Principal"]
            assert principal != "*" and principal.get("AWS") != "*", key.name
