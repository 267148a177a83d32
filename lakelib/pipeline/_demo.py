"""The demo: sample sources for a period, landed as a backfill, then the daily run for the
last day (every stage, notebooks included) on the local lake.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lakelib.config import Settings, get_settings
from lakelib.ingest import IngestSummary, ingest
from lakelib.samples import GeneratorSpec, generate_all

log = logging.getLogger(__name__)

Step = Callable[[str], None]


@dataclass
class DemoReport:
    """What the demo did, stage by stage, for the CLI to print."""

    samples: Path
    spec: GeneratorSpec
    generated: dict[str, dict[str, object]] = field(default_factory=dict)
    ingests: list[IngestSummary] = field(default_factory=list)
    stages: list[tuple[str, str]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    report_path: str = ""

    def ingest_totals(self) -> dict[str, int]:
        totals = {"runs": 0, "read": 0, "landed": 0, "quarantined": 0, "skipped": 0}
        for summary in self.ingests:
            totals["runs"] += 1
            totals["read"] += summary.read
            totals["landed"] += summary.landed
            totals["quarantined"] += summary.quarantined
            totals["skipped"] += len(summary.skipped_inputs)
        return totals


def run_demo(
    days: int | None = None,
    rows_per_day: int | None = None,
    *,
    settings: Settings | None = None,
    on_step: Step | None = None,
) -> DemoReport:
    """Generate sample data into ``<lake home>/samples`` and run the pipeline on it.

    Sales arrive as one file a day: all days but the last are ingested as a backfill, each
    under its own arrival date (reference data first); then the daily pipeline runs for the
    last day: ingest, crawl, ETL, curate, train, transform, report, notebooks. A second demo
    lands nothing twice (ingestion and ETL are incremental) and rebuilds the same report.
    """
    settings = settings or get_settings()
    step = on_step or (lambda message: log.info("%s", message))
    spec = GeneratorSpec.from_config(
        settings.section("generate"), days=days, rows_per_day=rows_per_day
    )
    samples = settings.home / "samples"
    report = DemoReport(samples, spec)

    step(
        f"generating {spec.days} days x ~{spec.rows_per_day:,} sales from {spec.start} "
        f"(seed {spec.seed}) into {samples}"
    )
    report.generated = generate_all(samples, spec)

    for reference in ("customers", "products"):
        step(f"ingesting {reference}")
        report.ingests.append(
            ingest(reference, str(samples / reference), run_date=spec.start, settings=settings)
        )
    last_day = spec.start + dt.timedelta(days=spec.days - 1)
    for day in range(spec.days - 1):
        arrival = spec.start + dt.timedelta(days=day)
        path = samples / "sales" / f"sales_{arrival:%Y%m%d}.jsonl"
        if not path.exists() or path.stat().st_size == 0:
            continue
        step(f"backfill: ingesting sales for {arrival}")
        run_at = dt.datetime.combine(arrival, dt.time(2, 0), tzinfo=dt.UTC)
        report.ingests.append(ingest("sales", str(path), run_date=run_at, settings=settings))
    totals = report.ingest_totals()
    report.stages.append(
        (
            "backfill",
            f"{totals['runs']} ingest runs up to the day before {last_day}: read "
            f"{totals['read']:,}, landed {totals['landed']:,}, quarantined "
            f"{totals['quarantined']:,}, inputs already landed {totals['skipped']:,}",
        )
    )

    from lakelib.pipeline._daily import daily_pipeline, report_path
    from lakelib.pipeline._runner import run_pipeline

    step(f"daily run for {last_day}")
    started = time.perf_counter()
    record = run_pipeline(
        daily_pipeline(),
        last_day,
        settings=settings,
        force=True,
        on_stage=lambda stage, state: step(f"daily run {last_day}: {stage} {state}"),
    )
    report.timings["daily_run"] = round(time.perf_counter() - started, 1)
    for stage in record.stages:
        report.stages.append((stage.name, describe_stage(stage.status, stage.metrics, stage.error)))
        report.timings[stage.name] = stage.duration_s
    report.report_path = report_path(settings, last_day)
    return report


def describe_stage(status: str, metrics: Mapping[str, Any], note: str | None) -> str:
    """One line for a stage of the demo's daily run."""
    if note:
        return f"{status}: {note}"

    def shown(value: float) -> str:
        if isinstance(value, int):
            return f"{value:,}"
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.2f}"

    parts = [
        f"{name.replace('_', ' ')} {shown(value)}"
        for name, value in metrics.items()
        if isinstance(value, int | float) and not isinstance(value, bool) and name != "duration_s"
    ]
    return f"{status}: {', '.join(parts)}" if parts else status
