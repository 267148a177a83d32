"""The ``curate`` job: ``sales_clean`` -> ``customer_aggregates``, ``daily_sales``,
``product_performance`` in the curated zone.

Every run recomputes the three tables from the whole of ``sales_clean`` (they are small:
one row per customer, per product, per day x region x category), so they always agree with
it. ``daily_sales`` is partitioned by ``year/month/day`` (dynamic overwrite; days that no
longer exist are removed); the two others are single-snapshot tables, one Parquet file each,
swapped into place whole.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Callable
from contextlib import nullcontext
from typing import TYPE_CHECKING

from lakelib.config import Settings, Zone, get_settings
from lakelib.errors import EtlError
from lakelib.etl._curate import (
    INPUT_COLUMNS,
    customer_aggregates,
    daily_sales,
    product_performance,
)
from lakelib.etl._sales_clean import EtlRun, SalesCleanConfig, finish, new_run
from lakelib.etl._session import get_spark
from lakelib.etl._state import etl_lock
from lakelib.etl._transforms import DATE_KEYS
from lakelib.etl._write import (
    count_files,
    delete_partitions,
    existing_partitions,
    register_table,
    write_partitioned,
    write_whole,
)
from lakelib.storage import LocalStore, Store, zone_store

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

log = logging.getLogger(__name__)

Step = Callable[[str], None]
JOB = "curate"
DESCRIPTIONS = {
    "customer_aggregates": "per customer: recency, frequency, monetary, tenure, favourites",
    "daily_sales": "event date x region x category: orders, customers, revenue",
    "product_performance": "per product: orders, units, revenue, rank in its category",
}


def _replace_whole(frame: DataFrame, store: Store, table: str, run_id: str) -> None:
    """Write an unpartitioned table; locally through a hidden folder and a rename."""
    if not isinstance(store, LocalStore):
        write_whole(frame, store, table)
        return
    target = store.path(table)
    staging = store.path(f"_staging_{table}_{run_id}")
    write_whole(frame, LocalStore(staging.parent), staging.name)
    old = store.path(f"_old_{table}_{run_id}")
    if target.exists():
        os.replace(target, old)
    os.replace(staging, target)
    shutil.rmtree(old, ignore_errors=True)


def run_curate(
    *,
    settings: Settings | None = None,
    spark: object | None = None,
    on_step: Step | None = None,
    register: bool = True,
    lock: bool = True,
) -> EtlRun:
    """Recompute the curated tables from ``sales_clean`` and register them in the catalog.

    Returns
    -------
    EtlRun
        ``rows_in`` is the number of ``sales_clean`` rows read; ``tables`` the rows of
        each curated table. Written to ``runs/etl/curate/<run_id>.json``.
    """
    from pyspark.sql import SparkSession

    settings = settings or get_settings()
    step = on_step or (lambda message: log.info("%s", message))
    source_table = SalesCleanConfig.from_settings(settings).table
    run = new_run(JOB, "full")
    started = time.perf_counter()
    processed = zone_store(Zone.PROCESSED, settings)
    curated = zone_store(Zone.CURATED, settings)
    # sales_clean replaces its partitions in place: curate holds its lock too, so it never
    # reads the table halfway through a sales_clean batch.
    context = etl_lock(JOB, settings, reads=(source_table,)) if lock else nullcontext()
    with context:
        try:
            if not existing_partitions(processed, source_table):
                raise EtlError(f"nothing to curate: {source_table} is empty (run it first)")
            session = spark if isinstance(spark, SparkSession) else get_spark("lakelib-curate")
            step(f"curate: reading {source_table}")
            sales = (
                session.read.option("basePath", processed.url(source_table))
                .parquet(processed.url(source_table))
                .select(*INPUT_COLUMNS)
                .cache()
            )
            run.rows_in = sales.count()
            outputs = {
                "customer_aggregates": customer_aggregates(sales),
                "daily_sales": daily_sales(sales),
                "product_performance": product_performance(sales),
            }
            keys: tuple[str, ...]
            for name, frame in outputs.items():
                step(f"curate: writing {name}")
                if name == "daily_sales":
                    frame = frame.cache()  # written, then its partitions listed
                    write_partitioned(
                        frame, curated, name, DATE_KEYS, sort_by=("region", "category")
                    )
                    have = set(existing_partitions(curated, name))
                    wanted = {
                        "/".join(f"{k}={r[k]}" for k in DATE_KEYS)
                        for r in frame.select(*DATE_KEYS).distinct().collect()
                    }
                    removed = delete_partitions(curated, name, have - wanted)
                    partitions, keys = sorted(wanted), tuple(DATE_KEYS)
                else:
                    _replace_whole(frame, curated, name, run.run_id)
                    partitions, keys, removed = [], (), []
                written = session.read.parquet(curated.url(name))
                run.tables[name] = written.count()
                run.files_written += count_files(curated, name) if keys else 1
                if register:
                    register_table(
                        frame.schema,
                        table=name,
                        zone=Zone.CURATED,
                        folder=name,
                        keys=keys,
                        settings=settings,
                        partitions=partitions,
                        removed=removed,
                        description=DESCRIPTIONS[name],
                        parameters={"lakelib.job": JOB},
                    )
                if keys:
                    run.partitions_written = partitions
                frame.unpersist()
            sales.unpersist()
        except BaseException as exc:
            run.error = " ".join(str(exc).split())[:2000]
            finish(run, started, settings, "failed")
            if isinstance(exc, EtlError) or not isinstance(exc, Exception):
                raise
            raise EtlError(f"curate failed: {' '.join(str(exc).split())[:400]}") from exc
    return finish(run, started, settings, "succeeded")
