"""Query overhead: ``lakelib.query.run_query`` vs the same DuckDB query written by hand.

Builds a processed ``sales_clean`` table (Parquet + Snappy, ``year=/month=/day=`` folders,
60 days, 1,000,000 rows by default), crawls it into a fresh SQLite catalog, then in the same
process, warm (after one untimed run of each), alternating the two:

- the baseline: DuckDB by hand, ``read_parquet('.../*/*/*/*.parquet', hive_partitioning=true)``
  and the group-by, fetched to Arrow on one connection;
- lakelib: ``run_query`` with the Trino text (catalog lookup, partition listing, sqlglot
  translation with the Trino fixes, DuckDB, result CSV + metadata JSON in the workgroup's
  result location).

Then the cold CLI latency: ``python -m lakelib query ... --format csv`` as a fresh process.
Prints medians and the ratio; not a pass/fail test. Usage::

    python bench/query.py [--rows N] [--days D] [--repeat K]

``--large-result N`` measures instead what a result of N rows (``SELECT *`` of the table,
default 5,000,000) costs in memory: peak RSS (``ru_maxrss``) of a fresh process that runs
``run_query`` (result streamed to its CSV), against a fresh process that does the same by
hand holding the result whole (DuckDB to one Arrow table, then ``pyarrow.csv.write_csv``) and
one that only imports lakelib and opens DuckDB (the floor)::

    python bench/query.py --large-result 5000000
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

TRINO_SQL = (
    "SELECT channel, product_id, count(*) AS n, sum(amount) AS total, avg(quantity) AS avg_qty "
    "FROM sales_clean GROUP BY channel, product_id ORDER BY channel, product_id"
)
HAND_SQL = (
    "SELECT channel, product_id, count(*) AS n, sum(amount) AS total, avg(quantity) AS avg_qty "
    "FROM read_parquet('{root}/*/*/*/*.parquet', hive_partitioning = true) "
    "GROUP BY channel, product_id ORDER BY channel, product_id"
)


def build(home: Path, rows: int, days: int) -> Path:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(7)
    root = home / "processed" / "sales_clean"
    per_day = rows // days
    start = dt.datetime(2026, 1, 1)
    for n in range(days):
        day = start + dt.timedelta(days=n)
        folder = root / f"year={day.year}/month={day.month:02d}/day={day.day:02d}"
        folder.mkdir(parents=True)
        seconds = rng.integers(0, 86_400, per_day)
        table = pa.table(
            {
                "id": pa.array(np.arange(n * per_day, (n + 1) * per_day), pa.int64()),
                "customer_id": pa.array([f"C{c:05d}" for c in rng.integers(0, 5_000, per_day)]),
                "product_id": pa.array([f"P{p:03d}" for p in rng.integers(0, 50, per_day)]),
                "channel": pa.array(rng.choice(["web", "store", "app", "phone"], per_day)),
                "quantity": pa.array(rng.integers(1, 10, per_day), pa.int32()),
                "amount": pa.array(np.round(rng.gamma(2.0, 30.0, per_day), 2)),
                "sold_at": pa.array(
                    [day + dt.timedelta(seconds=int(s)) for s in seconds], pa.timestamp("us")
                ),
            }
        )
        pq.write_table(table, folder / "part-00000.snappy.parquet", compression="snappy")
    return root


# Each large-result run is its own process, so its peak RSS is its own.
_LARGE_CHILD = """
import resource, sys, time
mode, home, work = sys.argv[1], sys.argv[2], sys.argv[3]
from pathlib import Path
from lakelib.config import load_settings
settings = load_settings(home=home, cwd=Path(work), env={})
started = time.perf_counter()
rows = 0
if mode == "floor":
    from lakelib.query import open_engine
    open_engine(settings).connection().execute("SELECT 1").fetchall()
elif mode == "lakelib":
    from lakelib.query import run_query
    result = run_query("SELECT * FROM sales_clean", settings=settings)
    rows = result.record.rows
else:
    import duckdb, pyarrow.csv as pacsv
    con = duckdb.connect()
    table = con.sql(
        "SELECT * FROM read_parquet('" + home + "/processed/sales_clean/*/*/*/*.parquet', "
        "hive_partitioning = true)"
    ).to_arrow_table()
    pacsv.write_csv(table, work + "/by-hand.csv")
    rows = table.num_rows
elapsed = time.perf_counter() - started
print(rows, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, elapsed)
"""


def large_result(rows: int) -> None:
    """Peak memory of a result of ``rows`` rows: lakelib (streamed) vs held whole by hand."""
    import duckdb

    from lakelib.catalog import crawl
    from lakelib.config import load_settings

    work = Path(tempfile.mkdtemp(prefix="bench-query-large-"))
    try:
        home = work / "lake"
        root = build(home, rows, 60)
        crawl("processed", settings=load_settings(home=home, cwd=work, env={}))
        size = sum(p.stat().st_size for p in root.rglob("*.parquet"))
        env = {k: v for k, v in os.environ.items() if not k.startswith("LAKE_")}
        found: dict[str, tuple[int, float, float]] = {}
        for mode in ("floor", "by-hand", "lakelib"):
            done = subprocess.run(
                [sys.executable, "-c", _LARGE_CHILD, mode, str(home), str(work)],
                cwd=work,
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                raise SystemExit(f"{mode} failed: {done.stderr.strip().splitlines()[-1:]}")
            n, rss_kb, seconds = done.stdout.strip().splitlines()[-1].split()
            found[mode] = (int(n), int(rss_kb) / 1024, float(seconds))
        result_csv = next((home / "query-results" / "primary").glob("*.csv"))
        print(
            f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
            f"{platform.python_version()}, duckdb {duckdb.__version__}"
        )
        print(
            f"result: SELECT * of {rows:,} rows (7 columns), Parquet {size / 1e6:.1f} MB, "
            f"result CSV {result_csv.stat().st_size / 1e6:.1f} MB"
        )
        floor = found["floor"][1]
        for mode, label in (
            ("floor", "import lakelib + open DuckDB"),
            ("by-hand", "held whole (DuckDB -> Arrow -> CSV)"),
            ("lakelib", "lakelib run_query (streamed)"),
        ):
            n, rss, seconds = found[mode]
            print(
                f"{label:38s} peak RSS {rss:8.0f} MB  (+{rss - floor:6.0f} MB over the floor)  "
                f"{seconds:6.1f} s  {n:,} rows"
            )
        base = found["by-hand"][1] - floor
        mine = found["lakelib"][1] - floor
        print(f"memory over the floor, lakelib / held whole: {mine / base:.2f}x")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def timed(fn: object, repeat: int, cpu: list[float] | None = None) -> list[float]:
    """Wall times of ``repeat`` calls; with ``cpu``, their process CPU times are appended."""
    out = []
    for _ in range(repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        fn()  # type: ignore[operator]
        out.append(time.perf_counter() - started)
        if cpu is not None:
            cpu.append(time.process_time() - started_cpu)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument(
        "--large-result",
        type=int,
        default=0,
        metavar="N",
        help="measure peak memory of an N-row result instead (e.g. 5000000)",
    )
    args = parser.parse_args()
    if args.large_result:
        large_result(args.large_result)
        return

    import duckdb

    from lakelib.catalog import crawl
    from lakelib.config import load_settings
    from lakelib.query import run_query

    work = Path(tempfile.mkdtemp(prefix="bench-query-"))
    try:
        home = work / "lake"
        root = build(home, args.rows, args.days)
        settings = load_settings(home=home, cwd=work, env={})
        crawl("processed", settings=settings)

        con = duckdb.connect()
        hand_sql = HAND_SQL.format(root=root)

        def baseline() -> object:
            return con.sql(hand_sql).to_arrow_table()

        def lakelib() -> object:
            return run_query(TRINO_SQL, settings=settings).table

        expected = baseline()
        got = lakelib()
        assert got.num_rows == expected.num_rows, (got.num_rows, expected.num_rows)
        assert got.column("n").to_pylist() == expected.column("n").to_pylist()

        base_times: list[float] = []
        # CPU time of the process (DuckDB's threads included): the work each side does,
        # which other jobs on a shared machine disturb far less than the wall time.
        base_cpu: list[float] = []
        lake_cpu: list[float] = []
        lake_times: list[float] = []
        for _ in range(args.repeat):  # alternate, so drift hits both alike
            base_times += timed(baseline, 1, base_cpu)
            lake_times += timed(lakelib, 1, lake_cpu)
        base = statistics.median(base_times)
        lake = statistics.median(lake_times)

        env = {k: v for k, v in os.environ.items() if not k.startswith("LAKE_")}
        env["LAKE_HOME"] = str(home)
        cli_times = []
        for _ in range(5):
            started = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-m", "lakelib", "query", TRINO_SQL, "--format", "csv"],
                cwd=work,
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            cli_times.append(time.perf_counter() - started)
            if done.returncode != 0:
                raise SystemExit(f"lake query failed: {done.stderr}")
        imports = []
        for _ in range(3):
            started = time.perf_counter()
            subprocess.run(
                [sys.executable, "-c", "import lakelib.cli"], cwd=work, env=env, check=True
            )
            imports.append(time.perf_counter() - started)

        files = sum(1 for _ in root.rglob("*.parquet"))
        size = sum(p.stat().st_size for p in root.rglob("*.parquet"))
        print(
            f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
            f"{platform.python_version()}, duckdb {duckdb.__version__}"
        )
        print(
            f"table: {args.rows:,} rows, {files} files, {size / 1e6:.1f} MB; "
            f"{expected.num_rows} groups; {args.repeat} warm runs each, medians"
        )
        print(f"baseline (DuckDB by hand):  {base * 1000:8.1f} ms")
        print(f"lakelib run_query:          {lake * 1000:8.1f} ms")
        print(f"ratio: {lake / base:.2f}x")
        # On a shared machine the medians move with other jobs' load; the fastest run of
        # each is the cost with the least interference, so its ratio is printed too.
        print(
            f"fastest runs: baseline {min(base_times) * 1000:.1f} ms, lakelib "
            f"{min(lake_times) * 1000:.1f} ms, ratio {min(lake_times) / min(base_times):.2f}x"
        )
        cpu_base, cpu_lake = statistics.median(base_cpu), statistics.median(lake_cpu)
        print(
            f"CPU time (medians): baseline {cpu_base * 1000:.1f} ms, lakelib "
            f"{cpu_lake * 1000:.1f} ms, ratio {cpu_lake / cpu_base:.2f}x"
        )
        print(
            f"cold CLI `lake query --format csv`: median {statistics.median(cli_times):.2f} s "
            f"(python -c 'import lakelib.cli': {statistics.median(imports):.2f} s)"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
