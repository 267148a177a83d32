"""``lake demo`` on a small data set: every stage runs and says what it did."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from lakelib.cli import main


@pytest.fixture
def run_demo(
    spark: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Any:
    """``lake demo --days 3 --rows-per-day 200`` in this process (the test run's Spark)."""

    def run(home: Path) -> subprocess.CompletedProcess[str]:
        monkeypatch.setenv("LAKE_HOME", str(home))
        monkeypatch.setenv("COLUMNS", "250")
        code = main(["demo", "--days", "3", "--rows-per-day", "200"])
        captured = capsys.readouterr()
        return subprocess.CompletedProcess(["lake", "demo"], code, captured.out, captured.err)

    return run


def test_demo_backfills_runs_the_daily_pipeline_and_reruns_idempotently(
    run_demo: Any, tmp_path: Path
) -> None:
    home = tmp_path / "lake"
    first = run_demo(home)
    assert first.returncode == 0, first.stderr
    manifest = json.loads((home / "samples" / "manifest.json").read_text())["sales"]
    lines = first.stdout.splitlines()
    # The last line says where the report is, and it is there.
    assert lines[-1] == f"report: {home / 'runs' / '2026-01-03' / 'report.html'}"
    assert (home / "runs" / "2026-01-03" / "report.html").is_file()
    # Three days cannot train a model: the summary says so and what to run instead.
    assert lines[-2].startswith(
        "no model: 3 days of sales are too few to train (the model needs 51), so there are "
        "no predictions and no model section in the report; run `lake demo --days 51`"
    )
    stages = {
        line.split()[1]: line for line in lines if line.startswith("│ ") and len(line.split()) > 2
    }
    for stage in ("backfill", "ingest", "crawl", "etl", "curate", "train", "transform", "report"):
        assert stage in stages, stage
    assert f"rows out {manifest['valid_unique_ids']:,}" in stages["etl"]
    assert "too few to train" in stages["train"] and "no promoted model" in stages["transform"]
    days = sorted(p.name for p in (home / "raw" / "sales" / "year=2026" / "month=01").iterdir())
    assert days == ["day=01", "day=02", "day=03"]
    executed = sorted(p.name for p in (home / "runs" / "2026-01-03").glob("*.ipynb"))
    assert executed == ["01_explore.ipynb", "02_train.ipynb", "04_report.ipynb"]  # no model
    assert "recent ingests" in first.stdout and "pipeline runs" in first.stdout
    raw_files = sorted(p.relative_to(home) for p in (home / "raw").rglob("*.json.gz"))
    clean = sorted(p.relative_to(home) for p in (home / "processed").rglob("*.parquet"))
    report = (home / "runs" / "2026-01-03" / "report.html").read_bytes()

    second = run_demo(home)
    assert second.returncode == 0, second.stderr
    assert "inputs already landed 4" in second.stdout
    assert "rows in 0, rows out 0" in second.stdout
    assert sorted(p.relative_to(home) for p in (home / "raw").rglob("*.json.gz")) == raw_files
    assert sorted(p.relative_to(home) for p in (home / "processed").rglob("*.parquet")) == clean
    assert (home / "runs" / "2026-01-03" / "report.html").read_bytes() == report
