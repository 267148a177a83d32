"""The id index of ``sales_clean``: in which event-date partition each ``id`` has been written.

A corrected re-send can change an order's date, and so its partition. The batch's own rows
only say where the new version goes; the index says where the old one is, so the merge reads
and rewrites that partition too, and the id stays once in the table.

Layout, in the runs zone beside the job's checkpoint::

    runs/etl/sales_clean/index/_index.json        format and current generation
    runs/etl/sales_clean/index/g000003/*.parquet  id, year, month, day (sorted by id)

**Append-only, a superset.** After writing its partitions, each batch appends one small set
of files: ``(id, partition)`` for each of its valid rows. Nothing is rewritten, so the write
grows with the batch. An id's entries name every partition it was ever written to, among
them the one it lives in now (its surviving version was appended when it was written, or
by the bootstrap). A stale entry (a partition the id has since left) only costs a needless
read of that partition when the id comes back, and the merge finds nothing of it there.
A missing entry would leave a duplicate; the order of writes rules it out: the table first,
the index second, inside the batch, so a failure in between fails the batch and Spark
retries it whole.

**Lookups read what overlaps the batch.** Each file is sorted by id with small row groups
(``ROW_GROUP_BYTES``), and the lookup filters on the batch's id range before the semi-join
with its ids, so Parquet's min/max statistics skip every file and row group outside it.
Ids that grow with time (order numbers, as the generator's) make that the few files of
recent runs; random ids (UUIDs) give no pruning, and the lookup is one scan of the index (a
few bytes per row of the table, never a read of the table).

**Compaction.** Past ``COMPACT_AT`` files the index is rewritten once into a new generation
(distinct entries, range-partitioned by id), made current by rewriting ``_index.json``,
and the old generation deleted: readers see one generation or the other, on S3 as locally.

A lake written before the index existed has no ``_index.json``: the first run builds the
index once from the whole table (a scan of its ``id`` column), then carries on
incrementally. ``lake etl --full`` drops the index with the bookmark; the rebuild appends
it afresh.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from lakelib.config import Settings, Zone
from lakelib.errors import NotFoundError
from lakelib.etl._state import job_prefix
from lakelib.etl._transforms import DATE_KEYS
from lakelib.etl._write import existing_partitions, read_partitions
from lakelib.storage import Store

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

log = logging.getLogger(__name__)

FORMAT = 2
COMPACT_AT = 64
# About 100,000 short ids a row group: the unit the lookup's range filter skips.
ROW_GROUP_BYTES = 1 << 20


class IdIndex:
    """The ``id -> event-date partitions`` table of one job's output (see the module)."""

    def __init__(
        self,
        job: str,
        key: str,
        settings: Settings,
        *,
        step: Callable[[str], None] | None = None,
    ) -> None:
        self.job = job
        self.key = key
        self.store = settings.store(Zone.RUNS)
        self.folder = f"{job_prefix(job)}/index"
        self.marker = f"{self.folder}/_index.json"
        self.step = step or (lambda message: log.info("%s", message))

    # -- life cycle ----------------------------------------------------------------------
    def reset(self) -> None:
        """Forget the index (a full rebuild appends it again as it writes)."""
        self.store.delete_prefix(self.folder)

    def ensure(self, spark: SparkSession, table_store: Store, table: str) -> None:
        """Build the index from the whole table once, if there is none (an older lake)."""
        if self._generation() is not None:
            return
        self.store.delete_prefix(self.folder)  # leftovers of an interrupted build
        partitions = sorted(existing_partitions(table_store, table))
        if partitions:
            self.step(f"{self.job}: building the id index once from {len(partitions)} partition(s)")
            rows = read_partitions(spark, table_store, table, partitions, self._schema())
            if rows is not None:
                self._append(rows.select(self.key, *DATE_KEYS).distinct(), 1)
        self._write_marker(1)

    # -- per batch -----------------------------------------------------------------------
    def partitions_of(self, ids: DataFrame) -> list[str]:
        """Event-date partitions (``year=.../month=.../day=...``) where any of ``ids`` was
        written (a superset of where they are now)."""
        from pyspark.sql import functions as F

        generation = self._generation()
        if not generation or not self._files(generation):
            return []
        present = ids.where(F.col(self.key).isNotNull())
        low, high = present.agg(F.min(self.key), F.max(self.key)).first() or (None, None)
        if low is None:
            return []
        entries = (
            ids.sparkSession.read.schema(self._schema())
            .parquet(self.store.url(self._folder_of(generation)))
            .where(F.col(self.key).between(F.lit(low), F.lit(high)))
        )
        hits = entries.join(present.distinct(), self.key, "semi")
        return sorted(
            "/".join(f"{k}={r[k]}" for k in DATE_KEYS)
            for r in hits.select(*DATE_KEYS).distinct().collect()
        )

    def add(self, entries: DataFrame) -> None:
        """Append ``(id, year, month, day)`` rows (the batch's, once its partitions are
        written); compact the index when it has grown past ``COMPACT_AT`` files."""
        from pyspark.sql import functions as F

        generation = self._generation() or 1
        self._append(entries.where(F.col(self.key).isNotNull()).distinct(), generation)
        if self._generation() != generation:
            self._write_marker(generation)
        if len(self._files(generation)) > COMPACT_AT:
            self._compact(entries.sparkSession, generation)

    # -- storage -------------------------------------------------------------------------
    def _compact(self, spark: SparkSession, generation: int) -> None:
        self.step(f"{self.job}: compacting the id index")
        entries = (
            spark.read.schema(self._schema())
            .parquet(self.store.url(self._folder_of(generation)))
            .distinct()
        )
        self._append(entries, generation + 1)
        self._write_marker(generation + 1)  # the switch: one object, written whole
        self.store.delete_prefix(self._folder_of(generation))

    def _append(self, entries: DataFrame, generation: int) -> None:
        # Range-partitioned and sorted by id: each file, and each small row group in it,
        # covers a narrow id range that the lookup's filter can skip.
        (
            entries.repartitionByRange(self.key)
            .sortWithinPartitions(self.key)
            .write.mode("append")
            .option("compression", "snappy")
            .option("parquet.block.size", ROW_GROUP_BYTES)
            .parquet(self.store.url(self._folder_of(generation)))
        )

    def _schema(self) -> StructType:
        from pyspark.sql.types import StringType, StructField, StructType

        return StructType([StructField(c, StringType()) for c in (self.key, *DATE_KEYS)])

    def _folder_of(self, generation: int) -> str:
        return f"{self.folder}/g{generation:06d}"

    def _files(self, generation: int) -> list[str]:
        prefix = self._folder_of(generation) + "/"
        return [i.key for i in self.store.list(prefix) if i.key.endswith(".parquet")]

    def _generation(self) -> int | None:
        """The current generation; ``None``: no index (never built, or reset)."""
        try:
            marker: dict[str, Any] = json.loads(self.store.read_bytes(self.marker))
        except (NotFoundError, ValueError):
            return None
        if marker.get("format") != FORMAT or marker.get("key") != self.key:
            return None
        generation = marker.get("generation")
        return generation if isinstance(generation, int) else None

    def _write_marker(self, generation: int) -> None:
        body = {
            "format": FORMAT,
            "key": self.key,
            "generation": generation,
            "written": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        self.store.write_bytes(self.marker, json.dumps(body, indent=2).encode())
