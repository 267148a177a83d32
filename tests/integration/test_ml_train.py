"""Training, the registry, batch transform and the CLI flow on a small generated lake."""

from __future__ import annotations

import os
from pathlib import Path

import boto3
import duckdb
import pandas as pd
import pytest
from botocore.config import Config
from plugins.cli import LakeCli
from test_ml_support import csv_row, generated_sales_clean, write_sales_clean

from lakelib.catalog import open_catalog
from lakelib.errors import MlError
from lakelib.ml import ModelRegistry, batch_transform, load_events, read_endpoint, train


@pytest.fixture(scope="module")
def sales_frame(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    return generated_sales_clean(tmp_path_factory.mktemp("samples"), days=60, rows_per_day=150)


@pytest.fixture
def sales_lake(sales_frame: pd.DataFrame, lake_home: Path) -> Path:
    write_sales_clean(sales_frame)
    return lake_home


def test_load_events_reads_sales_clean(sales_lake: Path, sales_frame: pd.DataFrame) -> None:
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


def test_train_registers_promotes_and_transform_writes_predictions(sales_lake: Path) -> None:
    result = train()
    version = result.version
    assert (version.version, result.promoted) == ("v1", True)
    assert version.metrics["roc_auc"] > version.metrics["baseline_prior_roc_auc"] + 0.1
    assert version.training_data["test_cutoff"] == "2026-01-31"
    assert version.training_data["label_windows_overlap"] is True
    assert Path(version.artifact).is_file()
    assert Path(version.artifact) == sales_lake / "models" / "churn" / "v1" / "model.tar.gz"
    # The script ran in a subprocess over SageMaker's folder layout.
    job = sales_lake / "runs" / "training" / result.job_name
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
    assert len(list((sales_lake / "curated" / "predictions").rglob("*.parquet"))) == 1


def test_registry_refuses_a_tampered_artifact(lake: LakeCli, sales_lake: Path) -> None:
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
    done = lake("deploy", "--target", "local", home=sales_lake)
    assert done.returncode == 1
    assert "checksum mismatch" in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_train_without_sales_clean_is_one_clear_line(lake: LakeCli, lake_home: Path) -> None:
    done = lake("train", home=lake_home)
    assert done.returncode == 1
    assert "lake: error: table 'sales_clean' is not in the catalog" in done.stderr


def test_cli_train_deploy_predict_boto3_undeploy(lake: LakeCli, sales_lake: Path) -> None:
    trained = lake("train", home=sales_lake)
    assert trained.returncode == 0, trained.stderr
    assert "ROC AUC" in trained.stdout and "v1 promoted (live)" in trained.stdout
    listed = lake("models", home=sales_lake)
    assert "v1" in listed.stdout and "*" in listed.stdout

    deployed = lake("deploy", "--target", "local", home=sales_lake)
    assert deployed.returncode == 0, deployed.stderr
    record = read_endpoint("churn-model")
    assert record is not None and record.version == "v1" and record.pid
    try:
        features = ModelRegistry().get().features
        row = csv_row(features)
        predicted = lake("predict", "--endpoint", "churn-model", "--data", row, home=sales_lake)
        assert predicted.returncode == 0, predicted.stderr
        assert 0.0 <= float(predicted.stdout) <= 1.0

        bad = lake("predict", "--data", "1,2", home=sales_lake)
        assert bad.returncode == 1 and "row 1 has 2 values" in bad.stderr

        client = boto3.Session(
            aws_access_key_id="x", aws_secret_access_key="x", region_name="us-east-1"
        ).client("sagemaker-runtime", endpoint_url=record.url, config=Config(proxies={}))
        answer = client.invoke_endpoint(
            EndpointName="churn-model", ContentType="text/csv", Body=row
        )
        assert float(answer["Body"].read()) == pytest.approx(float(predicted.stdout), abs=1e-6)
    finally:
        stopped = lake("undeploy", "churn-model", home=sales_lake)
    assert stopped.returncode == 0, stopped.stderr
    assert read_endpoint("churn-model") is None
    with pytest.raises(OSError):
        os.kill(record.pid, 0)
    gone = lake("predict", "--data", row, home=sales_lake)
    assert gone.returncode == 1 and "no endpoint 'churn-model' is deployed" in gone.stderr

    scored = lake("transform", home=sales_lake)
    assert scored.returncode == 0, scored.stderr
    assert "predicted to buy again" in scored.stdout
