"""Catalog & ETL layer: the Glue database, crawlers per zone, and Glue Spark jobs from ``jobs/``.

Job scripts are uploaded to the scripts bucket under ``jobs/`` (the ``scripts`` zone of
lakelib's AWS layout); a job whose script does not exist yet is skipped with a warning rather
than created pointing at nothing. lakelib and its dependencies come from the prebuilt
wheelhouse :class:`~lake_platform.artifacts.Artifacts` uploads; the workspace config from
``config/lake.toml`` (``--LAKE_CONFIG``).

The daily pipeline's stages without a Glue job of their own (train, transform, report,
notebooks) run on SageMaker (``lake_platform.ml``), not here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws.glue
import pulumi_aws.s3
from pulumi import ResourceOptions

from lake_platform.layout import (
    LAMBDA_QUARANTINE_PREFIX,
    LAMBDA_STATE_PREFIX,
    QUARANTINE_PREFIX,
    SCRIPTS_PREFIX,
    TABLE_PREFIXES,
)
from lake_platform.settings import PlatformSettings

MIN_GLUE_VERSION = (4, 0)

# Crawled zones: zone -> its targets (bucket, prefix inside it, exclusions). Each crawler
# names tables with the zone's prefix from lakelib/layout.toml, as `lake crawl` does.
# Quarantine lives inside the processed bucket (lakelib's AWS layout) and gets its own
# crawler so rejected rows never become columns of the clean tables; it also reads what the
# ingestion Lambda refused, which the Lambda keeps under a `_`-prefixed folder of raw.
CRAWLED_ZONES: dict[str, tuple[tuple[str, str, tuple[str, ...]], ...]] = {
    "raw": (("raw", "", (f"{LAMBDA_QUARANTINE_PREFIX}**", f"{LAMBDA_STATE_PREFIX}**")),),
    "processed": (("processed", "", (f"{QUARANTINE_PREFIX}**",)),),
    "quarantine": (("processed", QUARANTINE_PREFIX, ()), ("raw", LAMBDA_QUARANTINE_PREFIX, ())),
    "curated": (("curated", "", ()),),
}

CRAWLER_CONFIGURATION = json.dumps(
    {
        "Version": 1.0,
        # One table per source folder even when files disagree slightly on columns.
        "Grouping": {"TableGroupingPolicy": "CombineCompatibleSchemas"},
        # New partitions take the table's schema, so a late column does not fork them.
        "CrawlerOutput": {"Partitions": {"AddOrUpdateBehavior": "InheritFromTable"}},
    }
)


def python_modules_arguments(modules_uri: pulumi.Input[str] | None) -> dict[str, Any]:
    """Glue arguments that install lakelib from the prebuilt wheelhouse, never from an index.

    A ``*.gluewheels.zip`` holds lakelib and every wheel Glue 5 lacks; with ``--no-index``
    pip resolves from it alone (AWS Glue docs: "zip of wheels", Glue 5.0 and later).
    """
    if modules_uri is None:
        return {}
    return {
        "--additional-python-modules": modules_uri,
        "--python-modules-installer-option": "--no-index",
    }


def glue_version_ok(version: str) -> bool:
    """Glue 4.0 or newer (Spark 3.3+); lakelib's jobs target Glue 5 (Spark 3.5)."""
    try:
        major, minor = (int(part) for part in version.split("."))
    except ValueError:
        return False
    return (major, minor) >= MIN_GLUE_VERSION


@dataclass
class CatalogArgs:
    """Inputs of :class:`Catalog`."""

    settings: PlatformSettings
    bucket_names: Mapping[str, pulumi.Input[str]]
    glue_role_arn: pulumi.Input[str]
    data_key_arn: pulumi.Input[str]
    # ``s3://<scripts>/config/lake.toml``: every job gets it as ``--LAKE_CONFIG``.
    config_uri: pulumi.Input[str]
    # The Glue 5 wheelhouse (``*.gluewheels.zip``); ``None`` when not built.
    modules_uri: pulumi.Input[str] | None = None
    # The Glue NETWORK connection every job runs in (the lake's private subnet).
    connection_name: pulumi.Input[str] | None = None


class Catalog(pulumi.ComponentResource):
    """Glue database ``data_lake_db``, crawlers, a security configuration and Spark jobs."""

    def __init__(self, name: str, args: CatalogArgs, opts: ResourceOptions | None = None):
        super().__init__("lakelib:platform:Catalog", name, None, opts)
        s = args.settings
        if not glue_version_ok(s.glue_version):
            raise ValueError(f"glueVersion must be 4.0 or newer, got {s.glue_version!r}")
        child = ResourceOptions(parent=self)
        buckets = args.bucket_names
        self._jobs_dir = s.jobs_dir
        self._connections = [args.connection_name] if args.connection_name else None

        self.database = pulumi_aws.glue.CatalogDatabase(
            f"{name}-database",
            name=s.database,
            description="lakelib data lake: raw, processed, curated and quarantine tables",
            location_uri=pulumi.Output.concat("s3://", buckets["processed"], "/"),
            opts=child,
        )
        self.security_configuration = pulumi_aws.glue.SecurityConfiguration(
            f"{name}-encryption",
            name=s.resource_name("glue-kms"),
            encryption_configuration={
                "s3_encryption": {
                    "s3_encryption_mode": "SSE-KMS",
                    "kms_key_arn": args.data_key_arn,
                },
                "cloudwatch_encryption": {
                    "cloudwatch_encryption_mode": "SSE-KMS",
                    "kms_key_arn": args.data_key_arn,
                },
                "job_bookmarks_encryption": {
                    "job_bookmarks_encryption_mode": "CSE-KMS",
                    "kms_key_arn": args.data_key_arn,
                },
            },
            opts=child,
        )

        self.crawlers: dict[str, pulumi_aws.glue.Crawler] = {}
        for zone, targets in CRAWLED_ZONES.items():
            self.crawlers[zone] = pulumi_aws.glue.Crawler(
                f"{name}-{zone}",
                name=s.resource_name(f"{zone}-crawler"),
                database_name=self.database.name,
                role=args.glue_role_arn,
                table_prefix=TABLE_PREFIXES.get(zone) or None,
                s3_targets=[
                    {
                        "path": pulumi.Output.concat("s3://", buckets[bucket], "/", prefix),
                        "exclusions": list(exclusions) or None,
                    }
                    for bucket, prefix, exclusions in targets
                ],
                # Built-in classifiers cover the lake's formats: JSON lines (raw, gzip),
                # CSV and Parquet. Schema changes update the table; deletions are logged.
                schema_change_policy={
                    "update_behavior": "UPDATE_IN_DATABASE",
                    "delete_behavior": "LOG",
                },
                recrawl_policy={"recrawl_behavior": "CRAWL_EVERYTHING"},
                configuration=CRAWLER_CONFIGURATION,
                security_configuration=self.security_configuration.name,
                tags=dict(s.tags),
                opts=child,
            )

        self.scripts_uri = pulumi.Output.concat("s3://", buckets["scripts"], "/jobs/")
        modules = python_modules_arguments(args.modules_uri)
        self.jobs: dict[str, pulumi_aws.glue.Job] = {}
        for job in s.glue_jobs:
            script = s.jobs_dir / job.script
            if not script.is_file():
                pulumi.log.warn(
                    f"Glue job {job.name}: {script} does not exist; job not created "
                    "(it will be on the next `pulumi up` after the script is added)",
                    resource=self,
                )
                continue
            script_location = self._upload_script(name, job.name, job.script, buckets["scripts"])
            arguments = {
                # Bookmarks: each run reads only what arrived since the last successful one.
                "--job-bookmark-option": "job-bookmark-enable",
                "--enable-auto-scaling": "true",
                "--enable-metrics": "true",
                "--enable-observability-metrics": "true",
                "--enable-continuous-cloudwatch-log": "true",
                "--enable-glue-datacatalog": "true",
                "--TempDir": pulumi.Output.concat("s3://", buckets["scripts"], "/glue-temp/"),
                # Names the job passes to lakelib instead of hard-coding them.
                "--database": s.database,
                "--raw_bucket": buckets["raw"],
                "--processed_bucket": buckets["processed"],
                "--curated_bucket": buckets["curated"],
                "--scripts_bucket": buckets["scripts"],
                "--LAKE_CONFIG": args.config_uri,
                **modules,
                **job.arguments,
            }
            self.jobs[job.name] = pulumi_aws.glue.Job(
                f"{name}-{job.name}",
                name=s.resource_name(job.name),
                description=job.description or f"lakelib job {job.name}",
                role_arn=args.glue_role_arn,
                glue_version=s.glue_version,
                command={
                    "name": "glueetl",
                    "python_version": "3",
                    "script_location": script_location,
                },
                worker_type=job.worker_type,
                # With auto scaling on, Glue runs between 2 workers and this many.
                number_of_workers=job.max_workers,
                # One orchestrator decides retries: the state machine's Retry when it is
                # deployed (a Glue retry as well would start a second run beside its own).
                max_retries=0 if s.deploys_state_machine else 1,
                timeout=job.timeout_minutes,
                execution_property={"max_concurrent_runs": 1},
                default_arguments=arguments,
                security_configuration=self.security_configuration.name,
                connections=self._connections,
                tags=dict(s.tags),
                opts=child,
            )

        self.register_outputs(
            {
                "database": self.database.name,
                "crawlers": {zone: c.name for zone, c in self.crawlers.items()},
                "jobs": {job: j.name for job, j in self.jobs.items()},
            }
        )

    def _upload_script(
        self, name: str, job: str, script: str, scripts_bucket: pulumi.Input[str]
    ) -> pulumi.Output[str]:
        """Upload ``<jobs_dir>/<script>`` to ``jobs/<script>`` of the scripts bucket."""
        obj = pulumi_aws.s3.BucketObjectv2(
            f"{name}-{job}-script",
            bucket=scripts_bucket,
            key=f"{SCRIPTS_PREFIX}{script}",
            source=pulumi.FileAsset(str(self._jobs_dir / script)),
            content_type="text/x-python",
            opts=ResourceOptions(parent=self),
        )
        return pulumi.Output.concat("s3://", obj.bucket, "/", obj.key)
