"""Analytics layer: the Athena workgroups named in ``lake.toml``.

Each workgroup enforces its own configuration (clients cannot override the result location
or skip encryption), writes results SSE-KMS under ``s3://<query-results>/<workgroup>/``,
publishes CloudWatch metrics (the cost alarm reads them) and stops any query that would
scan more than its ``bytes_scanned_cutoff``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws.athena
import pulumi_aws.iam
from pulumi import ResourceOptions

from lake_platform import iam
from lake_platform.settings import PlatformSettings


@dataclass
class AnalyticsArgs:
    """Inputs of :class:`Analytics`."""

    settings: PlatformSettings
    query_results_bucket: pulumi.Input[str]
    query_results_bucket_arn: pulumi.Input[str]
    data_key_arn: pulumi.Input[str]
    # The analyst role gets to query through the reporting workgroup (read-only otherwise).
    # None when no analyst principals are configured (then there is no analyst role).
    analyst_role_name: pulumi.Input[str] | None


class Analytics(pulumi.ComponentResource):
    """Athena workgroups ``primary``, ``analytics`` and ``ml_data`` (names from lake.toml)."""

    workgroups: dict[str, pulumi_aws.athena.Workgroup]

    def __init__(self, name: str, args: AnalyticsArgs, opts: ResourceOptions | None = None):
        super().__init__("lakelib:platform:Analytics", name, None, opts)
        s = args.settings
        self.workgroups = {}
        self.output_locations: dict[str, pulumi.Output[str]] = {}
        self._cutoffs = {n: spec.bytes_scanned_cutoff for n, spec in s.workgroups.items()}
        for spec in s.workgroups.values():
            location = pulumi.Output.concat("s3://", args.query_results_bucket, f"/{spec.name}/")
            configuration = {
                "enforce_workgroup_configuration": True,
                "publish_cloudwatch_metrics_enabled": True,
                "engine_version": {"selected_engine_version": "AUTO"},
                "result_configuration": {
                    "output_location": location,
                    "expected_bucket_owner": s.account_id,
                    "encryption_configuration": {
                        "encryption_option": "SSE_KMS",
                        "kms_key_arn": args.data_key_arn,
                    },
                },
            }
            if spec.bytes_scanned_cutoff is not None:
                configuration["bytes_scanned_cutoff_per_query"] = spec.bytes_scanned_cutoff
            adopted = spec.name in s.adopt_workgroups
            self.workgroups[spec.name] = pulumi_aws.athena.Workgroup(
                f"{name}-{spec.name}",
                name=spec.name,
                description=spec.description or f"lakelib workgroup {spec.name}",
                state="ENABLED",
                configuration=configuration,
                tags=dict(s.tags),
                opts=ResourceOptions(
                    parent=self,
                    # Every account already has `primary`, which AWS will not let anyone
                    # create or delete: adopt it (import, then update to these settings)
                    # and leave it behind on `pulumi destroy`.
                    import_=spec.name if adopted else None,
                    retain_on_delete=adopted,
                ),
            )
            self.output_locations[spec.name] = location

        reporting_group = s.reporting.workgroup
        if args.analyst_role_name is not None:
            pulumi_aws.iam.RolePolicy(
                f"{name}-analyst-queries",
                name="analyst-query-curated",
                role=args.analyst_role_name,
                policy=iam.document(
                    [
                        iam.statement(
                            list(iam.ATHENA_QUERY_ACTIONS),
                            [self.workgroups[reporting_group].arn],
                            sid="QueryThroughReportingWorkgroup",
                        ),
                        iam.statement(
                            list(iam.GLUE_READ_ACTIONS),
                            iam.glue_catalog_arns(s.region, s.account_id, s.database),
                            sid="ReadCatalog",
                        ),
                        iam.statement(
                            ["s3:GetBucketLocation", "s3:ListBucket"],
                            [args.query_results_bucket_arn],
                            sid="ListResults",
                        ),
                        iam.statement(
                            ["s3:GetObject", "s3:PutObject"],
                            [
                                iam.bucket_objects(
                                    args.query_results_bucket_arn, f"{reporting_group}/"
                                )
                            ],
                            sid="OwnWorkgroupResults",
                        ),
                        iam.kms_use([args.data_key_arn]),
                    ]
                ),
                opts=ResourceOptions(parent=self),
            )
        self.register_outputs({"workgroups": self.workgroup_info()})

    def workgroup_info(self) -> Mapping[str, Mapping[str, object]]:
        """``{name: {output_location, bytes_scanned_cutoff}}`` for the stack outputs."""
        return {
            name: {
                "output_location": self.output_locations[name],
                "bytes_scanned_cutoff": self._cutoffs[name],
            }
            for name in self.workgroups
        }
