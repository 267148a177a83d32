"""Incremental curate: each run recomputes only what the changed days of sales_clean touch,
and writes the very bytes a full recompute writes."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from lakelib.config import get_settings
from lakelib.etl import run_curate, run_sales_clean
from lakelib.etl._write import write_partitioned
from lakelib.ingest import ingest
from lakelib.storage import LocalStore

pytestmark = pytest.mark.usefixtures("spark")

START = dt.date(2026, 1, 1)
TABLES = ("customer_aggregates", "daily_sales", "product_performance")


def land_day(samples: Path, day: int) -> None:
    settings = get_settings()
    if day == 0:
        for ref in ("customers", "products"):
            ingest(ref, str(samples / ref), run_date=START, settings=settings)
    when = START + dt.timedelta(days=day)
    at = dt.datetime.combine(when, dt.time(2, 0), tzinfo=dt.UTC)
    ingest(
        "sales",
        str(samples / "sales" / f"sales_{when:%Y%m%d}.jsonl"),
        run_date=at,
        validate=False,
        settings=settings,
    )


def snapshot(lake: Path) -> dict[str, dict[str, str]]:
    """Every curated table's Parquet files: partition folder -> hashes of the files' bytes
    (file names are random per write; the bytes are what a reader gets)."""
    out: dict[str, dict[str, str]] = {}
    for name in TABLES:
        files: dict[str, list[str]] = {}
        for path in sorted((lake / "curated" / name).rglob("*.parquet")):
            folder = path.parent.relative_to(lake / "curated" / name).as_posix()
            files.setdefault(folder, []).append(hashlib.sha256(path.read_bytes()).hexdigest())
        out[name] = {folder: ",".join(sorted(h)) for folder, h in files.items()}
    return out


def rows(spark: Any, lake: Path) -> dict[str, list[tuple[Any, ...]]]:
    out = {}
    for name in TABLES:
        frame = spark.read.parquet(str(lake / "curated" / name))
        out[name] = sorted((tuple(r) for r in frame.collect()), key=repr)
    return out


def resend_moved(samples: Path, tmp_path: Path) -> str:
    """A corrected re-send of a day-0 order, dated two days later, for another customer and
    amount, arriving on day 3; returns its id."""
    first = samples / "sales" / f"sales_{START:%Y%m%d}.jsonl"
    for line in first.read_text().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if not all(record.get(k) for k in ("id", "date", "customer_id", "product_id")):
            continue
        amount = record.get("amount")
        if str(record["date"]).startswith("2026-01-01T0") and isinstance(amount, float):
            break
    record["date"] = (START + dt.timedelta(days=2)).isoformat() + "T10:00:00Z"
    record["customer_id"] = "C-MOVED-TO"
    record["amount"] = 1234.56
    path = tmp_path / "resend.jsonl"
    path.write_text(json.dumps(record) + "\n")
    at = dt.datetime.combine(START + dt.timedelta(days=3), dt.time(9, 0), tzinfo=dt.UTC)
    ingest("sales", str(path), run_date=at, validate=False, settings=get_settings())
    return str(record["id"])


def drop_customer_from_a_day(spark: Any, lake: Path) -> str:
    """Rewrite one sales_clean day without the rows of a customer who bought on no other
    day -- what a correction that moves their order elsewhere leaves there."""
    clean = spark.read.parquet(str(lake / "processed" / "sales_clean"))
    single = (
        clean.groupBy("customer_id")
        .agg({"event_date": "max", "*": "count"})
        .withColumnRenamed("max(event_date)", "last")
        .where("`count(1)` = 1 and customer_id like 'C0%'")
        .orderBy("customer_id")
        .first()
    )
    customer, day = single["customer_id"], single["last"]
    folder = f"year={day:%Y}/month={day:%m}/day={day:%d}"
    path = lake / "processed" / "sales_clean" / folder
    kept = spark.read.option("basePath", str(lake / "processed" / "sales_clean")).parquet(str(path))
    kept = kept.where(kept.customer_id != customer).localCheckpoint(eager=True)
    write_partitioned(kept, LocalStore(lake / "processed"), "sales_clean", ("year", "month", "day"))
    return str(customer)


def test_incremental_curate_writes_what_a_full_recompute_writes(
    spark: Any, samples: Path, lake_home: Path, tmp_path: Path
) -> None:
    runs = []
    for days in ((0, 1), (2,)):
        for day in days:
            land_day(samples, day)
        assert run_sales_clean().reconciles
        runs.append(run_curate())
    land_day(samples, 3)
    moved = resend_moved(samples, tmp_path)
    run_sales_clean()
    runs.append(run_curate())
    gone = drop_customer_from_a_day(spark, lake_home)
    runs.append(run_curate())

    assert [r.mode for r in runs] == ["full"] + ["incremental"] * 3
    # The last run saw one changed day, and read only its rows.
    assert len(runs[3].partitions_written) == 1
    assert runs[3].rows_in < runs[2].rows_in
    customers = spark.read.parquet(str(lake_home / "curated" / "customer_aggregates"))
    assert customers.where(f"customer_id = '{gone}'").count() == 0
    assert customers.where("customer_id = 'C-MOVED-TO'").first()["monetary"] == 1234.56
    clean = spark.read.parquet(str(lake_home / "processed" / "sales_clean"))
    assert clean.where(f"id = '{moved}' and customer_id = 'C-MOVED-TO'").count() == 1

    incremental_files, incremental_rows = snapshot(lake_home), rows(spark, lake_home)
    # Nothing changed since: a run with nothing to do writes nothing.
    idle = run_curate()
    assert idle.mode == "incremental" and idle.rows_in == 0 and idle.files_written == 0
    assert snapshot(lake_home) == incremental_files

    full = run_curate(full=True)
    assert full.mode == "full" and full.rows_in == clean.count()
    assert rows(spark, lake_home) == incremental_rows
    assert snapshot(lake_home) == incremental_files
    assert full.tables == runs[-1].tables

    # A lost key index (or curated table) is noticed: the next run recomputes all.
    shutil.rmtree(lake_home / "runs" / "etl" / "curate" / "state" / "keys")
    again = run_curate()
    assert again.mode == "full" and snapshot(lake_home) == incremental_files
