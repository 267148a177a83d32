"""The real daily pipeline on a small lake: a failing stage stops, alerts, and a rerun resumes."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import pytest

from lakelib.config import Zone, load_settings
from lakelib.monitor import FAILED, SKIPPED, SUCCEEDED, load_run
from lakelib.pipeline import PipelineError, daily_pipeline, run_pipeline
from lakelib.report import AlertLog
from lakelib.storage import zone_store

REPO = Path(__file__).resolve().parents[2]
DAY = dt.date(2026, 1, 3)


def test_failing_stage_stops_alerts_and_the_rerun_resumes(
    spark: Any, samples: Path, tmp_path: Path
) -> None:
    config = (
        (REPO / "lake.toml")
        .read_text()
        .replace(
            '"{home}/samples/sales/sales_{date:%Y%m%d}.jsonl"',
            '"{root}/drop/sales_{date:%Y%m%d}.jsonl"',
        )
        .replace('"{home}/samples/customers"', f'"{samples / "customers"}"')
        .replace('"{home}/samples/products"', f'"{samples / "products"}"')
    )
    (tmp_path / "lake.toml").write_text(config)
    (tmp_path / "notebooks").symlink_to(REPO / "notebooks")
    settings = load_settings(cwd=tmp_path, home=tmp_path / "lake", env={})
    pipeline = daily_pipeline()

    with pytest.raises(
        PipelineError, match=r"stage ingest failed after 3 attempt\(s\): no such file"
    ):
        run_pipeline(pipeline, DAY, settings=settings, sleep=lambda s: None)
    runs = zone_store(Zone.RUNS, settings)
    record = load_run(runs, "daily", DAY.isoformat())
    assert record is not None and record.status == FAILED
    assert record.stage("ingest").error.startswith("no such file or folder")
    assert [a.rule for a in AlertLog(runs).recent()] == ["failed_stage"]

    drop = tmp_path / "drop"
    drop.mkdir()
    for path in sorted((samples / "sales").glob("*.jsonl"))[:3]:
        shutil.copy(path, drop / path.name)
    # Only this day's file is the ingest stage's input; earlier days arrive as a backfill.
    for early in ("sales_20260101.jsonl", "sales_20260102.jsonl"):
        from lakelib.ingest import ingest

        ingest("sales", str(drop / early), settings=settings)
    record = run_pipeline(pipeline, DAY, settings=settings, sleep=lambda s: None)
    assert record.status == SUCCEEDED and record.attempts == 2
    statuses = {s.name: s.status for s in record.stages}
    assert statuses == {
        "ingest": SUCCEEDED,
        "crawl": SUCCEEDED,
        "etl": SUCCEEDED,
        "curate": SUCCEEDED,
        "train": SKIPPED,  # 3 days are too few to train
        "transform": SKIPPED,
        "report": SUCCEEDED,
        "notebooks": SUCCEEDED,
    }
    assert record.stage("etl").metrics["rows_out"] > 0
    assert (tmp_path / "lake" / "runs" / DAY.isoformat() / "report.html").is_file()
    report = (tmp_path / "lake" / "runs" / DAY.isoformat() / "report.html").read_bytes()

    # A forced rerun of the same date rebuilds the same report.
    run_pipeline(pipeline, DAY, settings=settings, force=True)
    assert (tmp_path / "lake" / "runs" / DAY.isoformat() / "report.html").read_bytes() == report
