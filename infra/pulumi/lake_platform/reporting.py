"""Reporting layer (optional, ``reporting.enabled``): QuickSight on Athena.

A data source on the reporting workgroup, one SPICE dataset per reported table
(``sales_clean``, ``customer_aggregates``), each refreshed daily at 06:00 UTC — after the
02:00 ingestion and the ETL it triggers. QuickSight reaches Athena, the catalog and the
buckets through its own least-privilege role rather than the account-wide QuickSight
service role. The account must already be subscribed to QuickSight.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws.iam
import pulumi_aws.quicksight
from pulumi import ResourceOptions

from lake_platform import iam
from lake_platform.settings import PlatformSettings

DATA_SOURCE_ACTIONS = (
    "quicksight:DescribeDataSource",
    "quicksight:DescribeDataSourcePermissions",
    "quicksight:PassDataSource",
    "quicksight:UpdateDataSource",
    "quicksight:UpdateDataSourcePermissions",
    "quicksight:DeleteDataSource",
)
DATA_SET_ACTIONS = (
    "quicksight:DescribeDataSet",
    "quicksight:DescribeDataSetPermissions",
    "quicksight:PassDataSet",
    "quicksight:DescribeIngestion",
    "quicksight:ListIngestions",
    "quicksight:UpdateDataSet",
    "quicksight:UpdateDataSetPermissions",
    "quicksight:DeleteDataSet",
    "quicksight:CreateIngestion",
    "quicksight:CancelIngestion",
)


@dataclass
class ReportingArgs:
    """Inputs of :class:`Reporting`."""

    settings: PlatformSettings
    bucket_arns: Mapping[str, pulumi.Input[str]]
    data_key_arn: pulumi.Input[str]


class Reporting(pulumi.ComponentResource):
    """QuickSight data source, datasets and their daily refresh schedules."""

    def __init__(self, name: str, args: ReportingArgs, opts: ResourceOptions | None = None):
        super().__init__("lakelib:platform:Reporting", name, None, opts)
        s, spec = args.settings, args.settings.reporting
        child = ResourceOptions(parent=self)
        role = self._role(name, args)
        self.data_source = pulumi_aws.quicksight.DataSource(
            f"{name}-athena",
            data_source_id=s.resource_name("athena"),
            name=f"{s.name_prefix} lake (Athena)",
            aws_account_id=s.account_id,
            type="ATHENA",
            parameters={"athena": {"work_group": spec.workgroup, "role_arn": role.arn}},
            permissions=[{"principal": spec.principal_arn, "actions": list(DATA_SOURCE_ACTIONS)}],
            ssl_properties={"disable_ssl": False},
            tags=dict(s.tags),
            opts=child,
        )
        self.datasets: dict[str, pulumi_aws.quicksight.DataSet] = {}
        for table, columns in spec.datasets.items():
            data_set_id = s.resource_name(table.replace("_", "-"))
            dataset = pulumi_aws.quicksight.DataSet(
                f"{name}-{table}",
                data_set_id=data_set_id,
                name=table,
                aws_account_id=s.account_id,
                import_mode="SPICE",
                physical_table_maps=[
                    {
                        "physical_table_map_id": table.replace("_", "-"),
                        "relational_table": {
                            "data_source_arn": self.data_source.arn,
                            "catalog": "AwsDataCatalog",
                            "schema": s.database,
                            "name": table,
                            "input_columns": [
                                {"name": column, "type": kind} for column, kind in columns
                            ],
                        },
                    }
                ],
                permissions=[{"principal": spec.principal_arn, "actions": list(DATA_SET_ACTIONS)}],
                tags=dict(s.tags),
                opts=child,
            )
            pulumi_aws.quicksight.RefreshSchedule(
                f"{name}-{table}-daily",
                aws_account_id=s.account_id,
                data_set_id=data_set_id,
                schedule_id=f"{table.replace('_', '-')}-daily",
                schedule={
                    "refresh_type": "FULL_REFRESH",
                    "schedule_frequency": {
                        "interval": "DAILY",
                        "time_of_the_day": spec.refresh_time,
                        "timezone": spec.refresh_timezone,
                    },
                },
                opts=ResourceOptions(parent=self, depends_on=[dataset]),
            )
            self.datasets[table] = dataset
        self.register_outputs({"data_source_arn": self.data_source.arn})

    def _role(self, name: str, args: ReportingArgs) -> pulumi_aws.iam.Role:
        s, a, group = args.settings, args.bucket_arns, args.settings.reporting.workgroup
        role = pulumi_aws.iam.Role(
            f"{name}-quicksight",
            name=s.resource_name("quicksight"),
            assume_role_policy=iam.assume_role_policy("quicksight.amazonaws.com"),
            tags=dict(s.tags),
            opts=ResourceOptions(parent=self),
        )
        pulumi_aws.iam.RolePolicy(
            f"{name}-quicksight",
            name="quicksight-athena-reporting",
            role=role.name,
            policy=iam.document(
                [
                    iam.statement(
                        [*iam.ATHENA_QUERY_ACTIONS, "athena:GetQueryResultsStream"],
                        [f"arn:aws:athena:{s.region}:{s.account_id}:workgroup/{group}"],
                        sid="QueryThroughReportingWorkgroup",
                    ),
                    iam.statement(
                        list(iam.GLUE_READ_ACTIONS),
                        iam.glue_catalog_arns(s.region, s.account_id, s.database),
                        sid="ReadCatalog",
                    ),
                    iam.statement(
                        ["s3:ListBucket", "s3:GetBucketLocation"],
                        [a["processed"], a["curated"], a["query-results"]],
                        sid="ListReportedBuckets",
                    ),
                    iam.statement(
                        ["s3:GetObject"],
                        [iam.bucket_objects(a["processed"]), iam.bucket_objects(a["curated"])],
                        sid="ReadReportedTables",
                    ),
                    iam.statement(
                        ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
                        [iam.bucket_objects(a["query-results"], f"{group}/")],
                        sid="OwnWorkgroupResults",
                    ),
                    iam.kms_use([args.data_key_arn]),
                ]
            ),
            opts=ResourceOptions(parent=self),
        )
        return role
