"""Ingestion & orchestration layer.

- The ingestion Lambda (Python 3.12 on x86_64, 512 MB, 5 min, 10 concurrent runs), packaged
  from the lakelib source tree plus its pinned third-party packages (``deps/lambda.txt``,
  built by ``build_artifacts.py``); handler ``lakelib.ingest.handler``.
- The daily schedule ``cron(0 2 * * ? *)`` (02:00 UTC). It starts the Step Functions
  pipeline when one is deployed (the pipeline calls the Lambda first), else the Lambda.
- One orchestrator: with the pipeline deployed, Step Functions alone starts the crawlers and
  jobs. Without it, S3 "Object Created" events of the raw bucket go through EventBridge to
  a Glue workflow whose event trigger starts the raw crawler (batched), then the Glue jobs
  once the crawl succeeds, then the downstream crawlers once the jobs succeed. Never both:
  the two would start the same jobs at once, and a crawler already running refuses a start.
- An optional HTTP API webhook (``POST /ingest/{source}``, IAM-authorised) in front of the
  Lambda.
- The Step Functions state machine, from the definition lakelib's pipeline exports
  (``lake run --export-step-functions``); created only when that file exists.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws.apigatewayv2
import pulumi_aws.cloudwatch
import pulumi_aws.glue
import pulumi_aws.iam
import pulumi_aws.lambda_
import pulumi_aws.s3
import pulumi_aws.sfn
from pulumi import ResourceOptions

from lake_platform import iam
from lake_platform.deps import (
    LAMBDA_ARCHITECTURE,
    LAMBDA_PINS,
    LAMBDA_PYTHON,
    LAMBDA_RUNTIME,
    check_bundle,
    read_pins,
)
from lake_platform.layout import ML_JOBS_PREFIX, placeholder_name
from lake_platform.policies import NO_VPC_TAG
from lake_platform.settings import PlatformConfigError, PlatformSettings

LOG_RETENTION_DAYS = 30


@dataclass
class IngestionArgs:
    """Inputs of :class:`Ingestion`."""

    settings: PlatformSettings
    raw_bucket: pulumi.Input[str]
    lambda_role_arn: pulumi.Input[str]
    data_key_arn: pulumi.Input[str]
    crawler_names: Mapping[str, pulumi.Input[str]]
    job_names: Mapping[str, pulumi.Input[str]]
    alerts_topic_arn: pulumi.Input[str]
    # ``s3://<scripts>/config/lake.toml``: the function's LAKE_CONFIG.
    config_uri: pulumi.Input[str] = ""
    # Names the state machine definition may refer to as ``${name}`` placeholders.
    definition_values: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    # The alerts topic's key: the state machine's failure step publishes to the topic.
    alerts_key_arn: pulumi.Input[str] | None = None
    # The subnets the SageMaker jobs it creates must name (the role's create conditions).
    sagemaker_subnet_ids: Sequence[pulumi.Input[str]] = ()


class Ingestion(pulumi.ComponentResource):
    """The Lambda, its schedule, the S3-event path to the crawler, webhook and state machine."""

    def __init__(self, name: str, args: IngestionArgs, opts: ResourceOptions | None = None):
        super().__init__("lakelib:platform:Ingestion", name, None, opts)
        self._name, self._s = name, args.settings
        s, spec = args.settings, args.settings.ingest
        child = ResourceOptions(parent=self)
        function_name = s.resource_name("ingest")

        log_group = pulumi_aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=f"/aws/lambda/{function_name}",
            retention_in_days=LOG_RETENTION_DAYS,
            kms_key_id=args.data_key_arn,
            tags=dict(s.tags),
            opts=child,
        )
        self.function = pulumi_aws.lambda_.Function(
            f"{name}-function",
            name=function_name,
            description="Fetch a source, validate, add metadata, gzip and land in the raw zone",
            runtime=LAMBDA_RUNTIME,
            # The bundled wheels are built for this architecture (deps.check_bundle).
            architectures=[LAMBDA_ARCHITECTURE],
            handler=spec.handler,
            role=args.lambda_role_arn,
            code=self._package(),
            memory_size=spec.memory_mb,
            timeout=spec.timeout_seconds,
            reserved_concurrent_executions=spec.reserved_concurrency,
            layers=list(spec.layers) or None,
            environment={
                "variables": {
                    "S3_RAW_BUCKET": args.raw_bucket,
                    "SOURCE_API_ENDPOINT": spec.source_api_endpoint,
                    "SOURCE_NAME": spec.source_name,
                    "LOG_LEVEL": spec.log_level,
                    "LAKE_PROFILE": "aws",
                    "LAKE_CONFIG": args.config_uri,
                }
            },
            logging_config={"log_format": "JSON", "log_group": log_group.name},
            tracing_config={"mode": "Active"},
            # FSBP Lambda.3, accepted: it calls the source API on the internet, and the VPC
            # has no NAT gateway (README's control table).
            tags={**s.tags, NO_VPC_TAG: "calls-the-source-api-no-nat"},
            opts=ResourceOptions(parent=self, depends_on=[log_group]),
        )

        self.state_machine = self._state_machine(args)
        self.schedule = pulumi_aws.cloudwatch.EventRule(
            f"{name}-daily",
            name=s.resource_name("daily-ingest"),
            description="The daily run, 02:00 UTC",
            schedule_expression=spec.schedule,
            tags=dict(s.tags),
            opts=child,
        )
        if self.state_machine is not None:
            self._schedule_state_machine()
        else:
            pulumi_aws.cloudwatch.EventTarget(
                f"{name}-daily",
                rule=self.schedule.name,
                arn=self.function.arn,
                opts=child,
            )
            pulumi_aws.lambda_.Permission(
                f"{name}-daily",
                function=self.function.name,
                action="lambda:InvokeFunction",
                principal="events.amazonaws.com",
                source_arn=self.schedule.arn,
                opts=child,
            )

        # One orchestrator: the event-driven Glue workflow only when no pipeline is deployed.
        self.workflow = self._event_path(args) if self.state_machine is None else None
        self.webhook_url: pulumi.Output[str] | None = None
        if spec.webhook:
            self.webhook_url = self._webhook()
        self.register_outputs(
            {
                "function_name": self.function.name,
                "state_machine_arn": self.state_machine.arn if self.state_machine else None,
                "webhook_url": self.webhook_url,
            }
        )

    def _package(self) -> pulumi.Archive:
        """The lakelib package as the Lambda's code, plus its pinned third-party packages.

        The dependency folder (``build_artifacts.py`` writes ``build/lambda-deps``) must
        hold exactly ``deps/lambda.txt``, built for the function's Python and architecture;
        anything else fails the deployment here rather than the first invocation.
        """
        source = self._s.lakelib_source
        if not (source / "__init__.py").is_file():
            raise ValueError(f"lakelibSource {source} is not the lakelib package folder")
        entries: dict[str, pulumi.Asset | pulumi.Archive] = {
            "lakelib": pulumi.FileArchive(str(source))
        }
        spec = self._s.ingest
        deps = spec.dependencies_dir
        if not deps:
            if not spec.layers:
                pulumi.log.warn(
                    "ingest.dependenciesDir is not set and no layers are given: the function "
                    "cannot import orjson/urllib3 2 (build them with build_artifacts.py)",
                    resource=self,
                )
            return pulumi.AssetArchive(entries)
        folder = Path(deps) if Path(deps).is_absolute() else self._s.program_dir / deps
        if not folder.is_dir():
            raise ValueError(f"ingest.dependenciesDir {folder} does not exist")
        problems = check_bundle(
            folder, read_pins(LAMBDA_PINS), python=LAMBDA_PYTHON, machine=LAMBDA_ARCHITECTURE
        )
        if problems:
            raise PlatformConfigError(
                f"ingest.dependenciesDir {folder} does not match {LAMBDA_PINS.name}: "
                + "; ".join(problems)
                + " (rebuild it with `python infra/pulumi/build_artifacts.py`)"
            )
        for child in sorted(folder.iterdir()):
            if child.name not in {"lakelib", "bin"} and not child.name.startswith("."):
                entries[child.name] = (
                    pulumi.FileArchive(str(child))
                    if child.is_dir()
                    else pulumi.FileAsset(str(child))
                )
        return pulumi.AssetArchive(entries)

    # -- schedule -> state machine -----------------------------------------------------

    def _schedule_state_machine(self) -> None:
        assert self.state_machine is not None
        s = self._s
        role = pulumi_aws.iam.Role(
            f"{self._name}-scheduler",
            name=s.resource_name("daily-run"),
            assume_role_policy=iam.assume_role_policy(
                "events.amazonaws.com", account_id=s.account_id
            ),
            tags=dict(s.tags),
            opts=ResourceOptions(parent=self),
        )
        pulumi_aws.iam.RolePolicy(
            f"{self._name}-scheduler",
            name="start-pipeline",
            role=role.name,
            policy=iam.document(
                [iam.statement(["states:StartExecution"], [self.state_machine.arn], sid="Start")]
            ),
            opts=ResourceOptions(parent=self),
        )
        pulumi_aws.cloudwatch.EventTarget(
            f"{self._name}-daily",
            rule=self.schedule.name,
            arn=self.state_machine.arn,
            role_arn=role.arn,
            opts=ResourceOptions(parent=self),
        )

    # -- S3 event -> crawler -> jobs -> crawlers ---------------------------------------

    def _event_path(self, args: IngestionArgs) -> pulumi_aws.glue.Workflow:
        """The orchestrator of a platform without the Step Functions pipeline."""
        s, spec, name = self._s, self._s.ingest, self._name
        child = ResourceOptions(parent=self)
        pulumi_aws.s3.BucketNotification(
            f"{name}-raw-events",
            bucket=args.raw_bucket,
            eventbridge=True,
            opts=child,
        )
        workflow = pulumi_aws.glue.Workflow(
            f"{name}-on-arrival",
            name=s.resource_name("on-raw-arrival"),
            description="New raw files -> crawl raw -> ETL jobs -> crawl processed/curated",
            max_concurrent_runs=1,
            tags=dict(s.tags),
            opts=child,
        )
        pulumi_aws.glue.Trigger(
            f"{name}-raw-arrived",
            name=s.resource_name("raw-arrived"),
            type="EVENT",
            workflow_name=workflow.name,
            # One crawl per batch of files (or per window), not one per file.
            event_batching_conditions=[
                {
                    "batch_size": spec.event_batch_size,
                    "batch_window": spec.event_batch_window_seconds,
                }
            ],
            actions=[{"crawler_name": args.crawler_names["raw"]}],
            tags=dict(s.tags),
            opts=child,
        )
        if args.job_names:
            pulumi_aws.glue.Trigger(
                f"{name}-raw-crawled",
                name=s.resource_name("raw-crawled"),
                type="CONDITIONAL",
                workflow_name=workflow.name,
                predicate={
                    "conditions": [
                        {"crawler_name": args.crawler_names["raw"], "crawl_state": "SUCCEEDED"}
                    ]
                },
                actions=[{"job_name": job} for job in args.job_names.values()],
                tags=dict(s.tags),
                opts=child,
            )
            pulumi_aws.glue.Trigger(
                f"{name}-jobs-done",
                name=s.resource_name("etl-done"),
                type="CONDITIONAL",
                workflow_name=workflow.name,
                predicate={
                    "logical": "AND",
                    "conditions": [
                        {"job_name": job, "state": "SUCCEEDED"} for job in args.job_names.values()
                    ],
                },
                actions=[
                    {"crawler_name": args.crawler_names[zone]}
                    for zone in ("processed", "quarantine", "curated")
                    if zone in args.crawler_names
                ],
                tags=dict(s.tags),
                opts=child,
            )
        rule = pulumi_aws.cloudwatch.EventRule(
            f"{name}-raw-object-created",
            name=s.resource_name("raw-object-created"),
            description="A new object in the raw bucket starts the Glue workflow",
            event_pattern=pulumi.Output.json_dumps(
                {
                    "source": ["aws.s3"],
                    "detail-type": ["Object Created"],
                    "detail": {"bucket": {"name": [args.raw_bucket]}},
                }
            ),
            tags=dict(s.tags),
            opts=child,
        )
        workflow_arn = (
            f"arn:aws:glue:{s.region}:{s.account_id}:workflow/{s.resource_name('on-raw-arrival')}"
        )
        role = pulumi_aws.iam.Role(
            f"{name}-events-to-glue",
            name=s.resource_name("raw-events"),
            assume_role_policy=iam.assume_role_policy(
                "events.amazonaws.com", account_id=s.account_id
            ),
            tags=dict(s.tags),
            opts=child,
        )
        pulumi_aws.iam.RolePolicy(
            f"{name}-events-to-glue",
            name="notify-glue-workflow",
            role=role.name,
            policy=iam.document(
                [iam.statement(["glue:notifyEvent"], [workflow_arn], sid="NotifyWorkflow")]
            ),
            opts=child,
        )
        pulumi_aws.cloudwatch.EventTarget(
            f"{name}-raw-object-created",
            rule=rule.name,
            arn=workflow_arn,
            role_arn=role.arn,
            opts=ResourceOptions(parent=self, depends_on=[workflow]),
        )
        return workflow

    # -- webhook -----------------------------------------------------------------------

    def _webhook(self) -> pulumi.Output[str]:
        s, name = self._s, self._name
        child = ResourceOptions(parent=self)
        api = pulumi_aws.apigatewayv2.Api(
            f"{name}-webhook",
            name=s.resource_name("ingest-webhook"),
            protocol_type="HTTP",
            description="Push-style ingestion: a source system POSTs, the Lambda lands it",
            tags=dict(s.tags),
            opts=child,
        )
        integration = pulumi_aws.apigatewayv2.Integration(
            f"{name}-webhook",
            api_id=api.id,
            integration_type="AWS_PROXY",
            integration_uri=self.function.invoke_arn,
            payload_format_version="2.0",
            opts=child,
        )
        pulumi_aws.apigatewayv2.Route(
            f"{name}-webhook",
            api_id=api.id,
            # The same path as `lake serve-ingest` locally: POST /ingest/<source>.
            route_key="POST /ingest/{source}",
            # Callers sign with SigV4; an open webhook would let anyone write to the lake.
            authorization_type="AWS_IAM",
            target=pulumi.Output.concat("integrations/", integration.id),
            opts=child,
        )
        access_logs = pulumi_aws.cloudwatch.LogGroup(
            f"{name}-webhook-access",
            name=f"/aws/apigateway/{s.resource_name('ingest-webhook')}",
            retention_in_days=LOG_RETENTION_DAYS,
            tags=dict(s.tags),
            opts=child,
        )
        pulumi_aws.apigatewayv2.Stage(
            f"{name}-webhook",
            api_id=api.id,
            name="$default",
            auto_deploy=True,
            default_route_settings={"throttling_burst_limit": 20, "throttling_rate_limit": 10},
            access_log_settings={
                "destination_arn": access_logs.arn,
                "format": json.dumps(
                    {
                        "requestId": "$context.requestId",
                        "caller": "$context.identity.caller",
                        "status": "$context.status",
                        "routeKey": "$context.routeKey",
                    }
                ),
            },
            tags=dict(s.tags),
            opts=child,
        )
        pulumi_aws.lambda_.Permission(
            f"{name}-webhook",
            function=self.function.name,
            action="lambda:InvokeFunction",
            principal="apigateway.amazonaws.com",
            source_arn=pulumi.Output.concat(api.execution_arn, "/*/*"),
            opts=child,
        )
        return pulumi.Output.concat(api.api_endpoint, "/ingest/")

    # -- state machine -----------------------------------------------------------------

    def _state_machine(self, args: IngestionArgs) -> pulumi_aws.sfn.StateMachine | None:
        s, name = self._s, self._name
        path = s.state_machine_file
        if not path.is_file():
            pulumi.log.info(
                f"no Step Functions definition at {path}: state machine not created "
                "(write it with `lake run --export-step-functions`)",
                resource=self,
            )
            return None
        template = path.read_text()
        values: dict[str, Any] = {
            **args.definition_values,
            "ingest_function_arn": self.function.arn,
            "raw_bucket": args.raw_bucket,
            "alerts_topic_arn": args.alerts_topic_arn,
            **{
                placeholder_name("crawler", zone=zone): crawler
                for zone, crawler in args.crawler_names.items()
            },
            **{
                placeholder_name("glue_job", name=job): glue_job
                for job, glue_job in args.job_names.items()
            },
        }
        keys = list(values)

        def render(resolved: list[Any]) -> str:
            text = fill_placeholders(template, dict(zip(keys, resolved, strict=True)))
            left = unfilled_placeholders(text)
            if left:
                pulumi.log.warn(
                    f"{path}: no value for {', '.join(left)}; those states will fail when "
                    f"they run (declare the jobs in glueJobs; known: {', '.join(sorted(keys))})",
                    resource=self,
                )
            return _validated_definition(text, path)

        definition = pulumi.Output.all(*values.values()).apply(render)
        child = ResourceOptions(parent=self)
        glue_base = f"arn:aws:glue:{s.region}:{s.account_id}"
        sfn_role = pulumi_aws.iam.Role(
            f"{name}-pipeline",
            name=s.resource_name("pipeline"),
            assume_role_policy=iam.assume_role_policy(
                "states.amazonaws.com", account_id=s.account_id
            ),
            tags=dict(s.tags),
            opts=child,
        )
        job_arns: list[Any] = [
            f"{glue_base}:job/{s.resource_name(job.name)}" for job in s.glue_jobs
        ]
        crawler_arns = [
            pulumi.Output.concat(f"{glue_base}:crawler/", crawler)
            for crawler in args.crawler_names.values()
        ]
        statements = [
            iam.statement(["lambda:InvokeFunction"], [self.function.arn], sid="Ingest"),
            iam.statement(["glue:StartCrawler", "glue:GetCrawler"], crawler_arns, sid="Crawl"),
            iam.statement(["sns:Publish"], [args.alerts_topic_arn], sid="Alert"),
            iam.statement(
                [
                    "logs:CreateLogDelivery",
                    "logs:GetLogDelivery",
                    "logs:UpdateLogDelivery",
                    "logs:DeleteLogDelivery",
                    "logs:ListLogDeliveries",
                    "logs:PutResourcePolicy",
                    "logs:DescribeResourcePolicies",
                    "logs:DescribeLogGroups",
                ],
                ["*"],  # log delivery APIs cannot be scoped to a resource
                sid="ExecutionLogs",
            ),
            iam.statement(
                ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], ["*"], sid="Tracing"
            ),
            iam.kms_use(
                [args.data_key_arn, *([args.alerts_key_arn] if args.alerts_key_arn else [])]
            ),
        ]
        statements += self._integration_statements(template, args)
        if job_arns:
            statements.insert(
                1,
                iam.statement(
                    [
                        "glue:StartJobRun",
                        "glue:GetJobRun",
                        "glue:GetJobRuns",
                        "glue:BatchStopJobRun",
                    ],
                    job_arns,
                    sid="RunEtl",
                ),
            )
        policy = pulumi_aws.iam.RolePolicy(
            f"{name}-pipeline",
            name="run-pipeline",
            role=sfn_role.name,
            policy=iam.document(statements),
            opts=child,
        )
        log_group = pulumi_aws.cloudwatch.LogGroup(
            f"{name}-pipeline-logs",
            name=f"/aws/vendedlogs/states/{s.resource_name('pipeline')}",
            retention_in_days=LOG_RETENTION_DAYS,
            kms_key_id=args.data_key_arn,
            tags=dict(s.tags),
            opts=child,
        )
        return pulumi_aws.sfn.StateMachine(
            f"{name}-pipeline",
            name=s.resource_name("pipeline"),
            role_arn=sfn_role.arn,
            definition=definition,
            type="STANDARD",
            logging_configuration={
                "level": "ERROR",
                "include_execution_data": False,
                "log_destination": pulumi.Output.concat(log_group.arn, ":*"),
            },
            tracing_configuration={"enabled": True},
            encryption_configuration={
                "type": "CUSTOMER_MANAGED_KMS_KEY",
                "kms_key_id": args.data_key_arn,
                "kms_data_key_reuse_period_seconds": 300,
            },
            tags=dict(s.tags),
            opts=ResourceOptions(parent=self, depends_on=[policy]),
        )

    def _integration_statements(self, template: str, args: IngestionArgs) -> list[dict[str, Any]]:
        """Grants for the service integrations the definition uses, and only those."""
        s = self._s
        used = set(_INTEGRATION.findall(template))
        statements: list[dict[str, Any]] = []
        if "aws-sdk:s3:getObject" in used:
            scripts = args.definition_values.get("scripts_bucket")
            if scripts is not None:
                statements.append(
                    iam.statement(
                        ["s3:GetObject"],
                        [pulumi.Output.concat("arn:aws:s3:::", scripts, "/", TRAINING_PLANS)],
                        # train_plan / transform_plan: the plans the prepare steps wrote
                        # (lakelib.ml._sagemaker.training_plan_key).
                        sid="ReadTrainingPlans",
                    )
                )
        sagemaker = sorted(u for u in used if u.startswith("sagemaker:"))
        if sagemaker:
            from lake_platform.security import (
                SAGEMAKER_CREATE_CONDITIONS,
                sagemaker_create_conditions,
            )

            sm = f"arn:aws:sagemaker:{s.region}:{s.account_id}"
            values = args.definition_values
            actions: list[str] = ["sagemaker:AddTags"]
            resources: list[str] = []
            rules: list[str] = []
            creates: list[dict[str, Any]] = []

            def create(kind: str, noun: str) -> None:
                # Only with the stack's subnets, security group, isolation and key, as the
                # SageMaker role's own create statements (FSBP SageMaker rules).
                action = f"sagemaker:Create{kind}"
                creates.append(
                    iam.statement(
                        [action],
                        [f"{sm}:{noun}/*"],
                        sid=f"Create{kind}InTheStacksVpcWithItsKey",
                        conditions=sagemaker_create_conditions(
                            SAGEMAKER_CREATE_CONDITIONS[action],
                            subnet_ids=list(args.sagemaker_subnet_ids),
                            security_group_ids=[values["sagemaker_security_group"]],
                            kms_key_arn=values["sagemaker_kms_key_arn"],
                        ),
                    )
                )
                resources.append(f"{sm}:{noun}/*")

            for kind, noun, rule in (
                ("TrainingJob", "training-job", "TrainingJobs"),
                ("ProcessingJob", "processing-job", "ProcessingJobs"),
                ("TransformJob", "transform-job", "TransformJobs"),
            ):
                if any(u.startswith(f"sagemaker:create{kind}") for u in sagemaker):
                    create(kind, noun)
                    actions += [f"sagemaker:{v}{kind}" for v in ("Describe", "Stop")]
                    # The rule Step Functions manages for `.sync` tasks of this kind.
                    rules.append(
                        f"arn:aws:events:{s.region}:{s.account_id}:rule/"
                        f"StepFunctionsGetEventsForSageMaker{rule}Rule"
                    )
            if "sagemaker:createModel" in sagemaker:
                create("Model", "model")
            statements += [
                *creates,
                iam.statement(actions, resources, sid="RunSageMakerJobs"),
                iam.statement(
                    ["iam:PassRole"],
                    [args.definition_values["sagemaker_role_arn"]],
                    sid="PassSageMakerRole",
                    conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
                ),
            ]
            if rules:
                statements.append(
                    iam.statement(
                        ["events:PutTargets", "events:PutRule", "events:DescribeRule"],
                        rules,
                        sid="SyncSageMakerJobs",
                    )
                )
        return statements


# Service integrations a Task state names: arn:aws:states:::<service>:<action>[.sync].
_INTEGRATION = re.compile(r'"arn:aws:states:::([a-z0-9-]+:[A-Za-z0-9:.-]+)"')
# Where lakelib's train stage writes the plan the state machine reads (scripts bucket).
TRAINING_PLANS = f"{ML_JOBS_PREFIX}plans/*"
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def fill_placeholders(text: str, values: Mapping[str, Any]) -> str:
    """Replace ``${name}`` with platform names; leave everything else alone.

    Not :class:`string.Template`: it would turn the ``$$.Execution.Id`` context paths of
    Step Functions into ``$.Execution.Id``. Unknown names stay as they are.
    """
    return _PLACEHOLDER.sub(lambda m: str(values[m[1]]) if m[1] in values else m[0], text)


def unfilled_placeholders(text: str) -> list[str]:
    """The ``${name}`` placeholders still in a definition, sorted, each once."""
    return sorted({f"${{{m[1]}}}" for m in _PLACEHOLDER.finditer(text)})


def _validated_definition(text: str, path: Any) -> str:
    """Fail the deployment early on a definition that is not JSON (or misses placeholders)."""
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not a valid Step Functions definition: {exc}") from exc
    return text
