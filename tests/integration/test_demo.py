"""``lake demo`` on a small data set: every stage that exists runs and says what it did."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run_demo(home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAKE_")}
    env.update(LAKE_HOME=str(home), COLUMNS="250")
    return subprocess.run(
        [sys.executable, "-m", "lakelib", "demo", "--days", "3", "--rows-per-day", "200"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_demo_lands_each_day_and_reruns_idempotently(tmp_path: Path) -> None:
    home = tmp_path / "lake"
    first = run_demo(home)
    assert first.returncode == 0, first.stderr
    assert "generate" in first.stdout and "ingest" in first.stdout
    assert "4 tables in data_lake_db (4 created or updated)" in first.stdout
    assert (home / "catalog.sqlite").is_file()
    assert "recent ingests" in first.stdout  # lake status after the demo
    days = sorted(p.name for p in (home / "raw" / "sales" / "year=2026" / "month=01").iterdir())
    assert days == ["day=01", "day=02", "day=03"]
    assert (home / "raw" / "customers").is_dir() and (home / "raw" / "products").is_dir()
    assert (home / "samples" / "manifest.json").is_file()
    raw_files = sorted(p.relative_to(home) for p in (home / "raw").rglob("*.json.gz"))
    assert "etl" in first.stdout and "curate" in first.stdout
    assert "sales_clean: 3 new raw files" in first.stdout
    assert (home / "processed" / "sales_clean").is_dir()
    assert (home / "curated" / "customer_aggregates").is_dir()
    clean = sorted(p.relative_to(home) for p in (home / "processed").rglob("*.parquet"))
    assert clean

    second = run_demo(home)
    assert second.returncode == 0, second.stderr
    assert "landed 0," in second.stdout
    assert "(0 created or updated)" in second.stdout
    assert sorted(p.relative_to(home) for p in (home / "raw").rglob("*.json.gz")) == raw_files
    # Nothing new landed: the ETL's bookmark skips every raw file and the tables stay put.
    assert "sales_clean: 0 new raw files" in second.stdout
    assert sorted(p.relative_to(home) for p in (home / "processed").rglob("*.parquet")) == clean
