"""``LocalCatalog.check``: what a damaged SQLite catalog looks like, one problem per line."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from lakelib.catalog import Column, LocalCatalog, Table
from lakelib.errors import CatalogError


def sales(catalog: LocalCatalog) -> LocalCatalog:
    table = Table(
        database="data_lake_db",
        name="raw_sales",
        columns=(Column("id", "string"), Column("amount", "double")),
        partition_keys=("year", "month", "day"),
        location="/lake/raw/sales",
        classification="json",
        compression="gzip",
        parameters={},
        description="",
        version=1,
    )
    catalog.put_table(table)
    days = [{"year": "2024", "month": "01", "day": f"{d:02d}"} for d in (5, 6)]
    catalog.add_partitions("raw_sales", [table.partition(v) for v in days])
    return catalog


def test_an_absent_catalog_has_no_problems_and_is_not_created(tmp_path: Path) -> None:
    catalog = LocalCatalog(tmp_path / "catalog.sqlite")
    assert catalog.check() == []
    assert not catalog.path.exists()


def test_a_sound_catalog_has_no_problems(tmp_path: Path) -> None:
    catalog = sales(LocalCatalog(tmp_path / "catalog.sqlite"))
    assert catalog.check() == []
    assert [p.spec for p in catalog.list_partitions("raw_sales")] == [
        "year=2024/month=01/day=05",
        "year=2024/month=01/day=06",
    ]


def test_damaged_rows_orphans_and_missing_tables_are_each_one_line(tmp_path: Path) -> None:
    catalog = sales(LocalCatalog(tmp_path / "catalog.sqlite"))
    conn = sqlite3.connect(catalog.path)
    with conn:
        conn.execute("UPDATE tables SET parameters = '[]'")
        conn.execute("UPDATE schema_versions SET changes = 'created'")
        # A partition whose table is gone (foreign keys are off in a plain connection).
        conn.execute(
            "INSERT INTO partitions VALUES ('data_lake_db', 'gone', 'year=2024', "
            "'{\"year\": \"2024\"}', '/x', '2024-01-01T00:00:00Z')"
        )
    conn.close()
    problems = catalog.check()
    assert problems == [
        "table data_lake_db.raw_sales: parameters is a JSON list, not a dict",
        "schema version 1 of data_lake_db.raw_sales: changes is not valid JSON "
        "(Expecting value: line 1 column 1 (char 0))",
        "1 row(s) of partitions belong to no table or database",
    ]
    with pytest.raises(CatalogError, match="is damaged: table raw_sales cannot be read"):
        catalog.schema_history("raw_sales")

    conn = sqlite3.connect(catalog.path)
    conn.execute("DROP TABLE schema_versions")
    conn.close()
    assert catalog.check() == ["table schema_versions of the catalog schema is missing"]


def test_a_file_that_is_not_a_database_is_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite"
    path.write_bytes(b"SQLite format 3\x00" + bytes(4000))
    with pytest.raises(CatalogError, match="is unreadable"):
        LocalCatalog(path).check()
