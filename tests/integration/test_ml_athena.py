"""On the aws profile the ML stage reads sales_clean through Athena (moto server)."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

from lakelib.aws import client
from lakelib.catalog import Column, GlueCatalog, Table
from lakelib.config import load_settings
from lakelib.ml import load_events

COLUMNS = [
    ("customer_id", "varchar"),
    ("ts", "timestamp"),
    ("amount", "double"),
    ("segment", "varchar"),
    ("region", "varchar"),
    ("category", "varchar"),
]


def queue_result(endpoint: str, rows: list[list[str]]) -> None:
    header = [{"Data": [{"VarCharValue": name} for name, _ in COLUMNS]}]
    body = {
        "account_id": "123456789012",
        "region": "us-east-1",
        "results": [
            {
                "rows": header + [{"Data": [{"VarCharValue": v} for v in row]} for row in rows],
                "column_info": [
                    {
                        "CatalogName": "hive",
                        "SchemaName": "",
                        "TableName": "",
                        "Name": name,
                        "Label": name,
                        "Type": kind,
                        "Precision": 0,
                        "Scale": 0,
                        "Nullable": "UNKNOWN",
                        "CaseSensitive": False,
                    }
                    for name, kind in COLUMNS
                ],
            }
        ],
    }
    request = urllib.request.Request(
        f"{endpoint}/moto-api/static/athena/query-results",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request).close()


def test_events_come_through_athena_on_the_aws_profile(aws: str, tmp_path: Path) -> None:
    client("s3").create_bucket(Bucket="lake-results")
    client("athena").create_work_group(
        Name="ml_data",
        Configuration={"ResultConfiguration": {"OutputLocation": "s3://lake-results/ml_data/"}},
    )
    client("glue").create_database(DatabaseInput={"Name": "data_lake_db"})
    settings = load_settings(
        profile="aws",
        cwd=tmp_path,
        env={
            "LAKE_QUERY_RESULTS_BUCKET": "lake-results",
            "LAKE_PROCESSED_BUCKET": "lake-p",
            "LAKE_REGION": "us-east-1",
        },
    )
    columns = tuple(
        Column(n, t)
        for n, t in [
            ("customer_id", "string"),
            ("date", "timestamp"),
            ("amount", "double"),
            ("region", "string"),
        ]
    )
    GlueCatalog("data_lake_db", region="us-east-1").put_table(
        Table(
            "data_lake_db",
            "sales_clean",
            columns,
            ("year", "month", "day"),
            "s3://lake-p/sales_clean",
            "parquet",
        )
    )
    queue_result(
        aws,
        [
            ["C1", "2026-01-05 10:00:00.000", "12.5", "", "north", ""],
            ["C2", "2026-01-06 11:00:00.000", "3.0", "", "south", ""],
        ],
    )
    events = load_events(settings)
    assert list(events["customer_id"]) == ["C1", "C2"]
    assert list(events["amount"]) == [12.5, 3.0]
    execution = client("athena").list_query_executions(WorkGroup="ml_data")["QueryExecutionIds"]
    query = client("athena").get_query_execution(QueryExecutionId=execution[0])["QueryExecution"]
    assert "FROM sales_clean" in query["Query"] and "AS ts" in query["Query"]
    assert "CAST(NULL AS varchar) AS segment" in query["Query"]  # not in the table
