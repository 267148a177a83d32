"""The ``sales_clean`` job: raw sales JSON -> clean, deduplicated, enriched Parquet by event date.

Incremental by Spark's own mechanism: the raw zone is read as a streaming file source with
``Trigger.AvailableNow`` and a checkpoint in ``runs/etl/sales_clean/checkpoint/``; each run
processes the raw files that no committed batch has, in one batch, then stops. A batch
(:mod:`lakelib.etl._batch`):

1. checks every record against the source's contract (``lake.toml``) with Spark column
   expressions; rejected rows go to ``quarantine/sales_clean/`` (partitioned by arrival
   date) with their ``reason``;
2. merges the valid rows with the rows already in the event-date partitions they touch and
   in those where the id index (:mod:`lakelib.etl._index`) says another version of one of
   their ids lives, keeps the most recently ingested version of each ``id``, conforms and
   enriches them;
3. replaces exactly those partitions (dynamic overwrite; one left empty is removed), points
   the index at where the batch's ids now are, and checks
   ``rows_in = rows_out + rows_quarantined + duplicates_removed``.

Spark commits the batch to the checkpoint only after the function returns, so a failed run
is retried whole by the next run; both writes are merges keyed by record and raw file, so a
retried batch gives the same rows.

The pieces: the run record (:mod:`lakelib.etl._record`), the raw listing and reference
snapshots (:mod:`lakelib.etl._raw`), keeping the checked rows (:mod:`lakelib.etl._cache`),
the batch, the index.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from lakelib.config import Settings, Zone, get_settings
from lakelib.config._layout import table_prefix
from lakelib.errors import EtlError
from lakelib.etl._batch import Batch
from lakelib.etl._index import IdIndex
from lakelib.etl._raw import REFERENCES, pending_raw_files, raw_schema, reference_snapshot
from lakelib.etl._record import EtlRun, finish, new_run, recorded, short_error
from lakelib.etl._session import get_spark, size_shuffle
from lakelib.etl._state import (
    checkpoint_uri,
    clear_rewind,
    etl_lock,
    read_bookmark,
    reset_bookmark,
)
from lakelib.etl._transforms import CORRUPT, DATE_KEYS, DEFAULT_AMOUNT_BANDS
from lakelib.etl._write import count_files, delete_partitions, existing_partitions, register_table
from lakelib.ingest import Contract, load_contract

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)

# The run record lives in ``_record``, the raw listing in ``_raw``: re-exported here for the
# modules that imported them from this one.
__all__ = [
    "REFERENCES",
    "EtlRun",
    "SalesCleanConfig",
    "finish",
    "new_run",
    "pending_raw_files",
    "raw_schema",
    "reference_snapshot",
    "run_sales_clean",
]

Step = Callable[[str], None]
# The job's name in the registry (lakelib.etl._jobs): its lock, bookmark, run records and id
# index live under runs/etl/sales_clean/ whatever [etl] table names the table it writes.
JOB = "sales_clean"


@dataclass(frozen=True)
class SalesCleanConfig:
    """The ``[etl]`` settings of ``sales_clean`` (all optional in ``lake.toml``)."""

    source: str = "sales"
    table: str = "sales_clean"
    key: str = "id"
    event_time: str = "date"
    amount: str = "amount"
    amount_bands: tuple[float, ...] = DEFAULT_AMOUNT_BANDS

    @classmethod
    def from_settings(cls, settings: Settings) -> SalesCleanConfig:
        section: Mapping[str, Any] = settings.section("etl")
        bands = section.get("amount_bands", DEFAULT_AMOUNT_BANDS)
        return cls(
            source=str(section.get("source", cls.source)),
            table=str(section.get("table", cls.table)),
            key=str(section.get("key", cls.key)),
            event_time=str(section.get("event_time", cls.event_time)),
            amount=str(section.get("amount", cls.amount)),
            amount_bands=tuple(float(b) for b in bands),
        )


def run_sales_clean(
    *,
    full: bool = False,
    since: date | None = None,
    settings: Settings | None = None,
    spark: SparkSession | None = None,
    on_step: Step | None = None,
    register: bool = True,
) -> EtlRun:
    """Run the ``sales_clean`` job on the raw files not processed yet (or all: ``full``).

    Parameters
    ----------
    full:
        forget the bookmark and rebuild every partition from all raw files; partitions no
        raw file produces any more are removed.
    since:
        rewind the bookmark to raw files that arrived on or after this date, then run.
    settings:
        the settings in force when omitted.
    spark:
        the session to use (default :func:`get_spark`).
    on_step:
        called with a short message as the run progresses (the CLI's progress display).
    register:
        register ``sales_clean`` and ``quarantine_sales_clean`` and their partitions in the
        catalog.

    Returns
    -------
    EtlRun
        counts, partitions written, files; also written to ``runs/etl/sales_clean/``.

    Raises
    ------
    EtlError
        another run holds the lock, or the run does not reconcile.

    Examples
    --------
    >>> run = run_sales_clean()                                  # doctest: +SKIP
    >>> run.reconciles                                           # doctest: +SKIP
    True
    """
    settings = settings or get_settings()
    step = on_step or (lambda message: log.info("%s", message))
    config = SalesCleanConfig.from_settings(settings)
    table = config.table
    contract = load_contract(config.source, settings.section("sources"))
    missing = [
        c for c in (config.key, config.event_time, config.amount) if c not in contract.fields
    ]
    if missing:
        where = settings.config_file or "lake.toml (none found)"
        raise EtlError(
            f"the [sources.{config.source}] contract in {where} does not declare "
            f"{', '.join(missing)}: the ETL types and checks records by it"
        )
    mode = "full" if full else ("rewind" if since else "incremental")
    job = JOB
    with etl_lock(job, settings), recorded(job, mode, settings) as run:
        if full:
            reset_bookmark(job, settings)
        elif since is not None:
            reset_bookmark(job, settings, since=since)
        mark = read_bookmark(job, settings)
        rewind = date.fromisoformat(mark.rewind_since) if mark.rewind_since else None
        run.since = rewind.isoformat() if rewind else None
        if rewind is not None:
            run.mode = "rewind"
        raw = settings.store(Zone.RAW)
        run.raw_files, run.raw_bytes = pending_raw_files(raw, config.source, mark.processed, rewind)
        step(f"sales_clean: {run.raw_files} new raw file(s) to process")
        if run.raw_files == 0 and not full:
            return run
        spark = spark or get_spark("lakelib-sales_clean")
        run.shuffle_partitions = size_shuffle(spark, run.raw_bytes)
        processed = settings.store(Zone.PROCESSED)
        quarantine = settings.store(Zone.QUARANTINE)
        index = IdIndex(job, config.key, settings, step=step)
        if full:
            index.reset()  # the rebuild writes it again
        else:
            index.ensure(spark, processed, table)
        references: dict[str, DataFrame | None] = {}
        for name, ref_key in REFERENCES.items():
            frame, latest = reference_snapshot(spark, settings, name, ref_key)
            references[name] = frame
            run.references[name] = latest
        batch = Batch(
            run,
            contract,
            config,
            settings,
            references,
            full=full,
            since=rewind,
            step=step,
            index=index,
        )
        _stream(spark, raw.url(config.source), contract, batch, checkpoint_uri(job, settings))
        if full:
            stale = set(existing_partitions(processed, table)) - batch.written
            batch.removed.update(delete_partitions(processed, table, stale))
            stale_q = set(existing_partitions(quarantine, table)) - batch.quarantine_written
            delete_partitions(quarantine, table, stale_q)
        else:
            stale_q = set()
        run.partitions_removed = sorted(batch.removed)
        run.partitions_written = sorted(batch.written)
        run.quarantine_partitions = sorted(batch.quarantine_written)
        run.files_written = count_files(processed, table, batch.written) + count_files(
            quarantine, table, batch.quarantine_written
        )
        if register:
            step("sales_clean: registering tables and partitions in the catalog")
            if batch.schema is not None:
                register_table(
                    batch.schema,
                    table=table,
                    zone=Zone.PROCESSED,
                    folder=table,
                    keys=DATE_KEYS,
                    settings=settings,
                    partitions=batch.written,
                    removed=run.partitions_removed,
                    description="clean, deduplicated, enriched sales by event date",
                    parameters={"lakelib.job": job},
                )
            if batch.quarantine_schema is not None:
                register_table(
                    batch.quarantine_schema,
                    table=table_prefix(Zone.QUARANTINE.value) + table,
                    zone=Zone.QUARANTINE,
                    folder=table,
                    keys=DATE_KEYS,
                    settings=settings,
                    partitions=batch.quarantine_written,
                    removed=stale_q,
                    description=f"rows {table} rejected, with the reason, by arrival date",
                    parameters={"lakelib.job": job},
                )
        clear_rewind(job, settings)
        run.tables = {table: run.rows_out}
        if not run.reconciles:
            raise EtlError(
                f"{job} run {run.run_id} does not reconcile: rows_in {run.rows_in} != "
                f"rows_out {run.rows_out} + rows_quarantined {run.rows_quarantined} + "
                f"duplicates_removed {run.duplicates_removed}"
            )
    return run


def _stream(
    spark: SparkSession, raw_uri: str, contract: Contract, batch: Batch, checkpoint: str
) -> None:
    """Run one AvailableNow streaming query over the raw folder and wait for it."""
    stream = (
        spark.readStream.schema(raw_schema(contract))
        .option("mode", "PERMISSIVE")
        .option("columnNameOfCorruptRecord", CORRUPT)
        # Files are bookmarked by path; their age must never exclude them.
        .option("maxFileAge", "3650d")
        .json(raw_uri)
    )
    # py4j logs the batch function's exception with its traceback on its way back to the
    # JVM; the same error is raised here as one EtlError, so that log only repeats it.
    proxy_log = logging.getLogger("py4j.clientserver")
    level = proxy_log.level
    if not log.isEnabledFor(logging.DEBUG):
        proxy_log.setLevel(logging.CRITICAL)
    try:
        query = (
            stream.writeStream.foreachBatch(batch)
            .option("checkpointLocation", checkpoint)
            .trigger(availableNow=True)
            .queryName(f"lakelib_{batch.config.table}")
            .start()
        )
        query.awaitTermination()
    except Exception as exc:
        raise EtlError(f"{batch.config.table}: {short_error(exc)}") from exc
    finally:
        proxy_log.setLevel(level)
