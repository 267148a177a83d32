"""Storage layer: the lake's S3 buckets, their protections, and the analyst role.

Every bucket gets: a public access block (all four switches), bucket-owner-enforced object
ownership (no ACLs), default encryption, a TLS-only bucket policy and access logging into
the logs bucket. Zones then differ as the architecture says: raw is versioned SSE-S3 moving
to Glacier after 90 days (daily-landed sources only: reference snapshots the ETL reads stay
in Standard); processed is versioned SSE-KMS expiring after 365 days; curated is
SSE-KMS and read-only for the analyst role; query results expire after a month. Every
zone is versioned, noncurrent versions expiring; raw and logs (the trail's bucket) are under
S3 Object Lock in governance mode with the retention of stack config ``objectLock``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws.iam
import pulumi_aws.s3
from pulumi import ResourceOptions

from lake_platform import iam
from lake_platform.policies import NO_ACCESS_LOG_TAG, NO_OBJECT_LOCK_TAG
from lake_platform.settings import PlatformSettings

# Why a zone has no Object Lock (FSBP S3.15), as the value of its reason tag. Raw and trail
# have it; the rest is rebuilt from them, expires by design, or cannot have it.
NO_OBJECT_LOCK_REASONS = {
    "processed": "rebuilt-from-raw",
    "curated": "rebuilt-from-processed",
    "scripts": "deployed-artifacts-and-run-state",
    "query-results": "expiring-query-cache",
    "logs": "access-log-target-refuses-retention",
}

# Object writes the analyst role must never make on curated data, even if an IAM policy
# attached later were to grant them: the bucket policy denies them explicitly.
ANALYST_DENIED_ACTIONS = (
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:DeleteObjectVersion",
    "s3:PutObjectTagging",
    "s3:RestoreObject",
)


def tls_only_statement(bucket_arn: pulumi.Input[str]) -> dict[str, Any]:
    """Deny every request that does not come over TLS, to the bucket and its objects."""
    return iam.statement(
        ["s3:*"],
        [bucket_arn, iam.bucket_objects(bucket_arn)],
        effect="Deny",
        sid="DenyInsecureTransport",
        principal="*",
        conditions={"Bool": {"aws:SecureTransport": "false"}},
    )


@dataclass
class StorageArgs:
    """Inputs of :class:`Storage`."""

    settings: PlatformSettings
    data_key_arn: pulumi.Input[str]
    replica_key_arn: pulumi.Input[str] | None = None
    # The trail bucket's default encryption (CloudTrail encrypts its files with it too).
    trail_key_arn: pulumi.Input[str] | None = None


@dataclass
class LakeBucket:
    """A bucket and the resources that configure it."""

    zone: str
    bucket: pulumi_aws.s3.Bucket
    policy: pulumi_aws.s3.BucketPolicy
    versioning: pulumi_aws.s3.BucketVersioning | None
    object_lock: pulumi_aws.s3.BucketObjectLockConfiguration | None = None


class Storage(pulumi.ComponentResource):
    """Raw, processed, curated, scripts, query-results and logs buckets (+ optional replicas)."""

    buckets: dict[str, LakeBucket]
    analyst_role: pulumi_aws.iam.Role | None

    def __init__(self, name: str, args: StorageArgs, opts: ResourceOptions | None = None):
        super().__init__("lakelib:platform:Storage", name, None, opts)
        self._name = name
        self._s = s = args.settings
        self.buckets = {}
        # FSBP S3.1: the account-wide switch too, so a bucket created outside this program
        # (or a per-bucket block removed by hand) still cannot be made public.
        self.account_public_access_block = pulumi_aws.s3.AccountPublicAccessBlock(
            f"{name}-account",
            account_id=s.account_id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=ResourceOptions(parent=self),
        )
        kms = {"sse_algorithm": "aws:kms", "kms_master_key_id": args.data_key_arn}
        # S3 server access logs can only be delivered to an SSE-S3 bucket.
        sse_s3 = {"sse_algorithm": "AES256"}

        # Every zone is versioned (versioning everywhere data lives): an overwrite or delete by
        # a role that may write there stays recoverable until its noncurrent version expires.
        lock = s.object_lock
        # FSBP S3.15: Object Lock on the two buckets whose history must survive a compromised
        # writer: raw (the system of record) and trail (CloudTrail's log files). Governance
        # mode: a version stays until its retention ends unless a principal holding
        # s3:BypassGovernanceRetention (no role of this stack) removes it on purpose. The logs
        # bucket cannot have it: S3 refuses access-log delivery to a bucket with a default
        # retention, so the trail has a bucket of its own.
        self._add(
            "logs",
            sse_s3,
            versioned=True,
            lifecycle=[
                _expire("expire-logs", s.logs_expire_days, noncurrent_days=s.logs_expire_days)
            ],
        )
        logs = self.buckets["logs"].bucket
        self.logs_bucket = logs
        self.logs_policy = self.buckets["logs"].policy
        trail_encryption = (
            {"sse_algorithm": "aws:kms", "kms_master_key_id": args.trail_key_arn}
            if args.trail_key_arn is not None
            else sse_s3
        )
        self._add(
            "trail",
            trail_encryption,
            versioned=True,
            object_lock_days=lock.trail_days,
            log_to=logs,
            lifecycle=[
                _expire("expire-trail", s.logs_expire_days, noncurrent_days=s.logs_expire_days),
                _abort_uploads(),
            ],
            extra_statements=self._trail_delivery_statements,
        )
        self.trail_policy = self.buckets["trail"].policy

        self._add(
            "raw",
            sse_s3,
            versioned=True,
            object_lock_days=lock.raw_days,
            log_to=logs,
            lifecycle=[*_raw_archive_rules(s), _abort_uploads()],
        )
        self._add(
            "processed",
            kms,
            versioned=True,
            log_to=logs,
            lifecycle=[
                _expire("expire-processed", s.processed_expire_days, noncurrent_days=30),
                _abort_uploads(),
            ],
        )
        self.analyst_role = self._analyst_role(args.data_key_arn)
        analyst_role = self.analyst_role
        self._add(
            "curated",
            kms,
            versioned=True,
            log_to=logs,
            lifecycle=[_expire_noncurrent("expire-noncurrent-curated", 30), _abort_uploads()],
            extra_statements=(
                None
                if analyst_role is None
                else lambda arn: [
                    iam.statement(
                        list(ANALYST_DENIED_ACTIONS),
                        [iam.bucket_objects(arn)],
                        effect="Deny",
                        sid="AnalystsReadOnly",
                        principal="*",
                        conditions={"ArnEquals": {"aws:PrincipalArn": analyst_role.arn}},
                    )
                ]
            ),
        )
        self._add("scripts", kms, versioned=True, log_to=logs, lifecycle=[_abort_uploads()])
        self._add(
            "query-results",
            kms,
            versioned=True,
            log_to=logs,
            lifecycle=[
                _expire(
                    "expire-results",
                    s.query_results_expire_days,
                    noncurrent_days=s.query_results_expire_days,
                ),
                _abort_uploads(),
            ],
        )
        if self.analyst_role is not None:
            self._analyst_access(args.data_key_arn)
        self.replicas: dict[str, pulumi_aws.s3.Bucket] = {}
        if s.replication is not None:
            self._replicate(args)

        self.bucket_names = {zone: b.bucket.bucket for zone, b in self.buckets.items()}
        self.bucket_arns = {zone: b.bucket.arn for zone, b in self.buckets.items()}
        self.register_outputs({"bucket_names": self.bucket_names})

    def _add(
        self,
        zone: str,
        encryption: Mapping[str, Any],
        *,
        versioned: bool = False,
        object_lock_days: int | None = None,
        log_to: pulumi_aws.s3.Bucket | None = None,
        lifecycle: Sequence[Mapping[str, Any]] = (),
        extra_statements: Any = None,
    ) -> None:
        s = self._s
        tags = dict(s.tags)
        if log_to is None:
            tags[NO_ACCESS_LOG_TAG] = "is-the-log-target"
        if object_lock_days is None:
            tags[NO_OBJECT_LOCK_TAG] = NO_OBJECT_LOCK_REASONS[zone]
        lake_bucket = self._bucket(
            f"{self._name}-{zone}",
            s.bucket_names[zone],
            zone,
            encryption,
            versioned=versioned,
            object_lock_days=object_lock_days,
            lifecycle=lifecycle,
            tags=tags,
            extra_statements=extra_statements
            or (self._log_delivery_statements if zone == "logs" else None),
        )
        if log_to is not None:
            pulumi_aws.s3.BucketLogging(
                f"{self._name}-{zone}",
                bucket=lake_bucket.bucket.id,
                target_bucket=log_to.id,
                target_prefix=f"s3-access/{s.bucket_names[zone]}/",
                opts=ResourceOptions(parent=self),
            )
        self.buckets[zone] = lake_bucket

    def _bucket(
        self,
        resource_name: str,
        bucket_name: str,
        zone: str,
        encryption: Mapping[str, Any],
        *,
        versioned: bool,
        lifecycle: Sequence[Mapping[str, Any]],
        tags: Mapping[str, str],
        extra_statements: Any = None,
        region: str | None = None,
        object_lock_days: int | None = None,
    ) -> LakeBucket:
        child = ResourceOptions(parent=self)
        bucket = pulumi_aws.s3.Bucket(
            resource_name,
            bucket=bucket_name,
            region=region,
            tags={**tags, "lake:zone": zone},
            opts=child,
        )
        pulumi_aws.s3.BucketOwnershipControls(
            resource_name,
            bucket=bucket.id,
            region=region,
            rule={"object_ownership": "BucketOwnerEnforced"},
            opts=child,
        )
        block = pulumi_aws.s3.BucketPublicAccessBlock(
            resource_name,
            bucket=bucket.id,
            region=region,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        pulumi_aws.s3.BucketServerSideEncryptionConfiguration(
            resource_name,
            bucket=bucket.id,
            region=region,
            rules=[
                {
                    "apply_server_side_encryption_by_default": dict(encryption),
                    # Bucket keys cut KMS request costs by ~99% for SSE-KMS buckets.
                    "bucket_key_enabled": encryption["sse_algorithm"] == "aws:kms",
                }
            ],
            opts=child,
        )
        versioning = None
        if versioned:
            versioning = pulumi_aws.s3.BucketVersioning(
                resource_name,
                bucket=bucket.id,
                region=region,
                versioning_configuration={"status": "Enabled"},
                opts=child,
            )
        object_lock = None
        if object_lock_days is not None:
            assert versioning is not None, "Object Lock needs a versioned bucket"
            # Put on the versioned bucket (S3 allows it on an existing one), not as the
            # bucket's object_lock_enabled argument, which would replace a deployed bucket.
            object_lock = pulumi_aws.s3.BucketObjectLockConfiguration(
                resource_name,
                bucket=bucket.id,
                region=region,
                object_lock_enabled="Enabled",
                rule={
                    "default_retention": {
                        "mode": self._s.object_lock.mode,
                        "days": object_lock_days,
                    }
                },
                opts=ResourceOptions(parent=self, depends_on=[versioning]),
            )
        if lifecycle:
            pulumi_aws.s3.BucketLifecycleConfiguration(
                resource_name,
                bucket=bucket.id,
                region=region,
                rules=[dict(rule) for rule in lifecycle],
                opts=ResourceOptions(parent=self, depends_on=[versioning] if versioning else []),
            )
        statements = [tls_only_statement(bucket.arn)]
        if extra_statements is not None:
            statements += extra_statements(bucket.arn)
        policy = pulumi_aws.s3.BucketPolicy(
            resource_name,
            bucket=bucket.id,
            region=region,
            policy=iam.document(statements),
            # A policy put before the block exists could be refused as public by a race.
            opts=ResourceOptions(parent=self, depends_on=[block]),
        )
        return LakeBucket(zone, bucket, policy, versioning, object_lock)

    def _trail_delivery_statements(self, arn: pulumi.Output[str]) -> list[dict[str, Any]]:
        """CloudTrail (this stack's trail only) may check the ACL and write its log files."""
        s = self._s
        trail_arn = f"arn:aws:cloudtrail:{s.region}:{s.account_id}:trail/{s.resource_name('trail')}"
        return [
            iam.statement(
                ["s3:GetBucketAcl"],
                [arn],
                sid="CloudTrailAclCheck",
                principal={"Service": "cloudtrail.amazonaws.com"},
                conditions={"StringEquals": {"aws:SourceArn": trail_arn}},
            ),
            iam.statement(
                ["s3:PutObject"],
                [iam.bucket_objects(arn, f"cloudtrail/AWSLogs/{s.account_id}/")],
                sid="CloudTrailWrite",
                principal={"Service": "cloudtrail.amazonaws.com"},
                conditions={
                    "StringEquals": {
                        "aws:SourceArn": trail_arn,
                        "s3:x-amz-acl": "bucket-owner-full-control",
                    }
                },
            ),
        ]

    def _log_delivery_statements(self, arn: pulumi.Output[str]) -> list[dict[str, Any]]:
        """Who may write into the logs bucket: S3 access logging, VPC flow logs, and AWS
        Config when the detective layer records."""
        s = self._s
        same_account = {"StringEquals": {"aws:SourceAccount": s.account_id}}
        config: list[dict[str, Any]] = []
        if s.detective.enabled and s.detective.config_recorder:
            config = [
                iam.statement(
                    ["s3:GetBucketAcl", "s3:ListBucket"],
                    [arn],
                    sid="ConfigAclCheck",
                    principal={"Service": "config.amazonaws.com"},
                    conditions=same_account,
                ),
                iam.statement(
                    ["s3:PutObject"],
                    [iam.bucket_objects(arn, f"config/AWSLogs/{s.account_id}/Config/")],
                    sid="ConfigWrite",
                    principal={"Service": "config.amazonaws.com"},
                    conditions={
                        "StringEquals": {
                            "aws:SourceAccount": s.account_id,
                            "s3:x-amz-acl": "bucket-owner-full-control",
                        }
                    },
                ),
            ]
        return [
            *config,
            iam.statement(
                ["s3:PutObject"],
                [iam.bucket_objects(arn, "s3-access/")],
                sid="S3ServerAccessLogs",
                principal={"Service": "logging.s3.amazonaws.com"},
                conditions=same_account,
            ),
            iam.statement(
                ["s3:GetBucketAcl"],
                [arn],
                sid="FlowLogsAclCheck",
                principal={"Service": "delivery.logs.amazonaws.com"},
                conditions=same_account,
            ),
            iam.statement(
                ["s3:PutObject"],
                [iam.bucket_objects(arn, f"vpc-flow-logs/AWSLogs/{s.account_id}/")],
                sid="FlowLogsWrite",
                principal={"Service": "delivery.logs.amazonaws.com"},
                conditions={
                    "StringEquals": {
                        "aws:SourceAccount": s.account_id,
                        "s3:x-amz-acl": "bucket-owner-full-control",
                    }
                },
            ),
        ]

    def _analyst_role(self, data_key_arn: pulumi.Input[str]) -> pulumi_aws.iam.Role | None:
        """People who read curated data assume this role (principals from stack config).

        No ``analystPrincipals`` means no role: trusting the account root instead would let
        any principal of the account allowed ``sts:AssumeRole`` read curated data.
        """
        s = self._s
        principals = list(s.analyst_principals)
        if not principals:
            return None
        return pulumi_aws.iam.Role(
            f"{self._name}-analyst",
            name=s.resource_name("analyst"),
            description="Read-only access to the curated zone",
            assume_role_policy=iam.document(
                [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": principals},
                        "Action": ["sts:AssumeRole"],
                    }
                ]
            ),
            tags=dict(s.tags),
            opts=ResourceOptions(parent=self),
        )

    def _analyst_access(self, data_key_arn: pulumi.Input[str]) -> None:
        s = self._s
        curated = self.buckets["curated"].bucket.arn
        pulumi_aws.iam.RolePolicy(
            f"{self._name}-analyst",
            name="analyst-read-curated",
            role=self.analyst_role.name,
            policy=iam.document(
                [
                    iam.statement(
                        ["s3:ListBucket", "s3:GetBucketLocation"], [curated], sid="ListCurated"
                    ),
                    iam.statement(
                        ["s3:GetObject"], [iam.bucket_objects(curated)], sid="ReadCurated"
                    ),
                    iam.statement(
                        ["kms:Decrypt", "kms:DescribeKey"],
                        [data_key_arn],
                        sid="DecryptCuratedThroughS3",
                        conditions={
                            "StringEquals": {"kms:ViaService": f"s3.{s.region}.amazonaws.com"}
                        },
                    ),
                ]
            ),
            opts=ResourceOptions(parent=self),
        )

    def _replicate(self, args: StorageArgs) -> None:
        """Copy the critical zones to a bucket in the DR region as objects arrive."""
        s = self._s
        assert s.replication is not None
        region = s.replication.region
        role_name = s.resource_name("replication")
        role = pulumi_aws.iam.Role(
            f"{self._name}-replication",
            name=role_name,
            assume_role_policy=iam.assume_role_policy("s3.amazonaws.com", account_id=s.account_id),
            tags=dict(s.tags),
            opts=ResourceOptions(parent=self),
        )
        statements: list[dict[str, Any]] = []
        for zone in s.replication.zones:
            source = self.buckets[zone]
            kms_zone = zone != "raw"
            encryption = (
                {"sse_algorithm": "aws:kms", "kms_master_key_id": args.replica_key_arn}
                if kms_zone
                else {"sse_algorithm": "AES256"}
            )
            replica = self._bucket(
                f"{self._name}-{zone}-replica",
                f"{s.bucket_names[zone]}-dr"[:63],
                f"{zone}-replica",
                encryption,
                versioned=True,  # replication requires versioning on both sides
                # Objects under Object Lock replicate only to a bucket with Object Lock.
                object_lock_days=s.object_lock.raw_days if source.object_lock else None,
                lifecycle=[],
                # Access logs must go to a bucket in the same region; none exists in the DR one.
                tags={
                    **s.tags,
                    NO_ACCESS_LOG_TAG: "dr-replica",
                    **(
                        {}
                        if source.object_lock
                        else {NO_OBJECT_LOCK_TAG: NO_OBJECT_LOCK_REASONS[zone]}
                    ),
                },
                region=region,
            )
            self.replicas[zone] = replica.bucket
            statements += [
                iam.statement(
                    ["s3:GetReplicationConfiguration", "s3:ListBucket"],
                    [source.bucket.arn],
                    sid=f"ReadConfig{_sid(zone)}",
                ),
                iam.statement(
                    [
                        "s3:GetObjectVersionForReplication",
                        "s3:GetObjectVersionAcl",
                        "s3:GetObjectVersionTagging",
                        *(
                            ["s3:GetObjectRetention", "s3:GetObjectLegalHold"]
                            if source.object_lock
                            else []
                        ),
                    ],
                    [iam.bucket_objects(source.bucket.arn)],
                    sid=f"ReadVersions{_sid(zone)}",
                ),
                iam.statement(
                    ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"],
                    [iam.bucket_objects(replica.bucket.arn)],
                    sid=f"WriteReplica{_sid(zone)}",
                ),
            ]
            rule: dict[str, Any] = {
                "id": f"{zone}-to-{region}",
                "status": "Enabled",
                "filter": {},
                "delete_marker_replication": {"status": "Enabled"},
                "destination": {"bucket": replica.bucket.arn, "storage_class": "STANDARD_IA"},
            }
            if kms_zone:
                rule["source_selection_criteria"] = {
                    "sse_kms_encrypted_objects": {"status": "Enabled"}
                }
                rule["destination"]["encryption_configuration"] = {
                    "replica_kms_key_id": args.replica_key_arn
                }
            pulumi_aws.s3.BucketReplicationConfig(
                f"{self._name}-{zone}",
                bucket=source.bucket.id,
                role=role.arn,
                rules=[rule],
                opts=ResourceOptions(
                    parent=self,
                    depends_on=[
                        r
                        for r in (
                            source.versioning,
                            replica.versioning,
                            source.object_lock,
                            replica.object_lock,
                        )
                        if r
                    ],
                ),
            )
        key_arns = [args.data_key_arn] + ([args.replica_key_arn] if args.replica_key_arn else [])
        statements.append(iam.kms_use(key_arns))
        pulumi_aws.iam.RolePolicy(
            f"{self._name}-replication",
            name="replicate-critical-zones",
            role=role.name,
            policy=iam.document(statements),
            opts=ResourceOptions(parent=self),
        )


def _raw_archive_rules(s: PlatformSettings) -> list[dict[str, Any]]:
    """Glacier after ``raw_glacier_days``, per source prefix, never for reference snapshots.

    Only the sources landed daily are archived (``sales/``); the ETL reads the latest
    customers/products snapshot on every run, however old it is, and Glacier objects cannot
    be read without a restore. Ingestion state (``_lakelib/``) and rejects stay put too.
    """
    return [
        {
            "id": f"raw-{source}-to-glacier",
            "status": "Enabled",
            "filter": {"prefix": f"{source}/"},
            "transitions": [{"days": s.raw_glacier_days, "storage_class": "GLACIER"}],
            "noncurrent_version_transitions": [
                {"noncurrent_days": s.raw_glacier_days, "storage_class": "GLACIER"}
            ],
        }
        for source in s.raw_archived_sources
        if source not in s.raw_reference_sources
    ]


def _sid(zone: str) -> str:
    return "".join(part.title() for part in zone.split("-"))


def _expire(rule_id: str, days: int, noncurrent_days: int | None = None) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "id": rule_id,
        "status": "Enabled",
        "filter": {},
        "expiration": {"days": days},
    }
    if noncurrent_days is not None:
        rule["noncurrent_version_expiration"] = {"noncurrent_days": noncurrent_days}
    return rule


def _expire_noncurrent(rule_id: str, days: int) -> dict[str, Any]:
    """Keep current objects; drop versions replaced or deleted more than ``days`` ago."""
    return {
        "id": rule_id,
        "status": "Enabled",
        "filter": {},
        "noncurrent_version_expiration": {"noncurrent_days": days},
    }


def _abort_uploads() -> dict[str, Any]:
    """Failed multipart uploads are invisible but billed; clear them after a week."""
    return {
        "id": "abort-incomplete-uploads",
        "status": "Enabled",
        "filter": {},
        "abort_incomplete_multipart_upload": {"days_after_initiation": 7},
    }
