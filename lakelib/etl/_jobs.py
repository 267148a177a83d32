"""The ETL job registry: every job's name, how to run and summarise it, its tables and lock.

A job's name is what ``lake etl JOB`` takes, the key of the Glue job in ``[etl.glue_jobs]``
and the stack output ``glue_jobs``, its script ``jobs/<name>.py`` (Glue and EMR run the same
file), the folder of its run records, bookmark and lock (``runs/etl/<name>/``) and the
``${job_<name>}`` placeholder of the Step Functions export. What it *writes* (its tables)
and which pipeline stage runs it are separate entries, so renaming a table in ``lake.toml``
does not rename the job.

The CLI (``lake etl``), the daily pipeline, the job scripts and the Glue / EMR backends all
read this registry; adding a job is one :class:`EtlJob` in :data:`ETL_JOBS` and one
``jobs/<name>.py``. Nothing here imports Spark: the run functions are imported when called.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from lakelib.config import Settings, Zone
from lakelib.config._layout import placeholder
from lakelib.errors import ConfigError

if TYPE_CHECKING:
    from lakelib.etl._record import EtlRun

Step = Callable[[str], None]


@dataclass(frozen=True)
class JobRequest:
    """What one in-process run of a job is asked to do."""

    settings: Settings
    full: bool = False
    since: date | None = None
    spark: Any = None
    on_step: Step | None = None


@dataclass(frozen=True)
class JobSummary:
    """One run as ``lake etl`` prints it: the cells of its table row and notes below it."""

    rows_out: str
    quarantined: str = ""
    duplicates: str = ""
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class EtlJob:
    """One ETL job (see the module docstring for what its name names)."""

    name: str
    stage: str  # the daily pipeline's stage that runs it (its metrics' ``Stage`` dimension)
    description: str
    run: Callable[[JobRequest], EtlRun]
    metrics: Callable[[EtlRun], dict[str, Any]]
    summarise: Callable[[EtlRun], JobSummary]
    tables: Callable[[Settings], tuple[str, ...]]
    # Jobs whose tables this one reads: their locks are held too, so it never reads one
    # halfway through that job's run.
    reads: tuple[str, ...] = ()
    # Reads raw files incrementally through a Spark checkpoint (``lake etl --bookmarks``).
    bookmarked: bool = False
    # True when its tables exist, so a run after an upstream run that brought no new rows
    # can be skipped: the tables already match. ``None``: always run.
    current: Callable[[Settings], bool] | None = field(default=None)

    @property
    def script(self) -> str:
        """The job script in the scripts zone (``jobs/<name>.py`` on AWS)."""
        return f"{self.name}.py"

    @property
    def placeholder(self) -> str:
        """The Step Functions export's placeholder for the physical Glue job name."""
        return placeholder("glue_job", name=self.name)

    @property
    def lock(self) -> str:
        """The lock key (``runs/etl/<lock>/lock/``): the job's own name, not a table's."""
        return self.name


# -- sales_clean -----------------------------------------------------------------------------


def _run_sales_clean(request: JobRequest) -> EtlRun:
    from lakelib.etl._sales_clean import run_sales_clean

    return run_sales_clean(
        full=request.full,
        since=request.since,
        settings=request.settings,
        spark=request.spark,
        on_step=request.on_step,
    )


def _sales_clean_metrics(run: EtlRun) -> dict[str, Any]:
    return {
        "rows_in": run.rows_in,
        "rows_out": run.rows_out,
        "rows_quarantined": run.rows_quarantined,
        "duplicates_removed": run.duplicates_removed,
        "files": run.files_written,
        "unknown_customers": run.unknown_customers,
    }


def _sales_clean_summary(run: EtlRun) -> JobSummary:
    notes = []
    if run.raw_files == 0:
        notes.append(f"{run.job}: no new raw files (bookmark up to date)")
    if run.reasons:
        reasons = ", ".join(f"{code} {count:,}" for code, count in run.reasons.items())
        notes.append(f"{run.job} quarantined: {reasons}")
    if run.unknown_customers or run.unknown_products:
        notes.append(
            f"{run.job}: {run.unknown_customers:,} rows with an unknown customer, "
            f"{run.unknown_products:,} with an unknown product (kept, marked)"
        )
    return JobSummary(
        f"{run.rows_out:,}",
        f"{run.rows_quarantined:,}",
        f"{run.duplicates_removed:,}",
        tuple(notes),
    )


def _sales_clean_tables(settings: Settings) -> tuple[str, ...]:
    from lakelib.etl._sales_clean import SalesCleanConfig

    return (SalesCleanConfig.from_settings(settings).table,)


# -- curate ----------------------------------------------------------------------------------

CURATED_TABLES = ("customer_aggregates", "daily_sales", "product_performance")


def _run_curate(request: JobRequest) -> EtlRun:
    from lakelib.etl._curate_job import run_curate

    return run_curate(
        full=request.full, settings=request.settings, spark=request.spark, on_step=request.on_step
    )


def _curate_metrics(run: EtlRun) -> dict[str, Any]:
    return {"duration_s": run.duration_s, **{f"rows_{k}": v for k, v in run.tables.items()}}


def _curate_summary(run: EtlRun) -> JobSummary:
    return JobSummary(", ".join(f"{k} {v:,}" for k, v in run.tables.items()))


def _curated(settings: Settings) -> bool:
    return any(True for _ in settings.store(Zone.CURATED).list(f"{CURATED_TABLES[0]}/"))


# -- the registry ----------------------------------------------------------------------------

ETL_JOBS: Mapping[str, EtlJob] = MappingProxyType(
    {
        job.name: job
        for job in (
            EtlJob(
                name="sales_clean",
                stage="etl",
                description="clean, deduplicate, enrich into processed/sales_clean",
                run=_run_sales_clean,
                metrics=_sales_clean_metrics,
                summarise=_sales_clean_summary,
                tables=_sales_clean_tables,
                bookmarked=True,
            ),
            EtlJob(
                name="curate",
                stage="curate",
                description="analytics tables in the curated zone",
                run=_run_curate,
                metrics=_curate_metrics,
                summarise=_curate_summary,
                tables=lambda settings: CURATED_TABLES,
                reads=("sales_clean",),
                current=_curated,
            ),
        )
    }
)


def etl_job(name: str) -> EtlJob:
    """The registered job ``name``; :class:`ConfigError` naming the known ones otherwise."""
    try:
        return ETL_JOBS[name]
    except KeyError:
        raise ConfigError(f"unknown etl job {name!r} (known: {', '.join(ETL_JOBS)}, all)") from None


def resolve_jobs(job: str | None) -> list[EtlJob]:
    """``None`` or ``"all"``: every job in order; else the one named (checked)."""
    if job in (None, "all"):
        return list(ETL_JOBS.values())
    return [etl_job(job)]


def job_metrics(run: EtlRun) -> dict[str, Any]:
    """The stage metrics of one run: the same locally, in a Glue job and on EMR."""
    return etl_job(run.job).metrics(run)
