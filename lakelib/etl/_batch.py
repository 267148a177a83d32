"""One ``sales_clean`` micro-batch: new raw rows into the quarantine and the clean table.

The batch composes the pure transforms of :mod:`lakelib.etl._transforms` (the functions the
unit tests check): :func:`check_contract`, :func:`rejected_rows` / :func:`valid_rows`,
:func:`conform`, :func:`deduplicate`, :func:`enrich`. What is left here is reading and writing
the partitions they touch, and the accounting that proves no row was lost:
``rows_in = rows_out + rows_quarantined + duplicates_removed``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from lakelib.config import Settings, Zone
from lakelib.errors import EtlError
from lakelib.etl._cache import keep, release
from lakelib.etl._index import IdIndex
from lakelib.etl._record import EtlRun
from lakelib.etl._transforms import (
    ARRIVAL_KEYS,
    DATE_KEYS,
    ENRICHED_COLUMNS,
    FILE,
    LINE,
    ORIGINAL,
    REASON,
    check_contract,
    conform,
    deduplicate,
    enrich,
    rejected_rows,
    typed_envelope,
    valid_columns,
    valid_rows,
    with_original,
)
from lakelib.etl._write import (
    delete_partitions,
    existing_partitions,
    read_partitions,
    write_partitioned,
)
from lakelib.ingest import Contract

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, Observation

    from lakelib.etl._sales_clean import SalesCleanConfig

Step = Callable[[str], None]


@dataclass
class _Shape:
    """What the writes of one batch need to know up front (one pass over its rows)."""

    rows_in: int = 0
    # event-date partitions the valid rows fall in, as ``year=.../month=.../day=...``
    touched: list[str] = field(default_factory=list)
    # arrival-date partitions of the rejected rows (the quarantine's partitions)
    arrivals: list[str] = field(default_factory=list)
    by_code: dict[str, int] = field(default_factory=dict)


class Batch:
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
        index: IdIndex,
    ) -> None:
        self.run = run
        self.contract = contract
        self.config = config
        self.settings = settings
        self.references = references
        self.full = full
        self.since = since
        self.step = step
        self.index = index
        self.processed = settings.store(Zone.PROCESSED)
        self.quarantine = settings.store(Zone.QUARANTINE)
        self.written: set[str] = set()
        self.removed: set[str] = set()
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
        staged = keep(self._staged(frame))
        try:
            self._process(staged, batch_id, merge)
        finally:
            release(staged)

    def _staged(self, frame: DataFrame) -> DataFrame:
        """Every row checked (``reason``), typed and conformed; the original text only for
        rejected rows (the quarantine's ``original``)."""
        checked = check_contract(frame, self.contract)
        rows = typed_envelope(with_original(checked, self.contract, keep=(LINE, *ARRIVAL_KEYS)))
        return conform(
            rows,
            event_column=self.config.event_time,
            amount_column=self.config.amount,
            amount_bands=self.config.amount_bands,
        )

    def _process(self, staged: DataFrame, batch_id: int, merge: bool) -> None:
        shape = self._shape(staged)
        if shape.rows_in == 0:
            return
        quarantined = self._quarantine(staged, shape, merge)
        counts = self._merge(staged, shape, batch_id, merge)
        self._account(batch_id, shape, quarantined, counts)

    def _shape(self, staged: DataFrame) -> _Shape:
        """Rows in, rejects by reason code and arrival date, and the event-date partitions
        the batch touches: one aggregate over the kept rows."""
        from pyspark.sql import functions as F

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
        shape = _Shape(rows_in=sum(int(r["count"]) for r in groups))
        shape.touched = sorted(
            {
                "/".join(f"{k}={r[f'event_{k}']}" for k in DATE_KEYS)
                for r in groups
                if r["code"] is None and r["event_year"] is not None
            }
        )
        rejects = [r for r in groups if r["code"] is not None]
        for r in rejects:
            shape.by_code[str(r["code"])] = shape.by_code.get(str(r["code"]), 0) + int(r["count"])
        shape.arrivals = sorted({"/".join(f"{k}={r[k]}" for k in DATE_KEYS) for r in rejects})
        return shape

    def _quarantine(self, staged: DataFrame, shape: _Shape, merge: bool) -> int:
        """Write the rejected rows to their arrival-date partitions; returns how many are new.

        A merge by raw file: rows of other raw files stay, this batch's files are replaced,
        so a retried batch never doubles a reject.
        """
        from pyspark.sql import Observation
        from pyspark.sql import functions as F

        rejected = rejected_rows(staged, self.contract)
        for arrival, key in zip(ARRIVAL_KEYS, DATE_KEYS, strict=True):
            rejected = rejected.withColumnRenamed(arrival, key)
        self.quarantine_schema = rejected.schema
        if not shape.arrivals:
            return 0
        table = self.config.table
        existing = (
            read_partitions(
                staged.sparkSession, self.quarantine, table, shape.arrivals, rejected.schema
            )
            if merge
            else None
        )
        seen = Observation("quarantine")
        combined = rejected.withColumn("_new", F.lit(True))
        if existing is not None:
            files = F.broadcast(rejected.select(FILE).distinct())
            combined = (
                existing.join(files, FILE, "left_anti")
                .withColumn("_new", F.lit(False))
                .unionByName(combined)
            )
        observed = combined.observe(seen, F.sum(F.when(F.col("_new"), 1).otherwise(0)).alias("new"))
        write_partitioned(
            observed.drop("_new"),
            self.quarantine,
            table,
            DATE_KEYS,
            sort_by=(FILE, ORIGINAL, REASON),
        )
        self.quarantine_written.update(shape.arrivals)
        return int(seen.get.get("new") or 0)

    def _merge(
        self, staged: DataFrame, shape: _Shape, batch_id: int, merge: bool
    ) -> dict[str, int]:
        """Merge the valid rows into ``sales_clean``: the newest version of each ``id`` wins
        over the rows already stored, wherever they are.

        The partitions read are the ones the batch's rows fall in and, through the id index,
        the ones holding another version of one of the batch's ids (a correction that moved
        the order to another date). Those are rewritten whole, without the versions that
        lost; one left with no row is removed. Returns the counts the reconciliation reads.
        """
        from pyspark.sql import Observation
        from pyspark.sql import functions as F

        spark = staged.sparkSession
        key = self.config.key
        valid = valid_rows(staged, self.contract, keep=self._carried(staged))
        ids = valid.select(key)
        partitions: list[str] = []
        if shape.touched:
            self.step(f"sales_clean: merging batch {batch_id} into {self.config.table}")
            moved = self.index.partitions_of(ids) if merge else []
            partitions = sorted({*shape.touched, *moved})
        existing = (
            read_partitions(spark, self.processed, self.config.table, partitions, valid.schema)
            if merge and partitions
            else None
        )
        union = valid.withColumn("_old", F.lit(False))
        if existing is not None:
            union = union.unionByName(
                existing.select(*valid.columns).withColumn("_old", F.lit(True))
            )
        kept, versions = self._newest(union)
        enriched = enrich(kept, self.references.get("customers"), self.references.get("products"))
        columns = [c for c in valid.columns if c not in (*DATE_KEYS, LINE)]
        columns += [c for c in ENRICHED_COLUMNS if c not in columns]
        ordered = enriched.select(*columns, *DATE_KEYS)
        self.schema = ordered.schema
        if not partitions:
            return {}
        # Partitions read that may end with no row (every row moved to another date): the
        # overwrite writes nothing there, so they are counted here and removed below.
        stored: list[str] = []
        if existing is not None:
            have = existing_partitions(self.processed, self.config.table)
            stored = [p for p in partitions if p not in shape.touched and p in have]
        spec = F.concat_ws("/", *[F.concat(F.lit(f"{k}="), F.col(k)) for k in DATE_KEYS])
        out = Observation("out")
        ordered = ordered.observe(
            out,
            F.count(F.lit(1)).alias("written"),
            F.sum(F.when(~F.col("customer_known"), 1).otherwise(0)).alias("unknown_customers"),
            F.sum(F.when(~F.col("product_known"), 1).otherwise(0)).alias("unknown_products"),
            *[F.sum(F.when(spec == F.lit(p), 1).otherwise(0)).alias(f"left {p}") for p in stored],
        )
        write_partitioned(ordered, self.processed, self.config.table, DATE_KEYS, sort_by=(key,))
        counts: dict[str, int] = {}
        for seen in (*versions, out):
            counts.update({k: int(v or 0) for k, v in seen.get.items()})
        emptied = [p for p in stored if counts.get(f"left {p}", 0) == 0]
        self.removed.update(delete_partitions(self.processed, self.config.table, emptied))
        # Written: the batch's own dates and the stored partitions still holding rows (not
        # a partition the index named that no longer exists).
        rewritten = {*shape.touched, *stored} - set(emptied)
        self.written.difference_update(emptied)
        self.written.update(rewritten)
        self.removed.difference_update(rewritten)  # removed by an earlier batch, back now
        # The table first, then the index: a failure in between fails the batch, and its
        # retry reads the same partitions again (see lakelib.etl._index).
        self.index.add(valid.select(key, *DATE_KEYS))
        return counts

    def _carried(self, staged: DataFrame) -> list[str]:
        """The staged columns a valid row carries past :func:`valid_rows`' own: the line and
        what :func:`conform` derived (not the check's ``reason``, ``original``, arrival)."""
        own = set(valid_columns(staged, self.contract))
        return [c for c in staged.columns if c not in (*ARRIVAL_KEYS, REASON, ORIGINAL, *own)]

    def _newest(self, union: DataFrame) -> tuple[DataFrame, list[Observation]]:
        """The newest version of each ``id`` in ``union`` (new rows and ``_old`` ones, the
        rows already stored in the partitions read), by arrival, through
        :func:`deduplicate`; and the observations the reconciliation reads once the kept rows
        are written: ``existing`` and ``valid`` rows in, ``dropped`` versions.

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

    def _account(
        self, batch_id: int, shape: _Shape, quarantined: int, counts: Mapping[str, int]
    ) -> None:
        """Add the batch to the run's counts; fail unless every row in is accounted for."""
        old_rows = counts.get("existing", 0)
        written = counts.get("written", 0)
        dropped = counts.get("dropped", 0)
        rows_out = written - old_rows
        run = self.run
        run.rows_in += shape.rows_in
        run.rows_out += rows_out
        run.rows_quarantined += quarantined
        run.duplicates_removed += dropped
        run.rows_written += written
        run.unknown_customers += counts.get("unknown_customers", 0)
        run.unknown_products += counts.get("unknown_products", 0)
        for code, count in shape.by_code.items():
            run.reasons[code] = run.reasons.get(code, 0) + count
        if shape.rows_in != rows_out + quarantined + dropped:
            raise EtlError(
                f"sales_clean batch {batch_id} does not reconcile: rows_in {shape.rows_in} != "
                f"rows_out {rows_out} + rows_quarantined {quarantined} + duplicates_removed "
                f"{dropped} (valid rows seen by the merge: {counts.get('valid', 0)})"
            )
