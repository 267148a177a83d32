"""Corrected re-sends that move an order to another date: the id index finds the old
version in a partition the batch does not otherwise touch, and the id stays once, under its
new date, with the counts reconciling against the generator's manifest."""

from __future__ import annotations

import datetime as dt
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from lakelib.catalog import open_catalog
from lakelib.config import get_settings
from lakelib.etl import list_run_records, run_sales_clean
from lakelib.ingest import ingest
from lakelib.samples import DirtRates, GeneratorSpec, generate_all, read_manifest

pytestmark = pytest.mark.usefixtures("spark")

START = dt.date(2026, 1, 1)
DAYS = 5


@pytest.fixture(scope="module")
def moving(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Five days whose corrected re-sends all move their order 1-3 days; no late rows, so
    the batch of a re-send's day rarely touches the partition its old version is in."""
    rates = DirtRates.clean().replace(
        exact_duplicate=0.01,
        corrected_resend=0.06,
        moved_resend=1.0,
        null_required=0.01,
        negative_amount=0.01,
        unknown_customer=0.01,
        channel_from=0.4,
    )
    out = tmp_path_factory.mktemp("moving")
    generate_all(out, GeneratorSpec(start=START, days=DAYS, rows_per_day=250, seed=5, rates=rates))
    return out


def land_day(samples: Path, day: int) -> None:
    settings = get_settings()
    if day == 0:
        for ref in ("customers", "products"):
            ingest(ref, str(samples / ref), run_date=START, settings=settings)
    when = START + dt.timedelta(days=day)
    ingest(
        "sales",
        str(samples / "sales" / f"sales_{when:%Y%m%d}.jsonl"),
        run_date=dt.datetime.combine(when, dt.time(2, 0), tzinfo=dt.UTC),
        validate=False,
        settings=settings,
    )


def clean_rows(spark: Any, lake: Path) -> list[Any]:
    frame = spark.read.parquet(str(lake / "processed/sales_clean"))
    return frame.select("id", "amount", "year", "month", "day").collect()


def assert_once_each(rows: list[Any]) -> dict[str, list[Any]]:
    by_id: dict[str, list[Any]] = {}
    for row in rows:
        by_id.setdefault(row["id"], []).append(row)
    twice = sorted(i for i, found in by_id.items() if len(found) > 1)
    assert twice == [], f"{len(twice)} id(s) in sales_clean more than once, e.g. {twice[:3]}"
    return by_id


def assert_matches_manifest(spark: Any, lake: Path, manifest: dict[str, Any]) -> None:
    rows = clean_rows(spark, lake)
    by_id = assert_once_each(rows)
    assert len(rows) == manifest["valid_unique_ids"]
    total = sum((Decimal(str(r["amount"])) for r in rows), Decimal(0))
    assert total == Decimal(manifest["valid_amount_total"])
    for sale_id, move in manifest["moved"].items():
        (row,) = by_id[sale_id]
        assert f"{row['year']}-{row['month']}-{row['day']}" == move["to"], sale_id


def test_a_moved_resend_leaves_one_row_under_its_new_date(
    spark: Any, moving: Path, lake_home: Path
) -> None:
    manifest = read_manifest(moving)["sales"]
    assert manifest["dirt"]["moved_resend"] >= 10
    runs = []
    for day in range(DAYS):
        land_day(moving, day)
        runs.append(run_sales_clean())
        # After every run, not only the last: a later batch that happens to touch both
        # dates would hide a duplicate the run of the re-send left.
        assert_once_each(clean_rows(spark, lake_home))
    assert_matches_manifest(spark, lake_home, manifest)
    # Every line is accounted for, run by run and in all: in, out, quarantined, replaced.
    assert all(run.reconciles for run in runs)
    assert sum(r.rows_in for r in runs) == manifest["lines"]
    assert sum(r.rows_out for r in runs) == manifest["valid_unique_ids"]
    assert sum(r.duplicates_removed for r in runs) == manifest["duplicate_lines"]
    assert sum(r.rows_quarantined for r in runs) == manifest["rejected"]
    catalog = open_catalog()
    registered = {p.spec for p in catalog.list_partitions("sales_clean")}
    on_disk = {
        str(p.relative_to(lake_home / "processed/sales_clean"))
        for p in (lake_home / "processed/sales_clean").glob("year=*/month=*/day=*")
    }
    assert registered == on_disk


def test_a_lake_without_the_index_builds_it_once_then_moves_stay_exact(
    spark: Any, moving: Path, lake_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lake written before the index existed (no index folder): the next run builds it
    from the table, says so, and a later day's moved re-sends still replace their old rows,
    with the index compacted after every run; a full rebuild gives the same rows."""
    from lakelib.etl import _index

    monkeypatch.setattr(_index, "COMPACT_AT", 1)
    manifest = read_manifest(moving)["sales"]
    for day in range(3):
        land_day(moving, day)
    run_sales_clean()
    index = lake_home / "runs/etl/sales_clean/index"
    assert (index / "_index.json").is_file()
    shutil.rmtree(index)
    steps: list[str] = []
    for day in range(3, DAYS):
        land_day(moving, day)
        steps_of_run: list[str] = []
        run_sales_clean(on_step=steps_of_run.append)
        steps += steps_of_run
    assert sum("building the id index once" in s for s in steps) == 1
    assert sum("compacting the id index" in s for s in steps) == 2
    generations = sorted(p.name for p in index.iterdir() if p.is_dir())
    assert generations == ["g000003"]  # built as 1, compacted twice, the old ones deleted
    assert_matches_manifest(spark, lake_home, manifest)
    incremental = sorted(map(tuple, clean_rows(spark, lake_home)))
    full = run_sales_clean(full=True)
    assert full.reconciles and full.rows_out == manifest["valid_unique_ids"]
    assert sorted(map(tuple, clean_rows(spark, lake_home))) == incremental
    assert list_run_records("sales_clean", get_settings())[-1]["status"] == "succeeded"
