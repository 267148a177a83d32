"""The sales_clean and curate jobs on generated dirty data, checked against its manifest."""

from __future__ import annotations

import datetime as dt
import json
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from lakelib.catalog import open_catalog
from lakelib.config import get_settings
from lakelib.errors import EtlError
from lakelib.etl import list_run_records, read_bookmark, reset_bookmark, run_curate, run_sales_clean
from lakelib.ingest import ingest
from lakelib.samples import read_manifest

pytestmark = pytest.mark.usefixtures("spark")

START = dt.date(2026, 1, 1)


def land(samples: Path, days: range, *, validate: bool, references: bool = True) -> None:
    settings = get_settings()
    if references:
        for ref in ("customers", "products"):
            ingest(ref, str(samples / ref), run_date=START, settings=settings)
    for d in days:
        day = START + dt.timedelta(days=d)
        at = dt.datetime.combine(day, dt.time(2, 0), tzinfo=dt.UTC)
        ingest(
            "sales",
            str(samples / "sales" / f"sales_{day:%Y%m%d}.jsonl"),
            run_date=at,
            validate=validate,
            settings=settings,
        )


def table(spark: Any, lake: Path, zone: str, name: str) -> Any:
    return spark.read.parquet(str(lake / zone / name))


def rows_of(frame: Any) -> list[tuple[Any, ...]]:
    cols = sorted(frame.columns)
    return sorted((tuple(r) for r in frame.select(*cols).collect()), key=repr)


def test_unvalidated_landing_etl_matches_the_manifest(
    spark: Any, samples: Path, lake_home: Path
) -> None:
    manifest = read_manifest(samples)["sales"]
    land(samples, range(4), validate=False)
    run = run_sales_clean()

    clean = table(spark, lake_home, "processed", "sales_clean")
    assert clean.count() == manifest["valid_unique_ids"]
    assert clean.select("id").distinct().count() == manifest["valid_unique_ids"]
    total = clean.selectExpr("sum(cast(amount as decimal(20,2)))").first()[0]
    assert total == Decimal(manifest["valid_amount_total"])

    quarantine = table(spark, lake_home, "quarantine", "sales_clean")
    expected_rejects = manifest["rejected"] - manifest["dirt"]["malformed_json"]
    assert quarantine.count() == expected_rejects
    assert quarantine.where("reason is null or original is null").count() == 0
    codes = {
        r["code"]: r["n"]
        for r in quarantine.selectExpr("split(reason, ':')[0] as code")
        .groupBy("code")
        .count()
        .withColumnRenamed("count", "n")
        .collect()
    }
    dirt = manifest["dirt"]
    assert codes["out_of_range"] == dirt["negative_amount"] + dirt["absurd_amount"]
    assert codes["bad_type"] == dirt["bad_date"]
    assert codes["missing_required"] == dirt["null_required"]

    assert run.rows_in == manifest["lines"] - dirt["malformed_json"]
    assert run.rows_out == manifest["valid_unique_ids"]
    assert run.rows_quarantined == expected_rejects
    assert run.duplicates_removed == manifest["duplicate_lines"]
    assert run.reconciles
    assert run.unknown_customers == dirt["unknown_customer"]
    assert clean.where("not customer_known").count() == dirt["unknown_customer"]
    assert clean.where("region = 'unknown'").count() == dirt["unknown_customer"]

    # Event-date partitions: late records sit under their own date, one file per partition.
    days = sorted(
        p.name for p in (lake_home / "processed/sales_clean/year=2026/month=01").iterdir()
    )
    assert days[0] == "day=01" and len(days) >= 4
    for folder in (lake_home / "processed/sales_clean").glob("year=*/month=*/day=*"):
        assert len(list(folder.glob("*.snappy.parquet"))) == 1

    catalog = open_catalog()
    assert {"sales_clean", "quarantine_sales_clean"} <= {t.name for t in catalog.list_tables()}
    assert catalog.get_table("sales_clean").partition_keys == ("year", "month", "day")
    assert len(catalog.list_partitions("sales_clean")) == len(days)
    assert catalog.get_table("sales_clean").column("amount").type == "double"
    record = json.loads((lake_home / "runs/etl/sales_clean" / f"{run.run_id}.json").read_text())
    assert record["rows_in"] == run.rows_in and record["status"] == "succeeded"


def test_validated_landing_reconciles_across_both_quarantines(
    spark: Any, samples: Path, lake_home: Path
) -> None:
    manifest = read_manifest(samples)["sales"]
    land(samples, range(4), validate=True)
    run = run_sales_clean()
    ingest_rejects = spark.read.json(str(lake_home / "quarantine/raw_sales")).count()
    assert ingest_rejects + run.rows_quarantined == manifest["rejected"]
    assert run.rows_quarantined == 0
    assert (
        table(spark, lake_home, "processed", "sales_clean").count() == manifest["valid_unique_ids"]
    )
    assert run.reconciles


def test_incremental_day_equals_full_rerun_and_reruns_are_idempotent(
    spark: Any, samples: Path, lake_home: Path
) -> None:
    land(samples, range(3), validate=False)
    first = run_sales_clean()
    assert first.raw_files == 3
    land(samples, range(3, 4), validate=False, references=False)
    second = run_sales_clean()
    assert second.raw_files == 1  # only the new day's file
    assert second.reconciles and second.duplicates_removed > 0  # re-sends of older days
    incremental = rows_of(table(spark, lake_home, "processed", "sales_clean"))
    quarantine_inc = rows_of(table(spark, lake_home, "quarantine", "sales_clean"))

    again = run_sales_clean()
    assert again.raw_files == 0 and again.rows_in == 0

    full = run_sales_clean(full=True)
    assert full.raw_files == 4 and full.mode == "full"
    assert rows_of(table(spark, lake_home, "processed", "sales_clean")) == incremental
    assert rows_of(table(spark, lake_home, "quarantine", "sales_clean")) == quarantine_inc
    run_sales_clean(full=True)
    assert rows_of(table(spark, lake_home, "processed", "sales_clean")) == incremental

    # Rewind to the third day: its files are read again, the rows stay the same.
    reset_bookmark("sales_clean", get_settings(), since=START + dt.timedelta(days=2))
    rewound = run_sales_clean()
    assert rewound.raw_files == 2 and rewound.since == "2026-01-03"
    assert rows_of(table(spark, lake_home, "processed", "sales_clean")) == incremental
    assert rows_of(table(spark, lake_home, "quarantine", "sales_clean")) == quarantine_inc
    mark = read_bookmark("sales_clean", get_settings())
    assert mark.files == 4 and mark.rewind_since is None
    assert mark.last_arrival == "2026-01-04"
    assert [r["mode"] for r in list_run_records("sales_clean", get_settings())][-1] == "rewind"


def test_missing_reference_data_marks_rows_unknown(
    spark: Any, samples: Path, lake_home: Path
) -> None:
    land(samples, range(1), validate=True, references=False)
    run = run_sales_clean()
    clean = table(spark, lake_home, "processed", "sales_clean")
    assert clean.count() == run.rows_out > 0
    assert clean.where("customer_known or product_known").count() == 0
    assert run.unknown_customers == run.unknown_products == run.rows_out
    assert run.references == {"customers": None, "products": None}


def test_the_latest_reference_snapshot_wins(
    spark: Any, samples: Path, lake_home: Path, tmp_path: Path
) -> None:
    land(samples, range(1), validate=True)
    sold = spark.read.json(str(lake_home / "raw" / "sales")).where("customer_id like 'C%'")
    sold = sold.select("customer_id").first()["customer_id"]
    # A second snapshot a day later moves that customer to another region and drops the
    # rest: the ETL must see only it (the older snapshot's rows are not merged in).
    lines = (samples / "customers" / "customers.csv").read_text().splitlines()
    header, row = lines[0], next(x for x in lines[1:] if x.startswith(sold + ","))
    _, region, segment, signup = row.split(",")
    moved = "north" if region != "north" else "south"
    newer = tmp_path / "customers.csv"
    newer.write_text(f"{header}\n{sold},{moved},{segment},{signup}\n")
    at = dt.datetime.combine(START + dt.timedelta(days=1), dt.time(5, 0), tzinfo=dt.UTC)
    ingest("customers", str(newer), run_date=at, settings=get_settings())

    run = run_sales_clean()
    clean = table(spark, lake_home, "processed", "sales_clean")
    regions = {r["region"] for r in clean.where(f"customer_id = '{sold}'").collect()}
    assert regions == {moved}
    others = clean.where(f"customer_id != '{sold}'")
    assert others.where("customer_known").count() == 0
    assert run.unknown_customers == others.count() > 0
    assert run.references["customers"] == "2026-01-02T05:00:00Z"


@pytest.mark.parametrize("single_jvm", [True, False], ids=["local-checkpoint", "cluster-cache"])
def test_a_run_leaves_nothing_cached_in_the_session(
    spark: Any, samples: Path, lake_home: Path, monkeypatch: pytest.MonkeyPatch, single_jvm: bool
) -> None:
    """Both ways of keeping the checked rows (a local checkpoint in one JVM; a cache that
    Spark can recompute on a cluster, where an executor can be lost) give the manifest's
    rows and leave nothing behind in the session."""
    from lakelib.etl import _cache

    monkeypatch.setattr(_cache, "single_jvm", lambda _spark: single_jvm)

    def cached() -> set[int]:
        return {info.id() for info in spark.sparkContext._jsc.sc().getRDDStorageInfo()}

    manifest = read_manifest(samples)["sales"]
    land(samples, range(4), validate=False)
    before = cached()
    run = run_sales_clean()
    assert run.rows_out == manifest["valid_unique_ids"]
    assert run.rows_quarantined == manifest["rejected"] - manifest["dirt"]["malformed_json"]
    assert run.duplicates_removed == manifest["duplicate_lines"]
    clean = table(spark, lake_home, "processed", "sales_clean")
    assert clean.select("id").distinct().count() == clean.count() == run.rows_out
    total = clean.selectExpr("sum(cast(amount as decimal(20,2)))").first()[0]
    assert total == Decimal(manifest["valid_amount_total"])
    assert cached() - before == set()


def test_a_second_run_cannot_take_the_lock(
    lake_home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A running job's lock refuses a second run of it, naming the holder; once that process
    is killed, the next run takes the lock over and says whose it was."""
    import logging
    import subprocess
    import sys

    script = (
        "import time\n"
        "from lakelib.config import get_settings\n"
        "from lakelib.etl._state import etl_lock\n"
        "with etl_lock('sales_clean', get_settings()):\n"
        "    print('held', flush=True)\n"
        "    time.sleep(120)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(
            EtlError,
            match=rf"another sales_clean run \(pid {holder.pid} .*holds the sales_clean lock",
        ):
            run_sales_clean()
    finally:
        holder.kill()
        holder.wait(30)
    with caplog.at_level(logging.WARNING, logger="lakelib.etl._state"):
        assert run_sales_clean().raw_files == 0
    assert "taking over the sales_clean lock" in caplog.text
    assert f"(pid {holder.pid} on " in caplog.text and "no longer running" in caplog.text
    # Let go again: the next run takes it without a word.
    caplog.clear()
    assert run_sales_clean().raw_files == 0
    assert "taking over" not in caplog.text


def test_a_run_that_loses_rows_fails_loudly(
    spark: Any, samples: Path, lake_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lakelib.etl import _batch

    real = _batch.enrich
    monkeypatch.setattr(_batch, "enrich", lambda *a, **k: real(*a, **k).where("customer_known"))
    land(samples, range(1), validate=False)
    with pytest.raises(EtlError, match="does not reconcile"):
        run_sales_clean()
    assert list_run_records("sales_clean", get_settings())[-1]["status"] == "failed"
    monkeypatch.setattr(_batch, "enrich", real)
    # Nothing was committed to the bookmark: the next run processes the file again.
    assert run_sales_clean().raw_files == 1


def test_curate_builds_and_registers_the_analytics_tables(
    spark: Any, samples: Path, lake_home: Path
) -> None:
    manifest = read_manifest(samples)["sales"]
    land(samples, range(4), validate=True)
    run_sales_clean()
    run = run_curate()
    assert run.rows_in == manifest["valid_unique_ids"]
    aggregates = table(spark, lake_home, "curated", "customer_aggregates")
    known = aggregates.where("customer_known").count()
    assert known == manifest["customers_referenced"]
    daily = table(spark, lake_home, "curated", "daily_sales")
    revenue = daily.selectExpr("sum(cast(revenue as decimal(20,2)))").first()[0]
    assert abs(revenue - Decimal(manifest["valid_amount_total"])) < Decimal("1.00")
    assert daily.selectExpr("sum(orders)").first()[0] == manifest["valid_unique_ids"]
    products = table(spark, lake_home, "curated", "product_performance")
    assert products.selectExpr("sum(orders)").first()[0] == manifest["valid_unique_ids"]
    catalog = open_catalog()
    names = {t.name for t in catalog.list_tables()}
    assert {"customer_aggregates", "daily_sales", "product_performance"} <= names
    assert catalog.get_table("daily_sales").partition_keys == ("year", "month", "day")
    assert len(catalog.list_partitions("daily_sales")) == len(run.partitions_written)
    assert run.tables["customer_aggregates"] == aggregates.count()
    # Curating again gives the same rows.
    before = rows_of(aggregates)
    run_curate()
    assert rows_of(table(spark, lake_home, "curated", "customer_aggregates")) == before


def test_lake_etl_cli_runs_both_jobs_and_shows_bookmarks(
    spark: Any, samples: Path, lake_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from lakelib.cli import main

    land(samples, range(2), validate=True)
    assert main(["etl", "--format", "json"]) == 0
    runs = json.loads(capsys.readouterr().out)
    assert [r["job"] for r in runs] == ["sales_clean", "curate"]
    assert runs[0]["raw_files"] == 2
    assert main(["etl", "--bookmarks", "--format", "json"]) == 0
    marks = json.loads(capsys.readouterr().out)
    assert marks["sales_clean"]["files"] == 2
    assert main(["etl", "--reset"]) == 0
    assert "bookmark reset" in capsys.readouterr().out
    assert read_bookmark("sales_clean", get_settings()).files == 0
    assert main(["etl", "nope"]) == 1
    assert "unknown etl job 'nope'" in capsys.readouterr().err


def test_lake_etl_speaks_in_one_line_and_the_jvm_stays_quiet(
    samples: Path, lake_home: Path
) -> None:
    """As a user runs it (its own JVM): a good run writes nothing to stderr; a raw file
    that is not gzip fails the run with one line naming the file, exit 1."""
    import subprocess
    import sys

    land(samples, range(1), validate=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAKE_")}
    env["LAKE_HOME"] = str(lake_home)

    def lake(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "lakelib", "etl", "sales_clean", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    good = lake()
    assert (good.returncode, good.stderr) == (0, "")
    assert "sales_clean" in good.stdout

    broken = lake_home / "raw" / "sales" / "year=2026" / "month=01" / "day=09"
    broken.mkdir(parents=True)
    (broken / "sales_20260109_020000.json.gz").write_bytes(b"not gzip at all\n" * 50)
    bad = lake()
    assert bad.returncode == 1
    assert bad.stderr.count("\n") == 1, bad.stderr
    assert bad.stderr.startswith("lake: error: sales_clean: cannot read ")
    assert bad.stderr.rstrip().endswith("sales_20260109_020000.json.gz: not a gzip file")


def test_job_script_entry_takes_glue_style_arguments(
    spark: Any, samples: Path, lake_home: Path
) -> None:
    from lakelib.etl._entry import main

    land(samples, range(1), validate=True)
    argv = [
        "--JOB_NAME",
        "sales_clean",
        "--lake_home",
        str(lake_home),
        "--job-bookmark-option",
        "job-bookmark-enable",
        "--TempDir",
        "s3://x/tmp/",
        "--full",
        "true",
    ]
    assert main("sales_clean", argv) == 0
    assert list_run_records("sales_clean", get_settings())[-1]["mode"] == "full"
