"""Run ETL jobs: in-process on Spark (local or inside a cluster), or in the cloud."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING

from lakelib.config import Settings, get_settings
from lakelib.errors import ConfigError, EtlError
from lakelib.etl._aws import JOBS, RemoteRun, open_backend
from lakelib.etl._curate_job import run_curate
from lakelib.etl._sales_clean import EtlRun, run_sales_clean

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

Step = Callable[[str], None]


def resolve_jobs(job: str | None) -> list[str]:
    """``None`` or ``"all"``: every job in order; else the one named (checked)."""
    if job in (None, "all"):
        return list(JOBS)
    if job not in JOBS:
        raise ConfigError(f"unknown etl job {job!r} (known: {', '.join(JOBS)}, all)")
    return [job]


def run_etl(
    job: str | None = None,
    *,
    full: bool = False,
    since: date | None = None,
    settings: Settings | None = None,
    spark: SparkSession | None = None,
    on_step: Step | None = None,
) -> list[EtlRun]:
    """Run ETL jobs in this process on Spark: ``sales_clean`` then ``curate`` by default.

    Parameters
    ----------
    job:
        ``"sales_clean"``, ``"curate"``, or ``None`` / ``"all"`` for both, in that order.
    full:
        ``sales_clean`` forgets its bookmark and rebuilds from all raw files.
    since:
        ``sales_clean`` rewinds its bookmark to raw files that arrived on or after this date.
    settings, spark, on_step:
        the settings, the Spark session (default :func:`get_spark`), a progress callback.

    Returns
    -------
    list[EtlRun]
        one per job run; each is also recorded under ``runs/etl/<job>/``.

    Examples
    --------
    >>> [run.job for run in run_etl()]            # doctest: +SKIP
    ['sales_clean', 'curate']
    """
    settings = settings or get_settings()
    runs = []
    for name in resolve_jobs(job):
        if name == "sales_clean":
            runs.append(
                run_sales_clean(
                    full=full, since=since, settings=settings, spark=spark, on_step=on_step
                )
            )
        else:
            if runs and runs[-1].rows_in == 0 and not full and _curated(settings):
                # Nothing new came in: the curated tables already match sales_clean.
                continue
            runs.append(run_curate(full=full, settings=settings, spark=spark, on_step=on_step))
    return runs


def _curated(settings: Settings) -> bool:
    from lakelib.config import Zone

    curated = settings.store(Zone.CURATED)
    return any(True for _ in curated.list("customer_aggregates/"))


def run_etl_remote(
    job: str | None = None,
    *,
    engine: str = "glue",
    full: bool = False,
    since: date | None = None,
    settings: Settings | None = None,
    cluster_id: str | None = None,
    transient: bool = False,
    poll_interval: float | None = None,
    on_step: Step | None = None,
) -> list[RemoteRun]:
    """Run ETL jobs on Glue (``engine="glue"``) or EMR and follow them to the end.

    Raises :class:`EtlError` with the cloud's error message when a run does not succeed.
    """
    settings = settings or get_settings()
    backend = open_backend(
        settings, engine, cluster_id=cluster_id, transient=transient, poll_interval=poll_interval
    )
    results = backend.run(resolve_jobs(job), full=full, since=since, on_state=on_step)
    failed = [r for r in results if not r.succeeded]
    if failed:
        last = failed[0]
        raise EtlError(
            f"{engine} run of {last.job} ({last.run_id}) ended {last.state}: "
            f"{last.error or 'no error message'}"
        )
    return results
