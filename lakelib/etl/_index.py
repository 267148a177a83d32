"""The id index of ``sales_clean``: where (which event-date partition) each ``id`` lives.

A corrected re-send can change an order's date, and so its partition. The batch's own rows
only say where the new version goes; the index says where the old one is, so the merge reads
and rewrites that partition too, and the id stays once in the table.

Layout, in the runs zone beside the job's checkpoint::

    runs/etl/sales_clean/index/bucket=NN/*.parquet  id, year, month, day
    runs/etl/sales_clean/index/_index.json          format, bucket count (written last)

One row per ``id`` in the table, hash-bucketed by ``id``. A batch reads only the buckets its
ids fall in, joined by its ids (a semi-join: what comes back is batch-sized), and rewrites
only those buckets (dynamic overwrite, as the table's partitions): the entries of the
batch's ids are replaced by where their surviving version now is, read back from the
partitions just written. Entries of other ids do not change: a run only moves the rows of
its own ids.

Cost: the lookup and the rewrite read the buckets the batch touches. A batch of a few ids
touches a few buckets; a daily batch of thousands touches all of them, and then the cost is
one scan of the index, a few bytes per row of the table (id and date text, dictionary and
snappy encoded), not a read of the table. The index is a hint the merge can afford to get
wrong in one direction only: an entry naming a partition the id has left costs a needless
read; a missing entry would leave a duplicate. Hence the order of writes: the table first,
the index second, inside the batch, so a failure between them fails the batch and Spark
retries it whole (the retry reads the same partitions and rewrites both).

A lake written before the index existed has no ``_index.json``: the first run builds the
index once from the whole table (a scan of its ``id`` column), then carries on
incrementally. ``lake etl --full`` drops the index with the bookmark and the rebuild writes
it afresh.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from lakelib.config import Settings, Zone
from lakelib.errors import NotFoundError
from lakelib.etl._state import job_prefix
from lakelib.etl._transforms import DATE_KEYS
from lakelib.etl._write import existing_partitions, read_partitions, write_partitioned
from lakelib.storage import Store, zone_store

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession
    from pyspark.sql.types import StructType

log = logging.getLogger(__name__)

FORMAT = 1
BUCKETS = 16
BUCKET = "bucket"


class IdIndex:
    """The ``id -> event-date partition`` table of one job's output (see the module)."""

    def __init__(
        self,
        job: str,
        key: str,
        settings: Settings,
        *,
        buckets: int = BUCKETS,
        step: Callable[[str], None] | None = None,
    ) -> None:
        self.job = job
        self.key = key
        self.buckets = buckets
        self.store = zone_store(Zone.RUNS, settings)
        self.folder = f"{job_prefix(job)}/index"
        self.marker = f"{self.folder}/_index.json"
        self.step = step or (lambda message: log.info("%s", message))

    # -- life cycle ----------------------------------------------------------------------
    def reset(self) -> None:
        """Forget the index (a full rebuild writes it again from what it writes)."""
        self._drop_marker()
        self.store.delete_prefix(self.folder)

    def ensure(self, spark: SparkSession, table_store: Store, table: str) -> None:
        """Build the index from the whole table once, if there is none (an older lake)."""
        if self._marked():
            return
        self.store.delete_prefix(self.folder)  # leftovers of an interrupted build
        partitions = sorted(existing_partitions(table_store, table))
        if partitions:
            self.step(f"{self.job}: building the id index once from {len(partitions)} partition(s)")
            rows = read_partitions(spark, table_store, table, partitions, self._table_schema())
            if rows is not None:
                self._write(rows.select(self.key, *DATE_KEYS))
        self._mark()

    # -- per batch -----------------------------------------------------------------------
    def buckets_of(self, ids: DataFrame) -> list[str]:
        """The buckets (folder names) the given ids fall in."""
        return sorted(
            str(r[0]) for r in ids.select(self._bucket().alias(BUCKET)).distinct().collect()
        )

    def partitions_of(self, ids: DataFrame, buckets: Iterable[str]) -> list[str]:
        """Event-date partitions (``year=.../month=.../day=...``) holding any of ``ids``."""
        entries = self._read(ids.sparkSession, buckets)
        if entries is None:
            return []
        from pyspark.sql import functions as F

        hits = entries.join(ids.where(F.col(self.key).isNotNull()).distinct(), self.key, "semi")
        return sorted(
            "/".join(f"{k}={r[k]}" for k in DATE_KEYS)
            for r in hits.select(*DATE_KEYS).distinct().collect()
        )

    def update(
        self,
        ids: DataFrame,
        buckets: Iterable[str],
        table_store: Store,
        table: str,
        rewritten: Iterable[str],
    ) -> None:
        """Point the batch's ids at where they are now, after the table's partitions
        ``rewritten`` were written; the other entries of their buckets stay."""
        from pyspark.sql import functions as F

        buckets = sorted(buckets)
        spark = ids.sparkSession
        batch_ids = ids.where(F.col(self.key).isNotNull()).distinct()
        now = read_partitions(spark, table_store, table, rewritten, self._table_schema())
        if now is None or not buckets:
            return
        fresh = now.select(self.key, *DATE_KEYS).join(batch_ids, self.key, "semi")
        entries = self._read(spark, buckets)
        if entries is not None:
            fresh = entries.join(batch_ids, self.key, "anti").unionByName(fresh)
        self._write(fresh)
        self._mark()

    # -- storage -------------------------------------------------------------------------
    def _bucket(self) -> Column:
        from pyspark.sql import functions as F

        number = F.pmod(F.xxhash64(F.col(self.key)), F.lit(self.buckets))
        return F.concat(F.lit(f"{BUCKET}="), F.lpad(number.cast("string"), 2, "0"))

    def _table_schema(self) -> StructType:
        from pyspark.sql.types import StringType, StructField, StructType

        return StructType([StructField(c, StringType()) for c in (self.key, *DATE_KEYS)])

    def _read(self, spark: SparkSession, buckets: Iterable[str]) -> DataFrame | None:
        have = existing_partitions(self.store, self.folder, depth=1)
        paths = [self.store.url(f"{self.folder}/{b}") for b in sorted(set(buckets)) if b in have]
        if not paths:
            return None
        return spark.read.schema(self._table_schema()).parquet(*paths)

    def _write(self, entries: DataFrame) -> None:
        from pyspark.sql import functions as F

        number = F.pmod(F.xxhash64(F.col(self.key)), F.lit(self.buckets))
        write_partitioned(
            entries.withColumn(BUCKET, F.lpad(number.cast("string"), 2, "0")),
            self.store,
            self.folder,
            (BUCKET,),
            sort_by=(self.key,),
        )

    def _marked(self) -> bool:
        try:
            marker = json.loads(self.store.read_bytes(self.marker))
        except (NotFoundError, ValueError):
            return False
        return marker.get("format") == FORMAT and marker.get("buckets") == self.buckets

    def _mark(self) -> None:
        if self._marked():
            return
        body = {
            "format": FORMAT,
            "buckets": self.buckets,
            "key": self.key,
            "built": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        self.store.write_bytes(self.marker, json.dumps(body, indent=2).encode())

    def _drop_marker(self) -> None:
        self.store.delete(self.marker)  # a missing marker is no error
