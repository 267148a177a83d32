"""The lakelib platform: wires one component per layer and exports what lakelib reads.

``pulumi stack output --json > stack-outputs.json`` writes the outputs as the flat JSON
object the ``aws`` profile of lakelib reads (see README.md). All logic lives in
``lake_platform/``; this file only decides the order and passes names along.
"""

from pathlib import Path

import pulumi
import pulumi_aws
from lake_platform.analytics import Analytics, AnalyticsArgs
from lake_platform.artifacts import Artifacts, ArtifactsArgs
from lake_platform.catalog import Catalog, CatalogArgs
from lake_platform.detective import Detective, DetectiveArgs
from lake_platform.emr import Emr, EmrArgs
from lake_platform.ingestion import Ingestion, IngestionArgs
from lake_platform.ml import Ml, MlArgs
from lake_platform.monitoring import Monitoring, MonitoringArgs
from lake_platform.reporting import Reporting, ReportingArgs
from lake_platform.security import Encryption, EncryptionArgs, Security, SecurityArgs
from lake_platform.settings import PlatformConfigError, load_settings
from lake_platform.storage import Storage, StorageArgs
from lake_platform.studio import Studio, StudioArgs

settings = load_settings(
    pulumi.Config(),
    project=pulumi.get_project(),
    stack=pulumi.get_stack(),
    account_id=pulumi_aws.get_caller_identity().account_id,
    region=pulumi_aws.get_region().region,
    program_dir=Path(__file__).resolve().parent,
)

keys = Encryption("keys", EncryptionArgs(settings))
storage = Storage(
    "storage",
    StorageArgs(
        settings,
        data_key_arn=keys.data_key.arn,
        replica_key_arn=keys.replica_key.arn if keys.replica_key else None,
        trail_key_arn=keys.trail_key.arn,
    ),
)
# The workspace config, the EMR bootstrap and the prebuilt wheels, in the scripts bucket.
artifacts = Artifacts(
    "artifacts", ArtifactsArgs(settings, scripts_bucket=storage.bucket_names["scripts"])
)
security = Security(
    "security",
    SecurityArgs(
        settings,
        bucket_arns=storage.bucket_arns,
        bucket_names=storage.bucket_names,
        data_key_arn=keys.data_key.arn,
        logs_bucket_policy=storage.logs_policy,
        alerts_key_arn=keys.alerts_key.arn,
        trail_key_arn=keys.trail_key.arn,
        trail_bucket_policy=storage.trail_policy,
    ),
)
catalog = Catalog(
    "catalog",
    CatalogArgs(
        settings,
        bucket_names=storage.bucket_names,
        glue_role_arn=security.glue_role.arn,
        data_key_arn=keys.data_key.arn,
        config_uri=artifacts.config_uri,
        modules_uri=artifacts.glue_modules_uri,
        connection_name=security.glue_connection.name,
    ),
)
analytics = Analytics(
    "analytics",
    AnalyticsArgs(
        settings,
        query_results_bucket=storage.bucket_names["query-results"],
        query_results_bucket_arn=storage.bucket_arns["query-results"],
        data_key_arn=keys.data_key.arn,
        analyst_role_name=storage.analyst_role.name if storage.analyst_role else None,
    ),
)
emr = None
if settings.emr.enabled:
    if artifacts.bootstrap_uri is None or artifacts.emr_wheelhouse_uri is None:
        raise PlatformConfigError(
            f"emr.enabled needs the EMR wheelhouse in {settings.wheelhouse}: run "
            "`python infra/pulumi/build_artifacts.py` first (the cluster installs lakelib "
            "from it; its subnets reach no package index)"
        )
    emr = Emr(
        "emr",
        EmrArgs(
            settings,
            vpc_id=security.vpc.id,
            subnet_id=security.private_subnet_ids[0],
            service_role_arn=security.emr_service_role.arn,
            instance_profile_arn=security.emr_instance_profile.arn,
            logs_bucket=storage.bucket_names["logs"],
            data_key_arn=keys.data_key.arn,
            config_uri=artifacts.config_uri,
            bootstrap_uri=artifacts.bootstrap_uri,
            wheelhouse_uri=artifacts.emr_wheelhouse_uri,
            depends_on=[security, artifacts],
        ),
    )
crawler_names = {zone: crawler.name for zone, crawler in catalog.crawlers.items()}
job_names = {job: glue_job.name for job, glue_job in catalog.jobs.items()}
# The pipeline's SageMaker jobs run in these subnets, under this group and key (also exported
# below as the names lakelib's aws profile reads).
sagemaker_subnets = pulumi.Output.all(*security.private_subnet_ids).apply(
    lambda ids: ",".join(str(i) for i in ids if i)
)
ml = Ml(
    "ml",
    MlArgs(
        settings,
        execution_role_arn=security.sagemaker_role.arn,
        vpc_id=security.vpc.id,
        subnet_ids=security.private_subnet_ids,
        security_group_id=security.workload_sg.id,
        data_key_arn=keys.data_key.arn,
        config_uri=artifacts.config_uri,
        scripts_bucket=storage.bucket_names["scripts"],
    ),
)
ingestion = Ingestion(
    "ingestion",
    IngestionArgs(
        settings,
        raw_bucket=storage.bucket_names["raw"],
        lambda_role_arn=security.lambda_role.arn,
        data_key_arn=keys.data_key.arn,
        crawler_names=crawler_names,
        job_names=job_names,
        alerts_topic_arn=settings.alerts_topic_arn,
        alerts_key_arn=keys.alerts_key.arn,
        config_uri=artifacts.config_uri,
        sagemaker_subnet_ids=security.private_subnet_ids,
        definition_values={
            **{f"{zone.replace('-', '_')}_bucket": n for zone, n in storage.bucket_names.items()},
            "database": settings.database,
            "region": settings.region,
            "lake_config_uri": artifacts.config_uri,
            "sagemaker_role_arn": security.sagemaker_role.arn,
            "sagemaker_subnets": sagemaker_subnets,
            "sagemaker_security_group": security.workload_sg.id,
            "sagemaker_kms_key_arn": keys.data_key.arn,
            **({"sagemaker_processing_image": ml.processing_image} if ml.processing_image else {}),
        },
    ),
)
if settings.reporting.enabled:
    Reporting(
        "reporting",
        ReportingArgs(settings, bucket_arns=storage.bucket_arns, data_key_arn=keys.data_key.arn),
    )
monitoring = Monitoring(
    "monitoring",
    MonitoringArgs(
        settings,
        alerts_key_arn=keys.alerts_key.arn,
        function_name=ingestion.function.name,
        job_names=job_names,
        crawler_names=crawler_names,
        bucket_names=storage.bucket_names,
        workgroups=list(analytics.workgroups),
        emr_cluster_id=emr.cluster.id if emr else None,
        state_machine_arn=ingestion.state_machine.arn if ingestion.state_machine else None,
    ),
)

if settings.detective.enabled:
    Detective(
        "detective",
        DetectiveArgs(
            settings,
            logs_bucket=storage.bucket_names["logs"],
            logs_bucket_policy=storage.logs_policy,
        ),
    )
studio = None
if settings.studio.enabled:
    # Studio's kernels and terminals read these names from the file its lifecycle
    # configuration writes (LAKE_STACK_OUTPUTS): the same values as the exports below.
    studio = Studio(
        "studio",
        StudioArgs(
            settings,
            vpc_id=security.vpc.id,
            subnet_ids=security.private_subnet_ids,
            endpoint_security_group_id=security.endpoint_sg.id,
            bucket_arns=storage.bucket_arns,
            data_key_arn=keys.data_key.arn,
            alerts_key_arn=keys.alerts_key.arn,
            jobs_role_arn=security.sagemaker_role.arn,
            job_security_group_id=security.workload_sg.id,
            config_uri=artifacts.config_uri,
            wheelhouse_uri=artifacts.emr_wheelhouse_uri,
            outputs={
                "region": settings.region,
                "database": catalog.database.name,
                **{
                    f"{zone.replace('-', '_')}_bucket": storage.bucket_names[zone]
                    for zone in ("raw", "processed", "curated", "scripts", "query-results")
                },
                "alerts_topic_arn": monitoring.topic.arn,
                "sagemaker_role_arn": security.sagemaker_role.arn,
                "sagemaker_subnets": pulumi.Output.all(*security.private_subnet_ids).apply(
                    ",".join
                ),
                "sagemaker_security_group": security.workload_sg.id,
                "sagemaker_kms_key_arn": keys.data_key.arn,
                "lake_config_uri": artifacts.config_uri,
            },
        ),
    )

# -- outputs: the names lakelib's aws profile reads (flat strings), then the rest -----------
pulumi.export("region", settings.region)
pulumi.export("database", catalog.database.name)
for zone, bucket_name in storage.bucket_names.items():
    pulumi.export(f"{zone.replace('-', '_')}_bucket", bucket_name)
pulumi.export("alerts_topic_arn", monitoring.topic.arn)
pulumi.export("glue_role_arn", security.glue_role.arn)
pulumi.export("sagemaker_role_arn", security.sagemaker_role.arn)
pulumi.export("lambda_role_arn", security.lambda_role.arn)
pulumi.export("emr_service_role_arn", security.emr_service_role.arn)
pulumi.export("emr_instance_profile_arn", security.emr_instance_profile.arn)
if storage.analyst_role is not None:
    pulumi.export("analyst_role_arn", storage.analyst_role.arn)
pulumi.export("data_key_arn", keys.data_key.arn)
pulumi.export("lake_config_uri", artifacts.config_uri)
pulumi.export("workgroups", analytics.workgroup_info())
for name, location in analytics.output_locations.items():
    pulumi.export(f"workgroup_{name}_output_location", location)
pulumi.export("crawlers", crawler_names)
pulumi.export("glue_jobs", job_names)
pulumi.export("ingest_function_name", ingestion.function.name)
pulumi.export("vpc_id", security.vpc.id)
pulumi.export("private_subnet_ids", security.private_subnet_ids)
# What lakelib puts in every SageMaker create request on the aws profile (VpcConfig, volume
# and output KMS keys); the SageMaker role's conditions refuse requests without them.
pulumi.export("sagemaker_subnets", sagemaker_subnets)
pulumi.export("sagemaker_security_group", security.workload_sg.id)
pulumi.export("sagemaker_kms_key_arn", keys.data_key.arn)
pulumi.export("dashboard_name", monitoring.dashboard.dashboard_name)
if emr is not None:
    pulumi.export("emr_cluster_id", emr.cluster.id)
if ingestion.state_machine is not None:
    pulumi.export("state_machine_arn", ingestion.state_machine.arn)
if ml.processing_image is not None:
    pulumi.export("sagemaker_processing_image", ml.processing_image)
if ingestion.webhook_url is not None:
    pulumi.export("webhook_url", ingestion.webhook_url)
if ml.notebook is not None:
    pulumi.export("notebook_instance", ml.notebook.name)
if studio is not None:
    pulumi.export("studio_domain_id", studio.domain.id)
    pulumi.export("studio_user_profile", studio.user_profile.user_profile_name)
    pulumi.export("studio_role_arn", studio.role.arn)
for zone, replica in storage.replicas.items():
    pulumi.export(f"{zone}_replica_bucket", replica.bucket)
