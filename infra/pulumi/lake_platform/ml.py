"""ML layer: where data scientists work with the SageMaker execution role.

``mlMode`` picks a notebook instance (ml.t3.medium, 20 GB: the design's default), a
SageMaker Studio domain, or neither. Either way it runs in the private subnets with no
direct internet access, encrypted with the lake's key, and reaches the lake through the
role, which may read features and write models under ``models/`` of the scripts bucket.

The notebook instance's kernels get ``LAKE_PROFILE=aws`` and ``LAKE_CONFIG`` naming the
uploaded workspace config (a lifecycle configuration writes them where the Jupyter server
reads its environment and restarts it), so ``lakelib`` there reads the same ``lake.toml``
as every job.

With the Step Functions pipeline deployed, its SageMaker processing jobs (the steps around
the training and transform jobs, the report, the notebooks with papermill) need three
things here: the entry script ``jobs/pipeline_stage.py`` and the notebooks in the scripts
bucket (``jobs/notebooks/``), and the processing image: a private ECR repository
(``<stack>-processing``, immutable tags, scanned on push, KMS-encrypted) whose
``lakelib-py311`` tag must hold an image with Python 3.11, Jupyter's kernel, papermill and
matplotlib (e.g. the SageMaker Distribution 2.x CPU image, re-tagged: processing jobs pull
only from ECR). lakelib itself is installed in the job from the wheelhouse, without an index.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws.ecr
import pulumi_aws.s3
import pulumi_aws.sagemaker
from pulumi import ResourceOptions

from lake_platform.layout import NOTEBOOKS_PREFIX, SCRIPTS_PREFIX
from lake_platform.settings import PlatformSettings

NOTEBOOK_INSTANCE_TYPE = "ml.t3.medium"
NOTEBOOK_VOLUME_GB = 20
# The tag of the processing image the state machine's processing jobs run.
PROCESSING_IMAGE_TAG = "lakelib-py311"
STAGE_SCRIPT = "pipeline_stage.py"


@dataclass
class MlArgs:
    """Inputs of :class:`Ml`."""

    settings: PlatformSettings
    execution_role_arn: pulumi.Input[str]
    vpc_id: pulumi.Input[str]
    subnet_ids: Sequence[pulumi.Input[str]]
    security_group_id: pulumi.Input[str]
    data_key_arn: pulumi.Input[str]
    # ``s3://<scripts>/config/lake.toml``.
    config_uri: pulumi.Input[str] = ""
    # Where the pipeline's processing jobs find their script and notebooks (jobs/ prefix).
    scripts_bucket: pulumi.Input[str] | None = None


def notebook_on_start(config_uri: str) -> str:
    """The notebook instance's on-start script: lakelib's settings for every kernel."""
    return f"""#!/bin/bash
# lakelib: kernels inherit the Jupyter server's environment; set it and restart the server.
set -euo pipefail
cat > /etc/profile.d/jupyter-env.sh <<'ENV'
export LAKE_PROFILE=aws
export LAKE_CONFIG={config_uri}
ENV
if grep -q "amazon-linux-ami" /etc/os-release; then
  initctl restart jupyter-server --no-wait
else
  systemctl --no-block restart jupyter-server.service
fi
"""


class Ml(pulumi.ComponentResource):
    """A SageMaker notebook instance or Studio domain on the lake's private network."""

    notebook: pulumi_aws.sagemaker.NotebookInstance | None
    domain: pulumi_aws.sagemaker.Domain | None

    def __init__(self, name: str, args: MlArgs, opts: ResourceOptions | None = None):
        super().__init__("lakelib:platform:Ml", name, None, opts)
        s = args.settings
        child = ResourceOptions(parent=self)
        self.notebook = None
        self.domain = None
        self.processing_image: pulumi.Output[str] | None = None
        self.processing_repository: pulumi_aws.ecr.Repository | None = None
        if s.deploys_state_machine and args.scripts_bucket is not None:
            self._pipeline_jobs(name, args)
        if s.ml_mode == "notebook":
            lifecycle = pulumi_aws.sagemaker.NotebookInstanceLifecycleConfiguration(
                f"{name}-notebook-env",
                name=s.resource_name("notebook-env"),
                on_start=pulumi.Output.from_input(args.config_uri).apply(
                    lambda uri: base64.b64encode(notebook_on_start(uri).encode()).decode()
                ),
                opts=child,
            )
            self.notebook = pulumi_aws.sagemaker.NotebookInstance(
                f"{name}-notebook",
                name=s.resource_name("notebook"),
                instance_type=NOTEBOOK_INSTANCE_TYPE,
                volume_size=NOTEBOOK_VOLUME_GB,
                role_arn=args.execution_role_arn,
                subnet_id=args.subnet_ids[0],
                security_groups=[args.security_group_id],
                # Traffic leaves only through the VPC endpoints; no root for notebook users.
                direct_internet_access="Disabled",
                root_access="Disabled",
                kms_key_id=args.data_key_arn,
                lifecycle_config_name=lifecycle.name,
                instance_metadata_service_configuration={
                    "minimum_instance_metadata_service_version": "2"
                },
                tags=dict(s.tags),
                opts=child,
            )
        elif s.ml_mode == "domain":
            self.domain = pulumi_aws.sagemaker.Domain(
                f"{name}-domain",
                domain_name=s.resource_name("studio"),
                auth_mode="IAM",
                vpc_id=args.vpc_id,
                subnet_ids=list(args.subnet_ids),
                app_network_access_type="VpcOnly",
                kms_key_id=args.data_key_arn,
                default_user_settings={
                    "execution_role": args.execution_role_arn,
                    "security_groups": [args.security_group_id],
                },
                tags=dict(s.tags),
                opts=child,
            )
        self.register_outputs(
            {
                "notebook": self.notebook.name if self.notebook else None,
                "domain_id": self.domain.id if self.domain else None,
                "processing_image": self.processing_image,
            }
        )

    def _pipeline_jobs(self, name: str, args: MlArgs) -> None:
        """The processing image's repository, the entry script and the notebooks."""
        s = args.settings
        child = ResourceOptions(parent=self)
        self.processing_repository = pulumi_aws.ecr.Repository(
            f"{name}-processing",
            name=s.resource_name("processing"),
            image_tag_mutability="IMMUTABLE",
            image_scanning_configuration={"scan_on_push": True},
            encryption_configurations=[{"encryption_type": "KMS", "kms_key": args.data_key_arn}],
            tags=dict(s.tags),
            opts=child,
        )
        # The repository URL AWS gives, spelled from its parts (known before the repository).
        registry = f"{s.account_id}.dkr.ecr.{s.region}.amazonaws.com"
        self.processing_image = pulumi.Output.concat(
            registry, "/", self.processing_repository.name, ":", PROCESSING_IMAGE_TAG
        )
        uploads = {f"{SCRIPTS_PREFIX}{STAGE_SCRIPT}": s.jobs_dir / STAGE_SCRIPT}
        notebooks = s.jobs_dir.parent / "notebooks"
        uploads.update(
            {f"{NOTEBOOKS_PREFIX}{path.name}": path for path in sorted(notebooks.glob("*.ipynb"))}
        )
        for key, path in uploads.items():
            if not path.is_file():
                pulumi.log.warn(f"{path} does not exist: not uploaded to {key}", resource=self)
                continue
            pulumi_aws.s3.BucketObjectv2(
                f"{name}-{key.removeprefix(SCRIPTS_PREFIX).replace('/', '-')}",
                bucket=args.scripts_bucket,
                key=key,
                source=pulumi.FileAsset(str(path)),
                content_type="text/x-python" if key.endswith(".py") else "application/json",
                opts=child,
            )
