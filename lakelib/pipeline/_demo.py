"""The demo: sample sources landed day by day, then every stage that exists, on the local lake.

Stages: generate -> ingest (one run per arrival day) -> crawl -> ETL (``sales_clean``,
incremental, then ``curate``).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from lakelib.catalog import crawl
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

    Sales arrive as one file a day and are ingested as the daily scheduled run would, each
    under its own arrival date; reference data (customers, products) is ingested first.
    A second run with the same settings lands nothing twice (ingestion is idempotent).
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
    for day in range(spec.days):
        arrival = spec.start + dt.timedelta(days=day)
        path = samples / "sales" / f"sales_{arrival:%Y%m%d}.jsonl"
        if not path.exists() or path.stat().st_size == 0:
            continue
        step(f"ingesting sales for {arrival}")
        run_at = dt.datetime.combine(arrival, dt.time(2, 0), tzinfo=dt.UTC)
        report.ingests.append(ingest("sales", str(path), run_date=run_at, settings=settings))
    totals = report.ingest_totals()
    report.stages.append(
        (
            "ingest",
            f"{totals['runs']} runs: read {totals['read']:,}, landed {totals['landed']:,}, "
            f"quarantined {totals['quarantined']:,}, inputs already landed {totals['skipped']:,}",
        )
    )

    step("crawling the lake into the catalog")
    crawled = crawl(settings=settings)
    changed = sum(1 for table in crawled.tables if table.action in ("created", "updated"))
    report.stages.append(
        (
            "crawl",
            f"{len(crawled.tables)} tables in {settings.database} ({changed} created or updated), "
            f"{sum(len(t.partitions_added) for t in crawled.tables):,} partitions added, "
            f"{len(crawled.problems)} problems",
        )
    )

    step("starting Spark for the ETL")
    from lakelib.etl import run_etl

    started = time.perf_counter()
    etl_runs = run_etl(settings=settings, on_step=step)
    report.timings["etl"] = round(time.perf_counter() - started, 1)
    for run in etl_runs:
        if run.job == "sales_clean":
            report.stages.append(
                (
                    "etl",
                    f"sales_clean: {run.raw_files:,} new raw files, rows in {run.rows_in:,}, "
                    f"out {run.rows_out:,}, quarantined {run.rows_quarantined:,}, "
                    f"duplicates removed {run.duplicates_removed:,}, "
                    f"unknown customers {run.unknown_customers:,}, "
                    f"{len(run.partitions_written):,} partitions ({run.duration_s:.1f} s)",
                )
            )
        else:
            tables = ", ".join(f"{name} {rows:,}" for name, rows in run.tables.items())
            report.stages.append(("curate", f"{tables} rows ({run.duration_s:.1f} s)"))
    return report
