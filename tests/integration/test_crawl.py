"""The crawler over a real lake: local files + SQLite, and S3 + Glue on moto server."""

from __future__ import annotations

import gzip
import io
import json
import sqlite3
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakelib.catalog import (
    Catalog,
    CrawlReport,
    LocalCatalog,
    catalog_document,
    crawl,
    open_catalog,
)
from lakelib.config import Settings, load_settings
from lakelib.storage import RawKey, Store, zone_store

BUCKETS = {
    "LAKE_RAW_BUCKET": "lake-raw",
    "LAKE_PROCESSED_BUCKET": "lake-processed",
    "LAKE_CURATED_BUCKET": "lake-curated",
    "LAKE_SCRIPTS_BUCKET": "lake-scripts",
    "LAKE_QUERY_RESULTS_BUCKET": "lake-query-results",
}


@dataclass
class Lake:
    settings: Settings
    catalog: Catalog
    stores: dict[str, Store] = field(default_factory=dict)

    def store(self, zone: str) -> Store:
        if zone not in self.stores:
            self.stores[zone] = zone_store(zone, self.settings)
        return self.stores[zone]

    def crawl(self, zone: str | None = None, **kwargs: Any) -> CrawlReport:
        return crawl(zone, catalog=self.catalog, settings=self.settings, **kwargs)


@pytest.fixture(params=["local", "aws"])
def lake(request: pytest.FixtureRequest, tmp_path: Path) -> Lake:
    if request.param == "local":
        settings = load_settings(home=tmp_path / "lake", cwd=tmp_path, env={})
    else:
        request.getfixturevalue("aws")
        from lakelib.aws import client

        s3 = client("s3")
        for bucket in BUCKETS.values():
            s3.create_bucket(Bucket=bucket)
        settings = load_settings(
            profile="aws", cwd=tmp_path, env={**BUCKETS, "LAKE_REGION": "us-east-1"}
        )
    return Lake(settings, open_catalog(settings))


# -- data ------------------------------------------------------------------------------------


def jsonl_gz(records: list[dict[str, Any]]) -> bytes:
    return gzip.compress("".join(json.dumps(r) + "\n" for r in records).encode())


def parquet(columns: dict[str, Any], schema: pa.Schema | None = None) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(pa.table(columns, schema=schema), buffer, compression="snappy")
    return buffer.getvalue()


def sale(n: int, day: int, **extra: Any) -> dict[str, Any]:
    return {
        "_ingested_at": f"2024-01-{day:02d}T02:00:00Z",
        "_source": "sales",
        "_run_id": f"run-{day}",
        "_origin": "https://api.example.test/sales",
        "id": n,
        "date": f"2024-01-{day:02d}",
        "amount": 10.5 + n,
        "customer_id": 100 + n,
        "product_id": 7,
        **extra,
    }


def land_sales(lake: Lake, day: int, records: list[dict[str, Any]], hour: int = 2) -> str:
    key = RawKey("sales", datetime(2024, 1, day, hour, 0, tzinfo=UTC)).relative
    lake.store("raw").write_bytes(key, jsonl_gz(records))
    return key


def part(day: int) -> str:
    return f"year=2024/month=01/day={day:02d}"


SALES_CLEAN = pa.schema(
    [
        ("id", pa.int64()),
        ("quantity", pa.int32()),
        ("amount", pa.decimal128(10, 2)),
        ("sold_at", pa.timestamp("us", tz="UTC")),
        ("channel", pa.string()),
    ]
)


def sales_clean(n: int) -> bytes:
    return parquet(
        {
            "id": list(range(n)),
            "quantity": [1] * n,
            "amount": [Decimal("1.50")] * n,
            "sold_at": [datetime(2024, 1, 5, tzinfo=UTC)] * n,
            "channel": ["web"] * n,
        },
        SALES_CLEAN,
    )


def build_lake(lake: Lake) -> None:
    """JSON.gz, CSV and Parquet tables under hive partitions in every data zone."""
    land_sales(lake, 5, [sale(1, 5), sale(2, 5)])
    land_sales(lake, 6, [sale(3, 6)])
    # A later file of the same day: amount as a numeric string, and a new channel field.
    land_sales(lake, 6, [sale(4, 6, amount="12.00", channel="web")], hour=3)
    raw = lake.store("raw")
    raw.write_bytes(f"sales/{part(6)}/_SUCCESS", b"")
    order = {
        "order_id": 1,
        "items": [{"sku": "A-1", "qty": 2}, {"sku": "B-2", "qty": 1, "gift": True}],
        "shipping": {"city": "Lyon", "zip": None},
    }
    raw.write_bytes(f"orders/{part(5)}/orders_20240105_020000.json.gz", jsonl_gz([order]))
    raw.write_bytes(
        f"customers/{part(5)}/customers.csv",
        b"customer_id,name,signup_date\n101,Ann,2024-01-01\n102,Bob,\n",
    )
    processed = lake.store("processed")
    processed.write_bytes(f"sales_clean/{part(5)}/part-00000-a.c000.snappy.parquet", sales_clean(3))
    processed.write_bytes(f"sales_clean/{part(6)}/part-00000-b.c000.snappy.parquet", sales_clean(2))
    lake.store("curated").write_bytes(
        "customer_aggregates/part-00000.snappy.parquet",
        parquet({"customer_id": [101], "total": [22.5], "products": [["7", "8"]]}),
    )
    lake.store("quarantine").write_bytes(
        f"sales_clean/{part(6)}/part-00000.snappy.parquet",
        parquet({"id": [4], "amount": ["12.00"], "reason": ["amount is not a number"]}),
    )


def types(lake: Lake, table: str) -> dict[str, str]:
    return {c.name: c.type for c in lake.catalog.get_table(table).columns}


# -- tests -----------------------------------------------------------------------------------


def test_first_crawl_finds_tables_types_and_partitions(lake: Lake) -> None:
    build_lake(lake)
    report = lake.crawl(explain=True)
    assert report.problems == []
    assert {t.table: t.action for t in report.tables} == {
        "raw_customers": "created",
        "raw_orders": "created",
        "raw_sales": "created",
        "sales_clean": "created",
        "customer_aggregates": "created",
        "quarantine_sales_clean": "created",
    }
    catalog = lake.catalog
    raw_sales = catalog.get_table("raw_sales")
    assert types(lake, "raw_sales") == {
        "_ingested_at": "string",
        "_source": "string",
        "_run_id": "string",
        "_origin": "string",
        "id": "bigint",
        "date": "string",
        "amount": "string",
        "customer_id": "bigint",
        "product_id": "bigint",
        "channel": "string",
    }
    assert raw_sales.partition_keys == ("year", "month", "day")
    assert (raw_sales.classification, raw_sales.compression) == ("json", "gzip")
    raw = lake.store("raw")
    assert raw_sales.location == raw.url("sales")
    partitions = catalog.list_partitions("raw_sales")
    assert [p.spec for p in partitions] == [part(5), part(6)]
    assert partitions[1].location == raw.url(f"sales/{part(6)}")
    assert catalog.list_partitions("raw_sales", {"day": "06"}) == partitions[1:]

    assert types(lake, "raw_orders") == {
        "order_id": "bigint",
        "items": "array<struct<sku:string,qty:bigint,gift:boolean>>",
        "shipping": "struct<city:string,zip:string>",
    }
    customers = catalog.get_table("raw_customers")
    assert types(lake, "raw_customers") == {
        "customer_id": "bigint",
        "name": "string",
        "signup_date": "string",
    }
    assert customers.parameters["skip.header.line.count"] == "1"
    assert customers.parameters["delimiter"] == ","
    assert [p.spec for p in catalog.list_partitions("raw_customers")] == [part(5)]

    clean = catalog.get_table("sales_clean")
    assert types(lake, "sales_clean") == {
        "id": "bigint",
        "quantity": "int",
        "amount": "decimal(10,2)",
        "sold_at": "timestamp",
        "channel": "string",
    }
    assert (clean.classification, clean.compression) == ("parquet", "snappy")
    assert len(catalog.list_partitions("sales_clean")) == 2
    aggregates = catalog.get_table("customer_aggregates")
    assert (
        aggregates.partition_keys == ()
        and types(lake, "customer_aggregates")["products"] == "array<string>"
    )
    assert "reason" in types(lake, "quarantine_sales_clean")
    assert catalog.get_table("quarantine_sales_clean").location == lake.store("quarantine").url(
        "sales_clean"
    )

    # --explain says why amount is a string and where the header came from.
    decisions = "\n".join(report.decisions())
    assert "raw_sales: column amount: double and string seen" in decisions
    assert "-> string: a value seen as text cannot be read as a number" in decisions
    assert "raw_customers: customers.csv" not in decisions  # relative to the table folder
    assert f"raw_customers: {part(5)}/customers.csv: header: the first row" in decisions
    assert "raw_sales: 1 hidden or marker files" in decisions
    assert "JSON integers are bigint" in decisions


def test_second_crawl_with_no_change_changes_nothing(lake: Lake) -> None:
    build_lake(lake)
    lake.crawl()
    before = catalog_document(lake.catalog)
    again = lake.crawl()
    assert not again.changed
    assert {t.action for t in again.tables} == {"unchanged"}
    assert all(not t.partitions_added and not t.partitions_removed for t in again.tables)
    assert catalog_document(lake.catalog) == before


def test_new_columns_and_partitions_are_recorded_exactly(lake: Lake) -> None:
    land_sales(lake, 5, [sale(1, 5)])
    lake.crawl("raw")
    land_sales(lake, 6, [sale(2, 6, channel="store")])
    report = lake.crawl("raw").table("raw_sales")
    assert (report.action, report.version) == ("updated", 2)
    assert report.columns_added == ["channel"]
    assert report.types_widened == []
    assert report.partitions_added == [part(6)]
    assert report.partitions_removed == []

    land_sales(lake, 7, [sale(3, 7, customer_id="C-7")])
    report = lake.crawl("raw").table("raw_sales")
    assert (report.action, report.version) == ("updated", 3)
    assert report.columns_added == []
    assert report.types_widened == [("customer_id", "bigint", "string")]
    assert report.partitions_added == [part(7)]
    history = lake.catalog.schema_history("raw_sales")
    assert [h.changes for h in history] == [
        ("created",),
        ("added column channel",),
        ("column customer_id: bigint -> string",),
    ]


def test_a_removed_partition_is_dropped_but_its_columns_are_kept(lake: Lake) -> None:
    first = land_sales(lake, 5, [sale(1, 5, legacy_flag=True)])
    land_sales(lake, 6, [sale(2, 6)])
    lake.crawl("raw")
    lake.store("raw").delete(first)
    report = lake.crawl("raw", explain=True).table("raw_sales")
    assert report.partitions_removed == [part(5)]
    assert report.action == "unchanged"
    assert "legacy_flag" in types(lake, "raw_sales")
    assert any(
        "legacy_flag boolean: not in this crawl's sample; kept" in d for d in report.decisions
    )
    assert [p.spec for p in lake.catalog.list_partitions("raw_sales")] == [part(6)]


def test_bad_input_is_reported_one_line_each_and_the_crawl_goes_on(lake: Lake) -> None:
    raw, processed = lake.store("raw"), lake.store("processed")
    land_sales(lake, 5, [sale(1, 5)])
    raw.write_bytes(f"sales/{part(6)}/sales_20240106_020000.json.gz", b"this is not gzip")
    raw.write_bytes("sales/2024/01/sales_20240107_020000.json.gz", jsonl_gz([sale(9, 7)]))
    raw.write_bytes("empty/_SUCCESS", b"")
    raw.write_bytes(f"mixed/{part(5)}/a.json.gz", jsonl_gz([{"x": 1}]))
    raw.write_bytes(f"mixed/{part(6)}/b.json.gz", jsonl_gz([{"x": 2}]))
    raw.write_bytes(f"mixed/{part(6)}/c.csv", b"x\n3\n")
    raw.write_bytes("Bad-Name/x.json.gz", jsonl_gz([{"x": 1}]))
    processed.write_bytes(f"sales_clean/{part(5)}/part-0.parquet", sales_clean(2))
    corrupt = sales_clean(2)
    processed.write_bytes(
        f"sales_clean/{part(6)}/part-0.parquet", corrupt[:-12] + b"\x00" * 8 + b"PAR1"
    )

    report = lake.crawl()
    problems = report.problems
    assert all("\n" not in line for line in problems)
    expected = [
        f"raw/sales: cannot read {part(6)}/sales_20240106_020000.json.gz: not a valid gzip file",
        f"raw/sales: partition {part(6)}: none of the sampled files is readable; partition not "
        "registered",
        "raw/sales: folder '2024/01' is not a key=value partition folder",
        "raw/empty: no data files; no table created",
        "raw/mixed: mixed formats (1 csv, 2 json files): the table is json; the csv file(s) are "
        "skipped (first: year=2024/month=01/day=06/c.csv)",
        "raw/Bad-Name: invalid table folder name 'Bad-Name'",
        f"processed/sales_clean: cannot read {part(6)}/part-0.parquet: corrupt Parquet footer",
        f"processed/sales_clean: partition {part(6)}: none of the sampled files is readable",
    ]
    for start in expected:
        assert sum(line.startswith(start) for line in problems) == 1, (start, problems)
    assert len(problems) == len(expected)

    # What could be read is catalogued, and nothing that would break a query is.
    catalog = lake.catalog
    assert [t.name for t in catalog.list_tables()] == ["raw_mixed", "raw_sales", "sales_clean"]
    assert [p.spec for p in catalog.list_partitions("raw_sales")] == [part(5)]
    assert [p.spec for p in catalog.list_partitions("sales_clean")] == [part(5)]
    assert types(lake, "raw_mixed") == {"x": "bigint"}
    assert catalog.get_table("raw_mixed").classification == "json"

    # A second crawl reports the same, and changes nothing.
    before = catalog_document(catalog)
    again = lake.crawl()
    assert sorted(again.problems) == sorted(problems)
    assert not again.changed and catalog_document(catalog) == before


def test_parquet_partition_the_table_type_cannot_read_is_reported(lake: Lake) -> None:
    processed = lake.store("processed")
    processed.write_bytes(
        f"events/{part(5)}/p.parquet", parquet({"n": pa.array([1], pa.int32()), "v": [1]})
    )
    processed.write_bytes(
        f"events/{part(6)}/p.parquet", parquet({"n": pa.array([2], pa.int64()), "v": ["x"]})
    )
    report = lake.crawl("processed", explain=True).table("events")
    assert types(lake, "events") == {"n": "bigint", "v": "string"}
    assert report.problems == [
        f"processed/events: partition {part(5)}: column v is bigint in its Parquet files but "
        "string in the table; queries on this partition fail: rewrite it with the table's types "
        "(or rerun the ETL for it)"
    ]
    # int32 files under a bigint column are fine: engines promote them.
    assert any(
        f"partition {part(5)}: column n is int in its files, bigint" in d for d in report.decisions
    )
    assert len(lake.catalog.list_partitions("events")) == 2


def test_empty_local_folder_is_reported(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path / "lake", cwd=tmp_path, env={})
    (tmp_path / "lake" / "curated" / "nothing_yet").mkdir(parents=True)
    report = crawl("curated", settings=settings, catalog=open_catalog(settings))
    assert report.problems == ["curated/nothing_yet: no data files; no table created"]


def test_sampling_budget_bounds_what_is_read(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path / "lake", cwd=tmp_path, env={})
    catalog = open_catalog(settings)
    records = [{"id": i, "pad": "x" * 200} for i in range(3000)] + [{"id": 3001, "late": 1}]
    zone_store("raw", settings).write_bytes(f"big/{part(5)}/big.json.gz", jsonl_gz(records))
    from lakelib.catalog import SamplingBudget

    small = crawl("raw", settings=settings, catalog=catalog, explain=True)
    assert "late" not in {c.name for c in catalog.get_table("raw_big").columns}
    assert any("1000 records (sample cut at the budget)" in d for d in small.decisions())
    crawl(
        "raw",
        settings=settings,
        catalog=catalog,
        budget=SamplingBudget(records_per_file=5000, bytes_per_file=8 << 20),
    )
    assert "late" in {c.name for c in catalog.get_table("raw_big").columns}


_CRAWLER = textwrap.dedent(
    """
    import sys
    from lakelib.catalog import LocalCatalog, crawl
    from lakelib.config import load_settings

    settings = load_settings(home=sys.argv[1], env={})
    report = crawl("raw", catalog=LocalCatalog(sys.argv[2]), settings=settings)
    assert not report.problems, report.problems
    """
)


def test_two_processes_crawling_at_once_keep_the_catalog_consistent(tmp_path: Path) -> None:
    shared = tmp_path / "catalog.sqlite"
    lakes = []
    for name, column in (("a", "only_in_a"), ("b", "only_in_b")):
        settings = load_settings(home=tmp_path / name, cwd=tmp_path, env={})
        store = zone_store("raw", settings)
        for table in range(8):
            for day in range(1, 6):
                store.write_bytes(
                    f"t{table}/{part(day)}/f.json.gz", jsonl_gz([{"id": day, column: "x"}])
                )
        lakes.append(settings.home)
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", _CRAWLER, str(home), str(shared)],
            stderr=subprocess.PIPE,
            text=True,
        )
        for home in lakes
    ]
    for run in runs:
        _, err = run.communicate(timeout=120)
        assert run.returncode == 0, err

    catalog = LocalCatalog(shared)
    tables = catalog.list_tables()
    assert [t.name for t in tables] == [f"raw_t{n}" for n in range(8)]
    for table in tables:
        # Neither crawl lost the other's column: the second writer merged, not overwrote.
        assert {c.name for c in table.columns} == {"id", "only_in_a", "only_in_b"}
        assert (
            [h.version for h in catalog.schema_history(table.name)] == [1, 2] == [1, table.version]
        )
        assert len(catalog.list_partitions(table.name)) == 5
    with sqlite3.connect(shared) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
