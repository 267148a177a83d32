"""Security layer: customer keys, least-privilege roles, CloudTrail, the private network.

It is two components because of a dependency cycle the layer would otherwise have: buckets
need the keys (processed is SSE-KMS), while roles are scoped to the buckets. So
:class:`Encryption` comes before storage and :class:`Security` after it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws
import pulumi_aws.cloudtrail
import pulumi_aws.cloudwatch
import pulumi_aws.ec2
import pulumi_aws.glue
import pulumi_aws.iam
import pulumi_aws.kms
from pulumi import ResourceOptions

from lake_platform import iam
from lake_platform.artifacts import CONFIG_KEY
from lake_platform.layout import (  # lakelib/layout.toml: lakelib reads the same names
    ETL_STATE_PREFIX,
    ML_JOBS_PREFIX,
    MODELS_PREFIX,
    RUNS_PREFIX,
    SCRIPTS_PREFIX,
)
from lake_platform.settings import (
    SAGEMAKER_IMAGE_REGISTRIES,
    SAGEMAKER_IMAGE_REPOSITORY,
    PlatformConfigError,
    PlatformSettings,
)

# Where lakelib keeps what the code paths below write in the scripts bucket (lakelib's AWS
# zone layout: scripts = jobs/, models = models/, runs = runs/). The infra tests derive the
# same keys from lakelib itself and check every role against them.
PREDICTIONS_TABLE = "predictions"  # lakelib.ml batch transform's table

# Key administration without ``kms:*`` and without any use of the key: administrators manage
# keys (policy, rotation, deletion) but cannot encrypt or decrypt with them (AWS KMS best
# practice: separate key administrators from key users).
KEY_ADMIN_ACTIONS = (
    "kms:Create*",
    "kms:Describe*",
    "kms:Enable*",
    "kms:List*",
    "kms:Put*",
    "kms:Update*",
    "kms:Revoke*",
    "kms:Disable*",
    "kms:Get*",
    "kms:Delete*",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
    "kms:RotateKeyOnDemand",
)
KEY_USE_ACTIONS = ("kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*")
# Grants an AWS service creates on a principal's behalf to use the key for a resource it
# runs (SageMaker and EMR volumes, notebook storage): attaching a key, not using it.
KEY_GRANT_ACTIONS = ("kms:CreateGrant",)
# Tag the EMR v2 managed service policy requires on the network resources EMR may use.
EMR_MANAGED_TAG = {"for-use-with-amazon-emr-managed-policies": "true"}

# The only AWS managed policy attached anywhere: EMR's v2 service policy is AWS's own
# least-privilege policy (scoped by the tag above); writing it inline would be 400 lines.
EMR_SERVICE_POLICY_ARN = "arn:aws:iam::aws:policy/service-role/AmazonEMRServicePolicy_v2"

# Actions that AWS does not let a policy scope to a resource, so ``Resource: "*"`` is the
# only form; the policy check (policies.py) allows ``*`` only for these.
ENI_ACTIONS = (
    "ec2:CreateNetworkInterface",
    "ec2:CreateNetworkInterfacePermission",
    "ec2:DeleteNetworkInterface",
    "ec2:DeleteNetworkInterfacePermission",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeVpcs",
    "ec2:DescribeDhcpOptions",
    "ec2:DescribeSubnets",
    "ec2:DescribeSecurityGroups",
)


# The IAM service prefix of an interface endpoint's service name, where they differ.
ENDPOINT_ACTION_PREFIX = {
    "monitoring": "cloudwatch",
    "sagemaker.api": "sagemaker",
    "sagemaker.runtime": "sagemaker",
    "ecr.api": "ecr",
    "ecr.dkr": "ecr",
    "execute-api": "execute-api",
}
# Services whose actions name no resource of this account (token vending, metrics, images
# in AWS-owned registries): their endpoint policy scopes the caller's account only.
ENDPOINTS_WITHOUT_ACCOUNT_RESOURCES = ("sts", "monitoring", "ecr.api", "ecr.dkr")


def endpoint_policy(
    service: str, region: str, account_id: str, resources: Sequence[Any] = ()
) -> pulumi.Output[str]:
    """The endpoint policy of an interface endpoint: this account's principals only, on this
    account's resources (a data perimeter: stolen credentials of another account, or a
    workload writing to another account's resources, get nowhere through the endpoint).

    The actions stay ``<service>:*``: an endpoint policy limits who and what, the roles'
    own policies limit which actions.
    """
    prefix = ENDPOINT_ACTION_PREFIX.get(service, service.split(".")[0])
    scoped = list(resources) or (
        ["*"]
        if service in ENDPOINTS_WITHOUT_ACCOUNT_RESOURCES
        else [f"arn:aws:{prefix}:{region}:{account_id}:*"]
    )
    return iam.document(
        [
            iam.statement(
                [f"{prefix}:*"],
                scoped,
                sid="ThisAccountOnly",
                principal="*",
                conditions={"StringEquals": {"aws:PrincipalAccount": account_id}},
            )
        ]
    )


def emr_private_subnet_buckets(region: str) -> dict[str, list[str]]:
    """AWS-owned buckets an EMR 7 cluster in a private subnet needs through the S3 endpoint
    (EMR Management Guide, "Sample policies for private subnets that access Amazon S3")."""
    system_logs = "aws157-logs-prod" if region == "us-east-1" else f"aws157-logs-prod-{region}"
    return {
        "read": [
            f"arn:aws:s3:::al2023-repos-{region}-de612dc2/*",
            f"arn:aws:s3:::repo.{region}.emr.amazonaws.com/*",
        ],
        "write": [f"arn:aws:s3:::{system_logs}/*"],
    }


# SageMaker create calls and the condition keys each must carry (Service Authorization
# Reference, "Actions defined by Amazon SageMaker"): jobs and models in the stack's private
# subnets and security group, training and models network-isolated (they need no network:
# SageMaker moves their S3 channels), every volume under the stack's KMS key. Processing
# jobs read S3 themselves (through the VPC's gateway endpoint), so they are not isolated.
SAGEMAKER_CREATE_CONDITIONS: Mapping[str, tuple[str, ...]] = {
    "sagemaker:CreateTrainingJob": ("vpc", "isolation", "volume-key"),
    "sagemaker:CreateModel": ("vpc", "isolation"),
    "sagemaker:CreateProcessingJob": ("vpc", "volume-key"),
    "sagemaker:CreateTransformJob": ("volume-key",),
    "sagemaker:CreateEndpointConfig": ("volume-key",),
}


def sagemaker_create_conditions(
    needs: Sequence[str],
    *,
    subnet_ids: Sequence[Any],
    security_group_ids: Sequence[Any],
    kms_key_arn: Any,
) -> dict[str, Any]:
    """The IAM ``Condition`` that lets a SageMaker create call through only with the stack's
    network, isolation and key settings (absent keys fail the ``Null`` test)."""
    null: dict[str, str] = {}
    conditions: dict[str, Any] = {}
    if "vpc" in needs:
        null.update({"sagemaker:VpcSubnets": "false", "sagemaker:VpcSecurityGroupIds": "false"})
        conditions["ForAllValues:StringEquals"] = {
            "sagemaker:VpcSubnets": list(subnet_ids),
            "sagemaker:VpcSecurityGroupIds": list(security_group_ids),
        }
    if "isolation" in needs:
        conditions["Bool"] = {"sagemaker:NetworkIsolation": "true"}
    if "volume-key" in needs:
        null["sagemaker:VolumeKmsKey"] = "false"
        conditions["StringEquals"] = {"sagemaker:VolumeKmsKey": kms_key_arn}
    return {"Null": null, **conditions} if null else conditions


def sagemaker_job_statements(
    sm_arn: str,
    *,
    subnet_ids: Sequence[Any],
    security_group_ids: Sequence[Any],
    kms_key_arn: Any,
) -> list[dict[str, Any]]:
    """What a principal that runs the lake's SageMaker work may do: each create call under
    its conditions (one statement per call, since their condition keys differ), and the
    describe/stop/delete/invoke calls that need none."""
    resource = {
        "sagemaker:CreateTrainingJob": "training-job",
        "sagemaker:CreateModel": "model",
        "sagemaker:CreateProcessingJob": "processing-job",
        "sagemaker:CreateTransformJob": "transform-job",
        "sagemaker:CreateEndpointConfig": "endpoint-config",
    }
    creates = [
        iam.statement(
            [action],
            [f"{sm_arn}:{resource[action]}/*"],
            sid=action.split(":")[1] + "InTheStacksVpcWithItsKey",
            conditions=sagemaker_create_conditions(
                needs,
                subnet_ids=subnet_ids,
                security_group_ids=security_group_ids,
                kms_key_arn=kms_key_arn,
            ),
        )
        for action, needs in SAGEMAKER_CREATE_CONDITIONS.items()
    ]
    return [
        *creates,
        iam.statement(
            [
                "sagemaker:DescribeTrainingJob",
                "sagemaker:StopTrainingJob",
                "sagemaker:DescribeModel",
                "sagemaker:DeleteModel",
                "sagemaker:DescribeProcessingJob",
                "sagemaker:StopProcessingJob",
                "sagemaker:DescribeEndpointConfig",
                "sagemaker:DeleteEndpointConfig",
                "sagemaker:CreateEndpoint",
                "sagemaker:DescribeEndpoint",
                "sagemaker:UpdateEndpoint",
                "sagemaker:DeleteEndpoint",
                "sagemaker:InvokeEndpoint",
                "sagemaker:DescribeTransformJob",
                "sagemaker:StopTransformJob",
                "sagemaker:AddTags",
                "sagemaker:ListTags",
            ],
            [
                f"{sm_arn}:training-job/*",
                f"{sm_arn}:model/*",
                f"{sm_arn}:processing-job/*",
                f"{sm_arn}:endpoint-config/*",
                f"{sm_arn}:endpoint/*",
                f"{sm_arn}:transform-job/*",
            ],
            sid="FollowAndCleanUpInThisAccount",
        ),
    ]


def sagemaker_image_repositories(s: PlatformSettings) -> tuple[str, ...]:
    """ECR repositories the SageMaker role may pull images from."""
    if s.sagemaker_image_repositories:
        return s.sagemaker_image_repositories
    registry = SAGEMAKER_IMAGE_REGISTRIES.get(s.region)
    if registry is None:
        raise PlatformConfigError(
            f"no known scikit-learn image registry for region {s.region}: set "
            "sagemakerImageRepositories (the ECR repository ARNs of [ml] image_uri)"
        )
    return (f"arn:aws:ecr:{s.region}:{registry}:repository/{SAGEMAKER_IMAGE_REPOSITORY}",)


def _root(account_id: str) -> dict[str, str]:
    return {"AWS": f"arn:aws:iam::{account_id}:root"}


def principal_patterns(arn: str) -> list[str]:
    """``aws:PrincipalArn`` patterns of the IAM principal behind a caller ARN.

    An assumed-role session (``arn:aws:sts::A:assumed-role/Name/session``) is its role, whose
    path the session ARN does not carry: both ``role/Name`` and ``role/*/Name`` match it.
    """
    parts = arn.split(":", 5)
    if len(parts) == 6 and parts[2] == "sts" and parts[5].startswith("assumed-role/"):
        role = parts[5].split("/")[1]
        return [f"arn:aws:iam::{parts[4]}:role/{role}", f"arn:aws:iam::{parts[4]}:role/*/{role}"]
    return [arn]


def stack_role_pattern(account_id: str, name_prefix: str) -> str:
    """Every IAM role this stack names (``<prefix>-<thing>``): the keys' only users."""
    return f"arn:aws:iam::{account_id}:role/{name_prefix}-*"


def key_policy(
    account_id: str,
    service_statements: Sequence[Mapping[str, Any]] = (),
    *,
    administrators: Sequence[str] = (),
    users: Sequence[str] = (),
    deploys_through_s3: str | None = None,
) -> pulumi.Output[str]:
    """A key policy that separates administrators from users.

    - ``administrators`` (``aws:PrincipalArn`` patterns) manage the key and may let AWS
      services attach it to resources, but cannot encrypt or decrypt with it;
    - the account root *user* may administer it too: the documented break-glass when every
      administrator is gone (the account as a whole, ``:root`` as an IAM delegation, gets
      nothing: no IAM policy alone can grant use of the key);
    - ``users`` (``aws:PrincipalArn`` patterns: the stack's own roles) use it, with the
      actions their IAM policies also grant; ``service_statements`` name AWS services.
    """
    root_arn = f"arn:aws:iam::{account_id}:root"
    statements: list[Mapping[str, Any]] = [
        iam.statement(
            list(KEY_ADMIN_ACTIONS),
            ["*"],  # in a key policy "*" means "this key"
            sid="KeyAdministratorsManageButCannotUse",
            principal=_root(account_id),
            conditions={"ArnLike": {"aws:PrincipalArn": list(administrators)}},
        ),
        iam.statement(
            list(KEY_ADMIN_ACTIONS),
            ["*"],
            sid="BreakGlassAccountRootUser",
            principal=_root(account_id),
            conditions={"ArnEquals": {"aws:PrincipalArn": root_arn}},
        ),
        iam.statement(
            ["kms:CreateGrant", "kms:DescribeKey"],
            ["*"],
            sid="KeyAdministratorsAttachToAwsResources",
            principal=_root(account_id),
            conditions={
                "ArnLike": {"aws:PrincipalArn": list(administrators)},
                "Bool": {"kms:GrantIsForAWSResource": "true"},
            },
        ),
    ]
    if deploys_through_s3:
        # `pulumi up` (run by an administrator) uploads the config, scripts and wheelhouse
        # into the SSE-KMS scripts bucket: a PutObject needs a data key. Encrypt-only and
        # only through S3 in this region: the administrator can write there, never decrypt.
        statements.append(
            iam.statement(
                ["kms:GenerateDataKey"],
                ["*"],
                sid="AdministratorsUploadThroughS3Only",
                principal=_root(account_id),
                conditions={
                    "ArnLike": {"aws:PrincipalArn": list(administrators)},
                    "StringEquals": {"kms:ViaService": f"s3.{deploys_through_s3}.amazonaws.com"},
                },
            )
        )
    if users:
        statements += [
            iam.statement(
                [*KEY_USE_ACTIONS, "kms:DescribeKey"],
                ["*"],
                sid="StackRolesUseTheKey",
                principal=_root(account_id),
                conditions={"ArnLike": {"aws:PrincipalArn": list(users)}},
            ),
            iam.statement(
                list(KEY_GRANT_ACTIONS),
                ["*"],
                sid="StackRolesLetAwsServicesUseTheKey",
                principal=_root(account_id),
                conditions={
                    "ArnLike": {"aws:PrincipalArn": list(users)},
                    "Bool": {"kms:GrantIsForAWSResource": "true"},
                },
            ),
        ]
    return iam.document([*statements, *service_statements])


@dataclass
class EncryptionArgs:
    """Inputs of :class:`Encryption`."""

    settings: PlatformSettings


class Encryption(pulumi.ComponentResource):
    """Customer-managed KMS keys, all with yearly rotation.

    ``data`` encrypts lake buckets, Glue job output and logs, Athena results and SageMaker
    volumes; ``alerts`` encrypts the SNS topic, whose publishers (CloudWatch alarms,
    EventBridge) must be allowed in the key policy; ``trail`` encrypts CloudTrail's log
    files (CloudTrail alone may encrypt with it); ``replica`` lives in the DR region.
    """

    data_key: pulumi_aws.kms.Key
    alerts_key: pulumi_aws.kms.Key
    trail_key: pulumi_aws.kms.Key
    replica_key: pulumi_aws.kms.Key | None

    def __init__(self, name: str, args: EncryptionArgs, opts: ResourceOptions | None = None):
        super().__init__("lakelib:platform:Encryption", name, None, opts)
        s = args.settings
        # Who administers the keys: stack config, else whoever runs `pulumi up` (so the stack
        # can always update its own keys; KMS refuses a policy that would lock its caller out).
        administrators = s.key_administrators or (pulumi_aws.get_caller_identity().arn,)
        self.administrators = [p for arn in administrators for p in principal_patterns(arn)]
        self._users = [stack_role_pattern(s.account_id, s.name_prefix)]
        logs_service = {
            "Sid": "CloudWatchLogsEncryptLakeLogGroups",
            "Effect": "Allow",
            "Principal": {"Service": f"logs.{s.region}.amazonaws.com"},
            "Action": [*KEY_USE_ACTIONS, "kms:Describe*"],
            "Resource": "*",
            "Condition": {
                "ArnLike": {
                    "kms:EncryptionContext:aws:logs:arn": (
                        f"arn:aws:logs:{s.region}:{s.account_id}:log-group:*"
                    )
                }
            },
        }
        self.data_key = self._key(
            name,
            "data",
            "lake data: buckets, Glue, Athena, SageMaker, logs",
            s,
            [logs_service],
            deploys_through_s3=True,
        )
        publishers = {
            "Sid": "AlarmAndEventPublishers",
            "Effect": "Allow",
            "Principal": {"Service": ["cloudwatch.amazonaws.com", "events.amazonaws.com"]},
            "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceAccount": s.account_id}},
        }
        self.alerts_key = self._key(name, "alerts", "lake alerts topic", s, [publishers])
        # FSBP CloudTrail.2: trail logs under a key of their own, usable by CloudTrail only for
        # this account's trails (the encryption context names the trail) and by no workload.
        trail_arn = f"arn:aws:cloudtrail:{s.region}:{s.account_id}:trail/{s.resource_name('trail')}"
        cloudtrail = {"Service": "cloudtrail.amazonaws.com"}
        trail_writes = [
            {
                "Sid": "CloudTrailEncryptLogs",
                "Effect": "Allow",
                "Principal": cloudtrail,
                "Action": ["kms:GenerateDataKey*"],
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"aws:SourceArn": trail_arn},
                    "StringLike": {
                        "kms:EncryptionContext:aws:cloudtrail:arn": (
                            f"arn:aws:cloudtrail:*:{s.account_id}:trail/*"
                        )
                    },
                },
            },
            {
                "Sid": "CloudTrailDescribeKey",
                "Effect": "Allow",
                "Principal": cloudtrail,
                "Action": ["kms:DescribeKey"],
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:SourceArn": trail_arn}},
            },
        ]
        # No role uses the trail key: CloudTrail writes, and reading the log files is an
        # audit task for whoever is granted it here (by a key policy change, on purpose).
        self.trail_key = self._key(
            name, "trail", "CloudTrail log files", s, trail_writes, users=False
        )
        self.replica_key = None
        if s.replication is not None:
            self.replica_key = self._key(
                name, "replica", "replicated lake data (DR region)", s, [], s.replication.region
            )
        self.register_outputs(
            {"data_key_arn": self.data_key.arn, "alerts_key_arn": self.alerts_key.arn}
        )

    def _key(
        self,
        name: str,
        purpose: str,
        description: str,
        s: PlatformSettings,
        services: Sequence[Mapping[str, Any]],
        region: str | None = None,
        *,
        users: bool = True,
        deploys_through_s3: bool = False,
    ) -> pulumi_aws.kms.Key:
        key = pulumi_aws.kms.Key(
            f"{name}-{purpose}",
            description=f"{s.name_prefix}: {description}",
            enable_key_rotation=True,
            rotation_period_in_days=365,
            deletion_window_in_days=30,
            policy=key_policy(
                s.account_id,
                services,
                administrators=self.administrators,
                users=self._users if users else (),
                deploys_through_s3=s.region if deploys_through_s3 else None,
            ),
            region=region,
            tags=dict(s.tags),
            opts=ResourceOptions(parent=self),
        )
        pulumi_aws.kms.Alias(
            f"{name}-{purpose}-alias",
            name=f"alias/{s.resource_name(purpose)}",
            target_key_id=key.key_id,
            region=region,
            opts=ResourceOptions(parent=self),
        )
        return key


@dataclass
class SecurityArgs:
    """Inputs of :class:`Security`: the buckets and key the roles are scoped to."""

    settings: PlatformSettings
    bucket_arns: Mapping[str, pulumi.Input[str]]
    bucket_names: Mapping[str, pulumi.Input[str]]
    data_key_arn: pulumi.Input[str]
    # CloudTrail and flow logs check at creation that they may write to the logs bucket.
    logs_bucket_policy: pulumi.Resource
    # The alerts topic is SSE-KMS: whoever publishes to it must use this key.
    alerts_key_arn: pulumi.Input[str] | None = None
    # CloudTrail's log files are SSE-KMS under this key (FSBP CloudTrail.2).
    trail_key_arn: pulumi.Input[str] | None = None
    # CloudTrail checks at creation that it may write to the trail bucket.
    trail_bucket_policy: pulumi.Resource | None = None


class Security(pulumi.ComponentResource):
    """Least-privilege roles, CloudTrail, and a private VPC with endpoints and flow logs.

    Roles are scoped to the buckets, prefixes, database and keys each workload needs; a
    ``Resource: "*"`` appears only for actions AWS cannot scope (ENI management, X-Ray,
    ``cloudwatch:PutMetricData`` under a namespace condition, ECR auth tokens).
    """

    def __init__(self, name: str, args: SecurityArgs, opts: ResourceOptions | None = None):
        super().__init__("lakelib:platform:Security", name, None, opts)
        self._name = name
        self._s = args.settings
        self._arns = args.bucket_arns
        self._key = args.data_key_arn
        self._network(args)
        self._trail(args)
        self.lambda_role = self._role("ingest", "lambda.amazonaws.com", self._lambda_statements())
        self.glue_role = self._role("glue", "glue.amazonaws.com", self._glue_statements())
        self.emr_ec2_role = self._role("emr-ec2", "ec2.amazonaws.com", self._emr_ec2_statements())
        self.emr_instance_profile = pulumi_aws.iam.InstanceProfile(
            f"{name}-emr-ec2",
            name=self._s.resource_name("emr-ec2"),
            role=self.emr_ec2_role.name,
            opts=ResourceOptions(parent=self),
        )
        self.emr_service_role = self._role(
            "emr-service",
            "elasticmapreduce.amazonaws.com",
            [
                iam.statement(
                    ["iam:PassRole"],
                    [self.emr_ec2_role.arn],
                    sid="PassInstanceRole",
                    conditions={"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}},
                )
            ],
            trust_account=True,
            managed=[EMR_SERVICE_POLICY_ARN],
        )
        self.sagemaker_role = self._role(
            "sagemaker", "sagemaker.amazonaws.com", self._sagemaker_statements(args.alerts_key_arn)
        )
        self.register_outputs(
            {
                "vpc_id": self.vpc.id,
                "lambda_role_arn": self.lambda_role.arn,
                "glue_role_arn": self.glue_role.arn,
                "emr_service_role_arn": self.emr_service_role.arn,
                "sagemaker_role_arn": self.sagemaker_role.arn,
            }
        )

    # -- network -------------------------------------------------------------------------

    def _network(self, args: SecurityArgs) -> None:
        s, name = self._s, self._name
        child = ResourceOptions(parent=self)
        tags = {**s.tags, **EMR_MANAGED_TAG}
        self.vpc = pulumi_aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=s.vpc_cidr,
            enable_dns_support=True,
            enable_dns_hostnames=True,  # private DNS of interface endpoints needs both
            tags={**tags, "Name": s.resource_name("vpc")},
            opts=child,
        )
        # FSBP EC2.2: take over the VPC's default security group with no rules, which strips
        # the allow-all ones AWS puts there; nothing here uses it, so nothing may rely on it.
        pulumi_aws.ec2.DefaultSecurityGroup(
            f"{name}-default-sg",
            vpc_id=self.vpc.id,
            ingress=[],
            egress=[],
            tags={**tags, "Name": s.resource_name("default-deny-all")},
            opts=child,
        )
        zones = pulumi_aws.get_availability_zones(state="available").names[: s.az_count]
        blocks = list(ipaddress.ip_network(s.vpc_cidr).subnets(new_prefix=20))
        route_table = pulumi_aws.ec2.RouteTable(
            f"{name}-private",
            vpc_id=self.vpc.id,
            tags={**tags, "Name": s.resource_name("private")},
            opts=child,
        )
        self.private_subnets = []
        for index, zone in enumerate(zones):
            subnet = pulumi_aws.ec2.Subnet(
                f"{name}-private-{index}",
                vpc_id=self.vpc.id,
                cidr_block=str(blocks[index]),
                availability_zone=zone,
                map_public_ip_on_launch=False,
                tags={**tags, "Name": s.resource_name(f"private-{zone}")},
                opts=child,
            )
            pulumi_aws.ec2.RouteTableAssociation(
                f"{name}-private-{index}",
                subnet_id=subnet.id,
                route_table_id=route_table.id,
                opts=child,
            )
            self.private_subnets.append(subnet)
        self.private_subnet_ids = [subnet.id for subnet in self.private_subnets]

        # No internet or NAT gateway: workloads reach AWS through these endpoints only.
        self.endpoint_sg = pulumi_aws.ec2.SecurityGroup(
            f"{name}-endpoints",
            name=s.resource_name("endpoints"),
            description="HTTPS from inside the VPC to interface endpoints",
            vpc_id=self.vpc.id,
            ingress=[
                {
                    "protocol": "tcp",
                    "from_port": 443,
                    "to_port": 443,
                    "cidr_blocks": [s.vpc_cidr],
                    "description": "HTTPS from the VPC",
                }
            ],
            egress=[],
            tags=tags,
            opts=child,
        )
        self.workload_sg = pulumi_aws.ec2.SecurityGroup(
            f"{name}-workloads",
            name=s.resource_name("workloads"),
            description="Glue, SageMaker and Lambda ENIs: talk to each other and to endpoints",
            vpc_id=self.vpc.id,
            ingress=[
                {
                    "protocol": "tcp",
                    "from_port": 0,
                    "to_port": 65535,
                    "self": True,
                    "description": "Spark executors talk to each other",
                }
            ],
            egress=[
                {
                    "protocol": "-1",
                    "from_port": 0,
                    "to_port": 0,
                    # Private subnets have no route out: this only reaches the endpoints.
                    "cidr_blocks": ["0.0.0.0/0"],
                    "description": "to VPC endpoints (no NAT exists)",
                }
            ],
            tags=tags,
            opts=child,
        )
        self.s3_endpoint = pulumi_aws.ec2.VpcEndpoint(
            f"{name}-s3",
            vpc_id=self.vpc.id,
            service_name=f"com.amazonaws.{s.region}.s3",
            vpc_endpoint_type="Gateway",
            route_table_ids=[route_table.id],
            policy=self._s3_endpoint_policy(args),
            tags={**tags, "Name": s.resource_name("s3")},
            opts=child,
        )
        self.interface_endpoints = {
            service: pulumi_aws.ec2.VpcEndpoint(
                f"{name}-{service.replace('.', '-')}",
                vpc_id=self.vpc.id,
                service_name=f"com.amazonaws.{s.region}.{service}",
                vpc_endpoint_type="Interface",
                private_dns_enabled=True,
                subnet_ids=self.private_subnet_ids,
                security_group_ids=[self.endpoint_sg.id],
                policy=endpoint_policy(service, s.region, s.account_id),
                tags={**tags, "Name": s.resource_name(service)},
                opts=child,
            )
            for service in s.interface_endpoints
        }
        # Glue jobs run inside the VPC: a NETWORK connection puts their ENIs in a private
        # subnet with the workload group (which lets Spark executors talk to each other).
        self.glue_connection = pulumi_aws.glue.Connection(
            f"{name}-glue-network",
            name=s.resource_name("private-network"),
            connection_type="NETWORK",
            description="Glue jobs run in the lake's private subnet, reaching AWS via endpoints",
            physical_connection_requirements={
                "availability_zone": self.private_subnets[0].availability_zone,
                "subnet_id": self.private_subnets[0].id,
                "security_group_id_lists": [self.workload_sg.id],
            },
            tags=dict(s.tags),
            opts=child,
        )
        self.flow_log = pulumi_aws.ec2.FlowLog(
            f"{name}-flow-log",
            vpc_id=self.vpc.id,
            traffic_type="ALL",
            log_destination_type="s3",
            log_destination=pulumi.Output.concat(args.bucket_arns["logs"], "/vpc-flow-logs/"),
            max_aggregation_interval=600,
            tags=tags,
            opts=ResourceOptions(parent=self, depends_on=[args.logs_bucket_policy]),
        )

    def _s3_endpoint_policy(self, args: SecurityArgs) -> pulumi.Output[str]:
        """The S3 gateway endpoint reaches the stack's buckets, by this account's principals
        (plus, with EMR, the AWS-owned package and log buckets its nodes need)."""
        s = self._s
        account = {"StringEquals": {"aws:PrincipalAccount": s.account_id}}
        buckets = [args.bucket_arns[zone] for zone in sorted(args.bucket_arns)]
        statements = [
            iam.statement(
                ["s3:*"],
                [*buckets, *(iam.bucket_objects(arn) for arn in buckets)],
                sid="StackBucketsOnly",
                principal="*",
                conditions=account,
            )
        ]
        if s.s3_endpoint_reads:
            statements.append(
                iam.statement(
                    ["s3:GetObject", "s3:ListBucket", "s3:GetBucketLocation"],
                    list(s.s3_endpoint_reads),
                    sid="ConfiguredReads",
                    principal="*",
                    conditions=account,
                )
            )
        if s.emr.enabled:
            emr = emr_private_subnet_buckets(s.region)
            statements += [
                iam.statement(
                    ["s3:GetObject"],
                    emr["read"],
                    sid="EmrPackageRepositories",
                    principal="*",
                    conditions=account,
                ),
                iam.statement(
                    ["s3:PutObject"],
                    emr["write"],
                    sid="EmrSystemLogs",
                    principal="*",
                    conditions=account,
                ),
            ]
        return iam.document(statements)

    # -- audit ---------------------------------------------------------------------------

    def _trail(self, args: SecurityArgs) -> None:
        s = self._s
        selectors = []
        if s.trail_data_events:
            # Object-level reads and writes of the data zones: who touched which data.
            selectors.append(
                {
                    "read_write_type": "All",
                    "include_management_events": True,
                    "data_resources": [
                        {
                            "type": "AWS::S3::Object",
                            "values": [
                                pulumi.Output.concat(args.bucket_arns[z], "/")
                                for z in ("raw", "processed", "curated")
                            ],
                        }
                    ],
                }
            )
        # FSBP CloudTrail.5: events also go to CloudWatch Logs, where metric filters and
        # alarms can watch them; the group is encrypted with the data key (its policy lets
        # CloudWatch Logs use it for this account's log groups).
        group_name = f"/aws/cloudtrail/{s.resource_name('trail')}"
        log_group = pulumi_aws.cloudwatch.LogGroup(
            f"{self._name}-trail",
            name=group_name,
            retention_in_days=s.logs_expire_days,
            kms_key_id=self._key,
            tags=dict(s.tags),
            opts=ResourceOptions(parent=self),
        )
        logs_role = pulumi_aws.iam.Role(
            f"{self._name}-trail-logs",
            name=s.resource_name("trail-logs"),
            assume_role_policy=iam.assume_role_policy("cloudtrail.amazonaws.com"),
            tags=dict(s.tags),
            opts=ResourceOptions(parent=self),
        )
        # CloudTrail checks at creation that the role may write: the trail waits for this.
        logs_role_policy = pulumi_aws.iam.RolePolicy(
            f"{self._name}-trail-logs",
            name="trail-logs-least-privilege",
            role=logs_role.name,
            policy=iam.document(
                [
                    iam.statement(
                        ["logs:CreateLogStream", "logs:PutLogEvents"],
                        [f"{arn}:log-stream:*" for arn in self._log_group_arns(group_name)[:1]],
                        sid="DeliverTrailEvents",
                    )
                ]
            ),
            opts=ResourceOptions(parent=self),
        )
        self.trail = pulumi_aws.cloudtrail.Trail(
            f"{self._name}-trail",
            name=s.resource_name("trail"),
            s3_bucket_name=args.bucket_names["trail"],
            s3_key_prefix="cloudtrail",
            is_multi_region_trail=True,
            include_global_service_events=True,
            enable_log_file_validation=True,
            kms_key_id=args.trail_key_arn,
            cloud_watch_logs_group_arn=pulumi.Output.concat(log_group.arn, ":*"),
            cloud_watch_logs_role_arn=logs_role.arn,
            event_selectors=selectors or None,
            tags=dict(s.tags),
            opts=ResourceOptions(
                parent=self,
                depends_on=[
                    p for p in (args.trail_bucket_policy, logs_role_policy) if p is not None
                ],
            ),
        )

    # -- roles ---------------------------------------------------------------------------

    def _role(
        self,
        key: str,
        service: str,
        statements: Sequence[Mapping[str, Any]],
        *,
        trust_account: bool = False,
        managed: Sequence[str] = (),
    ) -> pulumi_aws.iam.Role:
        s = self._s
        role = pulumi_aws.iam.Role(
            f"{self._name}-{key}",
            name=s.resource_name(key),
            assume_role_policy=iam.assume_role_policy(
                service, account_id=s.account_id if trust_account else None
            ),
            tags=dict(s.tags),
            opts=ResourceOptions(parent=self),
        )
        pulumi_aws.iam.RolePolicy(
            f"{self._name}-{key}",
            name=f"{key}-least-privilege",
            role=role.name,
            policy=iam.document(statements),
            opts=ResourceOptions(parent=self),
        )
        for index, arn in enumerate(managed):
            pulumi_aws.iam.RolePolicyAttachment(
                f"{self._name}-{key}-managed-{index}",
                role=role.name,
                policy_arn=arn,
                opts=ResourceOptions(parent=self),
            )
        return role

    def _log_group_arns(self, pattern: str) -> list[str]:
        base = f"arn:aws:logs:{self._s.region}:{self._s.account_id}:log-group:{pattern}"
        return [base, f"{base}:log-stream:*"]

    def _metrics(self, namespace: str) -> dict[str, Any]:
        return iam.statement(
            ["cloudwatch:PutMetricData"],
            ["*"],
            sid="PublishMetricsInOwnNamespace",
            conditions={"StringLike": {"cloudwatch:namespace": namespace}},
        )

    def _lambda_statements(self) -> list[dict[str, Any]]:
        s, a = self._s, self._arns
        function = s.resource_name("ingest")
        return [
            iam.statement(
                ["logs:CreateLogStream", "logs:PutLogEvents"],
                self._log_group_arns(f"/aws/lambda/{function}"),
                sid="WriteOwnLogs",
            ),
            iam.statement(["s3:ListBucket"], [a["raw"]], sid="SeeWhatLanded"),
            # DeleteObject: a run that fails before its landed marker takes its own files back
            # (lakelib.ingest), and the loser of a duplicate race removes its copy.
            iam.statement(
                ["s3:PutObject", "s3:GetObject", "s3:DeleteObject"],
                [iam.bucket_objects(a["raw"])],
                sid="LandRaw",
            ),
            self._read_config(),
            iam.statement(
                ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], ["*"], sid="Tracing"
            ),
            self._metrics(s.monitoring.metrics_namespace),
            # The config object is SSE-KMS (scripts bucket): reading it needs the data key.
            iam.kms_use([self._key], decrypt_only=True),
        ]

    def _read_config(self) -> dict[str, Any]:
        """Every workload reads the workspace config its LAKE_CONFIG names, nothing else there."""
        return iam.statement(
            ["s3:GetObject"],
            [iam.bucket_object(self._arns["scripts"], CONFIG_KEY)],
            sid="ReadConfig",
        )

    def _etl_state(self) -> dict[str, Any]:
        """The ETL's per-job lock, Spark checkpoint (bookmark) and run records."""
        return iam.statement(
            list(iam.S3_READ_WRITE_ACTIONS),
            [iam.bucket_objects(self._arns["scripts"], ETL_STATE_PREFIX)],
            sid="EtlLocksCheckpointsRunRecords",
        )

    def _glue_statements(self) -> list[dict[str, Any]]:
        s, a = self._s, self._arns
        return [
            iam.statement(
                ["s3:ListBucket", "s3:GetBucketLocation"],
                [a["raw"], a["processed"], a["curated"], a["scripts"]],
                sid="ListLakeBuckets",
            ),
            iam.statement(
                ["s3:GetObject"],
                [
                    iam.bucket_objects(a["raw"]),
                    iam.bucket_objects(a["scripts"], SCRIPTS_PREFIX),
                ],
                sid="ReadRawAndScripts",
            ),
            iam.statement(
                ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                [
                    iam.bucket_objects(a["processed"]),
                    iam.bucket_objects(a["curated"]),
                    iam.bucket_objects(a["scripts"], "glue-temp/"),
                ],
                sid="WriteProcessedCuratedAndTemp",
            ),
            self._etl_state(),
            self._read_config(),
            iam.statement(
                list(iam.GLUE_WRITE_ACTIONS),
                iam.glue_catalog_arns(s.region, s.account_id, s.database),
                sid="LakeDatabaseOnly",
            ),
            iam.statement(
                ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                self._log_group_arns("/aws-glue/*"),
                sid="GlueLogs",
            ),
            iam.statement(
                ["logs:AssociateKmsKey"],
                self._log_group_arns("/aws-glue/*")[:1],
                sid="EncryptGlueLogs",
            ),
            self._metrics("Glue"),
            *self._glue_in_vpc(),
            iam.kms_use([self._key]),
        ]

    def _glue_in_vpc(self) -> list[dict[str, Any]]:
        """A job with a NETWORK connection creates, tags and deletes its ENIs in the VPC."""
        s = self._s
        return [
            iam.statement(
                [
                    *ENI_ACTIONS,
                    "ec2:DescribeVpcEndpoints",
                    "ec2:DescribeRouteTables",
                    "ec2:DescribeVpcAttribute",
                ],
                ["*"],
                sid="RunInsideTheVpc",
            ),
            iam.statement(
                ["ec2:CreateTags", "ec2:DeleteTags"],
                [f"arn:aws:ec2:{s.region}:{s.account_id}:network-interface/*"],
                sid="TagGlueEnis",
                conditions={
                    "ForAllValues:StringEquals": {"aws:TagKeys": ["aws-glue-service-resource"]}
                },
            ),
        ]

    def _emr_ec2_statements(self) -> list[dict[str, Any]]:
        s, a = self._s, self._arns
        return [
            iam.statement(
                ["s3:ListBucket", "s3:GetBucketLocation"],
                [a["raw"], a["processed"], a["curated"], a["scripts"], a["logs"]],
                sid="ListLakeBuckets",
            ),
            iam.statement(
                ["s3:GetObject"],
                [iam.bucket_objects(a["raw"]), iam.bucket_objects(a["scripts"], SCRIPTS_PREFIX)],
                sid="ReadRawAndScripts",
            ),
            iam.statement(
                ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                [iam.bucket_objects(a["processed"]), iam.bucket_objects(a["curated"])],
                sid="WriteProcessedAndCurated",
            ),
            self._etl_state(),
            self._read_config(),
            iam.statement(
                ["s3:PutObject"], [iam.bucket_objects(a["logs"], "emr/")], sid="ClusterLogs"
            ),
            iam.statement(
                list(iam.GLUE_WRITE_ACTIONS),
                iam.glue_catalog_arns(s.region, s.account_id, s.database),
                sid="GlueCatalogAsHiveMetastore",
            ),
            self._metrics("AWS/ElasticMapReduce"),
            iam.kms_use([self._key]),
        ]

    def _sagemaker_statements(
        self, alerts_key_arn: pulumi.Input[str] | None = None
    ) -> list[dict[str, Any]]:
        """Notebooks and SageMaker jobs, and the daily pipeline's processing jobs (the steps
        around training and transform, the report with its alerts, the notebooks)."""
        s, a = self._s, self._arns
        ml_workgroup = "ml_data" if "ml_data" in s.workgroups else next(iter(s.workgroups))
        # Every lake workgroup: ml_data for features, analytics for the daily report, and the
        # notebooks' default one in the scheduled notebooks run.
        workgroups = [ml_workgroup, *(w for w in s.workgroups if w != ml_workgroup)]
        sm = f"arn:aws:sagemaker:{s.region}:{s.account_id}"
        role_arn = f"arn:aws:iam::{s.account_id}:role/{s.resource_name('sagemaker')}"
        return [
            iam.statement(
                ["s3:ListBucket", "s3:GetBucketLocation"],
                # raw: listed only (01_explore's zone usage in the scheduled notebooks run).
                [a["raw"], a["processed"], a["curated"], a["scripts"], a["query-results"]],
                sid="ListLakeBuckets",
            ),
            iam.statement(
                ["s3:GetObject"],
                [
                    iam.bucket_objects(a["processed"]),
                    iam.bucket_objects(a["curated"]),
                    iam.bucket_objects(a["scripts"], SCRIPTS_PREFIX),
                ],
                sid="ReadFeatures",
            ),
            iam.statement(
                ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                [
                    iam.bucket_objects(a["scripts"], MODELS_PREFIX),
                    iam.bucket_objects(a["scripts"], RUNS_PREFIX),
                    iam.bucket_objects(a["curated"], "predictions/"),
                    *(iam.bucket_objects(a["query-results"], f"{w}/") for w in workgroups),
                ],
                sid="ModelsRunsPredictions",
            ),
            iam.statement(
                list(iam.S3_READ_WRITE_ACTIONS),
                [iam.bucket_objects(a["scripts"], ML_JOBS_PREFIX)],
                # Notebooks upload training inputs and bundles; training jobs sync checkpoints.
                sid="TrainingInputsAndCheckpoints",
            ),
            self._read_config(),
            iam.statement(
                list(iam.ATHENA_QUERY_ACTIONS),
                [f"arn:aws:athena:{s.region}:{s.account_id}:workgroup/{w}" for w in workgroups],
                sid="FeatureQueries",
            ),
            iam.statement(
                list(iam.GLUE_READ_ACTIONS),
                iam.glue_catalog_arns(s.region, s.account_id, s.database),
                sid="ReadCatalog",
            ),
            iam.statement(
                list(iam.GLUE_WRITE_ACTIONS),
                [
                    *iam.glue_catalog_arns(s.region, s.account_id, s.database)[:2],
                    f"arn:aws:glue:{s.region}:{s.account_id}:table/{s.database}/"
                    f"{PREDICTIONS_TABLE}",
                ],
                # The pipeline's transform catalog step (a processing job under this role).
                sid="CatalogPredictions",
            ),
            iam.statement(
                ["sns:Publish"],
                [s.alerts_topic_arn],
                # The pipeline's report step checks the alert rules and publishes what fires.
                sid="PublishAlerts",
            ),
            *sagemaker_job_statements(
                sm,
                subnet_ids=self.private_subnet_ids,
                security_group_ids=[self.workload_sg.id],
                kms_key_arn=self._key,
            ),
            iam.statement(
                ["iam:PassRole"],
                [role_arn],
                sid="PassSelfToSageMakerJobs",
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            ),
            iam.statement(["ecr:GetAuthorizationToken"], ["*"], sid="EcrLogin"),
            iam.statement(
                [
                    "ecr:BatchGetImage",
                    "ecr:GetDownloadUrlForLayer",
                    "ecr:BatchCheckLayerAvailability",
                ],
                # Only the framework image lakelib trains and serves with (AWS's scikit-learn
                # repository of this region), or the repositories stack config names.
                [
                    *sagemaker_image_repositories(s),
                    # The daily pipeline's processing image (lake_platform.ml).
                    f"arn:aws:ecr:{s.region}:{s.account_id}:repository/"
                    f"{s.resource_name('processing')}",
                ],
                sid="PullFrameworkImages",
            ),
            iam.statement(
                ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                self._log_group_arns("/aws/sagemaker/*"),
                sid="SageMakerLogs",
            ),
            self._metrics("/aws/sagemaker/*"),
            iam.statement(list(ENI_ACTIONS), ["*"], sid="RunInsideTheVpc"),
            iam.kms_use([self._key, *([alerts_key_arn] if alerts_key_arn else [])]),
            # VolumeKmsKeyId: SageMaker attaches the data key to the job's volumes by a grant.
            iam.statement(
                ["kms:CreateGrant"],
                [self._key],
                sid="LetSageMakerEncryptJobVolumes",
                conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}},
            ),
        ]
