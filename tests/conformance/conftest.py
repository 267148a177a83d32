"""One fixture lake for the whole conformance suite, crawled once, queried through one engine.

Tables (database ``data_lake_db``):

- ``sales`` (processed zone, Parquet, partitions year/month/day, 3 days, 6 rows):
  id bigint, customer string, amount double (one NULL), qty bigint, sold_at timestamp,
  channel string (one NULL), tags array<string>
- ``raw_events`` (raw zone, gzip JSON lines, partitions year/month/day, 2 days, 4 rows):
  id bigint, url string, payload string (JSON text), info struct<kind:string,score:bigint>
- ``regions`` (curated zone, CSV with header): customer, region
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakelib.catalog import crawl
from lakelib.config import Settings, load_settings

SALES = [
    # id, customer, amount, qty, sold_at, channel, tags, day
    (1, "c1", 10.0, 1, dt.datetime(2024, 1, 1, 8, 0), "web", ["a", "b"], "01"),
    (2, "c2", 20.0, 2, dt.datetime(2024, 1, 1, 9, 30), "store", ["b"], "01"),
    (3, "c1", 30.0, 3, dt.datetime(2024, 1, 1, 23, 59), None, [], "01"),
    (4, "c3", 40.0, 1, dt.datetime(2024, 1, 2, 10, 0), "web", ["a"], "02"),
    (5, "c2", None, 2, dt.datetime(2024, 1, 2, 11, 0), "web", None, "02"),
    (6, "c1", 60.0, 5, dt.datetime(2024, 1, 3, 12, 0), "store", ["c", "a"], "03"),
]

EVENTS = [
    {
        "id": 1,
        "url": "https://shop.example.com:8443/cart/view?item=42&ref=mail#top",
        "payload": '{"user": {"name": "ann", "tier": 2}, "items": [10, 20, 30]}',
        "info": {"kind": "click", "score": 5},
    },
    {
        "id": 2,
        "url": "http://example.org/a%20b?q=x+y",
        "payload": '{"user": {"name": "bob"}, "items": []}',
        "info": {"kind": "view", "score": 1},
    },
    {
        "id": 3,
        "url": "https://example.org/",
        "payload": '{"user": null, "items": [1]}',
        "info": {"kind": "click", "score": 3},
    },
    {
        "id": 4,
        "url": "ftp://files.example.net/pub",
        "payload": "[1, 2]",
        "info": {"kind": "view", "score": 7},
    },
]


def _write_sales(home: Path) -> None:
    schema = pa.schema(
        [
            ("id", pa.int64()),
            ("customer", pa.string()),
            ("amount", pa.float64()),
            ("qty", pa.int64()),
            ("sold_at", pa.timestamp("us")),
            ("channel", pa.string()),
            ("tags", pa.list_(pa.string())),
        ]
    )
    for day in ("01", "02", "03"):
        rows = [r for r in SALES if r[7] == day]
        folder = home / "processed" / "sales" / f"year=2024/month=01/day={day}"
        folder.mkdir(parents=True)
        columns = {name: [r[i] for r in rows] for i, name in enumerate(schema.names)}
        pq.write_table(pa.table(columns, schema=schema), folder / "part-00000.parquet")


def _write_events(home: Path) -> None:
    for day, events in (("01", EVENTS[:2]), ("02", EVENTS[2:])):
        folder = home / "raw" / "events" / f"year=2024/month=01/day={day}"
        folder.mkdir(parents=True)
        text = "".join(json.dumps(e) + "\n" for e in events)
        (folder / f"events_202401{day}_020000.json.gz").write_bytes(gzip.compress(text.encode()))


def _write_regions(home: Path) -> None:
    folder = home / "curated" / "regions"
    folder.mkdir(parents=True)
    (folder / "regions.csv").write_text("customer,region\nc1,EU\nc2,US\nc3,EU\n")


@pytest.fixture(scope="session")
def conformance_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("conformance")
    home = root / "lake"
    _write_sales(home)
    _write_events(home)
    _write_regions(home)
    settings = load_settings(home=home, cwd=root, env={})
    report = crawl(None, settings=settings)
    assert not [p for t in report.tables for p in t.problems]
    return settings


@pytest.fixture(scope="session")
def trino(conformance_settings: Settings) -> Iterator[Any]:
    """Run one Trino query on the local engine and return its rows as tuples."""
    from lakelib.query._local import LocalEngine

    engine = LocalEngine(conformance_settings)

    def run(sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        plan = engine.plan(sql, database="data_lake_db", params=params)
        table = engine.execute(plan)
        return [tuple(row.values()) for row in table.to_pylist()]

    yield run
    engine.close()
