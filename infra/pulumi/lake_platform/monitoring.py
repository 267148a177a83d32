"""Monitoring layer: the alerts topic, the architecture's alarms, and the dashboard.

Alarms (all notify the SNS topic):

- Lambda error rate over 5 % (errors / invocations, metric math, 5-minute periods);
- Glue job failure: an EventBridge rule on FAILED/TIMEOUT/ERROR job runs, plus a per-job
  alarm on failed Spark tasks;
- EMR unhealthy nodes (when EMR is on);
- S3 bucket size over a threshold, per data bucket;
- Athena bytes scanned per day over the dollar budget ($100 at $5/TB = 20 TB);
- a failed pipeline stage (the ``Failures`` metric each AWS stage prints as EMF).

lakelib's stage metrics carry exactly the dimensions ``Pipeline`` and ``Stage``
(``lakelib.monitor.DIMENSIONS``); CloudWatch matches a metric only with all of its
dimensions, so every widget and alarm on them names both (:data:`STAGE_DIMENSIONS`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws.cloudwatch
import pulumi_aws.sns
from pulumi import ResourceOptions

from lake_platform import iam
from lake_platform.settings import PlatformSettings

FIVE_MINUTES = 300
ONE_DAY = 86_400
SIZE_WATCHED_ZONES = ("raw", "processed", "curated")
# lakelib.monitor.DIMENSIONS, in its order (a test compares them).
STAGE_DIMENSIONS = ("Pipeline", "Stage")
# Stages that report Failures (the Lambda's errors have their own alarm).
FAILING_STAGES = ("etl", "curate", "train", "transform", "report")


@dataclass
class MonitoringArgs:
    """Inputs of :class:`Monitoring`."""

    settings: PlatformSettings
    alerts_key_arn: pulumi.Input[str]
    function_name: pulumi.Input[str]
    job_names: Mapping[str, pulumi.Input[str]]
    crawler_names: Mapping[str, pulumi.Input[str]]
    bucket_names: Mapping[str, pulumi.Input[str]]
    workgroups: Sequence[str]
    emr_cluster_id: pulumi.Input[str] | None = None
    state_machine_arn: pulumi.Input[str] | None = None


class Monitoring(pulumi.ComponentResource):
    """SNS alerts, CloudWatch alarms, Glue failure events and the lake dashboard."""

    def __init__(self, name: str, args: MonitoringArgs, opts: ResourceOptions | None = None):
        super().__init__("lakelib:platform:Monitoring", name, None, opts)
        self._name, self._s = name, args.settings
        s, spec = args.settings, args.settings.monitoring
        child = ResourceOptions(parent=self)

        self.topic = pulumi_aws.sns.Topic(
            f"{name}-alerts",
            name=s.alerts_topic_name,
            display_name="lakelib alerts",
            kms_master_key_id=args.alerts_key_arn,
            tags=dict(s.tags),
            opts=child,
        )
        pulumi_aws.sns.TopicPolicy(
            f"{name}-alerts",
            arn=self.topic.arn,
            policy=iam.document(
                [
                    iam.statement(
                        ["sns:Publish"],
                        [self.topic.arn],
                        sid="AlarmsAndEventsPublish",
                        principal={"Service": ["cloudwatch.amazonaws.com", "events.amazonaws.com"]},
                        conditions={"StringEquals": {"aws:SourceAccount": s.account_id}},
                    ),
                    iam.statement(
                        ["sns:Publish", "sns:Subscribe"],
                        [self.topic.arn],
                        effect="Deny",
                        sid="DenyInsecureTransport",
                        principal="*",
                        conditions={"Bool": {"aws:SecureTransport": "false"}},
                    ),
                ]
            ),
            opts=child,
        )
        for index, email in enumerate(spec.alert_emails):
            pulumi_aws.sns.TopicSubscription(
                f"{name}-email-{index}",
                topic=self.topic.arn,
                protocol="email",
                endpoint=email,
                opts=child,
            )
        self.alarms: dict[str, pulumi_aws.cloudwatch.MetricAlarm] = {}
        self._lambda_error_rate(args.function_name)
        self._glue_failures(args.job_names, args.crawler_names)
        if args.emr_cluster_id is not None:
            self._alarm(
                "emr-unhealthy-nodes",
                "EMR core/task nodes reported unhealthy",
                namespace="AWS/ElasticMapReduce",
                metric_name="MRUnhealthyNodes",
                dimensions={"JobFlowId": args.emr_cluster_id},
                statistic="Maximum",
                period=FIVE_MINUTES,
                threshold=0,
            )
        if args.state_machine_arn is not None:
            self._alarm(
                "pipeline-failed",
                "the daily Step Functions pipeline failed",
                namespace="AWS/States",
                metric_name="ExecutionsFailed",
                dimensions={"StateMachineArn": args.state_machine_arn},
                statistic="Sum",
                period=FIVE_MINUTES,
                threshold=0,
            )
        for zone in SIZE_WATCHED_ZONES:
            self._alarm(
                f"{zone}-bucket-size",
                f"the {zone} bucket grew past {spec.bucket_size_alarm_bytes} bytes",
                namespace="AWS/S3",
                metric_name="BucketSizeBytes",
                dimensions={
                    "BucketName": args.bucket_names[zone],
                    "StorageType": "StandardStorage",
                },
                statistic="Average",
                period=ONE_DAY,  # S3 publishes storage metrics once a day
                threshold=spec.bucket_size_alarm_bytes,
            )
        self._athena_daily_scan(args.workgroups)
        for stage in (s for s in spec.stages if s in FAILING_STAGES):
            self._alarm(
                f"{stage}-stage-failed",
                f"pipeline stage {stage} failed",
                namespace=spec.metrics_namespace,
                metric_name="Failures",
                dimensions=self.stage_dimensions(stage),
                statistic="Sum",
                period=FIVE_MINUTES,
                threshold=0,
            )
        self.dashboard = self._dashboard(args)
        self.register_outputs(
            {"alerts_topic_arn": self.topic.arn, "dashboard": self.dashboard.dashboard_name}
        )

    def stage_dimensions(self, stage: str) -> dict[str, str]:
        """The dimensions of one stage's metrics, as lakelib emits them."""
        return dict(zip(STAGE_DIMENSIONS, (self._s.monitoring.pipeline, stage), strict=True))

    def stage_metric(self, name: str, stage: str) -> list[str]:
        """A dashboard metric row: namespace, name, then each dimension name and value."""
        row = [self._s.monitoring.metrics_namespace, name]
        for key, value in self.stage_dimensions(stage).items():
            row += [key, value]
        return row

    def _alarm(
        self, key: str, description: str, **metric: Any
    ) -> pulumi_aws.cloudwatch.MetricAlarm:
        s = self._s
        alarm = pulumi_aws.cloudwatch.MetricAlarm(
            f"{self._name}-{key}",
            name=s.resource_name(key),
            alarm_description=description,
            comparison_operator="GreaterThanThreshold",
            evaluation_periods=1,
            treat_missing_data="notBreaching",
            alarm_actions=[self.topic.arn],
            ok_actions=[self.topic.arn],
            tags=dict(s.tags),
            opts=ResourceOptions(parent=self),
            **metric,
        )
        self.alarms[key] = alarm
        return alarm

    def _lambda_error_rate(self, function_name: pulumi.Input[str]) -> None:
        def lambda_metric(query_id: str, metric_name: str) -> dict[str, Any]:
            return {
                "id": query_id,
                "metric": {
                    "namespace": "AWS/Lambda",
                    "metric_name": metric_name,
                    "dimensions": {"FunctionName": function_name},
                    "stat": "Sum",
                    "period": FIVE_MINUTES,
                },
            }

        percent = self._s.monitoring.lambda_error_rate_percent
        self._alarm(
            "ingest-error-rate",
            f"ingestion Lambda errors above {percent}% of calls",
            threshold=percent,
            metric_queries=[
                lambda_metric("errors", "Errors"),
                lambda_metric("invocations", "Invocations"),
                {
                    "id": "error_rate",
                    "expression": "IF(invocations > 0, 100 * errors / invocations, 0)",
                    "label": "error rate (%)",
                    "return_data": True,
                },
            ],
        )

    def _glue_failures(
        self,
        job_names: Mapping[str, pulumi.Input[str]],
        crawler_names: Mapping[str, pulumi.Input[str]],
    ) -> None:
        s, name = self._s, self._name
        for job, glue_name in job_names.items():
            self._alarm(
                f"{job}-failed-tasks",
                f"Glue job {job} had failed Spark tasks",
                namespace="Glue",
                metric_name="glue.driver.aggregate.numFailedTasks",
                dimensions={"JobName": glue_name, "JobRunId": "ALL", "Type": "count"},
                statistic="Sum",
                period=FIVE_MINUTES,
                threshold=0,
            )
        # A failed run is an event, not a metric: EventBridge catches every one of them.
        rule = pulumi_aws.cloudwatch.EventRule(
            f"{name}-glue-failures",
            name=s.resource_name("glue-failures"),
            description="A lake Glue job run or crawl failed",
            event_pattern=pulumi.Output.json_dumps(
                {
                    "source": ["aws.glue"],
                    "$or": [
                        {
                            "detail-type": ["Glue Job State Change"],
                            "detail": {
                                "jobName": list(job_names.values()) or [s.resource_name("none")],
                                "state": ["FAILED", "TIMEOUT", "ERROR"],
                            },
                        },
                        {
                            "detail-type": ["Glue Crawler State Change"],
                            "detail": {
                                "crawlerName": list(crawler_names.values()),
                                "state": ["Failed"],
                            },
                        },
                    ],
                }
            ),
            tags=dict(s.tags),
            opts=ResourceOptions(parent=self),
        )
        pulumi_aws.cloudwatch.EventTarget(
            f"{name}-glue-failures",
            rule=rule.name,
            arn=self.topic.arn,
            opts=ResourceOptions(parent=self),
        )
        self.glue_failure_rule = rule

    def _athena_daily_scan(self, workgroups: Sequence[str]) -> None:
        spec = self._s.monitoring
        queries: list[dict[str, Any]] = [
            {
                "id": f"wg{index}",
                "metric": {
                    "namespace": "AWS/Athena",
                    "metric_name": "ProcessedBytes",
                    "dimensions": {"WorkGroup": group},
                    "stat": "Sum",
                    "period": ONE_DAY,
                },
            }
            for index, group in enumerate(workgroups)
        ]
        queries.append(
            {
                "id": "scanned",
                "expression": f"SUM([{', '.join(q['id'] for q in queries)}])",
                "label": "bytes scanned per day, all workgroups",
                "return_data": True,
            }
        )
        self._alarm(
            "athena-daily-scan",
            f"Athena scanned more than ${spec.athena_daily_budget_usd:.0f} worth of data today",
            threshold=spec.athena_daily_bytes,
            metric_queries=queries,
        )

    def _dashboard(self, args: MonitoringArgs) -> pulumi_aws.cloudwatch.Dashboard:
        s = self._s
        region = s.region

        def widget(
            title: str,
            metrics: list[list[Any]],
            y: int,
            x: int,
            stat: str = "Sum",
            period: int = FIVE_MINUTES,
        ) -> dict[str, Any]:
            return {
                "type": "metric",
                "x": x,
                "y": y,
                "width": 12,
                "height": 6,
                "properties": {
                    "title": title,
                    "region": region,
                    "stat": stat,
                    "period": period,
                    "view": "timeSeries",
                    "metrics": metrics,
                },
            }

        def header(text: str, y: int) -> dict[str, Any]:
            return {
                "type": "text",
                "x": 0,
                "y": y,
                "width": 24,
                "height": 1,
                "properties": {"markdown": f"## {text}"},
            }

        fn = args.function_name
        jobs = list(args.job_names.values())
        stages = s.monitoring.stages
        body = {
            "widgets": [
                header("Pipeline health", 0),
                widget(
                    "Ingestion Lambda",
                    [
                        ["AWS/Lambda", "Invocations", "FunctionName", fn],
                        ["AWS/Lambda", "Errors", "FunctionName", fn],
                        ["AWS/Lambda", "Throttles", "FunctionName", fn],
                    ],
                    1,
                    0,
                ),
                widget(
                    "Glue jobs: failed tasks / completed stages",
                    [
                        m
                        for job in jobs
                        for m in (
                            [
                                "Glue",
                                "glue.driver.aggregate.numFailedTasks",
                                "JobName",
                                job,
                                "JobRunId",
                                "ALL",
                                "Type",
                                "count",
                            ],
                            [
                                "Glue",
                                "glue.driver.aggregate.numCompletedStages",
                                "JobName",
                                job,
                                "JobRunId",
                                "ALL",
                                "Type",
                                "count",
                            ],
                        )
                    ]
                    or [["AWS/Lambda", "Duration", "FunctionName", fn]],
                    1,
                    12,
                ),
                header("Cost", 7),
                widget(
                    "Athena bytes scanned per day",
                    [["AWS/Athena", "ProcessedBytes", "WorkGroup", g] for g in args.workgroups],
                    8,
                    0,
                    period=ONE_DAY,
                ),
                widget(
                    "Bucket size (bytes)",
                    [
                        [
                            "AWS/S3",
                            "BucketSizeBytes",
                            "BucketName",
                            args.bucket_names[z],
                            "StorageType",
                            "StandardStorage",
                        ]
                        for z in SIZE_WATCHED_ZONES
                    ],
                    8,
                    12,
                    stat="Average",
                    period=ONE_DAY,
                ),
                header("Data quality", 14),
                widget(
                    "sales_clean: rows in / out / quarantined / duplicates",
                    [
                        self.stage_metric(metric, "etl")
                        for metric in ("RowsIn", "RowsOut", "RowsQuarantined", "DuplicatesRemoved")
                    ],
                    15,
                    0,
                    period=ONE_DAY,
                ),
                widget(
                    "Ingestion: landed / quarantined records",
                    [self.stage_metric(m, "ingest") for m in ("Landed", "Quarantined")],
                    15,
                    12,
                    period=ONE_DAY,
                ),
                header("Query performance", 21),
                widget(
                    "Athena query time (ms)",
                    [
                        ["AWS/Athena", metric, "WorkGroup", g]
                        for g in args.workgroups
                        for metric in ("TotalExecutionTime", "QueryQueueTime")
                    ],
                    22,
                    0,
                    stat="p90",
                ),
                header("Pipeline stages", 28),
                widget(
                    "Stage failures",
                    [self.stage_metric("Failures", st) for st in stages if st in FAILING_STAGES],
                    29,
                    0,
                ),
                widget(
                    "Stage duration (s)",
                    [self.stage_metric("DurationS", st) for st in stages if st in FAILING_STAGES],
                    29,
                    12,
                    stat="Maximum",
                    period=ONE_DAY,
                ),
            ]
        }
        return pulumi_aws.cloudwatch.Dashboard(
            f"{self._name}-dashboard",
            dashboard_name=s.resource_name("lake"),
            dashboard_body=pulumi.Output.json_dumps(body),
            opts=ResourceOptions(parent=self),
        )
