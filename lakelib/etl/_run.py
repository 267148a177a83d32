"""Run ETL jobs: in-process on Spark (local or inside a cluster), or in the cloud."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING

from lakelib.config import Settings, get_settings
from lakelib.errors import EtlError
from lakelib.etl._aws import RemoteRun, open_backend
from lakelib.etl._jobs import JobRequest, resolve_jobs
from lakelib.etl._record import EtlRun

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

Step = Callable[[str], None]


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
        a job of :data:`~lakelib.etl.ETL_JOBS` (``"sales_clean"``, ``"curate"``), or
        ``None`` / ``"all"`` for every job, in order.
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
    request = JobRequest(settings or get_settings(), full, since, spark, on_step)
    runs: list[EtlRun] = []
    for chosen in resolve_jobs(job):
        upstream_idle = bool(runs) and runs[-1].rows_in == 0 and not full
        if upstream_idle and chosen.current is not None and chosen.current(request.settings):
            # Nothing new came in: its tables already match what it reads.
            continue
        runs.append(chosen.run(request))
    return runs


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
    results = backend.run(
        [j.name for j in resolve_jobs(job)], full=full, since=since, on_state=on_step
    )
    failed = [r for r in results if not r.succeeded]
    if failed:
        last = failed[0]
        raise EtlError(
            f"{engine} run of {last.job} ({last.run_id}) ended {last.state}: "
            f"{last.error or 'no error message'}"
        )
    return results
