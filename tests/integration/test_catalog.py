"""The catalog backends behave the same: SQLite in the lake, and Glue on moto server."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from lakelib.catalog import (
    Catalog,
    Column,
    ConcurrentUpdateError,
    GlueCatalog,
    LocalCatalog,
    Partition,
    Table,
    TableNotFoundError,
    catalog_document,
    export_catalog,
    import_catalog,
    open_catalog,
    register_partitions,
)
from lakelib.config import load_settings
from lakelib.errors import CatalogError

DB = "data_lake_db"


@pytest.fixture(params=["local", "glue"])
def catalog(request: pytest.FixtureRequest, tmp_path: Path) -> Catalog:
    if request.param == "local":
        return LocalCatalog(tmp_path / "lake" / "catalog.sqlite", DB)
    request.getfixturevalue("aws")
    return GlueCatalog(DB, region="us-east-1")


def sales(**changes: Any) -> Table:
    base: dict[str, Any] = {
        "database": DB,
        "name": "raw_sales",
        "columns": (Column("id", "bigint"), Column("amount", "double", "sale amount")),
        "partition_keys": ("year", "month", "day"),
        "location": "s3://raw/sales",
        "classification": "json",
        "compression": "gzip",
        "parameters": {"lakelib.zone": "raw"},
    }
    base.update(changes)
    return Table(**base)


def days(table: Table, count: int, start: int = 0) -> list[Partition]:
    out = []
    for n in range(start, start + count):
        month, day = divmod(n, 28)
        out.append(
            table.partition({"year": "2024", "month": f"{month + 1:02d}", "day": f"{day + 1:02d}"})
        )
    return out


def test_create_get_and_list(catalog: Catalog) -> None:
    change = catalog.put_table(sales())
    assert (change.action, change.version) == ("created", 1)
    got = catalog.get_table("raw_sales")
    assert got == sales() and got.version == 1
    assert got.columns[1].comment == "sale amount"
    catalog.put_table(sales(name="sales_clean", classification="parquet", compression="snappy"))
    assert [t.name for t in catalog.list_tables()] == ["raw_sales", "sales_clean"]
    with pytest.raises(TableNotFoundError):
        catalog.get_table("nope")
    assert catalog.find_table("nope") is None


def test_schema_changes_are_versioned(catalog: Catalog) -> None:
    catalog.put_table(sales())
    assert catalog.put_table(sales()).action == "unchanged"
    wider = sales(
        columns=(
            Column("id", "bigint"),
            Column("amount", "string", "sale amount"),
            Column("channel", "string"),
        )
    )
    change = catalog.put_table(wider)
    assert (change.action, change.version) == ("updated", 2)
    assert change.columns_added == ("channel",)
    assert change.types_changed == (("amount", "double", "string"),)
    # A parameter-only change updates the table but is not a new schema version.
    tagged = sales(columns=wider.columns, parameters={"lakelib.zone": "raw", "owner": "sales"})
    assert (catalog.put_table(tagged).action, catalog.get_table("raw_sales").version) == (
        "updated",
        2,
    )
    history = catalog.schema_history("raw_sales")
    assert [h.version for h in history] == [1, 2]
    assert history[0].changes == ("created",)
    assert history[1].changes == ("added column channel", "column amount: double -> string")
    assert [c.name for c in history[0].columns] == ["id", "amount"]
    assert catalog.get_table("raw_sales").parameters["owner"] == "sales"


def test_stale_writer_is_refused(catalog: Catalog) -> None:
    catalog.put_table(sales(), expected_version=0)
    with pytest.raises(ConcurrentUpdateError):
        catalog.put_table(sales(), expected_version=0)
    catalog.put_table(sales(columns=(Column("id", "bigint"),)), expected_version=1)
    with pytest.raises(ConcurrentUpdateError):
        catalog.put_table(sales(), expected_version=1)


def test_partitions_past_one_batch(catalog: Catalog) -> None:
    table = sales()
    catalog.put_table(table)
    parts = days(table, 250)
    assert catalog.add_partitions("raw_sales", parts) == 250
    assert catalog.add_partitions("raw_sales", parts[:10]) == 0  # idempotent
    listed = catalog.list_partitions("raw_sales")
    assert len(listed) == 250 and listed[0].spec == "year=2024/month=01/day=01"
    assert listed[0].location == "s3://raw/sales/year=2024/month=01/day=01"
    january = catalog.list_partitions("raw_sales", {"year": "2024", "month": "01"})
    assert [p.values["day"] for p in january] == [f"{d:02d}" for d in range(1, 29)]
    two = catalog.list_partitions("raw_sales", {"month": ["02", "03"], "day": "05"})
    assert [p.spec for p in two] == ["year=2024/month=02/day=05", "year=2024/month=03/day=05"]
    late = catalog.list_partitions("raw_sales", lambda v: v["month"] == "09" and v["day"] > "20")
    assert [p.values["day"] for p in late] == ["21", "22", "23", "24", "25", "26"]
    moved = Partition(parts[0].values, "s3://elsewhere/day1")
    assert catalog.add_partitions("raw_sales", [moved]) == 1
    assert (
        catalog.list_partitions("raw_sales", dict(parts[0].values))[0].location
        == "s3://elsewhere/day1"
    )
    assert catalog.delete_partitions("raw_sales", parts[:120]) == 120
    assert len(catalog.list_partitions("raw_sales")) == 130
    with pytest.raises(CatalogError, match="partitioned by"):
        catalog.add_partitions("raw_sales", [Partition({"year": "2024"}, "x")])


def test_register_partitions_after_a_write(catalog: Catalog) -> None:
    catalog.put_table(sales(location="s3://processed/sales_clean/"))
    written = [
        {"year": "2024", "month": "01", "day": "05"},
        {"day": "06", "month": "01", "year": "2024"},
    ]
    assert register_partitions("raw_sales", written, catalog=catalog) == 2
    assert register_partitions("raw_sales", written, catalog=catalog) == 0
    assert [p.location for p in catalog.list_partitions("raw_sales")] == [
        "s3://processed/sales_clean/year=2024/month=01/day=05",
        "s3://processed/sales_clean/year=2024/month=01/day=06",
    ]


def test_delete_table_drops_its_partitions(catalog: Catalog) -> None:
    table = sales()
    catalog.put_table(table)
    catalog.add_partitions("raw_sales", days(table, 3))
    catalog.delete_table("raw_sales")
    assert catalog.list_tables() == []
    with pytest.raises(TableNotFoundError):
        catalog.list_partitions("raw_sales")
    catalog.put_table(table)
    assert catalog.list_partitions("raw_sales") == []


def test_export_import_round_trip_is_exact(catalog: Catalog, tmp_path: Path) -> None:
    table = sales()
    catalog.put_table(table)
    catalog.put_table(sales(columns=(*table.columns, Column("channel", "string"))))
    catalog.add_partitions("raw_sales", days(table, 120))
    csv_table = sales(
        name="raw_customers",
        classification="csv",
        compression="none",
        partition_keys=(),
        parameters={"skip.header.line.count": "1", "delimiter": ","},
        description="customers from the CRM",
    )
    catalog.put_table(csv_table)
    first = tmp_path / "one.json"
    done = export_catalog(first, catalog=catalog)
    assert (done.tables, done.partitions) == (2, 120)
    with pytest.raises(CatalogError, match="already has 2 table"):
        import_catalog(first, catalog=catalog)

    # Restore into an emptied catalog, export again: the same bytes.
    for t in catalog.list_tables():
        catalog.delete_table(t.name)
    import_catalog(first, catalog=catalog)
    second = tmp_path / "two.json"
    export_catalog(second, catalog=catalog)
    assert second.read_bytes() == first.read_bytes()
    document = json.loads(first.read_bytes())
    sales_entry = document["tables"][1]
    assert [h["version"] for h in sales_entry["history"]] == [1, 2]
    assert sales_entry["partitions"][0]["values"] == {"day": "01", "month": "01", "year": "2024"}
    assert catalog.get_table("raw_sales").version == 2

    # --replace drops what is there first, including tables the file does not have.
    catalog.put_table(sales(name="stray"))
    import_catalog(first, catalog=catalog, replace=True)
    assert [t.name for t in catalog.list_tables()] == ["raw_customers", "raw_sales"]
    assert catalog_document(catalog) == document


def test_import_refuses_a_bad_file_before_writing(catalog: Catalog, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "something-else"}')
    with pytest.raises(CatalogError, match="not a catalog export"):
        import_catalog(bad, catalog=catalog)
    with pytest.raises(CatalogError, match="cannot read"):
        import_catalog(tmp_path / "missing.json", catalog=catalog)
    bad.write_text(
        json.dumps(
            {
                "format": "lakelib-catalog",
                "format_version": 1,
                "database": DB,
                "tables": [{"name": "Bad Name", "columns": []}],
            }
        )
    )
    with pytest.raises(CatalogError):
        import_catalog(bad, catalog=catalog)
    assert catalog.list_tables() == []


# -- local only ------------------------------------------------------------------------------


def test_sqlite_file_is_wal_with_history_table(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite"
    catalog = LocalCatalog(path)
    catalog.put_table(sales())
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"databases", "tables", "partitions", "schema_versions", "meta"} <= names
        assert conn.execute("SELECT count(*) FROM schema_versions").fetchone()[0] == 1


def test_a_file_that_is_not_sqlite_is_a_catalog_error(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(CatalogError, match="not a usable catalog"):
        LocalCatalog(path).list_tables()


def test_open_catalog_follows_the_profile(tmp_path: Path, aws: str) -> None:
    local = open_catalog(load_settings(home=tmp_path / "lake", cwd=tmp_path, env={}))
    assert isinstance(local, LocalCatalog) and local.path == tmp_path / "lake" / "catalog.sqlite"
    remote = open_catalog(
        load_settings(
            profile="aws",
            cwd=tmp_path,
            env={"LAKE_DATABASE": "other_db", "LAKE_REGION": "eu-west-1"},
        )
    )
    assert isinstance(remote, GlueCatalog)
    assert (remote.database, remote.region) == ("other_db", "eu-west-1")


# -- Glue only: what Athena needs, and the batch limits ---------------------------------------


def test_glue_table_input_is_what_athena_reads(aws: str) -> None:
    catalog = GlueCatalog(DB, region="us-east-1")
    catalog.put_table(sales())
    catalog.put_table(
        sales(
            name="raw_customers",
            classification="csv",
            compression="none",
            partition_keys=(),
            parameters={"skip.header.line.count": "1", "delimiter": ";"},
        )
    )
    catalog.put_table(
        sales(
            name="quoted",
            classification="csv",
            compression="none",
            partition_keys=(),
            parameters={"quoteChar": '"', "delimiter": ","},
        )
    )
    catalog.put_table(sales(name="sales_clean", classification="parquet", compression="snappy"))
    glue = catalog.client
    raw = glue.get_table(DatabaseName=DB, Name="raw_sales")["Table"]
    sd = raw["StorageDescriptor"]
    assert raw["TableType"] == "EXTERNAL_TABLE"
    assert raw["Parameters"]["classification"] == "json"
    assert raw["Parameters"]["compressionType"] == "gzip"
    assert sd["SerdeInfo"]["SerializationLibrary"] == "org.openx.data.jsonserde.JsonSerDe"
    assert sd["InputFormat"] == "org.apache.hadoop.mapred.TextInputFormat"
    assert [c["Name"] for c in sd["Columns"]] == ["id", "amount"]
    assert raw["PartitionKeys"] == [{"Name": k, "Type": "string"} for k in ("year", "month", "day")]
    csv = glue.get_table(DatabaseName=DB, Name="raw_customers")["Table"]
    assert csv["Parameters"]["skip.header.line.count"] == "1"
    assert csv["StorageDescriptor"]["SerdeInfo"]["Parameters"]["field.delim"] == ";"
    quoted = glue.get_table(DatabaseName=DB, Name="quoted")["Table"]["StorageDescriptor"]
    assert (
        quoted["SerdeInfo"]["SerializationLibrary"] == "org.apache.hadoop.hive.serde2.OpenCSVSerde"
    )
    parquet = glue.get_table(DatabaseName=DB, Name="sales_clean")["Table"]["StorageDescriptor"]
    assert parquet["SerdeInfo"]["SerializationLibrary"].endswith("ParquetHiveSerDe")
    assert parquet["InputFormat"].endswith("MapredParquetInputFormat")


def test_glue_batches_partitions_by_100_and_repairs_them_on_schema_change(aws: str) -> None:
    catalog = GlueCatalog(DB, region="us-east-1")
    calls: list[int] = []
    catalog.client.meta.events.register(
        "provide-client-params.glue.BatchCreatePartition",
        lambda params, **_: calls.append(len(params["PartitionInputList"])),
    )
    table = sales()
    catalog.put_table(table)
    catalog.add_partitions("raw_sales", days(table, 250))
    assert calls == [100, 100, 50]
    catalog.put_table(sales(columns=(*table.columns, Column("channel", "string"))))
    pages = catalog.client.get_paginator("get_partitions").paginate(
        DatabaseName=DB, TableName="raw_sales"
    )
    stored = [p for page in pages for p in page["Partitions"]]
    assert len(stored) == 250
    assert {tuple(c["Name"] for c in p["StorageDescriptor"]["Columns"]) for p in stored} == {
        ("id", "amount", "channel")
    }


def test_glue_catalog_backs_up_to_s3(aws: str) -> None:
    from lakelib.aws import client

    client("s3").create_bucket(Bucket="lake-backups")
    catalog = GlueCatalog(DB, region="us-east-1")
    table = sales()
    catalog.put_table(table)
    catalog.add_partitions("raw_sales", days(table, 3))
    target = "s3://lake-backups/catalog/2024-01-05.json"
    done = export_catalog(target, catalog=catalog)
    assert (done.location, done.tables, done.partitions) == (target, 1, 3)
    body = (
        client("s3").get_object(Bucket="lake-backups", Key="catalog/2024-01-05.json")["Body"].read()
    )
    assert json.loads(body)["tables"][0]["name"] == "raw_sales"
    catalog.delete_table("raw_sales")
    with pytest.raises(TableNotFoundError):
        catalog.schema_history("raw_sales")
    import_catalog(target, catalog=catalog)
    assert len(catalog.list_partitions("raw_sales")) == 3
    assert [h.version for h in catalog.schema_history("raw_sales")] == [1]
