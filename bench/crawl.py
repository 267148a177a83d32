"""Crawl time: ``lakelib.catalog.crawl`` (sampling budget) vs reading every file in full.

Builds a raw zone of D days x F gzip JSON-lines files x R records (default 91 x 2 x 5,000,
sales records with the ingestion envelope), then in the same process times:

- the baseline: what a crawler without a budget does, every file read whole and parsed
  by ``pyarrow.json`` (C++, multi-threaded) to get its schema;
- ``crawl("raw")`` into a fresh SQLite catalog (first crawl: creates the table and
  registers every partition);
- ``crawl("raw")`` again (nothing changed: the daily case).

Prints seconds and the ratios; not a pass/fail test. Usage::

    python bench/crawl.py [--days D] [--files F] [--records R]
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import io
import json
import platform
import shutil
import tempfile
import time
from pathlib import Path


def build(home: Path, days: int, files: int, records: int) -> int:
    from lakelib.config import load_settings
    from lakelib.storage import RawKey, zone_store

    store = zone_store("raw", load_settings(home=home, cwd=home, env={}))
    total = 0
    start = dt.datetime(2026, 1, 1, 2, tzinfo=dt.UTC)
    for day in range(days):
        for part in range(files):
            when = start + dt.timedelta(days=day, minutes=part)
            lines = []
            for n in range(records):
                record = {
                    "_ingested_at": when.isoformat(),
                    "_source": "sales",
                    "_run_id": f"run-{day}",
                    "_origin": "bench",
                    "id": day * 1_000_000 + part * records + n,
                    "date": (when.date()).isoformat(),
                    "amount": round(10 + n * 0.37 % 90, 2),
                    "customer_id": n % 5000,
                    "product_id": n % 300,
                }
                if day > days // 2:
                    record["channel"] = "web"
                lines.append(json.dumps(record))
            payload = gzip.compress(("\n".join(lines) + "\n").encode(), compresslevel=6)
            store.write_bytes(RawKey("sales", when, seq=part).relative, payload)
            total += len(payload)
    return total


def full_read(home: Path) -> float:
    import pyarrow.json as pj

    schemas = []
    begin = time.perf_counter()
    for path in sorted((home / "raw" / "sales").rglob("*.json.gz")):
        schemas.append(pj.read_json(io.BytesIO(gzip.decompress(path.read_bytes()))).schema)
    return time.perf_counter() - begin


def timed_crawl(home: Path) -> tuple[float, object]:
    from lakelib.catalog import LocalCatalog, crawl
    from lakelib.config import load_settings

    settings = load_settings(home=home, cwd=home, env={})
    begin = time.perf_counter()
    report = crawl("raw", settings=settings, catalog=LocalCatalog(home / "catalog.sqlite"))
    return time.perf_counter() - begin, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=91)
    parser.add_argument("--files", type=int, default=2)
    parser.add_argument("--records", type=int, default=5_000)
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="bench-crawl-"))
    try:
        size = build(home, args.days, args.files, args.records)
        count = args.days * args.files
        print(
            f"raw zone: {count} files, {count * args.records:,} records, {size / 1e6:.1f} MB gzip "
            f"({platform.machine()}, Python {platform.python_version()})"
        )
        baseline = full_read(home)
        first, report = timed_crawl(home)
        second, again = timed_crawl(home)
        table = report.table("raw_sales")  # type: ignore[attr-defined]
        assert table.action == "created" and len(table.partitions_added) == args.days
        assert again.table("raw_sales").action == "unchanged"  # type: ignore[attr-defined]
        print(f"full read (pyarrow.json, every byte): {baseline:6.2f} s")
        print(
            f"lake crawl, first (create + {args.days} partitions): {first:6.2f} s"
            f"  ratio {first / baseline:.2f}x"
        )
        print(
            f"lake crawl, again (no change):          {second:6.2f} s"
            f"  ratio {second / baseline:.2f}x"
        )
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
