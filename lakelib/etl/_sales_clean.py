"""The ``sales_clean`` job: raw sales JSON -> clean, deduplicated, enriched Parquet by event date.

Incremental by Spark's own mechanism: the raw zone is read as a streaming file source with
``Trigger.AvailableNow`` and a checkpoint in ``runs/etl/sales_clean/checkpoint/``; each run
processes the raw files that no committed batch has, in one batch, then stops. A batch:

1. checks every record against the source's contract (``lake.toml``) with Spark column
   expressions; rejected rows go to ``quarantine/sales_clean/`` (partitioned by arrival
   date) with their ``reason``;
2. merges the valid rows with the rows already in the event-date partitions they touch,
   keeps the most recently ingested version of each ``id``, conforms and enriches them;
3. replaces exactly those partitions (dynamic overwrite) and checks
   ``rows_in = rows_out + rows_quarantined + duplicates_removed``.

Spark commits the batch to the checkpoint only after the function returns, so a failed run
is retried whole by the next run; both writes are merges keyed by record and raw file, so a
retried batch gives the same rows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from lakelib.config import Settings, Zone, get_settings
from lakelib.errors import EtlError, ValidationError
from lakelib.etl._record import EtlRun, finish, new_run, path_key, recorded, short_error
from lakelib.etl._session import get_spark, size_shuffle
from lakelib.etl._state import (
    checkpoint_uri,
    clear_rewind,
    etl_lock,
    read_bookmark,
    reset_bookmark,
)
from lakelib.etl._transforms import (
    ARRIVAL_KEYS,
    CORRUPT,
    DATE_KEYS,
    DEFAULT_AMOUNT_BANDS,
    ENRICHED_COLUMNS,
    ENVELOPE,
    FILE,
    LINE,
    REASON,
    check_contract,
    conform,
    deduplicate,
    enrich,
    latest_snapshot,
    original_text,
    raw_columns,
    typed_envelope,
    typed_reference,
    valid_columns,
)
from lakelib.etl._write import (
    count_files,
    delete_partitions,
    existing_partitions,
    read_partitions,
    register_table,
    write_partitioned,
)
from lakelib.ingest import Contract, load_contract
from lakelib.storage import RawKey, Store, zone_store

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, Observation, SparkSession

log = logging.getLogger(__name__)

# The run record lives in ``_record``; re-exported here for the modules that still import it.
__all__ = ["EtlRun", "SalesCleanConfig", "finish", "new_run", "run_sales_clean"]

Step = Callable[[str], None]
REFERENCES = {"customers": "customer_id", "products": "product_id"}


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


def raw_schema(contract: Contract) -> Any:
    """Every contract field as text, the envelope, and the corrupt-record column."""
    from pyspark.sql.types import StringType, StructField, StructType

    names = [*raw_columns(contract), *ENVELOPE, CORRUPT]
    return StructType([StructField(name, StringType()) for name in names])


def pending_raw_files(
    raw: Store, source: str, processed: list[str], since: date | None = None
) -> tuple[int, int]:
    """``(files, bytes)`` of raw files no committed batch has processed yet."""
    done = {path_key(p) for p in processed}
    files = size = 0
    for info in raw.list(f"{source}/"):
        if not info.key.endswith(".json.gz"):
            continue
        if path_key(raw.url(info.key)) in done:
            continue
        if since is not None:
            parts = dict(p.split("=", 1) for p in info.key.split("/")[1:4] if "=" in p)
            try:
                arrived = date(int(parts["year"]), int(parts["month"]), int(parts["day"]))
            except (KeyError, ValueError):
                arrived = None
            if arrived is not None and arrived < since:
                continue
        files += 1
        size += info.size
    return files, size


def reference_snapshot(
    spark: SparkSession, settings: Settings, source: str, key: str
) -> tuple[DataFrame | None, str | None]:
    """The latest snapshot of a reference source in raw, typed by its contract; or ``None``.

    Every ``lake ingest customers`` lands a whole snapshot, so only the files of the latest
    run are read (their names carry the landing time, which is the rows' ``_ingested_at``):
    the cost follows one snapshot, not every snapshot ever landed. Returns the snapshot and
    its ``_ingested_at``.
    """
    raw = zone_store(Zone.RAW, settings)
    landed: dict[str, datetime | None] = {}
    for info in raw.list(f"{source}/"):
        if info.key.endswith(".json.gz"):
            try:
                landed[info.key] = RawKey.parse(info.key).landed_at
            except ValidationError:  # not named by ingestion: read it, judge by content
                landed[info.key] = None
    if not landed:
        log.warning("no %s in the raw zone yet: rows are enriched as unknown", source)
        return None, None
    stamps = [at for at in landed.values() if at is not None]
    newest = max(stamps) if stamps else None
    keys = sorted(k for k, at in landed.items() if at is None or at == newest)
    contract = load_contract(source, settings.section("sources"))
    from pyspark.sql import functions as F
    from pyspark.sql.types import StringType, StructField, StructType

    names = list(dict.fromkeys([*contract.field_names, key, *ENVELOPE]))
    schema = StructType([StructField(n, StringType()) for n in names])
    frame = spark.read.schema(schema).json([raw.url(k) for k in keys])
    snapshot = typed_reference(latest_snapshot(frame, key), contract)
    if newest is not None and len(stamps) == len(landed):
        return snapshot, newest.strftime("%Y-%m-%dT%H:%M:%SZ")
    latest = snapshot.agg(F.max("_ingested_at")).first()
    return snapshot, (str(latest[0]) if latest else None)


class _Batch:
    """The ``foreachBatch`` function: one micro-batch of new raw files into the tables."""

    def __init__(
        self,
        run: EtlRun,
        contract: Contract,
        config: SalesCleanConfig,
        settings: Settings,
        references: Mapping[str, DataFrame | None],
        *,
        full: bool,
        since: date | None,
        step: Step,
    ) -> None:
        self.run = run
        self.contract = contract
        self.config = config
        self.settings = settings
        self.references = references
        self.full = full
        self.since = since
        self.step = step
        self.processed = zone_store(Zone.PROCESSED, settings)
        self.quarantine = zone_store(Zone.QUARANTINE, settings)
        self.written: set[str] = set()
        self.quarantine_written: set[str] = set()
        self.schema: Any = None
        self.quarantine_schema: Any = None

    def __call__(self, batch: DataFrame, batch_id: int) -> None:
        from pyspark.sql import functions as F

        merge = not (self.full and self.run.batches == 0)
        self.run.batches += 1
        # Each raw file (gzip: never split) is read by one task, line by line: the id grows
        # with the line, so records without _position still order by arrival in their file.
        frame = batch.withColumns(
            {FILE: F.input_file_name(), LINE: F.monotonically_increasing_id()}
        )
        for key, arrival in zip(DATE_KEYS, ARRIVAL_KEYS, strict=True):
            frame = frame.withColumnRenamed(key, arrival)
        if self.since is not None:
            arrived = F.to_date(F.concat_ws("-", *[F.col(c) for c in ARRIVAL_KEYS]))
            frame = frame.where(arrived >= F.lit(self.since))
        self.step(f"sales_clean: checking batch {batch_id} against the contract")
        # The raw JSON is parsed, checked and conformed once; the checked rows are kept for
        # the two writes that follow (parsing again for each cost ~4 s per million rows).
        staged = _keep(self._staged(frame))
        try:
            self._process(staged, batch_id, merge)
        finally:
            _release(staged)

    def _staged(self, frame: DataFrame) -> DataFrame:
        """Every row checked (``reason``), typed and conformed; the original text only for
        rejected rows (the quarantine's ``original``)."""
        from pyspark.sql import functions as F

        checked = check_contract(frame, self.contract)
        original = F.when(F.col(REASON).isNotNull(), original_text(checked, self.contract))
        rows = typed_envelope(
            checked.select(
                *valid_columns(checked, self.contract),
                LINE,
                *ARRIVAL_KEYS,
                F.col(REASON),
                original.alias("original"),
            )
        )
        return conform(
            rows,
            event_column=self.config.event_time,
            amount_column=self.config.amount,
            amount_bands=self.config.amount_bands,
        )

    def _process(self, staged: DataFrame, batch_id: int, merge: bool) -> None:
        from pyspark.sql import Observation
        from pyspark.sql import functions as F

        spark = staged.sparkSession
        # What the writes need up front, in one pass over the staged rows: rows in, rejects
        # by reason code and arrival date, and the event-date partitions the batch touches.
        reason_code = F.split(F.col(REASON), ":").getItem(0)
        rejected_flag = F.col(REASON).isNotNull()
        groups = (
            staged.groupBy(
                F.when(rejected_flag, reason_code).alias("code"),
                *[
                    F.when(rejected_flag, F.col(a)).alias(k)
                    for a, k in zip(ARRIVAL_KEYS, DATE_KEYS, strict=True)
                ],
                *[F.when(~rejected_flag, F.col(k)).alias(f"event_{k}") for k in DATE_KEYS],
            )
            .count()
            .collect()
        )
        rows_in = sum(int(r["count"]) for r in groups)
        touched = sorted(
            {
                "/".join(f"{k}={r[f'event_{k}']}" for k in DATE_KEYS)
                for r in groups
                if r["code"] is None and r["event_year"] is not None
            }
        )
        groups = [r for r in groups if r["code"] is not None]
        by_code: dict[str, int] = {}
        for r in groups:
            by_code[str(r["code"])] = by_code.get(str(r["code"]), 0) + int(r["count"])
        if rows_in == 0:
            return
        rejected = staged.where(rejected_flag).select(
            REASON,
            "original",
            *ENVELOPE,
            FILE,
            *[F.col(a).alias(k) for a, k in zip(ARRIVAL_KEYS, DATE_KEYS, strict=True)],
        )
        checked = staged.where(~rejected_flag)

        # -- quarantine: merge by raw file, so a retried batch never doubles a reject -------
        self.quarantine_schema = rejected.schema
        arrival_specs = sorted({"/".join(f"{k}={r[k]}" for k in DATE_KEYS) for r in groups})
        quarantined = 0
        if arrival_specs:
            table = self.config.table
            existing = (
                read_partitions(spark, self.quarantine, table, arrival_specs, rejected.schema)
                if merge
                else None
            )
            from pyspark.sql import Observation

            seen = Observation("quarantine")
            new_only = F.sum(F.when(F.col("_new"), 1).otherwise(0))
            combined = rejected.withColumn("_new", F.lit(True))
            if existing is not None:
                # Rows of other raw files stay; this batch's files are replaced, not doubled.
                files = F.broadcast(rejected.select(FILE).distinct())
                combined = (
                    existing.join(files, FILE, "left_anti")
                    .withColumn("_new", F.lit(False))
                    .unionByName(combined)
                )
            observed = combined.observe(seen, new_only.alias("new"))
            write_partitioned(
                observed.drop("_new"),
                self.quarantine,
                table,
                DATE_KEYS,
                sort_by=(FILE, "original", REASON),
            )
            quarantined = int(seen.get.get("new") or 0)
            self.quarantine_written.update(arrival_specs)

        # -- clean rows: merge with the partitions they touch, newest version wins ----------
        key = self.config.key
        new_rows = checked.drop(*ARRIVAL_KEYS, REASON, "original")
        self.step(f"sales_clean: merging batch {batch_id} into {self.config.table}")
        base = new_rows.withColumn("_old", F.lit(False))
        self.schema = new_rows.schema
        existing_rows = (
            read_partitions(spark, self.processed, self.config.table, touched, new_rows.schema)
            if merge and touched
            else None
        )
        union = base
        if existing_rows is not None:
            union = base.unionByName(
                existing_rows.select(*new_rows.columns).withColumn("_old", F.lit(True))
            )
        kept, versions = self._newest(union)
        enriched = enrich(kept, self.references.get("customers"), self.references.get("products"))
        columns = [c for c in new_rows.columns if c not in (*DATE_KEYS, LINE)]
        columns += [c for c in ENRICHED_COLUMNS if c not in columns]
        ordered = enriched.select(*columns, *DATE_KEYS)
        out = Observation("out")
        ordered = ordered.observe(
            out,
            F.count(F.lit(1)).alias("written"),
            F.sum(F.when(~F.col("customer_known"), 1).otherwise(0)).alias("unknown_customers"),
            F.sum(F.when(~F.col("product_known"), 1).otherwise(0)).alias("unknown_products"),
        )
        counts: dict[str, int] = {}
        if touched:
            write_partitioned(ordered, self.processed, self.config.table, DATE_KEYS, sort_by=(key,))
            for seen in (*versions, out):
                counts.update(seen.get)
        self.schema = ordered.schema
        self.written.update(touched)

        old_rows = int(counts.get("existing") or 0)
        valid = int(counts.get("valid") or 0)
        written = int(counts.get("written") or 0)
        dropped = int(counts.get("dropped") or 0)
        rows_out = written - old_rows
        run = self.run
        run.rows_in += rows_in
        run.rows_out += rows_out
        run.rows_quarantined += quarantined
        run.duplicates_removed += dropped
        run.rows_written += written
        run.unknown_customers += int(counts.get("unknown_customers") or 0)
        run.unknown_products += int(counts.get("unknown_products") or 0)
        for code, count in by_code.items():
            run.reasons[code] = run.reasons.get(code, 0) + count
        if rows_in != rows_out + quarantined + dropped:
            raise EtlError(
                f"sales_clean batch {batch_id} does not reconcile: rows_in {rows_in} != "
                f"rows_out {rows_out} + rows_quarantined {quarantined} + duplicates_removed "
                f"{dropped} (valid rows seen by the merge: {valid})"
            )

    def _newest(self, union: DataFrame) -> tuple[DataFrame, list[Observation]]:
        """The newest version of each ``id`` in ``union`` (new rows and ``_old`` ones, the
        rows already stored in the partitions the batch touches), by arrival, through the
        same :func:`deduplicate` the unit tests check; and the observations the
        reconciliation reads once the kept rows are written: ``existing`` and ``valid`` rows
        in, ``dropped`` versions.

        A stored row competes with its own ``_ingested_at`` and ``_position`` (rows stored
        before ``_position`` existed count as -1), so a new batch's version wins exactly when
        it arrived later, whichever run processes it.

        (Tried and left: passing ids with one version straight through and ranking only the
        others, found by a narrow aggregate of ids. The extra pass cost what it saved.)
        """
        from pyspark.sql import Observation
        from pyspark.sql import functions as F

        before = Observation("before")
        after = Observation("after")
        counted = union.observe(
            before,
            F.sum(F.when(F.col("_old"), 1).otherwise(0)).alias("existing"),
            F.sum(F.when(~F.col("_old"), 1).otherwise(0)).alias("valid"),
        )
        # ``_old`` is only content to the version order: it can break a tie between two
        # identical copies of one arrival (a rewound raw file read again), nothing more.
        kept = deduplicate(counted, self.config.key, dropped=after).drop("_old", LINE)
        return kept, [before, after]


def _keep(frame: DataFrame) -> DataFrame:
    """``frame`` computed once and kept for the actions that follow.

    On a local session: a local checkpoint, the rows stored as they are in the block store
    (memory, spilling to disk); Spark's columnar cache costs more to build than parsing the
    JSON again. On a cluster (Glue, EMR) an executor can be lost, and with it a local
    checkpoint's blocks: there the rows are cached (memory and disk), which Spark recomputes
    from the raw files when blocks go missing.
    """
    if _single_jvm(frame.sparkSession):
        return frame.localCheckpoint(eager=True)
    from pyspark import StorageLevel

    return frame.persist(StorageLevel.MEMORY_AND_DISK)


def _single_jvm(spark: SparkSession) -> bool:
    """Whether the session runs in this one JVM (``local`` master): no executor to lose."""
    return (spark.sparkContext.master or "").startswith("local")


def _release(kept: DataFrame) -> None:
    """Free what :func:`_keep` holds now. ``DataFrame.unpersist`` does not reach a local
    checkpoint's blocks (they belong to the RDD under the plan), and a long-lived session
    (a notebook, the pipeline) would otherwise keep every run's rows until the JVM collects
    that RDD."""
    if kept.is_cached:
        kept.unpersist()
        return
    plan = kept._jdf.queryExecution().analyzed()
    if plan.getClass().getSimpleName() == "LogicalRDD":
        plan.rdd().unpersist(False)
    else:  # not expected: the plan of a checkpointed frame is its RDD
        log.debug("not a local checkpoint: %s", plan.getClass().getName())


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
        register ``sales_clean`` and ``sales_clean_quarantine`` and their partitions in the
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
    job = config.table
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
        raw = zone_store(Zone.RAW, settings)
        run.raw_files, run.raw_bytes = pending_raw_files(raw, config.source, mark.processed, rewind)
        step(f"sales_clean: {run.raw_files} new raw file(s) to process")
        if run.raw_files == 0 and not full:
            return run
        spark = spark or get_spark("lakelib-sales_clean")
        run.shuffle_partitions = size_shuffle(spark, run.raw_bytes)
        references: dict[str, DataFrame | None] = {}
        for name, ref_key in REFERENCES.items():
            frame, latest = reference_snapshot(spark, settings, name, ref_key)
            references[name] = frame
            run.references[name] = latest
        batch = _Batch(
            run,
            contract,
            config,
            settings,
            references,
            full=full,
            since=rewind,
            step=step,
        )
        _stream(spark, raw.url(config.source), contract, batch, checkpoint_uri(job, settings))
        processed = zone_store(Zone.PROCESSED, settings)
        quarantine = zone_store(Zone.QUARANTINE, settings)
        if full:
            stale = set(existing_partitions(processed, job)) - batch.written
            run.partitions_removed = delete_partitions(processed, job, stale)
            stale_q = set(existing_partitions(quarantine, job)) - batch.quarantine_written
            delete_partitions(quarantine, job, stale_q)
        else:
            stale_q = set()
        run.partitions_written = sorted(batch.written)
        run.quarantine_partitions = sorted(batch.quarantine_written)
        run.files_written = count_files(processed, job, batch.written) + count_files(
            quarantine, job, batch.quarantine_written
        )
        if register:
            step("sales_clean: registering tables and partitions in the catalog")
            if batch.schema is not None:
                register_table(
                    batch.schema,
                    table=job,
                    zone=Zone.PROCESSED,
                    folder=job,
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
                    table=f"{job}_quarantine",
                    zone=Zone.QUARANTINE,
                    folder=job,
                    keys=DATE_KEYS,
                    settings=settings,
                    partitions=batch.quarantine_written,
                    removed=stale_q,
                    description=f"rows {job} rejected, with the reason, by arrival date",
                    parameters={"lakelib.job": job},
                )
        clear_rewind(job, settings)
        run.tables = {job: run.rows_out}
        if not run.reconciles:
            raise EtlError(
                f"{job} run {run.run_id} does not reconcile: rows_in {run.rows_in} != "
                f"rows_out {run.rows_out} + rows_quarantined {run.rows_quarantined} + "
                f"duplicates_removed {run.duplicates_removed}"
            )
    return run


def _stream(
    spark: SparkSession, raw_uri: str, contract: Contract, batch: _Batch, checkpoint: str
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
