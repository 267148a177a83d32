"""EMR layer (optional, ``emr.enabled``): a Spark cluster for work bigger than Glue suits.

m5.xlarge primary, m5.large core nodes scaled 2–5 by EMR managed scaling, spot task nodes
on top, the Glue Data Catalog as Hive metastore, and auto-termination when idle so a
forgotten cluster stops costing money.

lakelib needs Python 3.11; on EMR 7 ``python3`` is 3.9 and 3.11 is ``/usr/bin/python3.11``.
The bootstrap action (``jobs/emr_bootstrap.sh`` from the scripts bucket) installs lakelib
into it from the prebuilt EMR wheelhouse (the private subnets have no NAT, so no index),
and the ``spark-env`` / ``spark-defaults`` classifications make Spark's drivers and
executors run it, with ``LAKE_CONFIG`` naming the uploaded workspace config.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws.ec2
import pulumi_aws.emr
from pulumi import ResourceOptions

from lake_platform.security import EMR_MANAGED_TAG
from lake_platform.settings import PlatformSettings

GLUE_METASTORE = "com.amazonaws.glue.catalog.metastore.AWSGlueDataCatalogHiveClientFactory"
EMR_PYTHON = "/usr/bin/python3.11"


def cluster_configurations(config_uri: Any) -> list[dict[str, Any]]:
    """The cluster's classifications: Glue catalog, string partitions, Python 3.11, config."""
    env = {"PYSPARK_PYTHON": EMR_PYTHON, "LAKE_CONFIG": config_uri, "LAKE_PROFILE": "aws"}
    # spark-env.sh covers client mode; YARN containers (cluster mode, executors) take the
    # variables from these properties instead.
    yarn_env = {
        f"{prefix}.{name}": value
        for name, value in env.items()
        for prefix in ("spark.yarn.appMasterEnv", "spark.executorEnv")
    }
    return [
        {
            "Classification": "spark-hive-site",
            "Properties": {"hive.metastore.client.factory.class": GLUE_METASTORE},
        },
        {
            "Classification": "hive-site",
            "Properties": {"hive.metastore.client.factory.class": GLUE_METASTORE},
        },
        {
            # Partition values stay strings everywhere (FACTS.md).
            "Classification": "spark-defaults",
            "Properties": {
                "spark.sql.sources.partitionColumnTypeInference.enabled": "false",
                "spark.pyspark.python": EMR_PYTHON,
                **yarn_env,
            },
        },
        {
            "Classification": "spark-env",
            "Properties": {},
            "Configurations": [{"Classification": "export", "Properties": env}],
        },
    ]


@dataclass
class EmrArgs:
    """Inputs of :class:`Emr`."""

    settings: PlatformSettings
    vpc_id: pulumi.Input[str]
    subnet_id: pulumi.Input[str]
    service_role_arn: pulumi.Input[str]
    instance_profile_arn: pulumi.Input[str]
    logs_bucket: pulumi.Input[str]
    data_key_arn: pulumi.Input[str]
    # ``s3://<scripts>/config/lake.toml``, ``s3://<scripts>/jobs/emr_bootstrap.sh`` and the
    # EMR wheelhouse zip it installs (Artifacts).
    config_uri: pulumi.Input[str]
    bootstrap_uri: pulumi.Input[str]
    wheelhouse_uri: pulumi.Input[str]
    # The instance profile's permissions must exist before the cluster boots.
    depends_on: Sequence[pulumi.Resource] = ()


class Emr(pulumi.ComponentResource):
    """An auto-terminating EMR cluster with managed scaling and spot task nodes."""

    def __init__(self, name: str, args: EmrArgs, opts: ResourceOptions | None = None):
        super().__init__("lakelib:platform:Emr", name, None, opts)
        s, spec = args.settings, args.settings.emr
        child = ResourceOptions(parent=self)
        tags = {**s.tags, **EMR_MANAGED_TAG}

        # EMR writes the rules of these groups itself; they start empty and EMR's managed
        # policy may only touch groups carrying the tag.
        def group(role: str, description: str) -> pulumi_aws.ec2.SecurityGroup:
            return pulumi_aws.ec2.SecurityGroup(
                f"{name}-{role}",
                name=s.resource_name(f"emr-{role}"),
                description=description,
                vpc_id=args.vpc_id,
                revoke_rules_on_delete=True,
                tags=tags,
                opts=child,
            )

        primary_sg = group("primary", "EMR primary node (rules managed by EMR)")
        core_sg = group("core", "EMR core and task nodes (rules managed by EMR)")
        service_sg = group("service", "EMR service access in a private subnet")

        security_configuration = pulumi_aws.emr.SecurityConfiguration(
            f"{name}-encryption",
            name=s.resource_name("emr-kms"),
            configuration=pulumi.Output.json_dumps(
                {
                    "EncryptionConfiguration": {
                        "EnableInTransitEncryption": False,
                        "EnableAtRestEncryption": True,
                        "AtRestEncryptionConfiguration": {
                            "S3EncryptionConfiguration": {
                                "EncryptionMode": "SSE-KMS",
                                "AwsKmsKey": args.data_key_arn,
                            },
                            "LocalDiskEncryptionConfiguration": {
                                "EncryptionKeyProviderType": "AwsKms",
                                "AwsKmsKey": args.data_key_arn,
                                "EnableEbsEncryption": True,
                            },
                        },
                    }
                }
            ),
            opts=child,
        )
        self.cluster = pulumi_aws.emr.Cluster(
            f"{name}-cluster",
            name=s.resource_name("emr"),
            release_label=spec.release_label,
            applications=list(spec.applications),
            service_role=args.service_role_arn,
            security_configuration=security_configuration.name,
            log_uri=pulumi.Output.concat("s3://", args.logs_bucket, "/emr/"),
            keep_job_flow_alive_when_no_steps=True,
            auto_termination_policy={"idle_timeout": spec.idle_timeout_seconds},
            ec2_attributes={
                "subnet_id": args.subnet_id,
                "instance_profile": args.instance_profile_arn,
                "emr_managed_master_security_group": primary_sg.id,
                "emr_managed_slave_security_group": core_sg.id,
                "service_access_security_group": service_sg.id,
            },
            master_instance_group={
                "instance_type": spec.primary_instance_type,
                "instance_count": 1,
            },
            core_instance_group={
                "instance_type": spec.core_instance_type,
                "instance_count": spec.core_min,
                "ebs_configs": [{"size": 64, "type": "gp3", "volumes_per_instance": 1}],
            },
            bootstrap_actions=[
                {
                    "name": "install lakelib (python3.11, prebuilt wheels)",
                    "path": args.bootstrap_uri,
                    "args": [args.wheelhouse_uri],
                }
            ],
            configurations_json=pulumi.Output.json_dumps(cluster_configurations(args.config_uri)),
            visible_to_all_users=True,
            tags=tags,
            opts=ResourceOptions(parent=self, depends_on=list(args.depends_on)),
        )
        self.task_group = pulumi_aws.emr.InstanceGroup(
            f"{name}-task-spot",
            cluster_id=self.cluster.id,
            name="task-spot",
            instance_type=spec.task_instance_type,
            instance_count=0,  # managed scaling adds spot task nodes under load
            bid_price=spec.task_bid_price,  # a bid price makes the group spot
            opts=child,
        )
        self.scaling = pulumi_aws.emr.ManagedScalingPolicy(
            f"{name}-scaling",
            cluster_id=self.cluster.id,
            compute_limits=[
                {
                    "unit_type": "Instances",
                    "minimum_capacity_units": spec.core_min,
                    "maximum_capacity_units": spec.core_max + spec.task_spot_max,
                    "maximum_core_capacity_units": spec.core_max,
                    # Everything above the core nodes is spot (the task group).
                    "maximum_ondemand_capacity_units": spec.core_max,
                }
            ],
            opts=child,
        )
        self.register_outputs({"cluster_id": self.cluster.id})
