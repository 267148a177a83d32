"""Ingestion throughput: ``lakelib.ingest`` vs the floor any ingestion pays.

Lands N generated sales records (default 1,000,000, dirt at the default rates) from one
JSON-lines file into a fresh local lake, and in the same process runs a bare loop over the
same records, already parsed in memory, that only does ``json.dumps`` + a gzip write. The
bare loop is timed at gzip level 6 (what lakelib writes) and at ``gzip.open``'s default 9.
Prints records/s and the ratio; not a pass/fail test. Usage::

    python bench/ingest.py [--records N]
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path


def bare_loop(records: list[object], path: Path, level: int) -> float:
    start = time.perf_counter()
    with gzip.open(path, "wt", compresslevel=level, encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record))
            handle.write("\n")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    args = parser.parse_args()

    from lakelib.config import load_settings
    from lakelib.ingest import ingest
    from lakelib.samples import GeneratorSpec, generate

    work = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    try:
        days = 20
        spec = GeneratorSpec(
            start=dt.date(2026, 1, 1), days=days, rows_per_day=max(1, args.records // days)
        )
        generate("sales", work / "samples", spec)
        source = work / "sales.jsonl"
        with source.open("wb") as out:
            for part in sorted((work / "samples" / "sales").glob("*.jsonl")):
                out.write(part.read_bytes())
        lines = source.read_bytes().splitlines()
        records = []
        for line in lines:
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                records.append({"malformed": line.decode()})
        n = len(records)
        print(f"{n:,} records, {source.stat().st_size / 1e6:.0f} MB of JSON lines")

        floor6 = bare_loop(records, work / "bare6.json.gz", 6)
        floor9 = bare_loop(records, work / "bare9.json.gz", 9)
        settings = load_settings(home=work / "lake")
        start = time.perf_counter()
        summary = ingest("sales", str(source), settings=settings)
        elapsed = time.perf_counter() - start
        assert summary.read == n, (summary.read, n)

        machine = f"{platform.machine()}, {os.cpu_count()} cores"
        print(f"machine: {machine}, Python {platform.python_version()}")
        for level, seconds in ((6, floor6), (9, floor9)):
            print(
                f"bare loop, json.dumps + gzip level {level}: "
                f"{n / seconds:12,.0f} records/s ({seconds:.2f} s)"
            )
        print(
            f"lakelib ingest (parse, validate, envelope, gzip 6, quarantine): "
            f"{n / elapsed:12,.0f} records/s ({elapsed:.2f} s; landed {summary.landed:,}, "
            f"quarantined {summary.quarantined:,})"
        )
        print(f"ratio lakelib / bare loop (level 6): {floor6 / elapsed:.2f}x")
        print(f"ratio lakelib / bare loop (level 9): {floor9 / elapsed:.2f}x")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
