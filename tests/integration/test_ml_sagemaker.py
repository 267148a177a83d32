"""The SageMaker backend offline.

moto server checks the control-plane request shapes and records state (jobs are "Completed"
and endpoints "InService" at once; nothing trains or serves there). What moto cannot show —
the job running in the scikit-learn container, the endpoint answering — is covered by
running the very bundle the job would get, from its own folder, with the local Python.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile

import boto3
import pytest
from test_ml_support import events_of, generated_sales_clean, write_trained_model

from lakelib.config import load_settings
from lakelib.errors import ConfigError, MlError
from lakelib.ml import (
    ModelRegistry,
    SageMakerDeployer,
    SageMakerTrainer,
    build_source_bundle,
    pack_model_dir,
    prepare_training_data,
)
from lakelib.ml._sagemaker import (
    endpoint_config_request,
    job_network,
    processing_job_request,
    sklearn_image_uri,
)

ROLE = "arn:aws:iam::123456789012:role/lake-sagemaker"
KEY = "arn:aws:kms:us-east-1:123456789012:key/0b7c5e2a-1111-4222-8333-944445555666"
SUBNETS = ["subnet-0a1b2c3d4e5f60718", "subnet-0f1e2d3c4b5a69788"]
SECURITY_GROUP = "sg-0123456789abcdef0"
# The stack outputs sagemaker_subnets, sagemaker_security_group, sagemaker_kms_key_arn.
NETWORK_ENV = {
    "LAKE_SAGEMAKER_SUBNETS": ",".join(SUBNETS),
    "LAKE_SAGEMAKER_SECURITY_GROUP": SECURITY_GROUP,
    "LAKE_SAGEMAKER_KMS_KEY_ARN": KEY,
}
VPC = {"SecurityGroupIds": [SECURITY_GROUP], "Subnets": SUBNETS}


@pytest.fixture(scope="module")
def frame(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    return generated_sales_clean(tmp_path_factory.mktemp("samples"), days=55, rows_per_day=60)


@pytest.fixture
def aws_settings(aws: str, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    return request_settings(monkeypatch)


def request_settings(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    for name, value in {
        "LAKE_SCRIPTS_BUCKET": "lake-scripts",
        "LAKE_CURATED_BUCKET": "lake-curated",
        "LAKE_SAGEMAKER_ROLE_ARN": ROLE,
        "LAKE_REGION": "us-east-1",
        **NETWORK_ENV,
    }.items():
        monkeypatch.setenv(name, value)
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="lake-scripts")
    return load_settings(profile="aws")


def test_training_job_request_uses_spot_and_script_mode(aws_settings, frame, tmp_path) -> None:  # type: ignore[no-untyped-def]
    data, _plan = prepare_training_data(events_of(frame), tmp_path / "data")
    trainer = SageMakerTrainer(aws_settings)
    trainer.start("churn-test-job", data, {"max-iter": 50})
    job = trainer.sagemaker.describe_training_job(TrainingJobName="churn-test-job")
    assert job["EnableManagedSpotTraining"] is True
    assert (
        job["StoppingCondition"]["MaxWaitTimeInSeconds"]
        >= job["StoppingCondition"]["MaxRuntimeInSeconds"]
    )
    assert job["AlgorithmSpecification"]["TrainingImage"] == sklearn_image_uri("us-east-1")
    assert job["AlgorithmSpecification"]["TrainingImage"].startswith(
        "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2"
    )
    hps = job["HyperParameters"]
    assert hps["sagemaker_program"] == '"train.py"' and hps["max-iter"] == "50"
    # Network isolation: the bundle comes as the "code" channel, as the SDK sends it.
    assert json.loads(hps["sagemaker_submit_directory"]) == (
        "/opt/ml/input/data/code/sourcedir.tar.gz"
    )
    channels = {c["ChannelName"]: c for c in job["InputDataConfig"]}
    assert set(channels) == {"train", "test", "code"}
    assert channels["code"]["DataSource"]["S3DataSource"]["S3Uri"] == (
        "s3://lake-scripts/jobs/ml/churn-test-job/sourcedir.tar.gz"
    )
    # The stack's subnets, security group and key (issue 19), as moto recorded the job.
    assert job["VpcConfig"] == VPC and job["EnableNetworkIsolation"] is True
    assert job["ResourceConfig"]["VolumeKmsKeyId"] == KEY
    assert job["OutputDataConfig"]["KmsKeyId"] == KEY
    s3 = boto3.client("s3", region_name="us-east-1")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="lake-scripts")["Contents"]]
    assert "jobs/ml/churn-test-job/input/train/train.csv" in keys
    assert "jobs/ml/churn-test-job/sourcedir.tar.gz" in keys
    assert job["RoleArn"] == ROLE


def test_deploy_serverless_and_instance_endpoints(aws_settings, frame, tmp_path) -> None:  # type: ignore[no-untyped-def]
    metadata = write_trained_model(frame, tmp_path / "model")
    registry = ModelRegistry(settings=aws_settings)
    entry = registry.add(pack_model_dir(tmp_path / "model"), metadata)
    registry.promote(entry.version)
    assert entry.artifact == "s3://lake-scripts/models/churn/v1/model.tar.gz"

    deployer = SageMakerDeployer(aws_settings)
    with pytest.raises(MlError, match="trained with scikit-learn"):
        deployer.deploy(serverless=False)  # pickled by this venv's scikit-learn, not 1.4's
    # Serverless endpoints take no VPC and no network isolation: refused, nothing created.
    with pytest.raises(MlError, match="serverless endpoints support neither VPC"):
        deployer.deploy(check_versions=False)
    assert deployer.sagemaker.list_models()["Models"] == []
    sent: dict[str, dict] = {}  # type: ignore[type-arg]
    deployer.sagemaker.meta.events.register(
        "provide-client-params.sagemaker.*",
        lambda params, model, **_: sent.update({model.name: dict(params)}),
    )
    arn = deployer.deploy(check_versions=False, serverless=False)
    assert arn.endswith(":endpoint/churn-model")
    sm = deployer.sagemaker
    endpoint = sm.describe_endpoint(EndpointName="churn-model")
    assert endpoint["EndpointStatus"] == "InService"  # moto: at once
    config = sm.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    assert config["KmsKeyId"] == KEY
    variant = config["ProductionVariants"][0]
    assert variant["VariantName"] == "AllTraffic"
    assert variant["InstanceType"] == "ml.t2.medium"
    model = sm.describe_model(ModelName=variant["ModelName"])
    assert model["VpcConfig"] == VPC
    # moto does not record a model's isolation (it answers False): the request carried it.
    assert sent["CreateModel"]["EnableNetworkIsolation"] is True
    container = model["PrimaryContainer"]
    # Isolated: the artifact repacked with inference.py under code/, read from there.
    name = variant["ModelName"]
    assert container["ModelDataUrl"] == f"s3://lake-scripts/jobs/ml/{name}/model.tar.gz"
    assert container["Environment"]["SAGEMAKER_PROGRAM"] == "inference.py"
    assert container["Environment"]["SAGEMAKER_SUBMIT_DIRECTORY"] == "/opt/ml/model/code"
    repacked = (
        boto3.client("s3", region_name="us-east-1")
        .get_object(Bucket="lake-scripts", Key=f"jobs/ml/{name}/model.tar.gz")["Body"]
        .read()
    )
    with tarfile.open(fileobj=io.BytesIO(repacked), mode="r:gz") as archive:
        names = set(archive.getnames())
    assert {"model.joblib", "metadata.json", "code/inference.py"} <= names
    assert "code/lakelib/ml/_inference.py" in names

    instance = endpoint_config_request(
        config_name="c", model_name=variant["ModelName"], serverless=False
    )
    assert instance["ProductionVariants"][0]["InstanceType"] == "ml.t2.medium"
    sm.create_endpoint_config(**instance)
    assert (
        sm.describe_endpoint_config(EndpointConfigName="c")["ProductionVariants"][0][
            "InitialInstanceCount"
        ]
        == 1
    )

    job = deployer.transform(
        input_uri="s3://lake-scripts/features/", output_uri="s3://lake-curated/predictions-raw/",
        check_versions=False,
    )  # fmt: skip
    described = sm.describe_transform_job(TransformJobName=job)
    assert described["TransformInput"]["SplitType"] == "Line"
    assert described["BatchStrategy"] == "MultiRecord"
    assert described["TransformOutput"]["KmsKeyId"] == KEY
    assert described["TransformResources"]["VolumeKmsKeyId"] == KEY


def test_sagemaker_requests_on_the_aws_profile_need_the_stacks_network(  # type: ignore[no-untyped-def]
    aws, monkeypatch
) -> None:
    """Without the stack outputs the job would be refused by the role: say which are missing."""
    request_settings(monkeypatch)
    monkeypatch.delenv("LAKE_SAGEMAKER_SECURITY_GROUP")
    monkeypatch.delenv("LAKE_SAGEMAKER_KMS_KEY_ARN")
    settings = load_settings(profile="aws")
    with pytest.raises(
        ConfigError,
        match=r"set LAKE_SAGEMAKER_SECURITY_GROUP, LAKE_SAGEMAKER_KMS_KEY_ARN \(stack outputs "
        r"sagemaker_security_group, sagemaker_kms_key_arn\)",
    ):
        job_network(settings)
    assert job_network(load_settings(profile="local")) is None


def test_processing_job_request_runs_in_the_stacks_vpc(aws_settings) -> None:  # type: ignore[no-untyped-def]
    request = processing_job_request(
        job_name="lake-report-1",
        role_arn=ROLE,
        image_uri="123456789012.dkr.ecr.us-east-1.amazonaws.com/lake-processing:1",
        entrypoint=["python3", "/opt/ml/processing/input/code/pipeline_stage.py"],
        arguments=["--stage", "report", "--run_date", "2026-02-21"],
        inputs={"code": "s3://lake-scripts/jobs/pipeline_stage.py"},
        environment={"LAKE_PROFILE": "aws"},
        network=job_network(aws_settings),
    )
    sm = boto3.client("sagemaker", region_name="us-east-1")
    sm.create_processing_job(**request)
    job = sm.describe_processing_job(ProcessingJobName="lake-report-1")
    assert job["NetworkConfig"] == {"EnableNetworkIsolation": False, "VpcConfig": VPC}
    # moto does not answer with the cluster config: the request carries the volume key.
    assert request["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"] == KEY
    (source,) = job["ProcessingInputs"]
    assert source["S3Input"]["LocalPath"] == "/opt/ml/processing/input/code"


def test_bundle_trains_from_its_own_folder(frame, tmp_path) -> None:  # type: ignore[no-untyped-def]
    bundle = tmp_path / "code"
    with tarfile.open(fileobj=io.BytesIO(build_source_bundle()), mode="r:gz") as archive:
        archive.extractall(bundle, filter="data")
    assert (bundle / "train.py").is_file() and (bundle / "inference.py").is_file()
    data, _ = prepare_training_data(events_of(frame), tmp_path / "data")
    model_dir, output = tmp_path / "opt" / "model", tmp_path / "opt" / "output"
    script = (
        "import runpy, sys\n"
        f"sys.path.insert(0, {str(bundle)!r})\n"
        "import lakelib\n"
        f"assert lakelib.__file__.startswith({str(bundle)!r}), lakelib.__file__\n"
        "sys.argv = ['train.py', '--max-iter', '20']\n"
        "try:\n"
        "    runpy.run_path('train.py', run_name='__main__')\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        "heavy = [m for m in sys.modules if m.startswith(('lakelib.config', 'lakelib.storage',"
        " 'orjson', 'boto3'))]\n"
        "assert not heavy, heavy\n"
        "import inference\n"
        "model = inference.model_fn(sys.argv[0] and %r)\n"
        "print(inference.predict_fn(inference.input_fn(open(%r).read(), 'text/csv'), model))\n"
    ) % (str(model_dir), str(tmp_path / "row.csv"))
    meta_row = None
    env = {
        "SM_MODEL_DIR": str(model_dir),
        "SM_CHANNEL_TRAIN": str(data.train),
        "SM_CHANNEL_TEST": str(data.test),
        "SM_OUTPUT_DATA_DIR": str(output),
        "PATH": "/usr/bin:/bin",
    }
    import pandas as pd

    train_rows = pd.read_csv(data.train / "train.csv", nrows=1)
    features = [c for c in train_rows.columns if c not in ("customer_id", "cutoff", "label")]
    meta_row = train_rows[features].to_csv(header=False, index=False)
    (tmp_path / "row.csv").write_text(meta_row)
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=bundle, env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (model_dir / "model.joblib").is_file() and (output / "metrics.json").is_file()
    assert "metric roc_auc=" in done.stderr
    assert done.stdout.strip().startswith("[")


def test_train_on_the_aws_profile_submits_a_sagemaker_job(aws_settings, frame) -> None:  # type: ignore[no-untyped-def]
    from lakelib.ml import train

    # moto completes the job at once but writes no model: the submission is what we check,
    # and that the artifact is looked for where SageMaker says it is.
    with pytest.raises(
        MlError,
        match=r"cannot read the model artifact s3://.*/output/model\.tar\.gz: no such object",
    ):
        train(events=events_of(frame), settings=aws_settings)
    (summary,) = boto3.client("sagemaker", region_name="us-east-1").list_training_jobs()[
        "TrainingJobSummaries"
    ]
    assert summary["TrainingJobName"].startswith("churn-")


# -- the train stage as the daily state machine runs it on AWS --------------------------------


def _resolve(parameters: dict, document: dict) -> dict:  # type: ignore[type-arg]
    """Fill a Task's ``"Field.$": "$.a.b"`` parameters from the state input, as Step
    Functions does (only the plain paths this state uses); other fields stay as they are."""
    request = {}
    for key, path in parameters.items():
        if not key.endswith(".$"):
            request[key] = path
            continue
        assert path.startswith("$."), key
        value = document
        for part in path[2:].split("."):
            value = value[part]
        request[key[:-2]] = value
    return request


def _play_sagemaker(request: dict, workdir) -> str:  # type: ignore[no-untyped-def,type-arg]
    """What SageMaker does with a CreateTrainingJob request, offline: fetch the code bundle
    and the channels it names from S3, run the entry script with SageMaker's variables, and
    upload ``model.tar.gz`` where SageMaker puts it. Returns ``S3ModelArtifacts``."""
    from lakelib.storage import open_store

    s3 = boto3.client("s3", region_name="us-east-1")
    hyper = {k: json.loads(v) for k, v in request["HyperParameters"].items()}
    code = workdir / "code"
    # Network isolation: the bundle is the "code" channel, not an S3 location of its own.
    assert hyper["sagemaker_submit_directory"] == "/opt/ml/input/data/code/sourcedir.tar.gz"
    (code_channel,) = [c for c in request["InputDataConfig"] if c["ChannelName"] == "code"]
    source = code_channel["DataSource"]["S3DataSource"]["S3Uri"]
    bucket, _, key = source[len("s3://") :].partition("/")
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as archive:
        archive.extractall(code, filter="data")
    env = {"PATH": "/usr/bin:/bin", "SM_MODEL_DIR": str(workdir / "model")}
    env["SM_OUTPUT_DATA_DIR"] = str(workdir / "output")
    for channel in [c for c in request["InputDataConfig"] if c["ChannelName"] != "code"]:
        uri = channel["DataSource"]["S3DataSource"]["S3Uri"]
        store = open_store(uri)
        folder = workdir / "input" / channel["ChannelName"]
        folder.mkdir(parents=True)
        for info in store.list():
            (folder / info.key.rsplit("/", 1)[-1]).write_bytes(store.read_bytes(info.key))
        env[f"SM_CHANNEL_{channel['ChannelName'].upper()}"] = str(folder)
    args = [f"--{k}={v}" for k, v in hyper.items() if not k.startswith("sagemaker_")]
    done = subprocess.run(
        [sys.executable, hyper["sagemaker_program"], *args],
        cwd=code, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = request["OutputDataConfig"]["S3OutputPath"]
    bucket, _, prefix = out[len("s3://") :].partition("/")
    key = f"{prefix}{request['TrainingJobName']}/output/model.tar.gz"
    s3.put_object(Bucket=bucket, Key=key, Body=pack_model_dir(workdir / "model"))
    return f"s3://{bucket}/{key}"


def test_the_train_stage_on_aws_prepares_a_training_job_and_registers_its_model(  # type: ignore[no-untyped-def]
    aws, frame, tmp_path, monkeypatch
) -> None:
    import datetime as dt
    from pathlib import Path

    from lakelib.catalog import Column, GlueCatalog, Table
    from lakelib.pipeline import daily_pipeline, run_stage, to_state_machine

    # The workspace config as shipped, plus small hyperparameters (a fast test).
    config = tmp_path / "lake.toml"
    shipped = (Path(__file__).resolve().parents[2] / "lake.toml").read_text()
    config.write_text(shipped + "\n[ml.hyperparameters]\nmax-iter = 20\n")
    monkeypatch.setenv("LAKE_CONFIG", str(config))
    aws_settings = request_settings(monkeypatch)

    # sales_clean in the Glue catalog (its files in a local folder DuckDB reads).
    folder = tmp_path / "sales_clean"
    folder.mkdir()
    frame.to_parquet(folder / "part-0.parquet", index=False)
    GlueCatalog(aws_settings.database, region="us-east-1").put_table(
        Table(aws_settings.database, "sales_clean", (Column("id", "string"),), (), str(folder))
    )
    states = to_state_machine(daily_pipeline())["States"]
    tuesday = dt.date(2026, 3, 3)

    # 1. prepare (the stage job): no model yet, so training is due.
    prepared = run_stage(
        "train", tuesday, settings=aws_settings, step="prepare", options={"execution": "run-1"}
    )
    assert prepared["due"] == 1 and prepared["train_rows"] > 0
    s3 = boto3.client("s3", region_name="us-east-1")
    body = s3.get_object(Bucket="lake-scripts", Key="jobs/ml/plans/run-1.json")["Body"].read()
    plan = json.loads(body)
    assert plan["due"] is True and plan["request"]["RoleArn"] == ROLE
    assert plan["request"]["HyperParameters"]["max-iter"] == "20"  # [ml.hyperparameters]

    # 2. the state machine's training job, with exactly the parameters its state forwards
    # (the strict request-shape plugin checks them against SageMaker's model).
    request = _resolve(states["train_job"]["Parameters"], {"train": {"plan": plan}})
    # The role is the stack's SageMaker role, set by the state machine, not by the plan.
    assert request == {**plan["request"], "RoleArn": "${sagemaker_role_arn}"}
    request["RoleArn"] = ROLE  # as Pulumi fills it
    sm = boto3.client("sagemaker", region_name="us-east-1")
    sm.create_training_job(**request)
    artifact = _play_sagemaker(request, tmp_path / "sagemaker")

    # 3. register (a processing job), with the artifact the .sync result names.
    register_args = states["train_register"]["Parameters"]["AppSpecification"]
    assert "'--model_artifact', $.train.job.artifact" in register_args["ContainerArguments.$"]
    registered = run_stage(
        "train",
        tuesday,
        settings=aws_settings,
        step="register",
        options={"execution": "run-1", "model_artifact": artifact},
    )
    assert registered["promoted"] == 1 and registered["version"] == 1
    assert 0.0 <= registered["roc_auc"] <= 1.0  # the metrics the job wrote, registered
    registry = ModelRegistry(settings=aws_settings)
    assert registry.promoted_version() == "v1"
    assert registry.get("v1").source == "SageMakerTrainer"

    # The next day (a Wednesday, a model is live): not due, and the state machine's Choice
    # goes straight on to transform.
    skipped = run_stage(
        "train",
        tuesday + dt.timedelta(days=1),
        settings=aws_settings,
        step="prepare",
        options={"execution": "run-2"},
    )
    assert skipped == {"due": 0, "skipped": "not due"}
    body = s3.get_object(Bucket="lake-scripts", Key="jobs/ml/plans/run-2.json")["Body"].read()
    assert json.loads(body)["due"] is False
    assert states["train_due"]["Default"] == "transform"

    # 4. transform prepare (a processing job): features, the repacked model, the plan.
    prepared = run_stage(
        "transform", tuesday, settings=aws_settings, step="prepare", options={"execution": "run-1"}
    )
    assert prepared["due"] == 1 and prepared["customers"] > 0
    key = "jobs/ml/plans/run-1.transform.json"
    plan = json.loads(s3.get_object(Bucket="lake-scripts", Key=key)["Body"].read())
    document = {"transform": {"plan": plan}}
    model = _resolve(states["transform_model"]["Parameters"], document)
    job = _resolve(states["transform_job"]["Parameters"], document)
    assert model["ExecutionRoleArn"] == "${sagemaker_role_arn}"
    model["ExecutionRoleArn"] = ROLE
    assert model["VpcConfig"] == VPC and model["EnableNetworkIsolation"] is True
    assert job["TransformOutput"]["KmsKeyId"] == KEY
    sm.create_model(**model)  # the strict request-shape plugin checks both
    sm.create_transform_job(**job)

    # What the job writes: customer_id,score per line, from the repacked model's own code.
    from lakelib.ml._inference import CSV, model_fn, transform

    bucket, _, key = model["PrimaryContainer"]["ModelDataUrl"][len("s3://") :].partition("/")
    archive = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        tar.extractall(tmp_path / "opt-ml-model", filter="data")
        assert "code/inference.py" in tar.getnames()
    loaded = model_fn(str(tmp_path / "opt-ml-model"))
    source = job["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"]
    bucket, _, prefix = source[len("s3://") :].partition("/")
    lines = s3.get_object(Bucket=bucket, Key=f"{prefix}features.csv")["Body"].read().splitlines()
    body = b"\n".join(line.split(b",", 1)[1] for line in lines)  # InputFilter $[1:]
    scores, _ = transform(body, CSV, CSV, loaded)
    out = b"\n".join(
        line.split(b",", 1)[0] + b"," + score
        for line, score in zip(lines, scores.splitlines(), strict=True)
    )
    bucket, _, prefix = job["TransformOutput"]["S3OutputPath"][len("s3://") :].partition("/")
    s3.put_object(Bucket=bucket, Key=f"{prefix}features.csv.out", Body=out)

    # 5. catalog (a processing job): the scores into curated/predictions, cataloged.
    s3.create_bucket(Bucket="lake-curated")
    cataloged = run_stage(
        "transform", tuesday, settings=aws_settings, step="catalog", options={"execution": "run-1"}
    )
    assert cataloged["rows"] == prepared["customers"] == len(lines)
    partitions = GlueCatalog(aws_settings.database, region="us-east-1").list_partitions(
        "predictions"
    )
    assert [p.values for p in partitions] == [{"year": "2026", "month": "03", "day": "04"}]
