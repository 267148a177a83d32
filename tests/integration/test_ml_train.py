"""Training, the registry, batch transform and the CLI flow on a small generated lake."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import boto3
import duckdb
import pandas as pd
import pytest
from botocore.config import Config
from test_ml_support import csv_row, generated_sales_clean, write_sales_clean

from lakelib.catalog import open_catalog
from lakelib.errors import MlError
from lakelib.ml import ModelRegistry, batch_transform, load_events, read_endpoint, train

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def sales_frame(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    return generated_sales_clean(tmp_path_factory.mktemp("samples"), days=60, rows_per_day=150)


@pytest.fixture
def lake(sales_frame: pd.DataFrame, lake_home: Path) -> Path:
    write_sales_clean(sales_frame)
    return lake_home


def lake_cli(home: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAKE_")}
    env.update(LAKE_HOME=str(home), COLUMNS="200")
    return subprocess.run(
        [sys.executable, "-m", "lakelib", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_load_events_reads_sales_clean(lake: Path, sales_frame: pd.DataFrame) -> None:
    events = load_events()
    assert len(events) == len(sales_frame)
    assert list(events.columns[:6]) == [
        "customer_id",
        "ts",
        "amount",
        "segment",
        "region",
        "category",
    ]
    assert events["ts"].is_monotonic_increasing


def test_train_registers_promotes_and_transform_writes_predictions(lake: Path) -> None:
    result = train()
    version = result.version
    assert (version.version, result.promoted) == ("v1", True)
    assert version.metrics["roc_auc"] > version.metrics["baseline_prior_roc_auc"] + 0.1
    assert version.training_data["test_cutoff"] == "2026-01-31"
    assert version.training_data["label_windows_overlap"] is True
    assert Path(version.artifact).is_file()
    assert Path(version.artifact) == lake / "models" / "churn" / "v1" / "model.tar.gz"
    # The script ran in a subprocess over SageMaker's folder layout.
    job = lake / "runs" / "training" / result.job_name
    assert (job / "model" / "model.joblib").is_file()
    assert (job / "output" / "data" / "metrics.json").is_file()
    assert (job / "input" / "data" / "train" / "train.csv").is_file()

    second = train(hyperparameters={"max-iter": 20}, promote="never")
    registry = ModelRegistry()
    assert [v.version for v in registry.versions()] == ["v1", "v2"]
    assert registry.promoted_version() == "v1" and not second.promoted
    rows = dict((m, (a, b)) for m, a, b in registry.compare("v1", "v2"))
    assert rows["roc_auc"] == (version.metrics["roc_auc"], second.metrics["roc_auc"])
    registry.promote("v2")
    assert registry.promoted_version() == "v2"

    done = batch_transform(version="v1")
    assert done.version == "v1" and str(done.as_of) == "2026-03-02"
    assert done.partition == {"year": "2026", "month": "03", "day": "02"}
    table = open_catalog().get_table("predictions")
    assert [p.spec for p in open_catalog().list_partitions("predictions")] == [
        "year=2026/month=03/day=02"
    ]
    frame = duckdb.sql(
        f"SELECT * FROM read_parquet('{table.location}/**/*.parquet', hive_partitioning=true)"
    ).df()
    assert len(frame) == done.rows == frame["customer_id"].nunique()
    assert frame["score"].between(0, 1).all() and set(frame["model_version"]) == {"v1"}
    again = batch_transform(version="v1")  # rerun replaces the day's file
    assert again.rows == done.rows
    assert len(list((lake / "curated" / "predictions").rglob("*.parquet"))) == 1


def test_registry_refuses_a_tampered_artifact(lake: Path) -> None:
    import io
    import tarfile

    from lakelib.ml import run_ml_stage

    stages = dict(run_ml_stage())  # what lake demo runs: train, then transform
    assert stages["train"].startswith("churn v1 (promoted): ROC AUC")
    assert "customers scored as of 2026-03-02 with v1" in stages["transform"]
    result = ModelRegistry().get()
    path = Path(result.artifact)
    members = {}
    with tarfile.open(path, "r:gz") as archive:
        for member in archive.getmembers():
            members[member.name] = archive.extractfile(member).read()  # type: ignore[union-attr]
    members["model.joblib"] += b"\x00"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    path.write_bytes(buffer.getvalue())
    with pytest.raises(MlError, match="checksum mismatch"):
        ModelRegistry().load()
    done = lake_cli(lake, "deploy", "--target", "local")
    assert done.returncode == 1
    assert "checksum mismatch" in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_train_without_sales_clean_is_one_clear_line(lake_home: Path) -> None:
    done = lake_cli(lake_home, "train")
    assert done.returncode == 1
    assert "lake: error: table 'sales_clean' is not in the catalog" in done.stderr


def test_cli_train_deploy_predict_boto3_undeploy(lake: Path) -> None:
    trained = lake_cli(lake, "train")
    assert trained.returncode == 0, trained.stderr
    assert "ROC AUC" in trained.stdout and "v1 promoted (live)" in trained.stdout
    listed = lake_cli(lake, "models")
    assert "v1" in listed.stdout and "*" in listed.stdout

    deployed = lake_cli(lake, "deploy", "--target", "local")
    assert deployed.returncode == 0, deployed.stderr
    record = read_endpoint("churn-model")
    assert record is not None and record.version == "v1" and record.pid
    try:
        features = ModelRegistry().get().features
        row = csv_row(features)
        predicted = lake_cli(lake, "predict", "--endpoint", "churn-model", "--data", row)
        assert predicted.returncode == 0, predicted.stderr
        assert 0.0 <= float(predicted.stdout) <= 1.0

        bad = lake_cli(lake, "predict", "--data", "1,2")
        assert bad.returncode == 1 and "row 1 has 2 values" in bad.stderr

        client = boto3.Session(
            aws_access_key_id="x", aws_secret_access_key="x", region_name="us-east-1"
        ).client("sagemaker-runtime", endpoint_url=record.url, config=Config(proxies={}))
        answer = client.invoke_endpoint(
            EndpointName="churn-model", ContentType="text/csv", Body=row
        )
        assert float(answer["Body"].read()) == pytest.approx(float(predicted.stdout), abs=1e-6)
    finally:
        stopped = lake_cli(lake, "undeploy", "churn-model")
    assert stopped.returncode == 0, stopped.stderr
    assert read_endpoint("churn-model") is None
    with pytest.raises(OSError):
        os.kill(record.pid, 0)
    gone = lake_cli(lake, "predict", "--data", row)
    assert gone.returncode == 1 and "no endpoint 'churn-model' is deployed" in gone.stderr

    scored = lake_cli(lake, "transform")
    assert scored.returncode == 0, scored.stderr
    assert "predicted to buy again" in scored.stdout
