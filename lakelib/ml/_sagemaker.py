"""The SageMaker backend: script-mode training (spot), endpoints (serverless or instances),
batch transform, from the same entry script and ``model.tar.gz`` as the local backend.

Plain boto3 control-plane calls through :func:`lakelib.aws.client`, no sagemaker SDK (see
``docs/decisions/0001-sagemaker-sdk.md``). What the SDK would add is reproduced where it
matters for compatibility: the ``sourcedir.tar.gz`` layout, the ``sagemaker_program`` /
``sagemaker_submit_directory`` hyperparameters and ``SAGEMAKER_PROGRAM`` /
``SAGEMAKER_SUBMIT_DIRECTORY`` environment, JSON-encoded hyperparameters, and the
scikit-learn container image URIs. The request builders are pure functions, tested for shape;
the classes upload, call and wait.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import tarfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lakelib.config import Settings, Zone, get_settings
from lakelib.config._layout import sklearn_image
from lakelib.errors import ConfigError, MlError
from lakelib.ml._registry import ModelRegistry, model_settings
from lakelib.storage import open_store, zone_store

log = logging.getLogger(__name__)

FRAMEWORK_VERSION = "1.4-2"  # sagemaker-scikit-learn image tag: scikit-learn 1.4.2
# The sagemaker-scikit-learn images' repository and ECR registry account per region, from
# lakelib/layout.toml (the program scopes the role's image pulls to the same); other
# regions: set [ml] image_uri.
SKLEARN_REPOSITORY, SKLEARN_REGISTRIES = sklearn_image()
ENTRY_POINT = "train.py"
INFERENCE_POINT = "inference.py"
# Modules the container needs: standard library + numpy/pandas/scikit-learn/joblib only.
BUNDLED_MODULES = (
    "errors.py",
    "ml/_features.py",
    "ml/_artifact.py",
    "ml/_script.py",
    "ml/_inference.py",
)
TRAIN_ENTRY = (
    '"""SageMaker script-mode entry point (same as jobs/train.py)."""\n'
    "import sys\n\nfrom lakelib.ml._script import main\n\n"
    'if __name__ == "__main__":\n    sys.exit(main())\n'
)
INFERENCE_ENTRY = (
    '"""SageMaker inference entry point: the toolkit imports these four functions."""\n'
    "from lakelib.ml._inference import input_fn, model_fn, output_fn, predict_fn  # noqa: F401\n"
)
METRIC_DEFINITIONS = [
    {"Name": name, "Regex": f"metric {name}=([-0-9.eE]+);"}
    for name in ("roc_auc", "pr_auc", "baseline_prior_pr_auc", "baseline_recency_roc_auc")
]
TERMINAL = {"Completed", "Failed", "Stopped"}
# Where a script-mode job finds its code when network isolation keeps it off S3: the SDK's
# layout (a "code" channel; the model archive's own code/ folder when serving).
CODE_CHANNEL = "code"
ISOLATED_SUBMIT_DIRECTORY = f"/opt/ml/input/data/{CODE_CHANNEL}/sourcedir.tar.gz"
MODEL_CODE_DIRECTORY = "/opt/ml/model/code"


@dataclass(frozen=True)
class JobNetwork:
    """The stack's network and key every SageMaker request carries on the aws profile.

    From the stack outputs ``sagemaker_subnets`` (comma-separated), ``sagemaker_security_group``
    and ``sagemaker_kms_key_arn``; the SageMaker role's policy requires them (conditions
    ``sagemaker:VpcSubnets``, ``sagemaker:VpcSecurityGroupIds``, ``sagemaker:VolumeKmsKey``,
    ``sagemaker:NetworkIsolation``), so a request without them would be refused anyway.
    """

    subnets: tuple[str, ...]
    security_groups: tuple[str, ...]
    kms_key_arn: str

    def vpc_config(self) -> dict[str, list[str]]:
        return {"SecurityGroupIds": list(self.security_groups), "Subnets": list(self.subnets)}


NETWORK_OUTPUTS = ("sagemaker_subnets", "sagemaker_security_group", "sagemaker_kms_key_arn")


def job_network(settings: Settings) -> JobNetwork | None:
    """The stack's :class:`JobNetwork` on the aws profile; ``None`` on the local profile.

    Raises
    ------
    ConfigError
        on the aws profile when a stack output is missing (the role would refuse the job).
    """
    if settings.is_local:
        return None
    outputs = settings.outputs
    missing = [name for name in NETWORK_OUTPUTS if not str(outputs.get(name, "")).strip()]
    if missing:
        from lakelib.config._settings import AWS_OUTPUT_ENV

        names = ", ".join(AWS_OUTPUT_ENV[name][0] for name in missing)
        raise ConfigError(
            f"SageMaker jobs on the {settings.profile} profile run in the stack's VPC with its "
            f"KMS key: set {names} (stack outputs {', '.join(missing)})"
        )

    def listed(name: str) -> tuple[str, ...]:
        return tuple(p.strip() for p in str(outputs[name]).split(",") if p.strip())

    return JobNetwork(
        subnets=listed("sagemaker_subnets"),
        security_groups=listed("sagemaker_security_group"),
        kms_key_arn=str(outputs["sagemaker_kms_key_arn"]).strip(),
    )


def sklearn_image_uri(region: str, framework_version: str = FRAMEWORK_VERSION) -> str:
    """The sagemaker-scikit-learn container image for a region."""
    account = SKLEARN_REGISTRIES.get(region)
    if account is None:
        raise ConfigError(
            f"no known scikit-learn image registry for region {region}: set [ml] image_uri"
        )
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"{account}.dkr.ecr.{region}.{suffix}/{SKLEARN_REPOSITORY}:{framework_version}-cpu-py3"


def _bundle_files() -> dict[str, bytes]:
    package = Path(__file__).resolve().parents[1]
    files = {
        ENTRY_POINT: TRAIN_ENTRY.encode(),
        INFERENCE_POINT: INFERENCE_ENTRY.encode(),
        "lakelib/__init__.py": b"",
        "lakelib/ml/__init__.py": b"",
    }
    for relative in BUNDLED_MODULES:
        files[f"lakelib/{relative}"] = (package / relative).read_bytes()
    return files


def _tar_gz(files: Mapping[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def build_source_bundle() -> bytes:
    """``sourcedir.tar.gz``: ``train.py``, ``inference.py`` and the container-safe modules."""
    return _tar_gz(_bundle_files())


def repack_model(model_tar_gz: bytes) -> bytes:
    """``model.tar.gz`` with the source bundle under ``code/``, as the SDK repacks a model.

    A model with network isolation cannot fetch ``SAGEMAKER_SUBMIT_DIRECTORY`` from S3: the
    serving container then imports ``inference.py`` from ``/opt/ml/model/code``.
    """
    files: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(model_tar_gz), mode="r:gz") as archive:
        for member in archive.getmembers():
            if member.isfile() and not member.name.startswith(("code/", "./code/")):
                extracted = archive.extractfile(member)
                if extracted is not None:
                    files[member.name.removeprefix("./")] = extracted.read()
    for name, data in _bundle_files().items():
        files[f"code/{name}"] = data
    return _tar_gz(files)


def _sdk_hyperparameters(
    hyperparameters: Mapping[str, Any], source_uri: str, job_name: str, region: str
) -> dict[str, str]:
    """Hyperparameters as the SDK sends them: every value JSON-encoded, plus its own keys."""
    values: dict[str, Any] = dict(hyperparameters)
    values.update(
        sagemaker_program=ENTRY_POINT,
        sagemaker_submit_directory=source_uri,
        sagemaker_container_log_level=20,
        sagemaker_job_name=job_name,
        sagemaker_region=region,
    )
    return {str(k): json.dumps(v) for k, v in values.items()}


def training_job_request(
    *,
    job_name: str,
    role_arn: str,
    image_uri: str,
    source_uri: str,
    train_uri: str,
    test_uri: str,
    output_uri: str,
    region: str,
    hyperparameters: Mapping[str, Any] | None = None,
    instance_type: str = "ml.m5.large",
    spot: bool = True,
    max_run_seconds: int = 3600,
    max_wait_seconds: int = 7200,
    checkpoint_uri: str | None = None,
    network: JobNetwork | None = None,
) -> dict[str, Any]:
    """``CreateTrainingJob`` arguments for the script-mode job, managed spot by default.

    With ``network`` (the aws profile) the job runs in the stack's subnets and security
    group with network isolation, its volume and output encrypted with the stack's key; the
    code then comes as a ``code`` channel, as the SDK sends it to an isolated job.
    """

    def channel(name: str, uri: str) -> dict[str, Any]:
        return {
            "ChannelName": name,
            "DataSource": {
                "S3DataSource": {
                    "S3DataType": "S3Prefix",
                    "S3Uri": uri,
                    "S3DataDistributionType": "FullyReplicated",
                }
            },
            "ContentType": "text/csv",
            "InputMode": "File",
        }

    channels = [channel("train", train_uri), channel("test", test_uri)]
    submit_directory = source_uri
    if network is not None:
        # An isolated container cannot read S3 itself: SageMaker mounts the bundle.
        code = channel(CODE_CHANNEL, source_uri)
        code["ContentType"] = "application/x-tar"
        channels.append(code)
        submit_directory = ISOLATED_SUBMIT_DIRECTORY
    request: dict[str, Any] = {
        "TrainingJobName": job_name,
        "AlgorithmSpecification": {
            "TrainingImage": image_uri,
            "TrainingInputMode": "File",
            "MetricDefinitions": METRIC_DEFINITIONS,
        },
        "RoleArn": role_arn,
        "HyperParameters": _sdk_hyperparameters(
            hyperparameters or {}, submit_directory, job_name, region
        ),
        "InputDataConfig": channels,
        "OutputDataConfig": {"S3OutputPath": output_uri},
        "ResourceConfig": {
            "InstanceType": instance_type,
            "InstanceCount": 1,
            "VolumeSizeInGB": 10,
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": max_run_seconds},
        "EnableManagedSpotTraining": spot,
        "Tags": [{"Key": "lakelib:job", "Value": "train"}],
    }
    if network is not None:
        request["OutputDataConfig"]["KmsKeyId"] = network.kms_key_arn
        request["ResourceConfig"]["VolumeKmsKeyId"] = network.kms_key_arn
        request["VpcConfig"] = network.vpc_config()
        request["EnableNetworkIsolation"] = True
    if spot:
        # Spot jobs must allow waiting for capacity: MaxWait >= MaxRuntime.
        request["StoppingCondition"]["MaxWaitTimeInSeconds"] = max(
            max_wait_seconds, max_run_seconds
        )
    if checkpoint_uri:
        # Spot jobs resume from it; on-demand jobs accept it too, so the request's fields
        # (which the state machine forwards one by one) are the same either way.
        request["CheckpointConfig"] = {"S3Uri": checkpoint_uri}
    return request


def model_request(
    *, model_name: str, role_arn: str, image_uri: str, model_data_url: str, source_uri: str,
    region: str, network: JobNetwork | None = None,
) -> dict[str, Any]:  # fmt: skip
    """``CreateModel`` arguments: the same image, the artifact, ``inference.py`` from the bundle.

    With ``network`` the model runs in the stack's VPC with network isolation, and
    ``inference.py`` is read from the artifact's ``code/`` folder (see :func:`repack_model`):
    ``source_uri`` is then not used.
    """
    request: dict[str, Any] = {
        "ModelName": model_name,
        "ExecutionRoleArn": role_arn,
        "PrimaryContainer": {
            "Image": image_uri,
            "ModelDataUrl": model_data_url,
            "Environment": {
                "SAGEMAKER_PROGRAM": INFERENCE_POINT,
                "SAGEMAKER_SUBMIT_DIRECTORY": (
                    MODEL_CODE_DIRECTORY if network is not None else source_uri
                ),
                "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
                "SAGEMAKER_REGION": region,
            },
        },
    }
    if network is not None:
        request["VpcConfig"] = network.vpc_config()
        request["EnableNetworkIsolation"] = True
    return request


def endpoint_config_request(
    *,
    config_name: str,
    model_name: str,
    serverless: bool = True,
    memory_mb: int = 2048,
    max_concurrency: int = 5,
    instance_type: str = "ml.t2.medium",
    instance_count: int = 1,
    variant: str = "AllTraffic",
    network: JobNetwork | None = None,
) -> dict[str, Any]:
    """``CreateEndpointConfig`` arguments: one serverless or one instance-backed variant.

    With ``network`` the instances' storage is encrypted with the stack's key. Serverless
    endpoints support neither VPC configuration nor network isolation: with ``network`` a
    serverless variant is refused (:class:`~lakelib.errors.MlError`).
    """
    if serverless and network is not None:
        raise MlError(
            "serverless endpoints support neither VPC configuration nor network isolation, "
            "which models on the aws profile carry: deploy to instances (--instance)"
        )
    production: dict[str, Any] = {"VariantName": variant, "ModelName": model_name}
    if serverless:
        production["ServerlessConfig"] = {
            "MemorySizeInMB": memory_mb,
            "MaxConcurrency": max_concurrency,
        }
    else:
        production.update(
            InstanceType=instance_type,
            InitialInstanceCount=instance_count,
            InitialVariantWeight=1.0,
        )
    request: dict[str, Any] = {
        "EndpointConfigName": config_name,
        "ProductionVariants": [production],
    }
    if network is not None:
        request["KmsKeyId"] = network.kms_key_arn
    return request


def transform_job_request(
    *,
    job_name: str,
    model_name: str,
    input_uri: str,
    output_uri: str,
    instance_type: str = "ml.m5.large",
    max_payload_mb: int = 6,
    network: JobNetwork | None = None,
) -> dict[str, Any]:
    """``CreateTransformJob`` arguments for CSV features whose first column is customer_id.

    The id is filtered out of the model's input and joined back onto its output, so each
    output line is ``customer_id,score``: what the local transform writes.
    """
    request: dict[str, Any] = {
        "TransformJobName": job_name,
        "ModelName": model_name,
        "BatchStrategy": "MultiRecord",
        "MaxPayloadInMB": max_payload_mb,
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": input_uri}},
            "ContentType": "text/csv",
            "SplitType": "Line",
            "CompressionType": "None",
        },
        "TransformOutput": {
            "S3OutputPath": output_uri,
            "Accept": "text/csv",
            "AssembleWith": "Line",
        },
        "TransformResources": {"InstanceType": instance_type, "InstanceCount": 1},
        "DataProcessing": {
            "InputFilter": "$[1:]",
            "JoinSource": "Input",
            "OutputFilter": "$[0,-1]",
        },
    }
    if network is not None:
        # The model carries the VPC and the isolation; the job encrypts what it writes.
        request["TransformOutput"]["KmsKeyId"] = network.kms_key_arn
        request["TransformResources"]["VolumeKmsKeyId"] = network.kms_key_arn
    return request


PROCESSING_ROOT = "/opt/ml/processing"


def processing_job_request(
    *,
    job_name: str,
    role_arn: str,
    image_uri: str,
    entrypoint: Sequence[str],
    arguments: Sequence[str] = (),
    inputs: Mapping[str, str] | None = None,
    environment: Mapping[str, str] | None = None,
    instance_type: str = "ml.t3.medium",
    volume_gb: int = 10,
    max_run_seconds: int = 3600,
    network: JobNetwork | None = None,
) -> dict[str, Any]:
    """``CreateProcessingJob`` arguments: one container running ``entrypoint`` + ``arguments``.

    ``inputs`` maps an input name to the S3 prefix SageMaker copies to
    ``/opt/ml/processing/input/<name>/`` before the container starts. The job writes to S3
    itself (through the VPC's S3 endpoint): no network isolation, but the stack's subnets,
    security group and volume key with ``network``.
    """
    request: dict[str, Any] = {
        "ProcessingJobName": job_name,
        "RoleArn": role_arn,
        "AppSpecification": {
            "ImageUri": image_uri,
            "ContainerEntrypoint": list(entrypoint),
            **({"ContainerArguments": list(arguments)} if arguments else {}),
        },
        "ProcessingInputs": [
            {
                "InputName": name,
                "S3Input": {
                    "S3Uri": uri,
                    "LocalPath": f"{PROCESSING_ROOT}/input/{name}",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                    "S3DataDistributionType": "FullyReplicated",
                },
            }
            for name, uri in (inputs or {}).items()
        ],
        "ProcessingResources": {
            "ClusterConfig": {
                "InstanceCount": 1,
                "InstanceType": instance_type,
                "VolumeSizeInGB": volume_gb,
            }
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": max_run_seconds},
        "Environment": dict(environment or {}),
        "Tags": [{"Key": "lakelib:job", "Value": "pipeline"}],
    }
    if network is not None:
        request["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"] = network.kms_key_arn
        request["NetworkConfig"] = {
            "EnableNetworkIsolation": False,
            "VpcConfig": network.vpc_config(),
        }
    return request


def _stamp() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")


class _Base:
    def __init__(self, settings: Settings | None = None, *, client: Any = None) -> None:
        self.settings = settings or get_settings()
        self._client = client
        self.ml = model_settings(self.settings)

    @property
    def sagemaker(self) -> Any:
        if self._client is None:
            from lakelib.aws import client

            self._client = client("sagemaker", region=self.region)
        return self._client

    @property
    def region(self) -> str:
        return str(self.settings.region or "us-east-1")

    @property
    def role_arn(self) -> str:
        role = self.settings.outputs.get("sagemaker_role_arn") or self.ml.get("role_arn")
        if not role:
            raise ConfigError(
                "no SageMaker role: set LAKE_SAGEMAKER_ROLE_ARN or the stack output "
                "sagemaker_role_arn"
            )
        return str(role)

    @property
    def image_uri(self) -> str:
        return str(self.ml.get("image_uri") or sklearn_image_uri(self.region))

    @property
    def network(self) -> JobNetwork | None:
        return job_network(self.settings)

    def upload_bundle(self, name: str) -> str:
        """Upload ``sourcedir.tar.gz`` to the scripts zone; returns its ``s3://`` URI."""
        store = zone_store(Zone.SCRIPTS, self.settings)
        key = f"ml/{name}/sourcedir.tar.gz"
        store.write_bytes(key, build_source_bundle())
        return store.url(key)


class SageMakerTrainer(_Base):
    """Runs the script-mode job on SageMaker (managed spot) and returns its ``model.tar.gz``."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        client: Any = None,
        instance_type: str = "ml.m5.large",
        spot: bool = True,
        poll_seconds: float = 30.0,
        timeout: float = 4 * 3600,
    ) -> None:
        super().__init__(settings, client=client)
        self.instance_type = instance_type
        self.spot = spot
        self.poll_seconds = poll_seconds
        self.timeout = timeout

    def start(self, job_name: str, data: Any, hyperparameters: Mapping[str, Any]) -> dict[str, Any]:
        """Upload the channels and the bundle, create the training job; returns the request."""
        request = self.prepare(job_name, data, hyperparameters)
        self.sagemaker.create_training_job(**request)
        return request

    def prepare(
        self, job_name: str, data: Any, hyperparameters: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Upload the channels and the bundle; returns the ``CreateTrainingJob`` request.

        The Step Functions pipeline sends this request itself
        (``sagemaker:createTrainingJob.sync``): everything the job reads is then under
        ``jobs/ml/<job>/`` in the scripts bucket, and it writes only under ``models/``.
        """
        scripts = zone_store(Zone.SCRIPTS, self.settings)
        base = f"ml/{job_name}"
        for channel in ("train", "test"):
            folder = Path(getattr(data, channel))
            for path in sorted(folder.iterdir()):
                if path.is_file():
                    scripts.write_bytes(f"{base}/input/{channel}/{path.name}", path.read_bytes())
        source_uri = self.upload_bundle(job_name)
        models = zone_store(Zone.MODELS, self.settings)
        request = training_job_request(
            job_name=job_name,
            role_arn=self.role_arn,
            image_uri=self.image_uri,
            source_uri=source_uri,
            train_uri=scripts.url(f"{base}/input/train") + "/",
            test_uri=scripts.url(f"{base}/input/test") + "/",
            output_uri=models.url("training-jobs") + "/",
            region=self.region,
            hyperparameters=hyperparameters,
            instance_type=self.instance_type,
            spot=self.spot,
            checkpoint_uri=scripts.url(f"{base}/checkpoints") + "/",
            network=self.network,
        )
        return request

    def run(
        self, job_name: str, data: Any, hyperparameters: Mapping[str, Any]
    ) -> tuple[bytes, str | None]:
        self.start(job_name, data, hyperparameters)
        deadline = time.monotonic() + self.timeout
        while True:
            job = self.sagemaker.describe_training_job(TrainingJobName=job_name)
            status = job["TrainingJobStatus"]
            if status in TERMINAL:
                break
            if time.monotonic() > deadline:
                raise MlError(f"training job {job_name} still {status} after {self.timeout:.0f} s")
            time.sleep(self.poll_seconds)
        if status != "Completed":
            raise MlError(f"training job {job_name} {status}: {job.get('FailureReason', '?')}")
        uri = job.get("ModelArtifacts", {}).get("S3ModelArtifacts")
        if not uri:
            raise MlError(f"training job {job_name} reports no model artifact")
        return read_artifact(uri), None


class SageMakerDeployer(_Base):
    """Creates the SageMaker model, endpoint config and endpoint for a registered version."""

    def check_versions(self, libraries: Mapping[str, str]) -> None:
        """Refuse an artifact pickled by another scikit-learn than the container's."""
        trained = str(libraries.get("scikit-learn", ""))
        image = self.image_uri.rsplit(":", 1)[-1]
        wanted = FRAMEWORK_VERSION.split("-")[0] if SKLEARN_REPOSITORY in self.image_uri else ""
        if wanted and image.startswith(FRAMEWORK_VERSION) and not trained.startswith(wanted):
            raise MlError(
                f"the model was trained with scikit-learn {trained or '?'}; the container runs "
                f"{wanted}: train it with lake train --target sagemaker, or set [ml] image_uri"
            )

    def create_model(self, *, model: str | None = None, version: str | None = None,
                     check_versions: bool = True) -> str:  # fmt: skip
        registry = ModelRegistry(model, settings=self.settings)
        entry = registry.get(version)
        if not entry.artifact.startswith("s3://"):
            raise MlError(f"{entry.model} {entry.version} is not in S3 ({entry.artifact})")
        if check_versions:
            self.check_versions(entry.libraries)
        name = f"{entry.model}-{entry.version}-{_stamp()}"
        self.sagemaker.create_model(**self.model_request(name, entry.artifact))
        return name

    def model_request(self, name: str, artifact: str) -> dict[str, Any]:
        """Upload what the model needs and return its ``CreateModel`` request.

        On the aws profile (network isolation) the artifact is repacked with the code under
        ``code/`` to ``jobs/ml/<name>/model.tar.gz``; else the bundle is uploaded beside it.
        """
        network = self.network
        if network is None:
            data_url, source_uri = artifact, self.upload_bundle(name)
        else:
            store = zone_store(Zone.SCRIPTS, self.settings)
            key = f"ml/{name}/model.tar.gz"
            store.write_bytes(key, repack_model(read_artifact(artifact)))
            data_url, source_uri = store.url(key), ""
        return model_request(
            model_name=name,
            role_arn=self.role_arn,
            image_uri=self.image_uri,
            model_data_url=data_url,
            source_uri=source_uri,
            region=self.region,
            network=network,
        )

    def deploy(
        self,
        *,
        endpoint_name: str | None = None,
        model: str | None = None,
        version: str | None = None,
        serverless: bool = True,
        instance_type: str = "ml.t2.medium",
        check_versions: bool = True,
    ) -> str:
        """Create (or update) the endpoint; returns its ARN. Does not wait for InService."""
        from botocore.exceptions import ClientError

        endpoint = endpoint_name or str(self.ml["endpoint_name"])
        network = self.network
        if serverless and network is not None:  # refused before anything is created
            endpoint_config_request(config_name="-", model_name="-", network=network)
        model_name = self.create_model(model=model, version=version, check_versions=check_versions)
        config = f"{model_name}-config"
        self.sagemaker.create_endpoint_config(
            **endpoint_config_request(
                config_name=config,
                model_name=model_name,
                serverless=serverless,
                instance_type=instance_type,
                network=network,
            )
        )
        try:
            self.sagemaker.describe_endpoint(EndpointName=endpoint)
            exists = True
        except ClientError:
            exists = False
        call = self.sagemaker.update_endpoint if exists else self.sagemaker.create_endpoint
        answer = call(EndpointName=endpoint, EndpointConfigName=config)
        return str(answer["EndpointArn"])

    def transform(
        self,
        *,
        input_uri: str,
        output_uri: str,
        model: str | None = None,
        version: str | None = None,
        instance_type: str = "ml.m5.large",
        check_versions: bool = True,
    ) -> str:
        """Start a batch transform job over CSV features in S3; returns the job name."""
        model_name = self.create_model(model=model, version=version, check_versions=check_versions)
        job = f"{model_name}-transform"
        self.sagemaker.create_transform_job(
            **transform_job_request(
                job_name=job,
                model_name=model_name,
                input_uri=input_uri,
                output_uri=output_uri,
                instance_type=instance_type,
                network=self.network,
            )
        )
        return job


# -- the training job as a Step Functions state ----------------------------------------------

PLANS = "ml/plans"  # in the scripts zone: jobs/ml/plans/<execution>.json
# The CreateTrainingJob fields the state machine forwards from the plan, in request order.
TRAINING_REQUEST_FIELDS = (
    "TrainingJobName",
    "AlgorithmSpecification",
    "RoleArn",
    "HyperParameters",
    "InputDataConfig",
    "OutputDataConfig",
    "ResourceConfig",
    "StoppingCondition",
    "EnableManagedSpotTraining",
    "CheckpointConfig",
    "Tags",
    # The stack's network and isolation (the aws profile: the only place this plan exists).
    "VpcConfig",
    "EnableNetworkIsolation",
)


# The CreateModel / CreateTransformJob fields the state machine forwards (transform plan).
MODEL_REQUEST_FIELDS = (
    "ModelName",
    "ExecutionRoleArn",
    "PrimaryContainer",
    "VpcConfig",
    "EnableNetworkIsolation",
)
TRANSFORM_REQUEST_FIELDS = (
    "TransformJobName",
    "ModelName",
    "BatchStrategy",
    "MaxPayloadInMB",
    "TransformInput",
    "TransformOutput",
    "TransformResources",
    "DataProcessing",
)
_PLAN_FIELDS: dict[str, dict[str, tuple[str, ...]]] = {
    "train": {"request": TRAINING_REQUEST_FIELDS},
    "transform": {
        "model_request": MODEL_REQUEST_FIELDS,
        "transform_request": TRANSFORM_REQUEST_FIELDS,
    },
}


def plan_suffix(kind: str) -> str:
    """``""`` for the training plan (``<execution>.json``), ``.<kind>`` for the others."""
    if kind not in _PLAN_FIELDS:
        raise ConfigError(f"no plan of kind {kind!r}")
    return "" if kind == "train" else f".{kind}"


def training_plan_key(execution: str, kind: str = "train") -> str:
    """Key of an execution's plan (training or transform) in the scripts zone."""
    if not execution or "/" in execution or execution.startswith("."):
        raise ConfigError(f"not a Step Functions execution name: {execution!r}")
    return f"{PLANS}/{execution}{plan_suffix(kind)}.json"


def write_training_plan(
    settings: Settings, execution: str, plan: Mapping[str, Any], kind: str = "train"
) -> str:
    """Store the plan the state machine reads (``due``, the requests); returns its URL."""
    if plan.get("due"):
        for field, fields in _PLAN_FIELDS[kind].items():
            missing = [f for f in fields if f not in plan.get(field, {})]
            if missing:
                raise MlError(f"{kind} plan: {field} misses {', '.join(missing)}")
    store = zone_store(Zone.SCRIPTS, settings)
    key = training_plan_key(execution, kind)
    store.write_bytes(key, json.dumps(plan, indent=2, default=str).encode())
    return store.url(key)


def read_training_plan(settings: Settings, execution: str, kind: str = "train") -> dict[str, Any]:
    from lakelib.errors import NotFoundError

    store = zone_store(Zone.SCRIPTS, settings)
    key = training_plan_key(execution, kind)
    try:
        return dict(json.loads(store.read_bytes(key)))
    except NotFoundError:
        raise MlError(f"no {kind} plan for execution {execution} ({store.url(key)})") from None


def read_artifact(uri: str) -> bytes:
    """``model.tar.gz`` bytes from the training job's ``S3ModelArtifacts``."""
    folder, _, name = uri.rpartition("/")
    if not folder or not name:
        raise MlError(f"not a model artifact location: {uri!r}")
    try:
        return open_store(folder).read_bytes(name)
    except Exception as exc:
        raise MlError(f"cannot read the model artifact {uri}: {exc}") from exc
