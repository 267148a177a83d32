"""Scale: time and memory of the ETL, curate and a query as the lake grows (issue 17).

For each size (raw sales rows: ``--rows 1M,3M,10M``; ``--rows 0.1M,0.3M`` for a quick run)
a generated lake of ``--days`` days (rows per day = rows / days, the project's generator with
its default dirt) is landed, then one fresh worker process (a cold JVM, as a scheduled
``lake etl`` meets it) runs, in order:

1. ``etl full``: ``sales_clean`` over every day but the last (``lake etl sales_clean --full``);
2. ``curate full``: the curated tables from all of it;
3. ``etl incremental``: the last day lands and ``sales_clean`` processes it;
4. ``curate incremental``: the curated tables catch up with what that day touched;
5. ``query``: one ``lake query`` group-by over ``sales_clean`` (DuckDB, in the driver).

Each phase reports wall time, rows/s (rows it read), the peak RSS of the driver (this Python
process), of the Spark JVM and of Spark's Python workers -- sampled every 50 ms with psutil
over the process tree, the peak reset at each phase --, files written and Spark's spill
(memory and disk bytes, from Spark's status store). The ratios the issue sets goals for
(10M/1M time <= 6x, 10M/1M JVM peak <= 1.3x) are printed for the largest and smallest size,
and ``bench/scale.png`` plots time and peak memory against rows.

``--curate-days N`` adds (b): curate's incremental cost -- curate after one day lands in an
empty lake vs after day N+1 lands in a lake holding N days (median of ``--attempts``,
interleaved), the ``sales_clean`` run of that day excluded.

Usage::

    python bench/scale.py [--rows 1M,3M,10M] [--days 60] [--plot bench/scale.png]
                          [--curate-days 60] [--curate-rows-per-day 10000] [--skip-scale]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

START = dt.date(2026, 1, 1)
PHASES = ("etl full", "curate full", "etl incremental", "curate incremental", "query")
QUERY = (
    "SELECT region, category, count(*) AS orders, sum(amount) AS revenue "
    "FROM sales_clean GROUP BY region, category ORDER BY revenue DESC"
)


def parse_rows(text: str) -> int:
    """``"1M"`` -> 1_000_000, ``"0.3M"`` -> 300_000, ``"250k"`` -> 250_000, ``"5000"``."""
    text = text.strip().lower()
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text.rstrip("km")) * scale)


def label(rows: int) -> str:
    return f"{rows / 1e6:g}M" if rows >= 100_000 else f"{rows / 1e3:g}k"


# -- sampling ---------------------------------------------------------------------------


class Sampler:
    """Peak RSS of this process, its Spark JVM and Spark's Python workers, every ``interval``
    seconds."""

    def __init__(self, interval: float = 0.05) -> None:
        import psutil

        self.me = psutil.Process()
        self.interval = interval
        self.peak = {"driver": 0, "jvm": 0, "workers": 0}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def reset(self) -> None:
        self.sample()
        self.peak = dict.fromkeys(self.peak, 0)
        self.sample()

    def sample(self) -> None:
        import psutil

        try:
            now = {"driver": self.me.memory_info().rss, "jvm": 0, "workers": 0}
            for child in self.me.children(recursive=True):
                try:
                    name = child.name()
                    if "java" in name:
                        now["jvm"] += child.memory_info().rss
                    elif "python" in name:  # Spark's Python workers (pyspark.daemon)
                        now["workers"] += child.memory_info().rss
                    # else: a short-lived shell the JVM spawns (Hadoop's local file
                    # permissions): its RSS is the JVM's own shared pages, counted already.
                except psutil.Error:
                    continue
        except psutil.Error:
            return
        for key, value in now.items():
            self.peak[key] = max(self.peak[key], value)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def spilled(spark: Any) -> tuple[int, int]:
    """``(memory, disk)`` bytes Spark has spilled so far in this application."""
    try:
        stages = spark.sparkContext._jsc.sc().statusStore().stageList(None)
    except Exception:  # the status store is Spark's internal API: report nothing if it moved
        return (0, 0)
    memory = disk = 0
    for i in range(stages.size()):
        stage = stages.get(i)
        memory += int(stage.memoryBytesSpilled())
        disk += int(stage.diskBytesSpilled())
    return memory, disk


# -- the worker: one size, one JVM ------------------------------------------------------


def land(settings: Any, samples: Path, days: range, *, references: bool = False) -> None:
    from lakelib.ingest import ingest

    if references:
        for ref in ("customers", "products"):
            ingest(ref, str(samples / ref), run_date=START, settings=settings)
    for d in days:
        day = START + dt.timedelta(days=d)
        path = samples / "sales" / f"sales_{day:%Y%m%d}.jsonl"
        if path.stat().st_size:
            at = dt.datetime.combine(day, dt.time(2), tzinfo=dt.UTC)
            ingest("sales", str(path), run_date=at, validate=False, settings=settings)


def worker(samples: Path, home: Path, days: int, out: Path) -> None:
    """Land all days but the last, then time the phases; results as JSON in ``out``."""
    from lakelib.config import load_settings
    from lakelib.etl import get_spark, run_curate, run_sales_clean
    from lakelib.query import run_query

    settings = load_settings(home=home)
    land(settings, samples, range(days - 1), references=True)
    sampler = Sampler()
    results: dict[str, Any] = {}
    spark_box: list[Any] = []

    @contextmanager
    def phase(name: str) -> Iterator[dict[str, Any]]:
        before = spilled(spark_box[0]) if spark_box else (0, 0)
        sampler.reset()
        entry: dict[str, Any] = {}
        started = time.perf_counter()
        yield entry
        entry["seconds"] = round(time.perf_counter() - started, 3)
        sampler.sample()
        entry.update({f"peak_{k}_mb": round(v / 2**20) for k, v in sampler.peak.items()})
        after = spilled(spark_box[0]) if spark_box else (0, 0)
        entry["spill_memory_mb"] = round((after[0] - before[0]) / 2**20, 1)
        entry["spill_disk_mb"] = round((after[1] - before[1]) / 2**20, 1)
        if entry.get("rows"):
            entry["rows_per_s"] = round(entry["rows"] / max(entry["seconds"], 1e-9))
        results[name] = entry
        print(f"  {name}: {json.dumps(entry)}", flush=True)

    def run_job(entry: dict[str, Any], job: Callable[[], Any]) -> None:
        run = job()
        entry.update(rows=run.rows_in, files=run.files_written, mode=run.mode)

    # The session starts inside the first phase: its cost is part of a cold `lake etl`.
    with phase("etl full") as entry:
        spark_box.append(get_spark("bench-scale"))
        run_job(entry, lambda: run_sales_clean(full=True, settings=settings))
    with phase("curate full") as entry:
        run_job(entry, lambda: run_curate(settings=settings))
    land(settings, samples, range(days - 1, days))
    with phase("etl incremental") as entry:
        run_job(entry, lambda: run_sales_clean(settings=settings))
    with phase("curate incremental") as entry:
        run_job(entry, lambda: run_curate(settings=settings))
    with phase("query") as entry:
        result = run_query(QUERY, settings=settings)
        # Its rows/s counts the sales_clean rows it aggregated.
        entry.update(rows=sum(result.table.column("orders").to_pylist()), files=0)
    sampler.stop()
    out.write_text(json.dumps(results, indent=1))


# -- (b) curate's incremental cost ------------------------------------------------------


def bench_curate_days(work: Path, days: int, rows_per_day: int, attempts: int) -> dict[str, Any]:
    from lakelib.config import load_settings
    from lakelib.etl import get_spark, run_curate, run_sales_clean
    from lakelib.samples import GeneratorSpec, generate_all

    spec = GeneratorSpec(start=START, days=days + 1, rows_per_day=rows_per_day)
    samples = work / "samples_days"
    generate_all(samples, spec)
    spark = get_spark("bench-curate-days")
    one, many, fulls, modes = [], [], [], set()
    # Attempt 0 (one small day) only warms the JVM up, so no case pays for it alone.
    for attempt in range(attempts + 1):
        settings = load_settings(home=work / f"lake_one_{attempt}")
        land(settings, samples, range(days, days + 1), references=True)
        run_sales_clean(settings=settings, spark=spark)
        first = run_curate(settings=settings, spark=spark).duration_s
        if attempt == 0:
            continue

        settings = load_settings(home=work / f"lake_many_{attempt}")
        land(settings, samples, range(days), references=True)
        run_sales_clean(settings=settings, spark=spark)
        run_curate(settings=settings, spark=spark)
        land(settings, samples, range(days, days + 1))
        run_sales_clean(settings=settings, spark=spark)
        run = run_curate(settings=settings, spark=spark)
        # The same lake again, recomputed whole: what every run cost before.
        full = run_curate(full=True, settings=settings, spark=spark).duration_s
        one.append(first)
        many.append(run.duration_s)
        fulls.append(full)
        modes.add(run.mode)
    a, b, c = statistics.median(one), statistics.median(many), statistics.median(fulls)
    print(f"\n(b) curate, {rows_per_day:,} rows/day, median of {attempts} (after a warm-up):")
    print(f"one day into an empty lake:        {a:.2f} s (runs {one})")
    mode = "/".join(sorted(modes))
    print(f"day {days + 1} into a {days}-day lake ({mode}): {b:.2f} s (runs {many})")
    print(f"the same {days + 1}-day lake, full recompute: {c:.2f} s (runs {fulls})")
    print(f"ratio: {b / a:.2f}x (goal <= 1.3x); incremental / full {b / c:.2f}x")
    return {
        "one_day_s": one,
        "many_days_s": many,
        "full_s": fulls,
        "days": days,
        "ratio": round(b / a, 3),
    }


# -- the driver -------------------------------------------------------------------------


def plot(results: dict[int, dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = sorted(results)
    millions = [s / 1e6 for s in sizes]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for name in PHASES:
        left.plot(millions, [results[s][name]["seconds"] for s in sizes], marker="o", label=name)
    left.set(xlabel="raw rows (millions)", ylabel="wall time (s)", title="time")
    left.grid(alpha=0.3)
    left.legend(fontsize=8)
    for key, name in (("jvm", "Spark JVM"), ("driver", "driver (Python)")):
        peaks = [max(results[s][p][f"peak_{key}_mb"] for p in PHASES) / 1024 for s in sizes]
        right.plot(millions, peaks, marker="o", label=name)
    right.set(xlabel="raw rows (millions)", ylabel="peak RSS (GiB)", title="peak memory")
    right.set_ylim(bottom=0)
    right.grid(alpha=0.3)
    right.legend(fontsize=8)
    fig.suptitle("lakelib on one machine: time and memory against rows (bench/scale.py)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"plot: {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="1M,3M,10M", help="raw sales rows per lake")
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--plot", default=str(Path(__file__).with_name("scale.png")))
    parser.add_argument("--json", default="", help="also write the results here")
    parser.add_argument("--skip-scale", action="store_true")
    parser.add_argument("--curate-days", type=int, default=0, help="run (b) with N days")
    parser.add_argument("--curate-rows-per-day", type=int, default=10_000)
    parser.add_argument("--attempts", type=int, default=3)
    parser.add_argument("--worker", nargs=4, metavar=("SAMPLES", "HOME", "DAYS", "OUT"))
    args = parser.parse_args()
    if args.worker:
        samples, home, days, out = args.worker
        worker(Path(samples), Path(home), int(days), Path(out))
        return

    work = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    os.environ["LAKE_HOME"] = str(work / "unused")
    print(f"{platform.node()} {os.cpu_count()} cores, Python {platform.python_version()}")
    all_results: dict[int, dict[str, Any]] = {}
    try:
        if not args.skip_scale:
            from lakelib.samples import GeneratorSpec, generate_all

            for rows in sorted(parse_rows(r) for r in args.rows.split(",")):
                per_day = max(1, rows // args.days)
                samples = work / f"samples_{rows}"
                began = time.perf_counter()
                generate_all(
                    samples, GeneratorSpec(start=START, days=args.days, rows_per_day=per_day)
                )
                print(
                    f"\n{label(rows)} rows ({args.days} days x {per_day:,}/day): generated in "
                    f"{time.perf_counter() - began:.0f} s",
                    flush=True,
                )
                out = work / f"result_{rows}.json"
                subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--worker",
                        str(samples),
                        str(work / f"lake_{rows}"),
                        str(args.days),
                        str(out),
                    ],
                    check=True,
                )
                all_results[rows] = json.loads(out.read_text())
                shutil.rmtree(work / f"lake_{rows}", ignore_errors=True)
                shutil.rmtree(samples, ignore_errors=True)
            report(all_results)
            if len(all_results) > 1:
                plot(all_results, Path(args.plot))
        extra = {}
        if args.curate_days:
            extra = bench_curate_days(
                work, args.curate_days, args.curate_rows_per_day, args.attempts
            )
        if args.json:
            Path(args.json).write_text(
                json.dumps({"scale": all_results, "curate_days": extra}, indent=1)
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


def report(results: dict[int, dict[str, Any]]) -> None:
    sizes = sorted(results)
    print("\n| rows | phase | s | rows/s | driver MB | JVM MB | workers MB | files | spill MB |")
    print("|---|---|---|---|---|---|---|---|---|")
    for size in sizes:
        for name in PHASES:
            r = results[size][name]
            print(
                f"| {label(size)} | {name} | {r['seconds']:.1f} | {r.get('rows_per_s', 0):,} | "
                f"{r['peak_driver_mb']:,} | {r['peak_jvm_mb']:,} | {r['peak_workers_mb']:,} | "
                f"{r.get('files', 0)} | {r['spill_memory_mb']:g} mem, {r['spill_disk_mb']:g} disk |"
            )
    if len(sizes) > 1:
        small, big = sizes[0], sizes[-1]
        print(f"\nratios {label(big)}/{label(small)} (goals: time <= 6x, JVM peak <= 1.3x):")
        for name in PHASES:
            a, b = results[small][name], results[big][name]
            print(
                f"  {name}: time {b['seconds'] / a['seconds']:.2f}x, JVM peak "
                f"{b['peak_jvm_mb'] / max(a['peak_jvm_mb'], 1):.2f}x"
            )
        jvm = [max(results[s][p]["peak_jvm_mb"] for p in PHASES) for s in (small, big)]
        print(f"  whole run: JVM peak {jvm[1] / max(jvm[0], 1):.2f}x ({jvm[0]} -> {jvm[1]} MB)")


if __name__ == "__main__":
    main()
