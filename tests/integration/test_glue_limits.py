"""Glue API batch limits that botocore and moto do not enforce but real Glue does."""

from __future__ import annotations

import pytest

from lakelib.catalog import Column, GlueCatalog, Partition, Table

pytestmark = pytest.mark.aws

DB = "data_lake_db"


def _table() -> Table:
    return Table(
        database=DB,
        name="sales_clean",
        columns=(Column("id", "bigint"),),
        partition_keys=("year", "month", "day"),
        location="s3://processed/sales_clean",
        classification="parquet",
    )


def _days(table: Table, count: int) -> list[Partition]:
    return [
        table.partition({"year": "2024", "month": f"{n // 28 + 1:02d}", "day": f"{n % 28 + 1:02d}"})
        for n in range(count)
    ]


def test_partitions_are_deleted_25_at_a_time(aws: str) -> None:
    catalog = GlueCatalog(DB, region="us-east-1")
    sizes: dict[str, list[int]] = {"create": [], "delete": []}
    events = catalog.client.meta.events
    events.register(
        "provide-client-params.glue.BatchCreatePartition",
        lambda params, **_: sizes["create"].append(len(params["PartitionInputList"])),
    )
    events.register(
        "provide-client-params.glue.BatchDeletePartition",
        lambda params, **_: sizes["delete"].append(len(params["PartitionsToDelete"])),
    )
    table = _table()
    catalog.put_table(table)
    parts = _days(table, 130)
    assert catalog.add_partitions("sales_clean", parts) == 130
    assert catalog.delete_partitions("sales_clean", parts[:110]) == 110

    # Real Glue refuses more than 25 partitions in one BatchDeletePartition (100 to create).
    assert sizes["create"] == [100, 30]
    assert sizes["delete"] == [25, 25, 25, 25, 10]
    left = catalog.list_partitions("sales_clean")
    assert [p.spec for p in left] == [p.spec for p in parts[110:]]
