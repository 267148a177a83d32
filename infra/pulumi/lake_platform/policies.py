"""The platform's security rule set, named after AWS Foundational Security Best Practices.

Each rule takes the resources a program declared, as :class:`ResourceRecord` (the Pulumi
type token, the logical name and the inputs as the engine receives them: camelCase keys,
policies as JSON strings) and returns :class:`Violation` objects that print as
``[<control>] <type> <name>: <what is wrong>``. :data:`RULES` lists them with the control ID
each is named after: an FSBP control (``S3.5``, ``CloudTrail.2``, ...) where one exists, or
``LAKE.<area>-<what>`` for a practice FSBP has no control for (key administrators separated
from key users, endpoint policies, SageMaker create conditions). The infra tests render the
program under Pulumi's mocks and require :func:`check_all` to return nothing; each rule has
a test that declares a violating resource and sees it refused; ``infra/pulumi/README.md``
has the table of controls, checked against :data:`RULES`.

Why plain functions: no policy engine (CrossGuard, checkov, cfn-guard) reads a Pulumi Python
program offline (FACTS.md). What the rules see is what the program declares, not what AWS
would answer: a rule cannot tell an endpoint policy AWS rejects from one it accepts.
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
# Tag that marks a bucket without Object Lock (FSBP S3.15), the reason as its value.
NO_OBJECT_LOCK_TAG = "lake:object-lock"
# Tag that marks a Lambda function outside a VPC (FSBP Lambda.3), the reason as its value.
NO_VPC_TAG = "lake:no-vpc"

# Control IDs of the practices FSBP has no control for.
SCOPED_RESOURCES = "LAKE.IAM-scoped-resources"
MANAGED_POLICIES = "LAKE.IAM-managed-policies"
KEY_SEPARATION = "LAKE.KMS-admins-not-users"
ENDPOINT_POLICIES = "LAKE.VPC-endpoint-policies"
SAGEMAKER_CONDITIONS = "LAKE.SageMaker-create-conditions"
SAGEMAKER_IMAGES = "LAKE.SageMaker-image-repositories"
GLUE_IN_VPC = "LAKE.Glue-in-vpc"
GLUE_ENCRYPTED = "LAKE.Glue-encrypted"
ATHENA_ENCRYPTED = "LAKE.Athena-encrypted-results"
SECURITY_HUB_FSBP = "LAKE.SecurityHub-FSBP"
ROLE_TRUST = "LAKE.IAM-role-trust"

# The control a public resource policy breaks, by resource type.
PUBLIC_POLICY_CONTROL = {
    BUCKET_POLICY: "S3.2",
    KMS_KEY: "KMS.5",
    "aws:sns/topicPolicy:TopicPolicy": "SNS.4",
    "aws:sqs/queuePolicy:QueuePolicy": "SQS.3",
}


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
                found.append(Violation("IAM.21", _label(record), "Allow with NotAction"))
            for action in _as_list(st.get("Action")):
                if is_wildcard_action(action):
                    found.append(
                        Violation(
                            "IAM.1" if action == "*" else "IAM.21",
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
                found.append(Violation(SCOPED_RESOURCES, _label(record), "Allow with NotResource"))
            if "*" not in _as_list(st.get("Resource")):
                continue
            scopable = [a for a in _as_list(st.get("Action")) if not _unscopable(a)]
            if scopable:
                found.append(
                    Violation(
                        SCOPED_RESOURCES,
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
                        PUBLIC_POLICY_CONTROL.get(record.type, "LAKE.public-policy"),
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
            found.append(Violation("S3.8", _label(bucket), f"ACL {acl!r}"))
        if not any(all(b.inputs.get(s) is True for s in switches) for b in blocks.get(name, [])):
            found.append(Violation("S3.8", _label(bucket), "public access not fully blocked"))
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
            found.append(Violation("S3.4", _label(bucket), "no default encryption"))
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
            found.append(Violation("S3.5", _label(bucket), "no TLS-only deny"))
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
        found.append(Violation("S3.9", _label(bucket), "access is not logged"))
    return found


def check_key_rotation(records: Sequence[ResourceRecord]) -> list[Violation]:
    """Every customer-managed symmetric key rotates."""
    return [
        Violation("KMS.4", _label(r), "enableKeyRotation is not true")
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
                found.append(Violation(MANAGED_POLICIES, _label(r), f"attaches {arn}"))
    return found


# -- the rules added for issue 19 ----------------------------------------------------------

ACCOUNT_PUBLIC_ACCESS_BLOCK = "aws:s3/accountPublicAccessBlock:AccountPublicAccessBlock"
OWNERSHIP = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
OBJECT_LOCK = "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration"
TRAIL = "aws:cloudtrail/trail:Trail"
VPC = "aws:ec2/vpc:Vpc"
DEFAULT_SECURITY_GROUP = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"
VPC_ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
LAMBDA_FUNCTION = "aws:lambda/function:Function"
LAMBDA_PERMISSION = "aws:lambda/permission:Permission"
NOTEBOOK = "aws:sagemaker/notebookInstance:NotebookInstance"
DOMAIN = "aws:sagemaker/domain:Domain"
GLUE_JOB = "aws:glue/job:Job"
GLUE_CRAWLER = "aws:glue/crawler:Crawler"
GLUE_CONNECTION = "aws:glue/connection:Connection"
WORKGROUP = "aws:athena/workgroup:Workgroup"
TOPIC = "aws:sns/topic:Topic"
STATE_MACHINE = "aws:sfn/stateMachine:StateMachine"
GUARDDUTY = "aws:guardduty/detector:Detector"
CONFIG_RECORDER = "aws:cfg/recorder:Recorder"
CONFIG_RECORDER_STATUS = "aws:cfg/recorderStatus:RecorderStatus"
ACCESS_ANALYZER = "aws:accessanalyzer/analyzer:Analyzer"
SECURITY_HUB_STANDARD = "aws:securityhub/standardsSubscription:StandardsSubscription"

# Lambda runtimes AWS still lets one create and update (Lambda.2); python3.11 stops in 2026.
SUPPORTED_LAMBDA_RUNTIMES = ("python3.12", "python3.13", "python3.14", "nodejs22.x", "java21")
# Oldest Glue version AWS still supports for Spark jobs (Glue.4).
MIN_GLUE_VERSION = (4, 0)
# Key policy actions that administer a key, and those that use it (KMS best practice: no
# principal has both; an administrator may let AWS services attach the key to resources).
KEY_ADMIN_PATTERNS = (
    "kms:Create*",
    "kms:Put*",
    "kms:Update*",
    "kms:Enable*",
    "kms:Disable*",
    "kms:Delete*",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
    "kms:Revoke*",
)
KEY_USE_PATTERNS = ("kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*")
# SageMaker create calls and the condition keys each must carry (security.py's contract).
SAGEMAKER_REQUIRED_CONDITIONS: Mapping[str, tuple[str, ...]] = {
    "sagemaker:CreateTrainingJob": (
        "sagemaker:VpcSubnets",
        "sagemaker:VpcSecurityGroupIds",
        "sagemaker:NetworkIsolation",
        "sagemaker:VolumeKmsKey",
    ),
    "sagemaker:CreateModel": (
        "sagemaker:VpcSubnets",
        "sagemaker:VpcSecurityGroupIds",
        "sagemaker:NetworkIsolation",
    ),
    "sagemaker:CreateProcessingJob": (
        "sagemaker:VpcSubnets",
        "sagemaker:VpcSecurityGroupIds",
        "sagemaker:VolumeKmsKey",
    ),
    "sagemaker:CreateTransformJob": ("sagemaker:VolumeKmsKey",),
    "sagemaker:CreateEndpointConfig": ("sagemaker:VolumeKmsKey",),
}
ACCOUNT_CONDITION_KEYS = ("aws:principalaccount", "aws:principalorgid")


def _of(records: Sequence[ResourceRecord], typ: str) -> list[ResourceRecord]:
    return [r for r in records if r.type == typ]


def _tag(record: ResourceRecord, key: str) -> str | None:
    return (record.inputs.get("tags") or {}).get(key)


def _matches_any(action: str, patterns: Iterable[str]) -> bool:
    """Whether an IAM action pattern (``kms:ReEncrypt*``) and any of ``patterns`` overlap."""
    return any(
        fnmatch.fnmatchcase(action.lower(), p.lower())
        or fnmatch.fnmatchcase(p.lower(), action.lower())
        for p in patterns
    )


def _condition_keys(statement: Mapping[str, Any]) -> set[str]:
    return {
        str(key).lower()
        for block in _as_list(statement.get("Condition"))
        for keys in block.values()
        for key in keys
    }


def check_account_public_access_block(records: Sequence[ResourceRecord]) -> list[Violation]:
    """S3.1: a program that declares buckets also blocks public access account-wide."""
    switches = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    buckets = _of(records, BUCKET)
    blocks = _of(records, ACCOUNT_PUBLIC_ACCESS_BLOCK)
    if not buckets or any(all(b.inputs.get(s) is True for s in switches) for b in blocks):
        return []
    return [Violation("S3.1", "account", "no AccountPublicAccessBlock with all four switches")]


def _buckets_lacking(
    records: Sequence[ResourceRecord],
    companion: str,
    setting: Callable[[Mapping[str, Any]], bool],
    control: str,
    why: str,
) -> list[Violation]:
    """A violation for each bucket with no ``companion`` resource whose inputs pass
    ``setting`` (S3 settings are resources of their own, naming their bucket)."""
    have = {str(r.inputs.get("bucket")) for r in _of(records, companion) if setting(r.inputs)}
    return [
        Violation(control, _label(b), why)
        for name, b in _buckets(records).items()
        if name not in have
    ]


def check_bucket_owner_enforced(records: Sequence[ResourceRecord]) -> list[Violation]:
    """S3.12: no ACLs: every bucket's object ownership is BucketOwnerEnforced."""
    return _buckets_lacking(
        records,
        OWNERSHIP,
        lambda i: (i.get("rule") or {}).get("objectOwnership") == "BucketOwnerEnforced",
        "S3.12",
        "ACLs still apply (no BucketOwnerEnforced ownership)",
    )


def check_buckets_versioned(records: Sequence[ResourceRecord]) -> list[Violation]:
    """S3.14: every bucket is versioned (an overwrite or delete stays recoverable)."""
    return _buckets_lacking(
        records,
        VERSIONING,
        lambda i: (i.get("versioningConfiguration") or {}).get("status") == "Enabled",
        "S3.14",
        "versioning is not enabled",
    )


def check_buckets_object_lock(records: Sequence[ResourceRecord]) -> list[Violation]:
    """S3.15: every bucket has Object Lock with a default retention, or says why not (tag)."""
    locked = {
        str(r.inputs.get("bucket"))
        for r in _of(records, OBJECT_LOCK)
        if r.inputs.get("objectLockEnabled", "Enabled") == "Enabled"
        and ((r.inputs.get("rule") or {}).get("defaultRetention") or {}).get("mode")
    }
    return [
        Violation("S3.15", _label(b), "no Object Lock default retention and no reason tag")
        for name, b in _buckets(records).items()
        if name not in locked
        and not b.inputs.get("objectLockEnabled")
        and not _tag(b, NO_OBJECT_LOCK_TAG)
    ]


def check_trail_multi_region(records: Sequence[ResourceRecord]) -> list[Violation]:
    """CloudTrail.1: a multi-Region trail records management events (global ones too)."""
    found = []
    for trail in _of(records, TRAIL):
        i = trail.inputs
        selectors = _as_list(i.get("eventSelectors"))
        management = not selectors or any(
            s.get("includeManagementEvents", True) and s.get("readWriteType", "All") == "All"
            for s in selectors
        )
        if not (i.get("isMultiRegionTrail") and i.get("includeGlobalServiceEvents", True)):
            found.append(Violation("CloudTrail.1", _label(trail), "not a multi-Region trail"))
        if not management:
            found.append(
                Violation("CloudTrail.1", _label(trail), "management events not all recorded")
            )
    if not found and _of(records, BUCKET) and not _of(records, TRAIL):
        found.append(Violation("CloudTrail.1", "account", "no CloudTrail trail"))
    return found


def check_trail_encrypted(records: Sequence[ResourceRecord]) -> list[Violation]:
    """CloudTrail.2: log files SSE-KMS (the trail's key), in a bucket whose default is KMS."""
    found = []
    encryption = _by_bucket(records, ENCRYPTION)
    for trail in _of(records, TRAIL):
        if not trail.inputs.get("kmsKeyId"):
            found.append(Violation("CloudTrail.2", _label(trail), "log files not SSE-KMS"))
        algorithms = {
            (rule.get("applyServerSideEncryptionByDefault") or {}).get("sseAlgorithm")
            for config in encryption.get(str(trail.inputs.get("s3BucketName")), [])
            for rule in _as_list(config.inputs.get("rules"))
        }
        if not algorithms & {"aws:kms", "aws:kms:dsse"}:
            found.append(
                Violation("CloudTrail.2", _label(trail), "the trail's bucket is not SSE-KMS")
            )
    return found


def check_trail_validation(records: Sequence[ResourceRecord]) -> list[Violation]:
    """CloudTrail.4: log file validation (digest files) is on."""
    return [
        Violation("CloudTrail.4", _label(t), "log file validation is off")
        for t in _of(records, TRAIL)
        if t.inputs.get("enableLogFileValidation") is not True
    ]


def check_trail_cloudwatch(records: Sequence[ResourceRecord]) -> list[Violation]:
    """CloudTrail.5: the trail also delivers to a CloudWatch Logs group (through a role)."""
    return [
        Violation("CloudTrail.5", _label(t), "not delivered to CloudWatch Logs")
        for t in _of(records, TRAIL)
        if not (t.inputs.get("cloudWatchLogsGroupArn") and t.inputs.get("cloudWatchLogsRoleArn"))
    ]


def _key_principals(statement: Mapping[str, Any]) -> set[str]:
    """Who a key-policy statement speaks to: its ``aws:PrincipalArn`` condition values, else
    its named principals (``<account>:root`` alone means every IAM principal there)."""
    named: set[str] = set()
    for operator, block in (statement.get("Condition") or {}).items():
        if operator.startswith(("Arn", "String")):
            for key, values in block.items():
                if str(key).lower() == "aws:principalarn":
                    named |= {str(v) for v in _as_list(values)}
    if named:
        return named
    principal = statement.get("Principal")
    return (
        {str(p) for p in _as_list(principal.get("AWS"))}
        if isinstance(principal, Mapping)
        else set()
    )


def _encrypt_only_through_a_service(statement: Mapping[str, Any], uses: list[str]) -> bool:
    """Data keys for writes that one AWS service makes (``kms:ViaService``), no decryption."""
    return "kms:viaservice" in _condition_keys(statement) and not any(
        _matches_any(a, ["kms:Decrypt", "kms:ReEncrypt*"]) for a in uses
    )


def check_key_admins_not_users(records: Sequence[ResourceRecord]) -> list[Violation]:
    """Key administrators are not key users, and no IAM policy alone can grant use.

    Refused: a principal that administers a key (in any statement) and may also decrypt or
    re-encrypt with it (encrypt-only writes through one service, ``kms:ViaService``, are the
    one exception: a deployment uploading into an SSE-KMS bucket); use allowed to the account
    (``:root``) without an ``aws:PrincipalArn`` condition naming who, which hands use to any
    IAM policy in the account (the default key policy's weakness).
    """
    found = []
    for key in _of(records, KMS_KEY):
        statements = [
            st for st in policy_statements(key.inputs.get("policy")) if st.get("Effect") == "Allow"
        ]
        admins: set[str] = set()
        for st in statements:
            # Grants for AWS resources only (a service using the key for a volume) are how
            # users and administrators attach a key, not administration of it.
            attach = "kms:grantisforawsresource" in _condition_keys(st)
            if any(
                _matches_any(str(a), KEY_ADMIN_PATTERNS)
                and not (attach and str(a) == "kms:CreateGrant")
                for a in _as_list(st.get("Action"))
            ):
                admins |= _key_principals(st)
        for st in statements:
            actions = [str(a) for a in _as_list(st.get("Action"))]
            uses = [a for a in actions if _matches_any(a, KEY_USE_PATTERNS)]
            if not uses:
                continue
            sid = st.get("Sid", "?")
            both = sorted(_key_principals(st) & admins)
            if both and not _encrypt_only_through_a_service(st, uses):
                found.append(
                    Violation(
                        KEY_SEPARATION,
                        _label(key),
                        f"statement {sid}: {both[0]} administers the key and uses it ({uses[0]})",
                    )
                )
            principal = st.get("Principal")
            aws = _as_list(principal.get("AWS")) if isinstance(principal, Mapping) else []
            to_account = any(str(p).endswith(":root") for p in aws)
            if to_account and "aws:principalarn" not in _condition_keys(st):
                found.append(
                    Violation(
                        KEY_SEPARATION,
                        _label(key),
                        f"statement {sid} lets any IAM policy of the account use the key",
                    )
                )
    return found


def check_default_security_groups(records: Sequence[ResourceRecord]) -> list[Violation]:
    """EC2.2: each VPC's default security group is adopted with no rules at all."""
    found = [
        Violation("EC2.2", _label(g), "the default security group has rules")
        for g in _of(records, DEFAULT_SECURITY_GROUP)
        if g.inputs.get("ingress") or g.inputs.get("egress")
    ]
    vpcs = _of(records, VPC)
    if len(_of(records, DEFAULT_SECURITY_GROUP)) < len(vpcs):
        found += [
            Violation("EC2.2", _label(v), "its default security group keeps AWS's allow rules")
            for v in vpcs
        ]
    return found


def check_flow_logs(records: Sequence[ResourceRecord]) -> list[Violation]:
    """EC2.6: every VPC has a flow log of all traffic."""
    logs = [f for f in _of(records, FLOW_LOG) if f.inputs.get("vpcId")]
    if all(f.inputs.get("trafficType") == "ALL" for f in logs) and len(logs) >= len(
        _of(records, VPC)
    ):
        return []
    return [Violation("EC2.6", _label(v), "no flow log of ALL traffic") for v in _of(records, VPC)]


def check_endpoint_policies(records: Sequence[ResourceRecord]) -> list[Violation]:
    """Every VPC endpoint has a policy that admits this account's principals only, and the S3
    endpoint names its buckets (no ``Resource: "*"``): a data perimeter at the network edge."""
    found = []
    for endpoint in _of(records, VPC_ENDPOINT):
        policy = endpoint.inputs.get("policy")
        if not policy:
            found.append(Violation(ENDPOINT_POLICIES, _label(endpoint), "no endpoint policy"))
            continue
        is_s3 = str(endpoint.inputs.get("serviceName", "")).endswith(".s3")
        for st in policy_statements(policy):
            if st.get("Effect") != "Allow":
                continue
            sid = st.get("Sid", "?")
            if _principal_is_public(st.get("Principal")) and not (
                _condition_keys(st) & set(ACCOUNT_CONDITION_KEYS)
            ):
                found.append(
                    Violation(
                        ENDPOINT_POLICIES,
                        _label(endpoint),
                        f"statement {sid} admits principals of any account",
                    )
                )
            if is_s3 and "*" in _as_list(st.get("Resource")):
                found.append(
                    Violation(
                        ENDPOINT_POLICIES, _label(endpoint), f"statement {sid} reaches any bucket"
                    )
                )
    return found


def check_role_trust(records: Sequence[ResourceRecord]) -> list[Violation]:
    """A role trusts named principals: not ``*``, and not a whole account (``:root``) unless
    a condition narrows who in it (aws:PrincipalArn, an external ID, MFA)."""
    found = []
    for record, kind, policy in _documents(records):
        if kind != "trust":
            continue
        for st in policy_statements(policy):
            if st.get("Effect") != "Allow":
                continue
            principal = st.get("Principal")
            aws = (
                [str(p) for p in _as_list(principal.get("AWS"))]
                if isinstance(principal, Mapping)
                else ([str(principal)] if principal else [])
            )
            broad = [p for p in aws if p == "*" or p.endswith(":root") or p.isdigit()]
            if broad and not st.get("Condition"):
                found.append(
                    Violation(
                        ROLE_TRUST,
                        _label(record),
                        f"trusts {broad[0]} (every principal there may assume it)",
                    )
                )
    return found


def check_lambda_permissions(records: Sequence[ResourceRecord]) -> list[Violation]:
    """Lambda.1: a function's resource policy names a principal and ties a service to a source."""
    found = []
    for perm in _of(records, LAMBDA_PERMISSION):
        principal = str(perm.inputs.get("principal", ""))
        if principal == "*":
            found.append(Violation("Lambda.1", _label(perm), "any principal may invoke"))
        elif principal.endswith(".amazonaws.com") and not (
            perm.inputs.get("sourceArn") or perm.inputs.get("sourceAccount")
        ):
            found.append(
                Violation("Lambda.1", _label(perm), f"{principal} without a source ARN/account")
            )
    return found


def check_lambda_runtimes(records: Sequence[ResourceRecord]) -> list[Violation]:
    """Lambda.2: functions run on a runtime AWS supports."""
    return [
        Violation("Lambda.2", _label(f), f"runtime {f.inputs.get('runtime')!r} is not supported")
        for f in _of(records, LAMBDA_FUNCTION)
        if f.inputs.get("runtime") and f.inputs.get("runtime") not in SUPPORTED_LAMBDA_RUNTIMES
    ]


def check_lambda_in_vpc(records: Sequence[ResourceRecord]) -> list[Violation]:
    """Lambda.3: functions run in a VPC, or say why not (tag)."""
    return [
        Violation("Lambda.3", _label(f), "not in a VPC and no reason tag")
        for f in _of(records, LAMBDA_FUNCTION)
        if not (f.inputs.get("vpcConfig") or {}).get("subnetIds") and not _tag(f, NO_VPC_TAG)
    ]


def check_notebook_internet(records: Sequence[ResourceRecord]) -> list[Violation]:
    """SageMaker.1: notebooks have no direct internet access; Studio domains are VPC-only."""
    found = [
        Violation("SageMaker.1", _label(n), "direct internet access is on")
        for n in _of(records, NOTEBOOK)
        if n.inputs.get("directInternetAccess") != "Disabled"
    ]
    found += [
        Violation("SageMaker.1", _label(d), "apps reach the internet directly (not VpcOnly)")
        for d in _of(records, DOMAIN)
        if d.inputs.get("appNetworkAccessType") != "VpcOnly"
    ]
    return found


def check_notebook_in_vpc(records: Sequence[ResourceRecord]) -> list[Violation]:
    """SageMaker.2: notebooks run in a subnet of a custom VPC."""
    return [
        Violation("SageMaker.2", _label(n), "not launched in a VPC subnet")
        for n in _of(records, NOTEBOOK)
        if not n.inputs.get("subnetId")
    ]


def check_notebook_root(records: Sequence[ResourceRecord]) -> list[Violation]:
    """SageMaker.3: notebook users have no root access."""
    return [
        Violation("SageMaker.3", _label(n), "users have root access")
        for n in _of(records, NOTEBOOK)
        if n.inputs.get("rootAccess") != "Disabled"
    ]


def check_sagemaker_create_conditions(records: Sequence[ResourceRecord]) -> list[Violation]:
    """Whoever may create SageMaker jobs, models or endpoint configs may do so only with the
    stack's subnets, security group, network isolation and volume key: the Allow carries
    those condition keys (a request without them is then refused by IAM)."""
    found = []
    for record, kind, policy in _documents(records):
        if kind != "identity":
            continue
        for st in policy_statements(policy):
            if st.get("Effect") != "Allow":
                continue
            keys = _condition_keys(st)
            for action in _as_list(st.get("Action")):
                for create, needed in SAGEMAKER_REQUIRED_CONDITIONS.items():
                    if not _matches_any(str(action), [create]):
                        continue
                    missing = [k for k in needed if k.lower() not in keys]
                    if missing:
                        found.append(
                            Violation(
                                SAGEMAKER_CONDITIONS,
                                _label(record),
                                f"statement {st.get('Sid', '?')} allows {create} without "
                                f"{', '.join(missing)}",
                            )
                        )
    return found


def check_sagemaker_image_repositories(records: Sequence[ResourceRecord]) -> list[Violation]:
    """Image pulls name their registry account and repository (not any account's images)."""
    pulls = ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")
    found = []
    for record, kind, policy in _documents(records):
        if kind != "identity":
            continue
        for st in policy_statements(policy):
            if st.get("Effect") != "Allow" or not any(
                _matches_any(str(a), pulls) for a in _as_list(st.get("Action"))
            ):
                continue
            for resource in _as_list(st.get("Resource")):
                parts = str(resource).split(":", 5)
                account = parts[4] if len(parts) == 6 else "*"
                repository = parts[5] if len(parts) == 6 else "*"
                if "*" in account or repository in ("*", "repository/*"):
                    found.append(
                        Violation(
                            SAGEMAKER_IMAGES,
                            _label(record),
                            f"statement {st.get('Sid', '?')} pulls images from {resource}",
                        )
                    )
    return found


def check_glue_in_vpc(records: Sequence[ResourceRecord]) -> list[Violation]:
    """Glue jobs run inside the VPC: each names a NETWORK connection with a subnet."""
    networks = {
        str(c.inputs.get("name"))
        for c in _of(records, GLUE_CONNECTION)
        if c.inputs.get("connectionType") == "NETWORK"
        and (c.inputs.get("physicalConnectionRequirements") or {}).get("subnetId")
    }
    return [
        Violation(GLUE_IN_VPC, _label(j), "runs outside the VPC (no NETWORK connection)")
        for j in _of(records, GLUE_JOB)
        if not set(map(str, _as_list(j.inputs.get("connections")))) & networks
    ]


def check_glue_versions(records: Sequence[ResourceRecord]) -> list[Violation]:
    """Glue.4: Spark jobs run on a Glue version AWS supports."""
    found = []
    for job in _of(records, GLUE_JOB):
        version = str(job.inputs.get("glueVersion", "0"))
        try:
            parsed = tuple(int(p) for p in version.split(".")[:2])
        except ValueError:
            parsed = (0,)
        if parsed < MIN_GLUE_VERSION:
            found.append(Violation("Glue.4", _label(job), f"Glue {version} is not supported"))
    return found


def check_glue_encrypted(records: Sequence[ResourceRecord]) -> list[Violation]:
    """Glue jobs and crawlers write under a security configuration (S3, logs, bookmarks KMS)."""
    return [
        Violation(GLUE_ENCRYPTED, _label(r), "no security configuration")
        for r in records
        if r.type in (GLUE_JOB, GLUE_CRAWLER) and not r.inputs.get("securityConfiguration")
    ]


def check_athena_workgroups(records: Sequence[ResourceRecord]) -> list[Violation]:
    """Athena.4 (metrics published) and enforced KMS-encrypted results, per workgroup."""
    found = []
    for wg in _of(records, WORKGROUP):
        config = wg.inputs.get("configuration") or {}
        if config.get("publishCloudwatchMetricsEnabled") is not True:
            found.append(Violation("Athena.4", _label(wg), "query metrics not published"))
        encryption = (config.get("resultConfiguration") or {}).get("encryptionConfiguration") or {}
        if config.get("enforceWorkgroupConfiguration") is not True or encryption.get(
            "encryptionOption"
        ) not in ("SSE_KMS", "CSE_KMS"):
            found.append(
                Violation(ATHENA_ENCRYPTED, _label(wg), "results not enforced SSE-KMS/CSE-KMS")
            )
    return found


def check_topics_encrypted(records: Sequence[ResourceRecord]) -> list[Violation]:
    """SNS.1: topics are encrypted with a KMS key."""
    return [
        Violation("SNS.1", _label(t), "not encrypted with a KMS key")
        for t in _of(records, TOPIC)
        if not t.inputs.get("kmsMasterKeyId")
    ]


def check_state_machine_logging(records: Sequence[ResourceRecord]) -> list[Violation]:
    """StepFunctions.1: state machines log their executions."""
    return [
        Violation("StepFunctions.1", _label(m), "execution logging is off")
        for m in _of(records, STATE_MACHINE)
        if (m.inputs.get("loggingConfiguration") or {}).get("level", "OFF") == "OFF"
    ]


# -- account-level detective controls (the optional layer: required where it is on) -------


def check_guardduty(records: Sequence[ResourceRecord]) -> list[Violation]:
    """GuardDuty.1: a GuardDuty detector is enabled."""
    if any(d.inputs.get("enable", True) for d in _of(records, GUARDDUTY)):
        return []
    return [Violation("GuardDuty.1", "account", "no enabled GuardDuty detector")]


def check_config_recorder(records: Sequence[ResourceRecord]) -> list[Violation]:
    """Config.1: AWS Config records (all supported resources) and the recorder is on."""
    recorders = [
        r
        for r in _of(records, CONFIG_RECORDER)
        if (r.inputs.get("recordingGroup") or {}).get("allSupported", True)
    ]
    running = any(r.inputs.get("isEnabled") for r in _of(records, CONFIG_RECORDER_STATUS))
    if recorders and running:
        return []
    return [Violation("Config.1", "account", "no AWS Config recorder running")]


def check_access_analyzer(records: Sequence[ResourceRecord]) -> list[Violation]:
    """IAM.28: an IAM Access Analyzer external access analyzer exists."""
    if any(
        a.inputs.get("type", "ACCOUNT") in ("ACCOUNT", "ORGANIZATION")
        for a in _of(records, ACCESS_ANALYZER)
    ):
        return []
    return [Violation("IAM.28", "account", "no external access analyzer")]


def check_security_hub_fsbp(records: Sequence[ResourceRecord]) -> list[Violation]:
    """Security Hub is on with the AWS Foundational Security Best Practices standard."""
    if any(
        "aws-foundational-security-best-practices" in str(s.inputs.get("standardsArn", ""))
        for s in _of(records, SECURITY_HUB_STANDARD)
    ):
        return []
    return [Violation(SECURITY_HUB_FSBP, "account", "no FSBP standard subscription")]


def _only(
    check: Callable[[Sequence[ResourceRecord]], list[Violation]], control: str
) -> Callable[[Sequence[ResourceRecord]], list[Violation]]:
    """The violations of one control among those a shared check reports."""

    def run(records: Sequence[ResourceRecord]) -> list[Violation]:
        return [v for v in check(records) if v.rule == control]

    run.__doc__ = check.__doc__
    return run


@dataclass(frozen=True)
class Rule:
    """One control: its ID (FSBP or ``LAKE.*``), a title, and the check that enforces it."""

    control: str
    title: str
    check: Callable[[Sequence[ResourceRecord]], list[Violation]]


RULES: tuple[Rule, ...] = (
    Rule("S3.1", "account-level S3 Block Public Access", check_account_public_access_block),
    Rule(
        "S3.2",
        "no bucket policy allows public read or write (S3.2, S3.3)",
        _only(check_no_public_resource_policies, "S3.2"),
    ),
    Rule("S3.4", "default encryption on every bucket (retired by AWS)", check_buckets_encrypted),
    Rule("S3.5", "buckets refuse requests without TLS", check_buckets_tls_only),
    Rule("S3.8", "bucket-level Block Public Access, no public ACL", check_buckets_private),
    Rule("S3.9", "server access logging", check_buckets_logged),
    Rule("S3.12", "ACLs disabled (bucket owner enforced)", check_bucket_owner_enforced),
    Rule("S3.14", "versioning", check_buckets_versioned),
    Rule("S3.15", "Object Lock, or a reason tag", check_buckets_object_lock),
    Rule("CloudTrail.1", "multi-Region trail with management events", check_trail_multi_region),
    Rule("CloudTrail.2", "trail log files SSE-KMS, in an SSE-KMS bucket", check_trail_encrypted),
    Rule("CloudTrail.4", "log file validation", check_trail_validation),
    Rule("CloudTrail.5", "trail delivered to CloudWatch Logs", check_trail_cloudwatch),
    Rule("KMS.4", "key rotation", check_key_rotation),
    Rule("KMS.5", "no public key policy", _only(check_no_public_resource_policies, "KMS.5")),
    Rule(KEY_SEPARATION, "key administrators cannot use keys", check_key_admins_not_users),
    Rule("EC2.2", "default security groups allow nothing", check_default_security_groups),
    Rule("EC2.6", "VPC flow logs", check_flow_logs),
    Rule(
        ENDPOINT_POLICIES, "endpoint policies: this account, these buckets", check_endpoint_policies
    ),
    Rule("IAM.1", "no '*' administrative action", _only(check_no_wildcard_actions, "IAM.1")),
    Rule(
        "IAM.21", "no 'service:*' action or NotAction", _only(check_no_wildcard_actions, "IAM.21")
    ),
    Rule(
        SCOPED_RESOURCES, "'*' resources only where AWS cannot scope", check_no_wildcard_resources
    ),
    Rule(MANAGED_POLICIES, "only allow-listed AWS managed policies", check_managed_policies),
    Rule(ROLE_TRUST, "roles trust named principals, not whole accounts", check_role_trust),
    Rule("SNS.4", "no public topic policy", _only(check_no_public_resource_policies, "SNS.4")),
    Rule("SQS.3", "no public queue policy", _only(check_no_public_resource_policies, "SQS.3")),
    Rule("SNS.1", "topics KMS-encrypted", check_topics_encrypted),
    Rule("Lambda.1", "function policies not public", check_lambda_permissions),
    Rule("Lambda.2", "supported runtimes", check_lambda_runtimes),
    Rule("Lambda.3", "functions in a VPC, or a reason tag", check_lambda_in_vpc),
    Rule("SageMaker.1", "no direct internet from notebooks or Studio", check_notebook_internet),
    Rule("SageMaker.2", "notebooks in a VPC", check_notebook_in_vpc),
    Rule("SageMaker.3", "no root on notebooks", check_notebook_root),
    Rule(
        SAGEMAKER_CONDITIONS,
        "SageMaker create calls require VPC, isolation and volume key",
        check_sagemaker_create_conditions,
    ),
    Rule(SAGEMAKER_IMAGES, "image pulls name their repository", check_sagemaker_image_repositories),
    Rule(GLUE_IN_VPC, "Glue jobs run in the VPC", check_glue_in_vpc),
    Rule("Glue.4", "supported Glue versions", check_glue_versions),
    Rule(GLUE_ENCRYPTED, "Glue security configuration everywhere", check_glue_encrypted),
    Rule(
        "Athena.4", "workgroups publish query metrics", _only(check_athena_workgroups, "Athena.4")
    ),
    Rule(
        ATHENA_ENCRYPTED,
        "workgroup results enforced SSE-KMS",
        _only(check_athena_workgroups, ATHENA_ENCRYPTED),
    ),
    Rule("StepFunctions.1", "state machine logging", check_state_machine_logging),
)

# Account-level controls of the optional detective layer: checked where the stack turns it on.
ACCOUNT_RULES: tuple[Rule, ...] = (
    Rule("GuardDuty.1", "GuardDuty enabled", check_guardduty),
    Rule("Config.1", "AWS Config recording", check_config_recorder),
    Rule("IAM.28", "IAM Access Analyzer", check_access_analyzer),
    Rule(SECURITY_HUB_FSBP, "Security Hub with the FSBP standard", check_security_hub_fsbp),
)

# The old name: the checks every declared platform must pass.
CHECKS = tuple(rule.check for rule in RULES)


def check_all(
    records: Sequence[ResourceRecord], *, account_controls: bool = False
) -> list[Violation]:
    """Run every rule; an empty list means the declared platform passes.

    ``account_controls`` adds the detective layer's controls (GuardDuty, Config, Access
    Analyzer, Security Hub), for stacks that turn it on.
    """
    rules = RULES + (ACCOUNT_RULES if account_controls else ())
    return [violation for rule in rules for violation in rule.check(records)]
