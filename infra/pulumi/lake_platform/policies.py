"""Policy checks over declared resources, as plain functions (no pulumi-policy; see FACTS.md).

Each check takes the resources a program declared, as :class:`ResourceRecord` (the Pulumi
type token, the logical name and the inputs as the engine receives them: camelCase keys,
policies as JSON strings) and returns :class:`Violation` objects. The infra tests collect
records with Pulumi's mocks and require :func:`check_all` to return nothing, so a change
that adds a public bucket or a ``*`` action fails the build.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

BUCKET = "aws:s3/bucket:Bucket"
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
ENCRYPTION = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
)
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
BUCKET_LOGGING = "aws:s3/bucketLogging:BucketLogging"
KMS_KEY = "aws:kms/key:Key"
ROLE = "aws:iam/role:Role"
ROLE_POLICY_ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"

# Resource types whose ``policy`` input is an identity policy (attached to a principal).
IDENTITY_POLICY_TYPES = ("aws:iam/rolePolicy:RolePolicy", "aws:iam/policy:Policy")
# Resource types whose ``policy`` input is a resource policy (names principals itself).
RESOURCE_POLICY_TYPES = (
    BUCKET_POLICY,
    KMS_KEY,
    "aws:sns/topicPolicy:TopicPolicy",
    "aws:sqs/queuePolicy:QueuePolicy",
)

# Actions AWS does not let a policy scope to a resource: ``Resource: "*"`` is allowed only
# when every action of the statement is one of these (patterns, fnmatch syntax).
UNSCOPABLE_ACTIONS = (
    "cloudwatch:PutMetricData",
    "cloudwatch:GetMetricData",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "ecr:GetAuthorizationToken",
    "ec2:Describe*",
    "ec2:CreateNetworkInterface",
    "ec2:CreateNetworkInterfacePermission",
    "ec2:DeleteNetworkInterface",
    "ec2:DeleteNetworkInterfacePermission",
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
    # Studio lists a domain's spaces and apps; these two take no resource (SageMaker's
    # Service Authorization Reference lists no resource type for them).
    "sagemaker:ListApps",
    "sagemaker:ListSpaces",
)

# AWS managed policies that may be attached: AWS's own least-privilege service policies.
ALLOWED_MANAGED_POLICIES = ("arn:aws:iam::aws:policy/service-role/AmazonEMRServicePolicy_v2",)

# Conditions that stop an ``Allow`` to ``Principal: *`` from meaning "anyone on the internet".
RESTRICTING_CONDITION_KEYS = (
    "aws:sourceaccount",
    "aws:sourcearn",
    "aws:sourceowner",
    "aws:principalaccount",
    "aws:principalarn",
    "aws:principalorgid",
    "aws:sourcevpce",
    "aws:sourcevpc",
)

# Tag that marks a bucket whose access is not logged, with the reason as its value; the
# logging check accepts only buckets carrying it or receiving logs themselves.
NO_ACCESS_LOG_TAG = "lake:access-logs"


@dataclass(frozen=True)
class ResourceRecord:
    """One declared resource: its type token, logical name and inputs."""

    type: str
    name: str
    inputs: Mapping[str, Any]


@dataclass(frozen=True)
class Violation:
    """A broken rule, named so a failing test says what to fix."""

    rule: str
    resource: str
    message: str

    def __str__(self) -> str:
        return f"[{self.rule}] {self.resource}: {self.message}"


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _load(policy: Any) -> dict[str, Any]:
    if isinstance(policy, str):
        return json.loads(policy)
    return dict(policy or {})


def policy_statements(policy: Any) -> list[dict[str, Any]]:
    """The statements of a policy document given as JSON text or a dict."""
    return [dict(s) for s in _as_list(_load(policy).get("Statement"))]


def _label(record: ResourceRecord) -> str:
    return f"{record.type.split(':')[-1]} {record.name}"


def _documents(records: Iterable[ResourceRecord]) -> Iterable[tuple[ResourceRecord, str, Any]]:
    """Every policy document declared: (record, kind, document)."""
    for record in records:
        if record.type in IDENTITY_POLICY_TYPES and record.inputs.get("policy"):
            yield record, "identity", record.inputs["policy"]
        elif record.type in RESOURCE_POLICY_TYPES and record.inputs.get("policy"):
            yield record, "resource", record.inputs["policy"]
        elif record.type == ROLE:
            if record.inputs.get("assumeRolePolicy"):
                yield record, "trust", record.inputs["assumeRolePolicy"]
            for inline in _as_list(record.inputs.get("inlinePolicies")):
                if inline.get("policy"):
                    yield record, "identity", inline["policy"]
        elif record.type == BUCKET and record.inputs.get("policy"):
            yield record, "resource", record.inputs["policy"]


def is_wildcard_action(action: str) -> bool:
    """``*`` and ``service:*`` grant a whole service; ``s3:Get*``-style patterns do not."""
    return action == "*" or action.endswith(":*")


def check_no_wildcard_actions(records: Sequence[ResourceRecord]) -> list[Violation]:
    """No ``Allow`` statement may grant ``*``, ``service:*``, or use ``NotAction``."""
    found = []
    for record, _kind, policy in _documents(records):
        for st in policy_statements(policy):
            if st.get("Effect") != "Allow":
                continue
            if "NotAction" in st:
                found.append(
                    Violation("no-wildcard-action", _label(record), "Allow with NotAction")
                )
            for action in _as_list(st.get("Action")):
                if is_wildcard_action(action):
                    found.append(
                        Violation(
                            "no-wildcard-action",
                            _label(record),
                            f"statement {st.get('Sid', '?')} allows {action!r}",
                        )
                    )
    return found


def _unscopable(action: str) -> bool:
    return any(fnmatch.fnmatchcase(action, pattern) for pattern in UNSCOPABLE_ACTIONS)


def check_no_wildcard_resources(records: Sequence[ResourceRecord]) -> list[Violation]:
    """Identity policies use ``Resource: "*"`` only for actions AWS cannot scope."""
    found = []
    for record, kind, policy in _documents(records):
        if kind != "identity":
            continue
        for st in policy_statements(policy):
            if st.get("Effect") != "Allow":
                continue
            if "NotResource" in st:
                found.append(
                    Violation("no-wildcard-resource", _label(record), "Allow with NotResource")
                )
            if "*" not in _as_list(st.get("Resource")):
                continue
            scopable = [a for a in _as_list(st.get("Action")) if not _unscopable(a)]
            if scopable:
                found.append(
                    Violation(
                        "no-wildcard-resource",
                        _label(record),
                        f"statement {st.get('Sid', '?')} grants {scopable} on '*'",
                    )
                )
    return found


def _principal_is_public(principal: Any) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, Mapping):
        return "*" in _as_list(principal.get("AWS"))
    return False


def _restricted(statement: Mapping[str, Any]) -> bool:
    for operator_block in _as_list(statement.get("Condition")):
        for keys in operator_block.values():
            if any(str(k).lower() in RESTRICTING_CONDITION_KEYS for k in keys):
                return True
    return False


def check_no_public_resource_policies(records: Sequence[ResourceRecord]) -> list[Violation]:
    """No resource policy may ``Allow`` everyone (``Principal: *``) without a condition
    that ties the caller to this account, organisation or a named source."""
    found = []
    for record, kind, policy in _documents(records):
        if kind != "resource":
            continue
        for st in policy_statements(policy):
            public = st.get("Effect") == "Allow" and _principal_is_public(st.get("Principal"))
            if public and not _restricted(st):
                found.append(
                    Violation(
                        "no-public-policy",
                        _label(record),
                        f"statement {st.get('Sid', '?')} allows any principal",
                    )
                )
    return found


def _buckets(records: Sequence[ResourceRecord]) -> dict[str, ResourceRecord]:
    return {str(r.inputs.get("bucket")): r for r in records if r.type == BUCKET}


def _by_bucket(records: Sequence[ResourceRecord], typ: str) -> dict[str, list[ResourceRecord]]:
    out: dict[str, list[ResourceRecord]] = {}
    for r in records:
        if r.type == typ:
            out.setdefault(str(r.inputs.get("bucket")), []).append(r)
    return out


def check_buckets_private(records: Sequence[ResourceRecord]) -> list[Violation]:
    """Every bucket has all four public-access-block switches on and no public ACL."""
    blocks = _by_bucket(records, PUBLIC_ACCESS_BLOCK)
    switches = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    found = []
    for name, bucket in _buckets(records).items():
        acl = bucket.inputs.get("acl")
        if acl and acl != "private":
            found.append(Violation("bucket-private", _label(bucket), f"ACL {acl!r}"))
        if not any(all(b.inputs.get(s) is True for s in switches) for b in blocks.get(name, [])):
            found.append(
                Violation("bucket-private", _label(bucket), "public access not fully blocked")
            )
    return found


def check_buckets_encrypted(records: Sequence[ResourceRecord]) -> list[Violation]:
    """Every bucket has a default encryption rule (SSE-S3 or SSE-KMS)."""
    configs = _by_bucket(records, ENCRYPTION)
    found = []
    for name, bucket in _buckets(records).items():
        algorithms = {
            ((rule.get("applyServerSideEncryptionByDefault") or {}).get("sseAlgorithm"))
            for config in configs.get(name, [])
            for rule in _as_list(config.inputs.get("rules"))
        }
        if not algorithms & {"AES256", "aws:kms", "aws:kms:dsse"}:
            found.append(Violation("bucket-encrypted", _label(bucket), "no default encryption"))
    return found


def _denies_plain_http(statement: Mapping[str, Any], bucket_arn: str) -> bool:
    if statement.get("Effect") != "Deny" or not _principal_is_public(statement.get("Principal")):
        return False
    secure = (statement.get("Condition") or {}).get("Bool", {}).get("aws:SecureTransport")
    actions = _as_list(statement.get("Action"))
    resources = set(_as_list(statement.get("Resource")))
    return (
        str(secure).lower() == "false"
        and ("s3:*" in actions or "*" in actions)
        and {bucket_arn, f"{bucket_arn}/*"} <= resources
    )


def check_buckets_tls_only(records: Sequence[ResourceRecord]) -> list[Violation]:
    """Every bucket policy denies all S3 actions over plain HTTP, on bucket and objects."""
    policies = _by_bucket(records, BUCKET_POLICY)
    found = []
    for name, bucket in _buckets(records).items():
        arn = f"arn:aws:s3:::{name}"
        statements = [
            st for p in policies.get(name, []) for st in policy_statements(p.inputs.get("policy"))
        ]
        if not any(_denies_plain_http(st, arn) for st in statements):
            found.append(Violation("bucket-tls-only", _label(bucket), "no TLS-only deny"))
    return found


def check_buckets_logged(records: Sequence[ResourceRecord]) -> list[Violation]:
    """Every bucket's access is logged, except log targets and buckets tagged with a reason."""
    logged = _by_bucket(records, BUCKET_LOGGING)
    targets = {str(r.inputs.get("targetBucket")) for r in records if r.type == BUCKET_LOGGING}
    found = []
    for name, bucket in _buckets(records).items():
        exempt = (bucket.inputs.get("tags") or {}).get(NO_ACCESS_LOG_TAG)
        if name in logged or name in targets or exempt:
            continue
        found.append(Violation("bucket-access-logs", _label(bucket), "access is not logged"))
    return found


def check_key_rotation(records: Sequence[ResourceRecord]) -> list[Violation]:
    """Every customer-managed symmetric key rotates."""
    return [
        Violation("kms-rotation", _label(r), "enableKeyRotation is not true")
        for r in records
        if r.type == KMS_KEY and r.inputs.get("enableKeyRotation") is not True
    ]


def check_managed_policies(records: Sequence[ResourceRecord]) -> list[Violation]:
    """Only allow-listed AWS managed policies are attached (most are far broader than needed)."""
    found = []
    for r in records:
        arns = []
        if r.type == ROLE_POLICY_ATTACHMENT:
            arns = [r.inputs.get("policyArn")]
        elif r.type == ROLE:
            arns = _as_list(r.inputs.get("managedPolicyArns"))
        for arn in arns:
            if arn not in ALLOWED_MANAGED_POLICIES:
                found.append(Violation("managed-policy", _label(r), f"attaches {arn}"))
    return found


CHECKS: tuple[Callable[[Sequence[ResourceRecord]], list[Violation]], ...] = (
    check_no_wildcard_actions,
    check_no_wildcard_resources,
    check_no_public_resource_policies,
    check_buckets_private,
    check_buckets_encrypted,
    check_buckets_tls_only,
    check_buckets_logged,
    check_key_rotation,
    check_managed_policies,
)


def check_all(records: Sequence[ResourceRecord]) -> list[Violation]:
    """Run every check; an empty list means the declared platform passes."""
    return [violation for check in CHECKS for violation in check(records)]
