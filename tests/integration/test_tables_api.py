"""The notebook user's front door: ``import lakelib as lk``, write_table / read_table / tables.

Local tests run on the real embedded lake (zone folders, SQLite catalog, DuckDB engine);
the aws test publishes into moto server's S3 and Glue.
"""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pandas as pd
import pytest

import lakelib as lk
from lakelib.errors import CatalogError, ValidationError


def features() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["C1", "C2", "C3", "C4"],
            "Recency": [3, 10, 1, 40],
            "score": [0.5, 0.25, 0.75, 0.125],
            "as_of": ["2026-01-01", "2026-01-01", "2026-01-02", "2026-01-02"],
        }
    )


def test_import_gives_version_and_lazy_stage_packages() -> None:
    assert lk.__version__ == version("lakelib")
    assert lk.query.run_query is not None and lk.catalog.open_catalog is not None
    assert callable(lk.read_table) and callable(lk.write_table) and callable(lk.read_sql)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = lk.nope
    # Importing lakelib loads no stage package, pandas or boto3 (the CLI starts fast).
    probe = "import sys, lakelib; print(sorted(m for m in sys.modules if m.startswith(('lakelib.', 'pandas', 'boto3', 'pyarrow'))))"  # noqa: E501
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_write_then_read_a_partitioned_table(lake_home: Path) -> None:
    result = lk.write_table(features(), "features_rfm", partition_cols=["as_of"])
    assert (result.rows, result.files) == (4, 2)
    assert result.partitions == ("as_of=2026-01-01", "as_of=2026-01-02")
    folder = lake_home / "curated" / "features_rfm"
    assert sorted(p.parent.name for p in folder.rglob("*.parquet")) == [
        "as_of=2026-01-01",
        "as_of=2026-01-02",
    ]

    catalog = lk.catalog.tables()
    row = catalog.set_index("table").loc["features_rfm"]
    assert (row["zone"], row["format"], row["partition_keys"], row["partitions"]) == (
        "curated",
        "parquet",
        "as_of",
        2,
    )
    assert row["columns"] == 3  # customer_id, recency, score

    back = lk.read_table("features_rfm").sort_values("customer_id")
    assert list(back.columns) == ["customer_id", "recency", "score", "as_of"]
    assert list(back["recency"]) == [3, 10, 1, 40]
    day2 = lk.read_table(
        "features_rfm",
        columns=["customer_id"],
        partitions={"as_of": "2026-01-02"},
        where="score > ?",
        params=[0.5],
    )
    assert list(day2["customer_id"]) == ["C3"]
    assert lk.read_sql("SELECT count(*) AS n FROM features_rfm")["n"].iloc[0] == 4


def test_modes_append_overwrite_partitions_overwrite(lake_home: Path) -> None:
    lk.write_table(features(), "features_rfm", partition_cols=["as_of"])
    lk.write_table(features().iloc[:1], "features_rfm", partition_cols=["as_of"])  # append
    assert len(lk.read_table("features_rfm")) == 5

    # overwrite_partitions: 2026-01-01 (3 rows, one appended) becomes one row; 01-02 stays.
    replacement = features().iloc[:1].assign(score=0.9)
    lk.write_table(
        replacement, "features_rfm", partition_cols=["as_of"], mode="overwrite_partitions"
    )
    back = lk.read_table("features_rfm").sort_values("customer_id")
    assert list(back["customer_id"]) == ["C1", "C3", "C4"]
    assert back["score"].iloc[0] == 0.9

    # overwrite: the whole table, schema included; the partition not written is dropped.
    lk.write_table(
        features().iloc[2:3].drop(columns=["score"]),
        "features_rfm",
        partition_cols=["as_of"],
        mode="overwrite",
    )
    back = lk.read_table("features_rfm")
    assert list(back.columns) == ["customer_id", "recency", "as_of"]
    assert list(back["customer_id"]) == ["C3"]
    assert not list((lake_home / "curated" / "features_rfm" / "as_of=2026-01-01").glob("*"))
    assert lk.catalog.tables().set_index("table").loc["features_rfm", "partitions"] == 1


def test_append_with_another_schema_is_refused_with_the_columns(lake_home: Path) -> None:
    lk.write_table(features(), "features_rfm", partition_cols=["as_of"])
    with pytest.raises(CatalogError, match=r"has columns \(customer_id string, recency bigint"):
        lk.write_table(features().drop(columns=["score"]), "features_rfm", partition_cols=["as_of"])
    with pytest.raises(CatalogError, match="partitioned by as_of, not by nothing"):
        lk.write_table(features(), "features_rfm")
    with pytest.raises(ValidationError, match="mode must be one of append, overwrite"):
        lk.write_table(features(), "features_rfm", mode="replace")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="zone must be one of processed, curated"):
        lk.write_table(features(), "features_rfm", zone="raw")
    with pytest.raises(ValidationError, match="partition column 'day' is not a column"):
        lk.write_table(features(), "features_rfm", partition_cols=["day"])


def test_write_table_on_the_aws_profile_lands_in_s3_and_glue(aws: str, tmp_path: Path) -> None:
    from lakelib.aws import client
    from lakelib.config import load_settings

    client("s3").create_bucket(Bucket="lake-curated")
    client("glue").create_database(DatabaseInput={"Name": "data_lake_db"})
    settings = load_settings(
        profile="aws",
        cwd=tmp_path,
        env={"LAKE_CURATED_BUCKET": "lake-curated", "LAKE_REGION": "us-east-1"},
    )
    result = lk.write_table(features(), "features_rfm", partition_cols=["as_of"], settings=settings)
    assert result.location == "s3://lake-curated/features_rfm"
    keys = [o["Key"] for o in client("s3").list_objects_v2(Bucket="lake-curated")["Contents"]]
    assert sorted(k.rsplit("/", 1)[0] for k in keys) == [
        "features_rfm/as_of=2026-01-01",
        "features_rfm/as_of=2026-01-02",
    ]
    table = client("glue").get_table(DatabaseName="data_lake_db", Name="features_rfm")["Table"]
    assert [c["Name"] for c in table["StorageDescriptor"]["Columns"]] == [
        "customer_id",
        "recency",
        "score",
    ]
    assert [k["Name"] for k in table["PartitionKeys"]] == ["as_of"]
    parts = client("glue").get_partitions(DatabaseName="data_lake_db", TableName="features_rfm")
    assert sorted(p["Values"][0] for p in parts["Partitions"]) == ["2026-01-01", "2026-01-02"]
    frame = lk.catalog.tables(settings=settings)
    assert list(frame["table"]) == ["features_rfm"] and frame["partitions"].iloc[0] == 2


def test_read_table_on_the_aws_profile_asks_athena(aws: str, tmp_path: Path) -> None:
    import json
    import urllib.request

    from lakelib.aws import client
    from lakelib.config import load_settings

    client("s3").create_bucket(Bucket="lake-results")
    settings = load_settings(
        profile="aws",
        cwd=tmp_path,
        env={"LAKE_QUERY_RESULTS_BUCKET": "lake-results", "LAKE_REGION": "us-east-1"},
    )
    column = {"CatalogName": "hive", "SchemaName": "", "TableName": "", "Name": "customer_id"}
    column |= {"Label": "customer_id", "Type": "varchar", "Precision": 0, "Scale": 0}
    body = {
        "account_id": "123456789012",
        "region": "us-east-1",
        "results": [
            {
                "rows": [{"Data": [{"VarCharValue": v}]} for v in ("customer_id", "C3")],
                "column_info": [column | {"Nullable": "UNKNOWN", "CaseSensitive": False}],
            }
        ],
    }
    request = urllib.request.Request(
        f"{aws}/moto-api/static/athena/query-results",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request).close()

    frame = lk.read_table(
        "features_rfm",
        columns=["customer_id"],
        partitions={"as_of": "2026-01-02"},
        settings=settings,
    )
    assert list(frame["customer_id"]) == ["C3"]
    [query_id] = client("athena").list_query_executions(WorkGroup="primary")["QueryExecutionIds"]
    sent = client("athena").get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
    assert 'SELECT "customer_id" FROM features_rfm WHERE "as_of" IN (' in sent["Query"]
