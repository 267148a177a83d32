"""A notebook opened with no parameters works on the lake ``LAKE_PROFILE`` names.

That is how SageMaker Studio runs them: the lifecycle configuration sets ``LAKE_PROFILE=aws``
in the kernel's environment, nobody passes ``-p profile``. Here the kernel papermill starts
inherits ``LAKE_PROFILE=aws`` and the names of a lake in moto server (127.0.0.1), while a
local lake with other sales sits in ``LAKE_HOME``: the notebook must report the AWS one.
"""

from __future__ import annotations

import json
from pathlib import Path

import papermill as pm
import pyarrow as pa
import pyarrow.compute
import pyarrow.parquet as pq
import pytest
from test_ml_athena import queue_result
from test_notebook_parameters import outputs
from test_report_data import sales_clean

from lakelib.aws import client
from lakelib.catalog import Column, GlueCatalog, Table, crawl

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def local_lake_with_sales(lake_home: Path) -> None:
    """Sales of 2026-01-01..20 in the local lake, with the timestamp training reads."""
    sales_clean(lake_home)
    for part in (lake_home / "processed" / "sales_clean").rglob("*.parquet"):
        table = pq.read_table(part)
        stamp = pa.compute.cast(table["event_date"], pa.timestamp("us", tz="UTC"))
        pq.write_table(table.append_column("date", stamp), part)
    crawl("processed")


def aws_lake_with_sales(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Buckets, catalog and Athena of a lake in moto server whose sales are in March."""
    for bucket in ("nb-processed", "nb-scripts", "nb-results"):
        client("s3").create_bucket(Bucket=bucket)
    client("athena").create_work_group(
        Name="ml_data",
        Configuration={"ResultConfiguration": {"OutputLocation": "s3://nb-results/ml_data/"}},
    )
    client("glue").create_database(DatabaseInput={"Name": "data_lake_db"})
    columns = [("customer_id", "string"), ("date", "timestamp"), ("amount", "double")]
    GlueCatalog("data_lake_db", region="us-east-1").put_table(
        Table(
            "data_lake_db",
            "sales_clean",
            tuple(Column(n, t) for n, t in [*columns, ("region", "string")]),
            ("year", "month", "day"),
            "s3://nb-processed/sales_clean",
            "parquet",
        )
    )
    # What Athena answers the notebook's events query with.
    queue_result(
        endpoint,
        [
            ["C1", "2026-03-05 10:00:00.000", "12.5", "", "north", ""],
            ["C2", "2026-03-06 11:00:00.000", "3.0", "", "south", ""],
            ["C3", "2026-03-09 09:00:00.000", "7.0", "", "north", ""],
        ],
    )
    monkeypatch.setenv("LAKE_PROCESSED_BUCKET", "nb-processed")
    monkeypatch.setenv("LAKE_SCRIPTS_BUCKET", "nb-scripts")
    monkeypatch.setenv("LAKE_QUERY_RESULTS_BUCKET", "nb-results")
    monkeypatch.setenv("LAKE_REGION", "us-east-1")


def run_02_train(output: Path) -> dict:
    pm.execute_notebook(
        str(NOTEBOOKS / "02_train.ipynb"),
        str(output),
        # No profile parameter: the kernel's environment decides, as in Studio.
        parameters={"run_date": "2026-03-06", "retrain": False},
        kernel_name="python3",
        cwd=str(NOTEBOOKS),
        progress_bar=False,
        log_output=False,
    )
    return json.loads(output.read_text())


def test_02_train_reads_the_lake_lake_profile_names(
    aws: str, lake_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    local_lake_with_sales(lake_home)
    aws_lake_with_sales(aws, monkeypatch)
    # The repository's lake.toml (found from notebooks/) says default_profile = "local".
    monkeypatch.setenv("LAKE_PROFILE", "aws")
    executed = run_02_train(tmp_path / "02_train.ipynb")
    assert "profile aws" in outputs(executed, "lk.config.configure")
    # The AWS lake's March sales up to run_date, not the local lake's January ones.
    assert "2 sales from 2026-03-05 to 2026-03-06" in outputs(executed, "lk.ml.load_events")
    queries = client("athena").list_query_executions(WorkGroup="ml_data")["QueryExecutionIds"]
    assert len(queries) == 1


def test_without_lake_profile_the_configs_default_profile_decides(
    aws: str, lake_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    local_lake_with_sales(lake_home)
    aws_lake_with_sales(aws, monkeypatch)
    config = tmp_path / "lake.toml"
    text = (NOTEBOOKS.parent / "lake.toml").read_text()
    config.write_text(text.replace('default_profile = "local"', 'default_profile = "aws"', 1))
    monkeypatch.setenv("LAKE_CONFIG", str(config))
    executed = run_02_train(tmp_path / "02_train.ipynb")
    assert f"profile aws, config {config}" in outputs(executed, "lk.config.configure")
    assert "2 sales from 2026-03-05 to 2026-03-06" in outputs(executed, "lk.ml.load_events")
