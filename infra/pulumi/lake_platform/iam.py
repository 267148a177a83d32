"""Small builders for IAM policy documents, so every layer writes statements the same way.

Documents are built as plain dicts that may hold ``pulumi.Output`` values (bucket ARNs,
key ARNs) and rendered with :func:`pulumi.Output.json_dumps`, which waits for them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi


def statement(
    actions: Sequence[str],
    resources: Sequence[Any],
    *,
    effect: str = "Allow",
    sid: str | None = None,
    conditions: Mapping[str, Any] | None = None,
    principal: Any = None,
) -> dict[str, Any]:
    """One policy statement; ``principal`` only for resource policies."""
    body: dict[str, Any] = {"Effect": effect, "Action": list(actions), "Resource": list(resources)}
    if sid:
        body["Sid"] = sid
    if principal is not None:
        body["Principal"] = principal
    if conditions:
        body["Condition"] = dict(conditions)
    return body


def document(statements: Sequence[Mapping[str, Any]]) -> pulumi.Output[str]:
    """A policy document as the JSON string AWS expects."""
    return pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": list(statements)})


def assume_role_policy(
    service: str, *, account_id: str | None = None, source_arn: Any | None = None
) -> pulumi.Output[str]:
    """Trust policy for an AWS service.

    ``account_id`` / ``source_arn`` add the confused-deputy guard; pass them only for services
    that send ``aws:SourceAccount`` when they assume a role (EMR, S3, Step Functions,
    EventBridge): EC2 instance profiles, for one, do not, and the condition would lock them out.
    """
    trust: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": ["sts:AssumeRole"],
    }
    conditions: dict[str, Any] = {}
    if account_id is not None:
        conditions["StringEquals"] = {"aws:SourceAccount": account_id}
    if source_arn is not None:
        conditions["ArnLike"] = {"aws:SourceArn": source_arn}
    if conditions:
        trust["Condition"] = conditions
    return document([trust])


def bucket_objects(arn: Any, prefix: str = "") -> pulumi.Output[str]:
    """``arn:aws:s3:::bucket/prefix*``: the objects under a prefix of a bucket."""
    return pulumi.Output.concat(arn, "/", prefix, "*")


def bucket_object(arn: Any, key: str) -> pulumi.Output[str]:
    """``arn:aws:s3:::bucket/key``: exactly one object."""
    return pulumi.Output.concat(arn, "/", key)


def kms_use(key_arns: Sequence[Any], *, decrypt_only: bool = False) -> dict[str, Any]:
    """Use (not manage) customer keys: what a role needs to read and write SSE-KMS objects."""
    actions = ["kms:Decrypt", "kms:DescribeKey"]
    if not decrypt_only:
        actions += ["kms:Encrypt", "kms:GenerateDataKey", "kms:ReEncryptFrom", "kms:ReEncryptTo"]
    return statement(actions, key_arns, sid="UseLakeKeys")


def glue_catalog_arns(region: str, account_id: str, database: str) -> list[str]:
    """The catalog, one database and its tables: what Glue IAM actions are scoped to."""
    base = f"arn:aws:glue:{region}:{account_id}"
    return [f"{base}:catalog", f"{base}:database/{database}", f"{base}:table/{database}/*"]


GLUE_READ_ACTIONS = (
    "glue:GetDatabase",
    "glue:GetTable",
    "glue:GetTables",
    "glue:GetPartition",
    "glue:GetPartitions",
    "glue:BatchGetPartition",
)
GLUE_WRITE_ACTIONS = (
    *GLUE_READ_ACTIONS,
    "glue:CreateTable",
    "glue:UpdateTable",
    "glue:CreatePartition",
    "glue:UpdatePartition",
    "glue:BatchCreatePartition",
    "glue:BatchUpdatePartition",
    "glue:BatchDeletePartition",
    "glue:DeletePartition",
)
# Objects a job reads, writes and replaces (multipart uploads included: Spark, boto3's
# upload_file and awswrangler switch to them above a few MB).
S3_READ_WRITE_ACTIONS = (
    "s3:GetObject",
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:AbortMultipartUpload",
)
ATHENA_QUERY_ACTIONS = (
    "athena:StartQueryExecution",
    "athena:StopQueryExecution",
    "athena:GetQueryExecution",
    "athena:GetQueryResults",
    "athena:GetWorkGroup",
)
