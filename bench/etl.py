"""ETL throughput and incremental cost: ``lake etl`` (sales_clean) vs baselines in the same run.

(a) Lands ~1M generated sales rows (``--days`` x ``--rows-per-day``, default dirt, landed with
    ``validate=False`` so the ETL does all the checking) and times, on the same raw files:

    - lakelib's ``sales_clean`` job (full run: contract checks, quarantine, dedup, conform,
      enrich, Parquet by event date, catalog registration, run record);
    - a plain PySpark script doing the same transform with Spark's default settings
      (schema inference, 200 shuffle partitions, no clustering before the write: what a
      first Glue job looks like), in a separate process with a default session;
    - the same transform in DuckDB SQL (the single-machine reference).

    Session start-up is excluded for both Spark runs. Each engine runs twice: cold (the
    first job of a fresh JVM, as a scheduled ``lake etl`` or a Glue job meets it) and warm
    (the same job again in the same process). Prints seconds, rows/s, files written.

(b) Incremental cost: processing one arrival day into an empty lake vs processing day 61
    into a lake already holding 60 days (same day-61 file both times; median of 3 each,
    interleaved).

Usage::

    python bench/etl.py [--days 100] [--rows-per-day 10000] [--skip-a] [--skip-b]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASELINE_SPARK = r"""
import sys, time
from pyspark.sql import SparkSession, Window, functions as F
raw, customers, products, out = sys.argv[1:5]
spark = SparkSession.builder.appName("first-glue-job").getOrCreate()
spark.sparkContext.setLogLevel("ERROR")
for attempt in range(2):  # the first on a cold JVM, the second warm
    start = time.perf_counter()
    sales = spark.read.json(raw)
    cust = spark.read.json(customers).dropDuplicates(["customer_id"])
    prod = spark.read.json(products).dropDuplicates(["product_id"])
    df = (sales.withColumn("ts", F.to_timestamp("date"))
          .withColumn("amount", F.col("amount").cast("double"))
          .dropna(subset=["id", "ts", "amount", "customer_id", "product_id"])
          .where((F.col("amount") >= 0.01) & (F.col("amount") <= 100000)))
    w = Window.partitionBy("id").orderBy(F.col("_ingested_at").desc())
    df = df.withColumn("rn", F.row_number().over(w)).where("rn = 1").drop("rn")
    df = (df.join(cust.select("customer_id", "region", "segment"), "customer_id", "left")
            .join(prod.select("product_id", "category", "unit_price"), "product_id", "left")
            .withColumn("year", F.date_format("ts", "yyyy"))
            .withColumn("month", F.date_format("ts", "MM"))
            .withColumn("day", F.date_format("ts", "dd")))
    df.write.mode("overwrite").partitionBy("year", "month", "day").parquet(out)
    print(time.perf_counter() - start, flush=True)
"""

DUCKDB_SQL = """
COPY (
  WITH raw AS (
    SELECT * FROM read_json('{raw}/**/*.json.gz', format='newline_delimited',
      ignore_errors=true, columns={{id:'VARCHAR', date:'VARCHAR', amount:'VARCHAR',
      customer_id:'VARCHAR', product_id:'VARCHAR', channel:'VARCHAR',
      _ingested_at:'VARCHAR', _source:'VARCHAR', _run_id:'VARCHAR', _origin:'VARCHAR'}})
  ), typed AS (
    SELECT *, TRY_CAST(date AS TIMESTAMP) AS ts, TRY_CAST(amount AS DOUBLE) AS amt FROM raw
  ), valid AS (
    SELECT * FROM typed WHERE id IS NOT NULL AND ts IS NOT NULL AND amt BETWEEN 0.01 AND 100000
      AND customer_id IS NOT NULL AND product_id IS NOT NULL
    QUALIFY row_number() OVER (PARTITION BY id ORDER BY _ingested_at DESC) = 1
  ), cust AS (
    SELECT DISTINCT ON (customer_id) customer_id, region, segment
    FROM read_json('{customers}/**/*.json.gz', format='newline_delimited')
  ), prod AS (
    SELECT DISTINCT ON (product_id) product_id, category, unit_price
    FROM read_json('{products}/**/*.json.gz', format='newline_delimited')
  )
  SELECT v.id, v.ts AS date, v.amt AS amount, v.customer_id, v.product_id, v.channel,
         c.region, c.segment, p.category, p.unit_price,
         strftime(v.ts, '%Y') AS year, strftime(v.ts, '%m') AS month, strftime(v.ts, '%d') AS day
  FROM valid v LEFT JOIN cust c USING (customer_id) LEFT JOIN prod p USING (product_id)
) TO '{out}' (FORMAT parquet, COMPRESSION snappy, PARTITION_BY (year, month, day),
              OVERWRITE_OR_IGNORE)
"""


def files_under(path: Path) -> int:
    return sum(1 for p in path.rglob("*.parquet"))


def land(settings: object, samples: Path, start: dt.date, days: range) -> None:
    from lakelib.ingest import ingest

    for ref in ("customers", "products"):
        ingest(ref, str(samples / ref), run_date=start, settings=settings)  # type: ignore[arg-type]
    for d in days:
        day = start + dt.timedelta(days=d)
        path = samples / "sales" / f"sales_{day:%Y%m%d}.jsonl"
        if path.stat().st_size:
            at = dt.datetime.combine(day, dt.time(2), tzinfo=dt.UTC)
            ingest("sales", str(path), run_date=at, validate=False, settings=settings)  # type: ignore[arg-type]


def bench_a(work: Path, days: int, rows_per_day: int, spark: object) -> None:
    from lakelib.config import load_settings
    from lakelib.etl import run_sales_clean
    from lakelib.samples import GeneratorSpec, generate_all

    spec = GeneratorSpec(days=days, rows_per_day=rows_per_day)
    samples = work / "samples_a"
    manifest = generate_all(samples, spec)["sales"]
    settings = load_settings(home=work / "lake_a")
    t = time.perf_counter()
    land(settings, samples, spec.start, range(days))
    print(f"landed {manifest['lines']:,} raw lines in {time.perf_counter() - t:.1f} s")
    raw = settings.home / "raw"

    run = run_sales_clean(settings=settings, spark=spark)  # type: ignore[arg-type]
    lakelib_s = run.duration_s
    lakelib_files = files_under(settings.home / "processed" / "sales_clean")
    # The same job again in the same JVM (a full rebuild of the same rows): warm.
    again = run_sales_clean(full=True, settings=settings, spark=spark)  # type: ignore[arg-type]
    assert (again.rows_out, again.rows_quarantined) == (run.rows_out, run.rows_quarantined)
    lakelib_warm = again.duration_s

    out = work / "baseline_spark"
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "SPARK_LOCAL_IP": "127.0.0.1"}
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            BASELINE_SPARK,
            str(raw / "sales"),
            str(raw / "customers"),
            str(raw / "products"),
            str(out),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    spark_s, spark_warm = (float(x) for x in proc.stdout.strip().splitlines()[-2:])
    spark_files = files_under(out)

    import duckdb

    out_duck = work / "baseline_duckdb"
    con = duckdb.connect()
    duck_runs = []
    for _ in range(2):
        shutil.rmtree(out_duck, ignore_errors=True)
        t = time.perf_counter()
        sql = DUCKDB_SQL.format(
            raw=raw / "sales", customers=raw / "customers", products=raw / "products", out=out_duck
        )
        con.execute(sql)
        duck_runs.append(time.perf_counter() - t)
    duck_s, duck_warm = duck_runs
    duck_files = files_under(out_duck)

    rows = run.rows_in
    print(
        f"\n(a) {rows:,} raw rows, {run.raw_files} files, {platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(f"{'engine':<34} {'cold s':>8} {'rows/s':>10} {'warm s':>8} {'rows/s':>10} {'files':>6}")
    for name, secs, warm, files in (
        ("lakelib sales_clean (lake etl)", lakelib_s, lakelib_warm, lakelib_files),
        ("plain PySpark, default settings", spark_s, spark_warm, spark_files),
        ("DuckDB SQL", duck_s, duck_warm, duck_files),
    ):
        print(
            f"{name:<34} {secs:>8.1f} {rows / secs:>10,.0f} {warm:>8.1f} {rows / warm:>10,.0f} "
            f"{files:>6,}"
        )
    print(
        f"lakelib vs plain PySpark: {spark_s / lakelib_s:.2f}x faster cold, "
        f"{spark_warm / lakelib_warm:.2f}x warm (goal >= 2x); "
        f"files {lakelib_files} vs {spark_files}"
    )
    print(
        f"lakelib vs DuckDB: {lakelib_s / duck_s:.1f}x DuckDB's time cold, "
        f"{lakelib_warm / duck_warm:.1f}x warm (goal <= 6x)"
    )
    print(
        f"lakelib run: out {run.rows_out:,}, quarantined {run.rows_quarantined:,}, "
        f"duplicates {run.duplicates_removed:,}"
    )


def bench_b(work: Path, rows_per_day: int, spark: object, attempts: int = 3) -> None:
    from lakelib.config import load_settings
    from lakelib.etl import run_sales_clean
    from lakelib.samples import GeneratorSpec, generate_all

    spec = GeneratorSpec(days=61, rows_per_day=rows_per_day)
    samples = work / "samples_b"
    generate_all(samples, spec)

    # Interleaved, so both cases meet the same machine: each attempt times day 61 into a new
    # empty lake and day 61 into a new lake that has processed days 1-60.
    empty_times, inc_times, builds = [], [], []
    touched = files = 0
    for attempt in range(attempts):
        settings = load_settings(home=work / f"lake_empty_{attempt}")
        land(settings, samples, spec.start, range(60, 61))
        empty_times.append(run_sales_clean(settings=settings, spark=spark).duration_s)  # type: ignore[arg-type]

        settings = load_settings(home=work / f"lake_60_{attempt}")
        land(settings, samples, spec.start, range(60))
        builds.append(run_sales_clean(settings=settings, spark=spark).duration_s)  # type: ignore[arg-type]
        land(settings, samples, spec.start, range(60, 61))
        run = run_sales_clean(settings=settings, spark=spark)  # type: ignore[arg-type]
        inc_times.append(run.duration_s)
        files, touched = run.raw_files, len(run.partitions_written)
    empty, inc = statistics.median(empty_times), statistics.median(inc_times)
    print(f"\n(b) {rows_per_day:,} rows/day; 60-day builds took {builds} s")
    print(f"one day into an empty lake: median {empty:.2f} s (runs {empty_times})")
    print(
        f"day 61 into a 60-day lake:  median {inc:.2f} s (runs {inc_times}; {files} raw "
        f"file, {touched} event-date partitions merged)"
    )
    print(f"ratio: {inc / empty:.2f}x (goal <= 1.3x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=100)
    parser.add_argument("--rows-per-day", type=int, default=10_000)
    parser.add_argument("--skip-a", action="store_true")
    parser.add_argument("--skip-b", action="store_true")
    args = parser.parse_args()

    from lakelib.etl import get_spark

    work = Path(tempfile.mkdtemp(prefix="bench-etl-"))
    os.environ["LAKE_HOME"] = str(work / "unused")
    spark = get_spark("bench-etl")
    try:
        if not args.skip_a:
            bench_a(work, args.days, args.rows_per_day, spark)
        if not args.skip_b:
            bench_b(work, args.rows_per_day, spark)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
