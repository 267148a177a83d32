"""Policy checks: the platform passes them, and a change that breaks a rule is caught.

The "bad" resources are declared with pulumi_aws under the same mocks the program runs
under, so the checks see exactly what a later change to the program would produce.
"""

from __future__ import annotations

import json

import pulumi_aws.iam
import pulumi_aws.kms
import pulumi_aws.s3
import pytest
from lake_platform import policies
from lake_platform.policies import ResourceRecord, check_all
from pulumi_harness import Platform, declare


def _rules(violations: list[policies.Violation]) -> set[str]:
    return {v.rule for v in violations}


def test_the_platform_passes_every_check(platform: Platform, minimal_platform: Platform) -> None:
    assert [str(v) for v in check_all(platform.records)] == []
    assert [str(v) for v in check_all(minimal_platform.records)] == []


def test_a_public_bucket_is_caught() -> None:
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
            policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": "*",
                            "Action": ["s3:GetObject"],
                            "Resource": ["arn:aws:s3:::public-website/*"],
                        }
                    ],
                }
            ),
        )

    mocks, _ = declare(build)
    violations = check_all(mocks.records)
    assert {
        "bucket-private",
        "no-public-policy",
        "bucket-encrypted",
        "bucket-tls-only",
        "bucket-access-logs",
    } <= _rules(violations)
    (public,) = [v for v in violations if v.rule == "no-public-policy"]
    assert "BucketPolicy website" in str(public)


def test_a_wildcard_action_is_caught() -> None:
    def build() -> None:
        role = pulumi_aws.iam.Role(
            "lazy",
            assume_role_policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "lambda.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            ),
        )
        pulumi_aws.iam.RolePolicy(
            "lazy",
            role=role.name,
            policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::b/*"},
                        {"Effect": "Allow", "Action": ["glue:GetTable"], "Resource": "*"},
                    ],
                }
            ),
        )
        pulumi_aws.iam.RolePolicyAttachment(
            "lazy", role=role.name, policy_arn="arn:aws:iam::aws:policy/AdministratorAccess"
        )

    mocks, _ = declare(build)
    violations = check_all(mocks.records)
    assert _rules(violations) == {"no-wildcard-action", "no-wildcard-resource", "managed-policy"}
    (wildcard,) = [v for v in violations if v.rule == "no-wildcard-action"]
    assert "'s3:*'" in wildcard.message


def test_a_key_without_rotation_is_caught() -> None:
    mocks, _ = declare(lambda: pulumi_aws.kms.Key("static", description="never rotates"))
    assert _rules(check_all(mocks.records)) == {"kms-rotation"}


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
    assert _rules(policies.check_no_public_resource_policies([record])) == {"no-public-policy"}
