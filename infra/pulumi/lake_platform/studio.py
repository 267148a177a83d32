"""SageMaker Studio layer (optional, ``sagemakerStudio.enabled``): where data scientists open
the notebooks on AWS.

- a domain in the lake's VPC, ``VpcOnly`` (the apps' traffic stays in the private subnets,
  which have no NAT: AWS is reached through the VPC endpoints only), its EFS encrypted with
  the data key, notebook sharing to S3 off;
- one user profile, and an execution role of its own with what the notebooks and ``lake``
  call on the aws profile (read the lake, query it, write models, runs and predictions,
  start SageMaker jobs under the stack's network and key, publish alerts) plus what Studio
  needs to run the user's JupyterLab spaces; no ``*`` action, every resource scoped;
- a JupyterLab lifecycle configuration, run at every app start, that installs lakelib from
  the wheelhouse in the scripts bucket (``pip install --no-index --find-links``: no package
  index is reachable), adds the ``lakelib (aws)`` kernel, writes the stack's names and
  copies the notebooks into ``~/lakelib-notebooks`` (once), so ``lake --profile aws`` and
  the notebooks work in Studio with no setup;
- the interface endpoints Studio and the kernels call that the network layer does not
  already create (SageMaker API and runtime, STS, CloudWatch Logs, Athena, Glue, SNS).
"""

from __future__ import annotations

import base64
import json
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws.ec2
import pulumi_aws.iam
import pulumi_aws.sagemaker
from pulumi import ResourceOptions

from lake_platform import iam
from lake_platform.artifacts import CONFIG_KEY, LIB_PREFIX
from lake_platform.layout import MODELS_PREFIX, NOTEBOOKS_PREFIX, RUNS_PREFIX
from lake_platform.security import (
    ML_JOBS_PREFIX,
    PREDICTIONS_TABLE,
    endpoint_policy,
    sagemaker_job_statements,
)
from lake_platform.settings import PlatformConfigError, PlatformSettings

# What Studio and the code in its kernels call besides S3 (the gateway endpoint), and why:
# Studio's own control plane and lakelib's training/deploy (sagemaker.api), InvokeEndpoint
# (sagemaker.runtime), credentials and identity (sts), app and lifecycle logs (logs),
# lk.read_sql / load_events (athena), the catalog (glue), `lake report` alerts (sns).
# KMS is not called by the code (S3 and Athena use the keys server-side) and CloudWatch
# metrics are written as EMF log lines, not PutMetricData.
STUDIO_ENDPOINTS = ("sagemaker.api", "sagemaker.runtime", "sts", "logs", "athena", "glue", "sns")

# Where the lifecycle configuration puts things in the user's home (the space's EBS volume).
HOME_FOLDER = "$HOME/.lakelib"
# The notebooks as the pipeline's processing job runs them (``ml.Ml`` uploads them there),
# copied once into the user's home with the kernel set to lakelib's: the domain reaches no
# Git host on the internet.
NOTEBOOKS_FOLDER = "lakelib-notebooks"
KERNEL_NAME = "lakelib"
KERNEL_DISPLAY_NAME = "lakelib (aws)"

# The stack outputs lakelib's aws profile reads (lakelib.config AWS_OUTPUT_ENV) that the
# lifecycle configuration writes to the LAKE_STACK_OUTPUTS file.
STUDIO_OUTPUT_NAMES = (
    "region",
    "database",
    "raw_bucket",
    "processed_bucket",
    "curated_bucket",
    "scripts_bucket",
    "query_results_bucket",
    "alerts_topic_arn",
    "sagemaker_role_arn",
    "sagemaker_subnets",
    "sagemaker_security_group",
    "sagemaker_kms_key_arn",
    "lake_config_uri",
)

# The SageMaker Distribution image of each region (AWS's SageMaker developer guide, the
# table of Code Editor / JupyterLab image ARNs); spaces start on its 2.x line, the one
# with Python 3.11 (2.14.11: CPython 3.11.11), the wheelhouse's Python. Stack config
# sagemakerStudio.imageArn / imageVersionAlias override it; a region not listed here gets
# the domain's default image and a warning.
SMD_IMAGE_ACCOUNTS: Mapping[str, str] = {
    "us-east-1": "885854791233",
    "us-west-1": "053634841547",
    "us-west-2": "542918446943",
    "af-south-1": "238384257742",
    "ap-east-1": "523751269255",
    "ap-south-1": "245090515133",
    "ap-northeast-1": "010972774902",
    "ap-northeast-2": "064688005998",
    "ap-northeast-3": "564864627153",
    "ap-southeast-1": "022667117163",
    "ap-southeast-2": "648430277019",
    "ap-southeast-3": "370607712162",
    "ca-central-1": "481561238223",
    "eu-central-1": "545423591354",
    "eu-west-1": "819792524951",
    "eu-west-2": "021081402939",
    "eu-west-3": "856416204555",
    "eu-north-1": "175620155138",
    "eu-south-1": "810671768855",
    "sa-east-1": "567556641782",
    "me-south-1": "523774347010",
    "me-central-1": "358593528301",
    "il-central-1": "080319125002",
}
SMD_VERSION_ALIAS = "2"


def space_image(region: str, image_arn: str = "", alias: str = "") -> tuple[str, str]:
    """(image ARN, version alias) a JupyterLab space starts on; ``("", "")``: the domain's
    default (an unlisted region and no stack config)."""
    if image_arn:
        return image_arn, alias
    account = SMD_IMAGE_ACCOUNTS.get(region)
    if account is None:
        return "", alias
    arn = f"arn:aws:sagemaker:{region}:{account}:image/sagemaker-distribution-cpu"
    return arn, alias or SMD_VERSION_ALIAS


# Studio's app actions that AWS does not scope to a resource (listing spaces and apps).
STUDIO_LIST_ACTIONS = ("sagemaker:ListApps", "sagemaker:ListSpaces")


def lifecycle_script(
    *, wheelhouse_uri: str, config_uri: str, region: str, outputs: Mapping[str, str]
) -> str:
    """The JupyterLab lifecycle configuration: install lakelib offline, add its kernel, set
    the stack's names for kernels and terminals, copy the notebooks into the home folder.

    It runs as the space's user at every app start (5 minutes at most) and reinstalls only
    when the wheelhouse changed. The venv sees the image's packages (``ipykernel`` comes from
    the SageMaker Distribution image); lakelib's pins shadow the image's where they differ.
    """
    bucket, _, key = wheelhouse_uri.removeprefix("s3://").partition("/")
    name = key.rsplit("/", 1)[-1]
    stack_outputs = json.dumps(dict(sorted(outputs.items())), indent=1)
    env = {
        "LAKE_PROFILE": "aws",
        "LAKE_CONFIG": config_uri,
        "AWS_DEFAULT_REGION": region,
        # The global STS endpoint is on the internet; the VPC has the regional one.
        "AWS_STS_REGIONAL_ENDPOINTS": "regional",
    }
    exports = "\n".join(f"export {k}={shlex.quote(v)}" for k, v in env.items())
    return f"""#!/bin/bash
# lakelib in SageMaker Studio (JupyterLab): installs lakelib from the stack's scripts bucket
# with no package index (the domain is VPC-only, without NAT), adds the "{KERNEL_DISPLAY_NAME}"
# kernel and sets LAKE_PROFILE=aws and the stack's names for kernels and terminals.
set -euo pipefail
home="{HOME_FOLDER}"
venv="$home/venv"
# The image's Python, taken before env.sh puts the venv first on PATH (a reinstall removes it).
python="$(command -v python3)"
mkdir -p "$home"

cat > "$home/stack-outputs.json" <<'JSON'
{stack_outputs}
JSON
cat > "$home/env.sh" <<'ENV'
{exports}
export LAKE_STACK_OUTPUTS="$HOME/.lakelib/stack-outputs.json"
export PATH="$HOME/.lakelib/venv/bin:$PATH"
ENV
line='. "$HOME/.lakelib/env.sh"'
grep -qxF "$line" "$HOME/.bashrc" 2>/dev/null || echo "$line" >> "$HOME/.bashrc"
. "$home/env.sh"

"$python" - <<'PY'
import sys
if sys.version_info[:2] != (3, 11):
    sys.exit(
        "lakelib's wheelhouse is built for CPython 3.11; this image runs "
        f"{{sys.version.split()[0]}}: pick a SageMaker Distribution 2.x image for the space"
    )
PY
if [ ! -f "$venv/.installed-{name}" ]; then
  work="$(mktemp -d)"
  "$python" - "$work/wheelhouse.zip" <<'PY'
import sys
import boto3
boto3.client("s3", region_name={region!r}).download_file({bucket!r}, {key!r}, sys.argv[1])
PY
  "$python" -m zipfile -e "$work/wheelhouse.zip" "$work"
  rm -rf "$venv"
  "$python" -m venv --system-site-packages "$venv"
  "$venv/bin/python" -m pip install --quiet --no-index --find-links "$work/wheels" \\
    -r "$work/wheels/requirements.txt"
  rm -rf "$work"
  touch "$venv/.installed-{name}"
fi

# The notebooks, once: a later start never overwrites what the user changed.
if [ ! -d "$HOME/{NOTEBOOKS_FOLDER}" ]; then
  "$python" - "$HOME/{NOTEBOOKS_FOLDER}" <<'PY'
import json, os, sys
import boto3
s3 = boto3.client("s3", region_name={region!r})
target = sys.argv[1]
partial = target + ".part"  # renamed when complete: a failed copy is retried next start
os.makedirs(partial, exist_ok=True)
listing = s3.get_paginator("list_objects_v2")
for page in listing.paginate(Bucket={bucket!r}, Prefix={NOTEBOOKS_PREFIX!r}):
    for item in page.get("Contents", []):
        name = item["Key"].rsplit("/", 1)[-1]
        if name.endswith(".ipynb"):
            body = s3.get_object(Bucket={bucket!r}, Key=item["Key"])["Body"].read()
            notebook = json.loads(body)
            notebook.setdefault("metadata", {{}})["kernelspec"] = {{
                "name": "{KERNEL_NAME}",
                "display_name": "{KERNEL_DISPLAY_NAME}",
                "language": "python",
            }}
            with open(os.path.join(partial, name), "w") as handle:
                json.dump(notebook, handle, indent=1)
os.rename(partial, target)
PY
fi

kernel="$HOME/.local/share/jupyter/kernels/{KERNEL_NAME}"
mkdir -p "$kernel"
"$venv/bin/python" - "$kernel/kernel.json" <<'PY'
import json, os, sys
names = ("LAKE_PROFILE", "LAKE_CONFIG", "LAKE_STACK_OUTPUTS", "AWS_DEFAULT_REGION",
         "AWS_STS_REGIONAL_ENDPOINTS")
spec = {{
    "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{{connection_file}}"],
    "display_name": "{KERNEL_DISPLAY_NAME}",
    "language": "python",
    "env": {{n: os.environ[n] for n in names}},
}}
with open(sys.argv[1], "w") as handle:
    json.dump(spec, handle, indent=1)
PY
echo "lakelib ready: kernel '{KERNEL_DISPLAY_NAME}', lake --profile aws in terminals"
"""


@dataclass
class StudioArgs:
    """Inputs of :class:`Studio`."""

    settings: PlatformSettings
    vpc_id: pulumi.Input[str]
    subnet_ids: Sequence[pulumi.Input[str]]
    # The network layer's endpoint security group (HTTPS from the VPC).
    endpoint_security_group_id: pulumi.Input[str]
    bucket_arns: Mapping[str, pulumi.Input[str]]
    data_key_arn: pulumi.Input[str]
    alerts_key_arn: pulumi.Input[str]
    # The role SageMaker jobs run as (lakelib passes it to training and transform jobs).
    jobs_role_arn: pulumi.Input[str]
    # Where SageMaker jobs must run (the jobs role's policy conditions require them).
    job_security_group_id: pulumi.Input[str]
    config_uri: pulumi.Input[str]
    # ``s3://<scripts>/jobs/lib/lakelib-<v>-emr7.zip``: lakelib and its whole closure.
    wheelhouse_uri: pulumi.Input[str] | None
    # STUDIO_OUTPUT_NAMES -> value, written where lakelib's aws profile reads them.
    outputs: Mapping[str, pulumi.Input[str]]


class Studio(pulumi.ComponentResource):
    """A VPC-only SageMaker Studio domain with one user profile, set up for lakelib."""

    domain: pulumi_aws.sagemaker.Domain
    user_profile: pulumi_aws.sagemaker.UserProfile
    role: pulumi_aws.iam.Role
    lifecycle_config: pulumi_aws.sagemaker.StudioLifecycleConfig
    endpoints: dict[str, pulumi_aws.ec2.VpcEndpoint]

    def __init__(self, name: str, args: StudioArgs, opts: ResourceOptions | None = None):
        super().__init__("lakelib:platform:Studio", name, None, opts)
        s = args.settings
        spec = s.studio
        if args.wheelhouse_uri is None:
            raise PlatformConfigError(
                f"sagemakerStudio.enabled needs the wheelhouse in {s.wheelhouse}: run "
                "`python infra/pulumi/build_artifacts.py` first (Studio installs lakelib from "
                "it; the VPC-only domain reaches no package index)"
            )
        child = ResourceOptions(parent=self)

        self.endpoints = {
            service: pulumi_aws.ec2.VpcEndpoint(
                f"{name}-{service.replace('.', '-')}",
                vpc_id=args.vpc_id,
                service_name=f"com.amazonaws.{s.region}.{service}",
                vpc_endpoint_type="Interface",
                private_dns_enabled=True,
                subnet_ids=list(args.subnet_ids),
                security_group_ids=[args.endpoint_security_group_id],
                # This account's principals only, as the network layer's endpoints. Studio
                # lists spaces and apps (actions with no resource), so on the API endpoint
                # the perimeter is the caller's account, not this account's ARNs.
                policy=endpoint_policy(
                    service,
                    s.region,
                    s.account_id,
                    ["*"] if service == "sagemaker.api" else (),
                ),
                tags={**s.tags, "Name": s.resource_name(service)},
                opts=child,
            )
            for service in STUDIO_ENDPOINTS
            if service not in s.interface_endpoints
        }
        self.security_group = pulumi_aws.ec2.SecurityGroup(
            f"{name}-apps",
            name=s.resource_name("studio-apps"),
            description="Studio apps: each other, NFS to the domain EFS, HTTPS to endpoints",
            vpc_id=args.vpc_id,
            ingress=[
                {
                    "protocol": "tcp",
                    "from_port": 0,
                    "to_port": 65535,
                    "self": True,
                    "description": "JupyterLab, kernels and the home EFS (NFS) of the domain",
                }
            ],
            egress=[
                {
                    "protocol": "tcp",
                    "from_port": 0,
                    "to_port": 65535,
                    "self": True,
                    "description": "JupyterLab, kernels and the home EFS (NFS) of the domain",
                },
                {
                    "protocol": "tcp",
                    "from_port": 2049,
                    "to_port": 2049,
                    # The domain's EFS mount targets sit in an NFS group SageMaker creates.
                    "cidr_blocks": [s.vpc_cidr],
                    "description": "NFS to the domain's home EFS (its mount targets)",
                },
                {
                    "protocol": "tcp",
                    "from_port": 443,
                    "to_port": 443,
                    # No NAT: only the interface endpoints and the S3 gateway are routable.
                    "cidr_blocks": ["0.0.0.0/0"],
                    "description": "HTTPS to the VPC endpoints and the S3 gateway endpoint",
                },
            ],
            tags=dict(s.tags),
            opts=child,
        )
        self.role = pulumi_aws.iam.Role(
            f"{name}-role",
            name=s.resource_name("studio"),
            assume_role_policy=iam.assume_role_policy("sagemaker.amazonaws.com"),
            tags=dict(s.tags),
            opts=child,
        )
        outputs = pulumi.Output.all(
            *(pulumi.Output.from_input(args.outputs[n]) for n in STUDIO_OUTPUT_NAMES)
        ).apply(lambda values: dict(zip(STUDIO_OUTPUT_NAMES, values, strict=True)))
        script = pulumi.Output.all(
            pulumi.Output.from_input(args.wheelhouse_uri), args.config_uri, outputs
        ).apply(
            lambda v: lifecycle_script(
                wheelhouse_uri=v[0], config_uri=v[1], region=s.region, outputs=v[2]
            )
        )
        self.lifecycle_config = pulumi_aws.sagemaker.StudioLifecycleConfig(
            f"{name}-install-lakelib",
            studio_lifecycle_config_name=s.resource_name("install-lakelib"),
            studio_lifecycle_config_app_type="JupyterLab",
            studio_lifecycle_config_content=script.apply(
                lambda text: base64.b64encode(text.encode()).decode()
            ),
            tags=dict(s.tags),
            opts=child,
        )
        resource_spec: dict[str, Any] = {
            "lifecycle_config_arn": self.lifecycle_config.arn,
            "instance_type": spec.instance_type,
        }
        image_arn, alias = space_image(s.region, spec.image_arn, spec.image_version_alias)
        if image_arn:
            resource_spec["sagemaker_image_arn"] = image_arn
        else:
            pulumi.log.warn(
                f"no SageMaker Distribution image known for {s.region}: spaces start on the "
                "domain's default image; lakelib's wheelhouse needs Python 3.11 (set "
                "sagemakerStudio.imageArn and imageVersionAlias to a 2.x image)",
                resource=self,
            )
        if alias:
            resource_spec["sagemaker_image_version_alias"] = alias
        jupyter_lab = {
            "lifecycle_config_arns": [self.lifecycle_config.arn],
            "default_resource_spec": resource_spec,
        }
        self.domain = pulumi_aws.sagemaker.Domain(
            f"{name}-domain",
            domain_name=s.resource_name("studio"),
            auth_mode="IAM",
            vpc_id=args.vpc_id,
            subnet_ids=list(args.subnet_ids),
            app_network_access_type="VpcOnly",
            kms_key_id=args.data_key_arn,
            default_user_settings={
                "execution_role": self.role.arn,
                "security_groups": [self.security_group.id],
                "studio_web_portal": "ENABLED",
                "default_landing_uri": "studio::",
                "jupyter_lab_app_settings": jupyter_lab,
                # Notebooks hold the lake's data in their outputs: no sharing copies to S3.
                "sharing_settings": {"notebook_output_option": "Disabled"},
            },
            default_space_settings={
                "execution_role": self.role.arn,
                "security_groups": [self.security_group.id],
                "jupyter_lab_app_settings": jupyter_lab,
            },
            tags=dict(s.tags),
            opts=child,
        )
        self.user_profile = pulumi_aws.sagemaker.UserProfile(
            f"{name}-user",
            domain_id=self.domain.id,
            user_profile_name=spec.user_profile,
            user_settings={
                "execution_role": self.role.arn,
                "security_groups": [self.security_group.id],
            },
            tags=dict(s.tags),
            opts=child,
        )
        self.role_policy = pulumi_aws.iam.RolePolicy(
            f"{name}-role",
            name="studio-least-privilege",
            role=self.role.name,
            policy=iam.document(studio_statements(args, self.domain.id)),
            opts=child,
        )
        self.register_outputs(
            {
                "domain_id": self.domain.id,
                "user_profile": self.user_profile.user_profile_name,
                "execution_role_arn": self.role.arn,
            }
        )


def studio_statements(args: StudioArgs, domain_id: pulumi.Input[str]) -> list[dict[str, Any]]:
    """The Studio execution role's policy: what the notebooks, ``lake`` and Studio call."""
    s, a = args.settings, args.bucket_arns
    sm = f"arn:aws:sagemaker:{s.region}:{s.account_id}"
    logs = f"arn:aws:logs:{s.region}:{s.account_id}:log-group:/aws/sagemaker"
    groups = list(s.workgroups)
    return [
        # `lake status` and 01_explore size every zone; Athena reads a queried table's files
        # with the caller's credentials, so every zone with tables is readable.
        iam.statement(
            ["s3:ListBucket", "s3:GetBucketLocation"],
            [a[z] for z in ("raw", "processed", "curated", "scripts", "query-results")],
            sid="ListLakeBuckets",
        ),
        iam.statement(
            ["s3:GetObject"],
            [
                iam.bucket_objects(a["raw"]),
                iam.bucket_objects(a["processed"]),
                iam.bucket_objects(a["curated"]),
                iam.bucket_object(a["scripts"], CONFIG_KEY),
                # The wheelhouse and the notebooks the lifecycle configuration installs.
                iam.bucket_objects(a["scripts"], LIB_PREFIX),
                iam.bucket_objects(a["scripts"], NOTEBOOKS_PREFIX),
            ],
            sid="ReadTheLake",
        ),
        iam.statement(
            list(iam.S3_READ_WRITE_ACTIONS),
            [
                iam.bucket_objects(a["scripts"], MODELS_PREFIX),
                iam.bucket_objects(a["scripts"], RUNS_PREFIX),
                iam.bucket_objects(a["scripts"], ML_JOBS_PREFIX),
                iam.bucket_objects(a["curated"], f"{PREDICTIONS_TABLE}/"),
                *(iam.bucket_objects(a["query-results"], f"{g}/") for g in groups),
            ],
            sid="ModelsRunsTrainingInputsPredictionsQueryResults",
        ),
        iam.statement(
            list(iam.ATHENA_QUERY_ACTIONS),
            [f"arn:aws:athena:{s.region}:{s.account_id}:workgroup/{g}" for g in groups],
            sid="QueryInTheLakesWorkgroups",
        ),
        iam.statement(
            list(iam.GLUE_READ_ACTIONS),
            iam.glue_catalog_arns(s.region, s.account_id, s.database),
            sid="ReadCatalog",
        ),
        iam.statement(
            [a for a in iam.GLUE_WRITE_ACTIONS if a not in iam.GLUE_READ_ACTIONS],
            [
                f"arn:aws:glue:{s.region}:{s.account_id}:catalog",
                f"arn:aws:glue:{s.region}:{s.account_id}:database/{s.database}",
                f"arn:aws:glue:{s.region}:{s.account_id}:table/{s.database}/{PREDICTIONS_TABLE}",
            ],
            sid="CatalogPredictions",
        ),
        # Training, deploy and transform from a notebook or `lake`: the same calls, under the
        # same VPC, isolation and key conditions, as the jobs role's.
        *sagemaker_job_statements(
            sm,
            subnet_ids=list(args.subnet_ids),
            security_group_ids=[args.job_security_group_id],
            kms_key_arn=args.data_key_arn,
        ),
        iam.statement(
            ["iam:PassRole"],
            [args.jobs_role_arn],
            sid="PassTheJobsRoleToSageMaker",
            conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
        ),
        # Studio itself: the user's JupyterLab spaces and apps in this domain only.
        iam.statement(
            ["sagemaker:DescribeDomain"],
            [pulumi.Output.concat(f"{sm}:domain/", domain_id)],
            sid="StudioDomain",
        ),
        iam.statement(
            [
                "sagemaker:DescribeUserProfile",
                "sagemaker:CreateSpace",
                "sagemaker:UpdateSpace",
                "sagemaker:DeleteSpace",
                "sagemaker:DescribeSpace",
                "sagemaker:CreateApp",
                "sagemaker:DeleteApp",
                "sagemaker:DescribeApp",
                "sagemaker:AddTags",
                "sagemaker:ListTags",
            ],
            [
                pulumi.Output.concat(f"{sm}:user-profile/", domain_id, "/*"),
                pulumi.Output.concat(f"{sm}:space/", domain_id, "/*"),
                pulumi.Output.concat(f"{sm}:app/", domain_id, "/*"),
            ],
            sid="StudioSpacesAndApps",
        ),
        iam.statement(list(STUDIO_LIST_ACTIONS), ["*"], sid="StudioListsSpacesAndApps"),
        iam.statement(
            ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            [f"{logs}/studio", f"{logs}/studio:log-stream:*"],
            sid="StudioAppLogs",
        ),
        iam.statement(
            ["logs:DescribeLogStreams", "logs:GetLogEvents"],
            [
                f"{logs}/{kind}Jobs{suffix}"
                for kind in ("Training", "Processing", "Transform")
                for suffix in ("", ":log-stream:*")
            ],
            sid="ReadJobLogs",
        ),
        iam.statement(["sns:Publish"], [s.alerts_topic_arn], sid="LakeReportAlerts"),
        iam.kms_use([args.data_key_arn]),
        iam.statement(
            ["kms:GenerateDataKey", "kms:Decrypt"],
            [args.alerts_key_arn],
            sid="PublishToTheEncryptedAlertsTopic",
        ),
    ]
