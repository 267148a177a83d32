"""Storage layer: every bucket private, encrypted, TLS-only and logged; zone-specific rules."""

from __future__ import annotations

from typing import Any

from lake_platform import policies
from pulumi_harness import ACCOUNT, DR_REGION, REPO, Platform

BUCKET = "aws:s3/bucket:Bucket"
SSE = policies.ENCRYPTION
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"


def _bucket(platform: Platform, zone: str) -> str:
    return platform.outputs[f"{zone.replace('-', '_')}_bucket"]


def _sse(platform: Platform, bucket: str) -> dict[str, Any]:
    (config,) = platform.for_bucket(SSE, bucket)
    (rule,) = config.inputs["rules"]
    return rule["applyServerSideEncryptionByDefault"]


def _rules(platform: Platform, bucket: str) -> list[dict[str, Any]]:
    (config,) = platform.for_bucket(LIFECYCLE, bucket)
    return config.inputs["rules"]


def _versioned(platform: Platform, bucket: str) -> bool:
    return any(
        v.inputs["versioningConfiguration"]["status"] == "Enabled"
        for v in platform.for_bucket(VERSIONING, bucket)
    )


def test_bucket_names_come_from_stack_and_account(platform: Platform) -> None:
    names = {r.inputs["bucket"] for r in platform.of_type(BUCKET)}
    for zone in ("raw", "processed", "curated", "scripts", "query-results", "logs", "trail"):
        assert f"lake-test-{zone}-{ACCOUNT}" in names


def test_every_bucket_is_private_encrypted_tls_only_and_logged(platform: Platform) -> None:
    buckets = platform.of_type(BUCKET)
    assert len(buckets) == 9  # seven zones + two DR replicas
    for check in (
        policies.check_buckets_private,
        policies.check_buckets_encrypted,
        policies.check_buckets_tls_only,
        policies.check_buckets_logged,
    ):
        assert check(platform.records) == [], check.__name__
    # The access-log exemption is used only where it must be: the log target and DR replicas.
    exempt = {
        b.inputs["bucket"]: b.inputs["tags"][policies.NO_ACCESS_LOG_TAG]
        for b in buckets
        if policies.NO_ACCESS_LOG_TAG in b.inputs["tags"]
    }
    assert exempt == {
        _bucket(platform, "logs"): "is-the-log-target",
        f"{_bucket(platform, 'raw')}-dr": "dr-replica",
        f"{_bucket(platform, 'processed')}-dr": "dr-replica",
    }


def test_raw_is_versioned_sse_s3(platform: Platform) -> None:
    raw = _bucket(platform, "raw")
    assert _versioned(platform, raw)
    assert _sse(platform, raw) == {"sseAlgorithm": "AES256"}


def _matches(rule: dict[str, Any], key: str) -> bool:
    """Whether an S3 lifecycle rule's filter selects ``key`` (prefix filters; tags fail)."""
    rule_filter = rule.get("filter") or {}
    conditions = rule_filter.get("and") or rule_filter
    if conditions.get("tags") or conditions.get("tag"):
        return False  # the lake tags no raw object: a tag filter never selects one
    return key.startswith(conditions.get("prefix", ""))


def _storage_class_after(rules: list[dict[str, Any]], key: str) -> dict[int, str]:
    """Days after creation -> storage class, for every enabled rule that selects ``key``."""
    return {
        t["days"]: t["storageClass"]
        for r in rules
        if r["status"] == "Enabled" and _matches(r, key)
        for t in r.get("transitions") or []
    }


def test_reference_snapshots_never_move_to_glacier(platform: Platform) -> None:
    """Issue 13 item 9: customers/products are landed once and read by every ETL run."""
    from lakelib.etl._sales_clean import REFERENCES

    rules = _rules(platform, _bucket(platform, "raw"))
    for source in REFERENCES:  # what the ETL joins: its reference snapshots
        key = f"{source}/year=2026/month=01/day=01/{source}_20260101T020000Z.csv.gz"
        assert _storage_class_after(rules, key) == {}, source
    # Ingestion state and rejects are read back by ingestion: never archived either.
    assert _storage_class_after(rules, "_lakelib/runs/ingest/run.json") == {}


def test_daily_sales_move_to_glacier_after_90_days(platform: Platform) -> None:
    from lakelib.config import load_settings
    from lakelib.etl._sales_clean import REFERENCES

    rules = _rules(platform, _bucket(platform, "raw"))
    daily = [
        s for s in load_settings(home=REPO / ".lake").section("sources") if s not in REFERENCES
    ]
    assert daily == ["sales"]
    for source in daily:
        key = f"{source}/year=2026/month=01/day=01/{source}_20260101T020000Z.jsonl.gz"
        assert _storage_class_after(rules, key) == {90: "GLACIER"}, source
        (rule,) = [r for r in rules if r.get("transitions") and _matches(r, key)]
        assert rule["noncurrentVersionTransitions"] == [
            {"noncurrentDays": 90, "storageClass": "GLACIER"}
        ]


def test_processed_is_versioned_sse_kms_with_customer_key_and_expires_after_365_days(
    platform: Platform,
) -> None:
    processed = _bucket(platform, "processed")
    assert _versioned(platform, processed)
    sse = _sse(platform, processed)
    assert sse["sseAlgorithm"] == "aws:kms"
    assert sse["kmsMasterKeyId"] == platform.outputs["data_key_arn"]
    (expiry,) = [r for r in _rules(platform, processed) if r.get("expiration")]
    assert expiry["expiration"]["days"] == 365


def test_curated_query_results_and_scripts_use_the_customer_key(platform: Platform) -> None:
    for zone in ("curated", "scripts", "query-results"):
        assert _sse(platform, _bucket(platform, zone))["sseAlgorithm"] == "aws:kms", zone
    (results_expiry,) = _rules(platform, _bucket(platform, "query-results"))[:1]
    assert results_expiry["expiration"]["days"] == 30


def test_curated_is_read_only_for_the_analyst_role(platform: Platform) -> None:
    curated = _bucket(platform, "curated")
    analyst = platform.outputs["analyst_role_arn"]
    (policy,) = platform.for_bucket(policies.BUCKET_POLICY, curated)
    statements = platform.policy(policy)["Statement"]
    (deny,) = [s for s in statements if s.get("Sid") == "AnalystsReadOnly"]
    assert deny["Effect"] == "Deny"
    assert {"s3:PutObject", "s3:DeleteObject"} <= set(deny["Action"])
    assert deny["Condition"] == {"ArnEquals": {"aws:PrincipalArn": analyst}}
    (grant,) = [
        r for r in platform.of_type("aws:iam/rolePolicy:RolePolicy") if r.name == "storage-analyst"
    ]
    actions = {a for s in platform.policy(grant)["Statement"] for a in s["Action"]}
    assert not any(a.startswith("s3:Put") or a.startswith("s3:Delete") for a in actions)
    assert "s3:GetObject" in actions


def _allowed_services(platform: Platform, zone: str) -> set[str]:
    (policy,) = platform.for_bucket(policies.BUCKET_POLICY, _bucket(platform, zone))
    return {
        s["Principal"]["Service"]
        for s in platform.policy(policy)["Statement"]
        if s["Effect"] == "Allow"
    }


def test_logs_bucket_accepts_only_named_log_services(platform: Platform) -> None:
    assert _allowed_services(platform, "logs") == {
        "logging.s3.amazonaws.com",
        "delivery.logs.amazonaws.com",
    }
    assert _allowed_services(platform, "trail") == {"cloudtrail.amazonaws.com"}


def test_critical_zones_replicate_to_the_dr_region(platform: Platform) -> None:
    configs = platform.of_type("aws:s3/bucketReplicationConfig:BucketReplicationConfig")
    assert {c.inputs["bucket"] for c in configs} == {
        _bucket(platform, "raw"),
        _bucket(platform, "processed"),
    }
    replicas = [b for b in platform.of_type(BUCKET) if b.inputs["bucket"].endswith("-dr")]
    assert {b.inputs["region"] for b in replicas} == {DR_REGION}
    for replica in replicas:
        assert _versioned(platform, replica.inputs["bucket"])
    (processed,) = [c for c in configs if c.inputs["bucket"] == _bucket(platform, "processed")]
    (rule,) = processed.inputs["rules"]
    assert rule["sourceSelectionCriteria"]["sseKmsEncryptedObjects"]["status"] == "Enabled"
    assert rule["destination"]["encryptionConfiguration"]["replicaKmsKeyId"].startswith(
        f"arn:aws:kms:{DR_REGION}:"
    )


def test_replication_is_off_by_default(minimal_platform: Platform) -> None:
    assert minimal_platform.of_type("aws:s3/bucketReplicationConfig:BucketReplicationConfig") == []
    assert len(minimal_platform.of_type(BUCKET)) == 7
